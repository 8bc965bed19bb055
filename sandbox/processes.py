"""`seal sandbox --run-image IMAGE=COMMAND`: the kubelet starts a real local process for
each container of a Running pod whose image matches, as a container runtime would.

The process gets the container's command line and environment (downward API, ConfigMap
and Secret keys resolved, `$(VAR)` expanded), `KUBERNETES_SERVICE_HOST/PORT` pointing at
the sandbox's API server, and the pod's service-account token, the cluster CA and its
namespace. Run as root, each container gets a private mount namespace in which the
service-account files sit where in-cluster clients look for them
(/var/run/secrets/kubernetes.io/serviceaccount) and its volumes (configMap, secret,
emptyDir) at their mountPaths. Without root there are no mounts: the service-account
directory is named by the SEAL_SERVICE_ACCOUNT_DIR variable (which seal reads), and a
container with volume mounts does not start (CreateContainerConfigError says why).

Liveness and readiness probes (httpGet, tcpSocket) are sent to the process: readiness
sets the container's and the pod's Ready; a failing liveness probe restarts the
process and counts restartCount; a process that exits is restarted after a back-off
(restartPolicy Always or OnFailure). A deleted pod's processes get SIGTERM, then SIGKILL
after the grace period; the pod is gone once they have exited. Standard output and
error are the container's log (`kubectl logs`).

Runs processes and opens connections (to probe them); on the sandbox's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fnmatch
import logging
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.podspec import ContainerConfigError, command_line, environment, write_volume
from sandbox.podutil import pod_terminating, set_condition
from sandbox.store import ApiError, Obj, Store, now_rfc3339

log = logging.getLogger(__name__)
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
SERVICE_ACCOUNT_ENV = "SEAL_SERVICE_ACCOUNT_DIR"
#: how often processes and probes are looked at
TICK_SECONDS = 0.2
#: restart back-off: doubles from the first, up to the last
BACKOFF_SECONDS = (1.0, 10.0)
TOKEN_SECONDS = 24 * 3600
Mint = Callable[[str, str, int], tuple[str, int]]


@dataclass(frozen=True)
class RunImage:
    """A rule: containers whose image matches `pattern` (a glob) run `entrypoint`."""

    pattern: str
    entrypoint: tuple[str, ...]

    def matches(self, image: str) -> bool:
        return fnmatch.fnmatchcase(image, self.pattern)


def parse_run_image(text: str) -> RunImage:
    """`IMAGE=COMMAND` as the command line gives it; ValueError saying what is wrong."""
    image, sep, command = text.partition("=")
    example = "e.g. 'ghcr.io/seal-chaos/seal:*=/usr/local/bin/seal'"
    if not sep or not image.strip() or not command.strip():
        raise ValueError(f"{text!r}: expected IMAGE=COMMAND, {example}")
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ValueError(f"{text!r}: the command cannot be split into words: {exc}") from exc
    return RunImage(image.strip(), tuple(argv))


@dataclass
class Probe:
    spec: Obj
    failures: int = 0
    due: float = 0.0
    busy: bool = False

    @property
    def period(self) -> float:
        return float(self.spec.get("periodSeconds", 10))


@dataclass
class Container:
    """One container run as a process, and what the kubelet knows of it."""

    namespace: str
    pod: str
    uid: str
    name: str
    argv: list[str]
    env: dict[str, str]
    mounts: list[tuple[str, str, bool]]
    workdir: Path
    ports: dict[str, int]
    restart_policy: str
    grace: float
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    ready: bool = False
    liveness: Probe | None = None
    readiness: Probe | None = None
    restart_at: float | None = None
    kill_at: float | None = None
    stopping: bool = False
    #: a failed liveness probe stopped it: start it again at once once it has exited
    restart_now: bool = False
    started_at: str = ""
    last_state: Obj = field(default_factory=dict)

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNS, _MS_RDONLY, _MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = (
    0x20000, 1, 32, 4096, 0x4000, 1 << 18,
)  # fmt: skip


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _kept(mounts: list[tuple[str, str, bool]], paths: list[str]) -> list[str]:
    """The directories a volume would hide that the process needs (its program, in a
    checkout under /tmp with an emptyDir at /tmp): the first directory below the mount
    point on the way to each path. They are mounted back inside the volume."""
    kept: list[str] = []
    for _, target, _ in mounts:
        top = target.rstrip("/") + "/"
        for path in paths:
            if path.startswith(top):
                keep = top + path[len(top) :].split("/", 1)[0]
                if keep not in kept:
                    kept.append(keep)
    return kept


def _interpreter(program: str) -> list[str]:
    """The interpreter a script names on its `#!` line (none for a binary)."""
    try:
        with open(program, "rb") as handle:
            first = handle.readline(256)
    except OSError:
        return []
    words = first[2:].split() if first.startswith(b"#!") else []
    return [words[0].decode(errors="replace")] if words else []


def _prepare_child(mounts: list[tuple[str, str, bool]], kept: list[str]) -> Callable[[], None]:
    """What runs in the child before it executes: die with the sandbox, and (as root) a
    private mount namespace with the container's mounts. Every source (and every kept
    directory) is opened before the first mount, so that a volume mounted over a
    directory cannot hide what the next mounts or the program itself come from."""

    def prepare() -> None:
        _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if not mounts:
            return
        _check(_libc.unshare(_CLONE_NEWNS), "unshare")
        _check(_libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None), "mount /")
        sources = [os.open(source, os.O_PATH) for source, _, _ in mounts]
        keeps = [os.open(path, os.O_PATH) for path in kept]
        for fd, (_, target, read_only) in zip(sources, mounts, strict=True):
            _bind(f"/proc/self/fd/{fd}", target, read_only)
        for fd, path in zip(keeps, kept, strict=True):
            os.makedirs(path, exist_ok=True)  # inside the volume that covers it
            _bind(f"/proc/self/fd/{fd}", path, False)

    return prepare


def _bind(source: str, target: str, read_only: bool) -> None:
    _check(_libc.mount(source.encode(), target.encode(), None, _MS_BIND | _MS_REC, None), target)
    if read_only:
        flags = _MS_REMOUNT | _MS_BIND | _MS_RDONLY
        _check(_libc.mount(b"none", target.encode(), None, flags, None), target)


class ProcessRunner:
    """Runs the containers of pods whose image matches a rule; one per sandbox."""

    def __init__(
        self,
        store: Store,
        rules: list[RunImage],
        *,
        api: tuple[str, int],
        ca_pem: bytes,
        mint: Mint,
        workdir: Path,
        rootful: bool | None = None,
    ) -> None:
        self.store = store
        self.rules = rules
        self.api = api
        self.ca_pem = ca_pem
        self.mint = mint
        self.workdir = workdir
        self.rootful = os.geteuid() == 0 if rootful is None else rootful
        #: pod uid -> its containers run as processes
        self.pods: dict[str, list[Container]] = {}
        #: pod uid -> its namespace and name
        self.names: dict[str, tuple[str, str]] = {}
        #: mount points this runner created on the host (removed at stop when empty)
        self._made: list[Path] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle
    def rule_for(self, image: str) -> RunImage | None:
        return next((rule for rule in self.rules if rule.matches(image)), None)

    def manages(self, pod: Obj) -> bool:
        """Whether this runner, not the simulated kubelet, answers for the pod's readiness
        and the end of its deletion."""
        containers = pod.get("spec", {}).get("containers") or []
        return any(self.rule_for(str(c.get("image", ""))) for c in containers)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.store.subscribe(self.on_event)
        self._task = loop.create_task(self._monitor())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        everything = [c for containers in self.pods.values() for c in containers]
        for container in everything:
            self._signal(container, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while any(c.alive for c in everything) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for container in everything:
            self._signal(container, signal.SIGKILL)
            if container.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    container.process.wait(timeout=5)
        for path in reversed(self._made):
            with contextlib.suppress(OSError):
                path.rmdir()

    def on_event(self, event_type: str, resource: str, obj: Obj) -> None:
        if resource == "pods" and self._loop is not None and self.manages(obj):
            # acted on from the loop, not within the store's notification
            self._loop.call_soon(self._sync, event_type, obj)

    def _sync(self, event_type: str, pod: Obj) -> None:
        uid = pod["metadata"]["uid"]
        if event_type == "DELETED":
            self.names.pop(uid, None)
            for container in self.pods.pop(uid, []):
                self._signal(container, signal.SIGKILL)
            return
        if pod_terminating(pod):
            self._terminate(pod)
        elif pod.get("status", {}).get("phase") == "Running" and uid not in self.pods:
            self._launch(pod)

    # ------------------------------------------------------------------ starting
    def _launch(self, pod: Obj) -> None:
        meta = pod["metadata"]
        directory = self.workdir / f"{meta['namespace']}_{meta['name']}_{meta['uid'][:8]}"
        containers: list[Container] = []
        self.pods[meta["uid"]] = containers
        self.names[meta["uid"]] = (meta["namespace"], meta["name"])
        for spec in pod["spec"].get("containers") or []:
            rule = self.rule_for(str(spec.get("image", "")))
            if rule is None:
                continue
            try:
                container = self._container(pod, spec, rule, directory)
            except (ContainerConfigError, ApiError, OSError) as exc:
                message = getattr(exc, "message", None) or str(exc)
                self._status(pod, spec["name"], waiting=("CreateContainerConfigError", message))
                log.warning("pod %s/%s: %s", meta["namespace"], meta["name"], message)
                continue
            containers.append(container)
            self._spawn(container)

    def _service_account(self, pod: Obj, directory: Path) -> Path:
        namespace = pod["metadata"]["namespace"]
        account = pod["spec"].get("serviceAccountName") or "default"
        token, _ = self.mint(namespace, account, TOKEN_SECONDS)
        target = directory / "serviceaccount"
        target.mkdir(parents=True, exist_ok=True)
        for name, text in (
            ("token", token),
            ("ca.crt", self.ca_pem.decode()),
            ("namespace", namespace),
        ):
            (target / name).write_text(text)
        return target

    def _container(self, pod: Obj, spec: Obj, rule: RunImage, directory: Path) -> Container:
        account_dir = self._service_account(pod, directory)
        host, port = self.api
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOSTNAME": pod["metadata"]["name"],
            "KUBERNETES_SERVICE_HOST": host,
            "KUBERNETES_SERVICE_PORT": str(port),
            "KUBERNETES_SERVICE_PORT_HTTPS": str(port),
        }
        env.update(environment(self.store, pod, spec))
        mounts = self._mounts(pod, spec, directory, account_dir)
        if not self.rootful:
            env[SERVICE_ACCOUNT_ENV] = str(account_dir)
            if [m for m in mounts if m[1] != SERVICE_ACCOUNT_DIR]:
                raise ContainerConfigError(
                    "volume mounts need a private mount namespace: run the sandbox as root"
                )
            mounts = []
        ports = {
            str(p.get("name")): int(p["containerPort"])
            for p in spec.get("ports") or []
            if p.get("name") and p.get("containerPort")
        }
        probes = {k: Probe(spec[k]) for k in ("livenessProbe", "readinessProbe") if spec.get(k)}
        delay = time.monotonic()
        for probe in probes.values():
            probe.due = delay + float(probe.spec.get("initialDelaySeconds", 0))
        return Container(
            namespace=pod["metadata"]["namespace"],
            pod=pod["metadata"]["name"],
            uid=pod["metadata"]["uid"],
            name=str(spec["name"]),
            argv=command_line(spec, list(rule.entrypoint), env),
            env=env,
            mounts=mounts,
            workdir=directory,
            ports=ports,
            restart_policy=str(pod["spec"].get("restartPolicy", "Always")),
            grace=float(pod["spec"].get("terminationGracePeriodSeconds", 30)),
            liveness=probes.get("livenessProbe"),
            readiness=probes.get("readinessProbe"),
        )

    def _mounts(
        self, pod: Obj, spec: Obj, directory: Path, account_dir: Path
    ) -> list[tuple[str, str, bool]]:
        volumes = {v.get("name"): v for v in pod["spec"].get("volumes") or []}
        mounts = [(str(account_dir), SERVICE_ACCOUNT_DIR, True)]
        for mount in spec.get("volumeMounts") or []:
            volume = volumes.get(mount.get("name"))
            if volume is None:
                raise ContainerConfigError(f"volume {mount.get('name')!r} is not in the pod")
            source = directory / "volumes" / str(volume["name"])
            write_volume(self.store, pod, volume, source)
            mounts.append((str(source), str(mount["mountPath"]), bool(mount.get("readOnly"))))
        return mounts

    def _mount_points(self, container: Container) -> None:
        """Create the mount points missing on the host (as a container runtime does)."""
        for _, target, _ in container.mounts:
            missing = []
            path = Path(target)
            while not path.exists():
                missing.append(path)
                path = path.parent
            for directory in reversed(missing):
                directory.mkdir()
                self._made.append(directory)

    def _spawn(self, container: Container) -> None:
        executable = (
            shutil.which(container.argv[0], path=container.env.get("PATH"))
            if container.argv
            else None
        )
        if executable is None:
            why = f"executable {container.argv[:1]} not found"
            self._status_of(container, waiting=("CreateContainerError", why))
            return
        needed = [executable, *_interpreter(executable)]
        kept = _kept(container.mounts, needed + [os.path.realpath(p) for p in needed])
        try:
            self._mount_points(container)
            output = container.log_path.open("ab")
            container.process = subprocess.Popen(
                container.argv,
                env=container.env,
                cwd=container.workdir,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_prepare_child(container.mounts, kept),  # noqa: PLW1509
            )
            output.close()
        except (OSError, subprocess.SubprocessError) as exc:
            self._status_of(container, waiting=("CreateContainerError", str(exc)))
            log.warning(
                "pod %s/%s: cannot start %s: %s",
                container.namespace,
                container.pod,
                container.name,
                exc,
            )
            return
        container.started_at = now_rfc3339()
        container.ready = container.readiness is None
        self._status_of(container)
        log.info(
            "pod %s/%s: container %s runs as process %d",
            container.namespace,
            container.pod,
            container.name,
            container.process.pid,
        )

    # ------------------------------------------------------------------ running
    async def _monitor(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            now = time.monotonic()
            for containers in list(self.pods.values()):
                for container in containers:
                    self._watch(container, now)
            self._finish_deletions()

    def _watch(self, container: Container, now: float) -> None:
        if container.alive and container.kill_at is not None and now >= container.kill_at:
            self._signal(container, signal.SIGKILL)
        if container.stopping:
            return
        if container.process is not None and not container.alive:
            self._exited(container, now)
            if container.restart_now:
                container.restart_now, container.restart_at = False, now
        if container.restart_at is not None and now >= container.restart_at:
            container.restart_at = None
            container.restarts += 1
            self._spawn(container)
            return
        if not container.alive:
            return
        for probe, kind in ((container.liveness, "liveness"), (container.readiness, "readiness")):
            if probe is not None and not probe.busy and now >= probe.due:
                probe.busy = True
                assert self._loop is not None
                self._loop.create_task(self._probe(container, probe, kind))

    def _exited(self, container: Container, now: float) -> None:
        assert container.process is not None
        code = container.process.returncode
        container.last_state = {
            "terminated": {
                "exitCode": code if code >= 0 else 128 - code,
                "reason": "Completed" if code == 0 else "Error",
                "startedAt": container.started_at,
                "finishedAt": now_rfc3339(),
            }
        }
        container.process = None
        container.ready = False
        container.kill_at = None
        restart = container.restart_policy == "Always" or (
            container.restart_policy == "OnFailure" and code != 0
        )
        if restart:
            first, most = BACKOFF_SECONDS
            container.restart_at = now + min(most, first * 2 ** min(container.restarts, 8))
            self._status_of(
                container, waiting=("CrashLoopBackOff", f"exit code {code}; restarting")
            )
        else:
            self._status_of(container, terminated=container.last_state["terminated"])
            self._maybe_completed(container)

    def _maybe_completed(self, container: Container) -> None:
        """A pod whose processes have all ended for good is Succeeded, or Failed when one
        exited with an error (restartPolicy Never, or OnFailure after a success)."""
        siblings = self.pods.get(container.uid, [])
        if any(c.alive or c.restart_at is not None or c.stopping for c in siblings):
            return
        codes = [int((c.last_state.get("terminated") or {}).get("exitCode", 0)) for c in siblings]
        phase = "Failed" if any(codes) else "Succeeded"

        def complete(pod: Obj) -> None:
            pod.setdefault("status", {})["phase"] = phase
            for kind in ("ContainersReady", "Ready"):
                set_condition(pod, kind, "False", "PodCompleted")

        with contextlib.suppress(ApiError):
            self.store.mutate("pods", container.namespace, container.pod, complete)

    async def _probe(self, container: Container, probe: Probe, kind: str) -> None:
        try:
            ok = await self._send_probe(container, probe.spec)
        finally:
            probe.busy = False
            probe.due = time.monotonic() + probe.period
        if not container.alive or container.stopping:
            return
        probe.failures = 0 if ok else probe.failures + 1
        failed = probe.failures >= int(probe.spec.get("failureThreshold", 3))
        if kind == "readiness":
            ready = ok or (container.ready and not failed)
            if ready != container.ready:
                container.ready = ready
                self._status_of(container)
            return
        if failed:
            log.warning(
                "pod %s/%s: container %s failed its liveness probe; restarting",
                container.namespace,
                container.pod,
                container.name,
            )
            probe.failures = 0
            self._restart(container)

    def _restart(self, container: Container) -> None:
        """Stop the process (SIGTERM, SIGKILL after the grace period) and start it again
        once it has exited; `_watch` does both."""
        container.restart_now = True
        container.kill_at = time.monotonic() + container.grace
        self._signal(container, signal.SIGTERM)

    async def _send_probe(self, container: Container, spec: Obj) -> bool:
        timeout = float(spec.get("timeoutSeconds", 1))
        action = spec.get("httpGet") or spec.get("tcpSocket")
        if action is None:
            return True  # exec probes are not run by the sandbox
        port = action.get("port")
        number = (
            container.ports.get(str(port))
            if isinstance(port, str) and not str(port).isdigit()
            else int(port)
        )
        host = action.get("host") or self._pod_ip(container)
        if number is None or not host:
            return False
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, number), timeout)
        except (OSError, TimeoutError):
            return False
        try:
            if "httpGet" not in spec:
                return True
            path = str(action.get("path", "/"))
            writer.write(
                f"GET {path} HTTP/1.0\r\nHost: {host}:{number}\r\n"
                "User-Agent: kube-probe/sandbox\r\n\r\n".encode()
            )
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), timeout)
            parts = line.split()
            return len(parts) >= 2 and parts[1].isdigit() and 200 <= int(parts[1]) < 400
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()

    def _pod_ip(self, container: Container) -> str:
        pod = self.store.peek("pods", container.namespace, container.pod) or {}
        return str(pod.get("status", {}).get("podIP", ""))

    # ------------------------------------------------------------------ stopping
    def _terminate(self, pod: Obj) -> None:
        grace = pod["metadata"].get("deletionGracePeriodSeconds")
        for container in self.pods.get(pod["metadata"]["uid"], []):
            if container.stopping:
                continue
            container.stopping = True
            seconds = float(grace if grace is not None else container.grace)
            container.kill_at = time.monotonic() + seconds
            self._signal(container, signal.SIGTERM if seconds > 0 else signal.SIGKILL)

    def _finish_deletions(self) -> None:
        """A terminating pod whose processes have all exited is gone (as the kubelet
        reports once its containers stopped)."""
        for uid, (namespace, name) in list(self.names.items()):
            if any(c.alive for c in self.pods.get(uid, [])):
                continue
            pod = self.store.peek("pods", namespace, name)
            if pod is None or pod["metadata"]["uid"] != uid:
                self.names.pop(uid, None)
                self.pods.pop(uid, None)
            elif pod_terminating(pod):
                with contextlib.suppress(ApiError):
                    self.store.finish_graceful_deletion("pods", namespace, name)

    @staticmethod
    def _signal(container: Container, signum: int) -> None:
        if container.alive:
            assert container.process is not None
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(container.process.pid, signum)

    # ------------------------------------------------------------------ status and logs
    def _status_of(
        self,
        container: Container,
        *,
        waiting: tuple[str, str] | None = None,
        terminated: Obj | None = None,
    ) -> None:
        pod = self.store.peek("pods", container.namespace, container.pod)
        if pod is not None and pod["metadata"]["uid"] == container.uid:
            self._status(
                pod, container.name, container=container, waiting=waiting, terminated=terminated
            )

    def _status(
        self,
        pod: Obj,
        name: str,
        *,
        container: Container | None = None,
        waiting: tuple[str, str] | None = None,
        terminated: Obj | None = None,
    ) -> None:
        if waiting is not None:
            state: Obj = {"waiting": {"reason": waiting[0], "message": waiting[1]}}
        elif terminated is not None:
            state = {"terminated": terminated}
        else:
            state = {"running": {"startedAt": container.started_at if container else now_rfc3339()}}
        ready = bool(container and container.ready and waiting is None and terminated is None)

        def update(pod: Obj) -> None:
            statuses = pod.setdefault("status", {}).setdefault("containerStatuses", [])
            entry = next((s for s in statuses if s.get("name") == name), None)
            if entry is None:
                entry = {"name": name, "image": "", "imageID": ""}
                statuses.append(entry)
            entry.update({"state": state, "ready": ready, "started": "running" in state})
            if container is not None:
                entry["restartCount"] = container.restarts
                if container.last_state:
                    entry["lastState"] = container.last_state
            every = all(s.get("ready") for s in statuses)
            for kind in ("ContainersReady", "Ready"):
                set_condition(pod, kind, "True" if every else "False")
            created = any(
                "running" in s.get("state", {}) or s.get("restartCount") for s in statuses
            )
            if waiting is not None and waiting[0].startswith("CreateContainer") and not created:
                pod["status"]["phase"] = "Pending"  # no container was ever created

        with contextlib.suppress(ApiError):
            self.store.mutate("pods", pod["metadata"]["namespace"], pod["metadata"]["name"], update)

    def log_lines(self, pod: Obj, container: str | None) -> list[str] | None:
        """The container's output, when this runner ran it (None: not one of ours); a
        container of ours that never started has no log (400, as the kubelet says)."""
        for candidate in self.pods.get(pod["metadata"]["uid"], []):
            if container in (None, candidate.name) and candidate.log_path.exists():
                return candidate.log_path.read_text(errors="replace").splitlines()
        if not self.manages(pod):
            return None
        statuses = pod.get("status", {}).get("containerStatuses") or []
        names = [str(c.get("name", "")) for c in pod["spec"].get("containers") or []]
        name = container or (names[0] if names else "")
        state: Obj = next((s.get("state", {}) for s in statuses if s.get("name") == name), {})
        reason = (state.get("waiting") or {}).get("reason", "ContainerCreating")
        raise ApiError(
            400,
            "BadRequest",
            f'container "{name}" in pod "{pod["metadata"]["name"]}" is waiting to start: {reason}',
        )
