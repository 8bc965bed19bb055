"""`--run-image`: the sandbox's kubelet runs real processes for pods whose image matches,
with the pod's command line, environment, volumes and service-account token, probes
them, restarts them and stops them when their pod is deleted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox.processes import RunImage, parse_run_image
from sandbox.sandbox import Sandbox
from sandbox.timing import SandboxTiming
from tests.conftest import wait_for

ROOT = os.geteuid() == 0

#: a small program that says what it was given and answers probes on its pod's address
APP = textwrap.dedent(
    """
    import json, os, signal, sys, time
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from pathlib import Path

    account = Path(os.environ.get("SEAL_SERVICE_ACCOUNT_DIR",
                                  "/var/run/secrets/kubernetes.io/serviceaccount"))
    said = {
        "argv": sys.argv[1:],
        "env": {k: v for k, v in os.environ.items() if k.startswith(("APP_", "KUBERNETES_"))},
        "namespace": (account / "namespace").read_text(),
        "token": bool((account / "token").read_text()),
        "ca": (account / "ca.crt").read_text().startswith("-----BEGIN CERTIFICATE-----"),
        "config": Path("/etc/app/greeting").read_text() if Path("/etc/app").is_dir() else None,
    }
    print("started " + json.dumps(said, sort_keys=True), flush=True)

    def stop(signum, frame):
        print("got SIGTERM, stopping", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    flag = Path(sys.argv[1])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            healthy = self.path != "/healthz" or not flag.exists()
            self.send_response(200 if healthy else 500)
            self.end_headers()
            self.wfile.write(b"ok" if healthy else b"sick")

        def log_message(self, *args):
            pass

    HTTPServer((os.environ["APP_POD_IP"], 8080), Handler).serve_forever()
    """
)


def pod_manifest(flag: Path, *, volumes: bool) -> dict[str, object]:
    container: dict[str, object] = {
        "name": "app",
        "image": "example.com/probe-app:1.0",
        "args": [str(flag), "--name=$(APP_POD_NAME)", "$$(APP_POD_NAME)"],
        "env": [
            {"name": "APP_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "APP_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "APP_NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "APP_WHO", "value": "$(APP_POD_NAME) on $(APP_NODE)"},
            {
                "name": "APP_GREETING",
                "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "greeting"}},
            },
        ],
        "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 1},
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": 8080},
            "periodSeconds": 1,
            "failureThreshold": 2,
        },
    }
    spec: dict[str, object] = {
        "serviceAccountName": "app",
        "terminationGracePeriodSeconds": 5,
        "containers": [container],
    }
    if volumes:
        container["volumeMounts"] = [{"name": "config", "mountPath": "/etc/app", "readOnly": True}]
        spec["volumes"] = [{"name": "config", "configMap": {"name": "app-config"}}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "app", "namespace": "default", "labels": {"app": "probe-app"}},
        "spec": spec,
    }


SETUP = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: app, namespace: default}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config, namespace: default}
data: {greeting: hello from a ConfigMap}
"""


def kubectl(box: Sandbox, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        ["kubectl", "--kubeconfig", str(box.kubeconfig_path), *args],
        input=stdin, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def running_app(tmp_path: Path) -> Iterator[Callable[..., Sandbox]]:
    boxes: list[Sandbox] = []

    def start(*, rootful: bool = ROOT) -> Sandbox:
        script = tmp_path / "app.py"
        script.write_text(APP)
        rule = parse_run_image(f"example.com/probe-app:*={sys.executable} {script}")
        box = Sandbox(timing=SandboxTiming.fast(), seed=1, run_images=[rule])
        box.start()
        boxes.append(box)
        if not rootful and box.processes is not None:
            box.processes.rootful = False
        kubectl(box, "apply", "-f", "-", stdin=SETUP)
        return box

    yield start
    for box in boxes:
        box.stop()


def pod(box: Sandbox) -> dict[str, object]:
    found: dict[str, object] = json.loads(kubectl(box, "get", "pod", "app", "-o", "json"))
    return found


def ready(box: Sandbox) -> bool:
    conditions = pod(box).get("status", {}).get("conditions", [])  # type: ignore[attr-defined]
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def started_line(box: Sandbox) -> dict[str, object]:
    def find() -> dict[str, object] | None:
        result = subprocess.run(
            ["kubectl", "--kubeconfig", str(box.kubeconfig_path), "logs", "app"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            # until the process is started the kubelet has no log to give, as a real one says
            assert "is waiting to start: ContainerCreating" in result.stderr, result.stderr
            return None
        for line in result.stdout.splitlines():
            if line.startswith("started "):
                found: dict[str, object] = json.loads(line.removeprefix("started "))
                return found
        return None

    result: dict[str, object] = wait_for(find, timeout=30, interval=0.2, what="the app's log")
    return result


@pytest.mark.skipif(not ROOT, reason="volume mounts need a private mount namespace (root)")
def test_a_pod_runs_as_a_process_with_its_env_volumes_token_and_probes(
    running_app: Callable[..., Sandbox], tmp_path: Path
) -> None:
    box = running_app()
    flag = tmp_path / "sick"
    kubectl(box, "apply", "-f", "-", stdin=json.dumps(pod_manifest(flag, volumes=True)))
    said = started_line(box)
    status = pod(box)["status"]
    pod_ip, node = status["podIP"], pod(box)["spec"]["nodeName"]  # type: ignore[index]
    assert said["argv"] == [str(flag), "--name=app", "$(APP_POD_NAME)"]
    env = said["env"]
    assert env["APP_POD_IP"] == pod_ip  # type: ignore[index]
    assert env["APP_WHO"] == f"app on {node}"  # type: ignore[index]
    assert env["APP_GREETING"] == "hello from a ConfigMap"  # type: ignore[index]
    host, port = box.url.removeprefix("https://").rsplit(":", 1)
    assert (env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"]) == (host, port)  # type: ignore[index]
    # the service-account files where in-cluster clients look, in the process's own view
    assert (said["namespace"], said["token"], said["ca"]) == ("default", True, True)
    assert said["config"] == "hello from a ConfigMap"
    assert not Path("/etc/app/greeting").exists()  # the mount is the process's alone
    wait_for(lambda: ready(box), timeout=30, interval=0.2, what="Ready from the readiness probe")

    # a failing liveness probe restarts the process and counts it
    flag.write_text("sick")
    restarted = wait_for(
        lambda: pod(box)["status"]["containerStatuses"][0]["restartCount"] >= 1,  # type: ignore[index]
        timeout=30, interval=0.2, what="a restart after the liveness probe failed",
    )  # fmt: skip
    assert restarted
    flag.unlink()
    wait_for(lambda: ready(box), timeout=30, interval=0.2, what="Ready again")
    assert "got SIGTERM, stopping" in kubectl(box, "logs", "app")

    # deleting the pod stops its process (SIGTERM), then the pod is gone
    process = box.processes.pods[pod(box)["metadata"]["uid"]][0].process  # type: ignore[union-attr,index]
    assert process is not None and process.poll() is None
    kubectl(box, "delete", "pod", "app", "--wait=false")
    wait_for(lambda: process.poll() is not None, timeout=30, what="the process to exit")
    assert process.returncode == 0  # it handled SIGTERM
    wait_for(
        lambda: "app" not in kubectl(box, "get", "pods", "-o", "name"),
        timeout=30, what="the pod to be gone",
    )  # fmt: skip


def test_without_root_the_token_is_named_by_an_environment_variable(
    running_app: Callable[..., Sandbox], tmp_path: Path
) -> None:
    box = running_app(rootful=False)
    kubectl(box, "apply", "-f", "-", stdin=json.dumps(pod_manifest(tmp_path / "x", volumes=False)))
    said = started_line(box)
    assert (said["namespace"], said["token"], said["ca"]) == ("default", True, True)
    wait_for(lambda: ready(box), timeout=30, interval=0.2, what="Ready")


def test_without_root_a_pod_with_volumes_says_why_it_cannot_start(
    running_app: Callable[..., Sandbox], tmp_path: Path
) -> None:
    box = running_app(rootful=False)
    kubectl(box, "apply", "-f", "-", stdin=json.dumps(pod_manifest(tmp_path / "x", volumes=True)))

    def waiting() -> dict[str, str] | None:
        statuses = pod(box).get("status", {}).get("containerStatuses") or []  # type: ignore[attr-defined]
        state = statuses[0].get("state", {}) if statuses else {}
        found: dict[str, str] | None = state.get("waiting")
        return found if found and found.get("reason") == "CreateContainerConfigError" else None

    state = wait_for(waiting, timeout=30, interval=0.2, what="CreateContainerConfigError")
    assert state["message"] == (
        "volume mounts need a private mount namespace: run the sandbox as root"
    )
    assert not ready(box)


def test_a_process_that_exits_is_restarted_with_a_back_off(
    running_app: Callable[..., Sandbox], tmp_path: Path
) -> None:
    box = running_app(rootful=False)
    manifest = pod_manifest(tmp_path / "x", volumes=False)
    container = manifest["spec"]["containers"][0]  # type: ignore[index]
    container["command"] = [sys.executable, "-c", "print('short-lived'); raise SystemExit(3)"]
    kubectl(box, "apply", "-f", "-", stdin=json.dumps(manifest))

    def crashed_twice() -> dict[str, object] | None:
        statuses = pod(box).get("status", {}).get("containerStatuses") or []  # type: ignore[attr-defined]
        return statuses[0] if statuses and statuses[0].get("restartCount", 0) >= 2 else None

    status = wait_for(crashed_twice, timeout=30, interval=0.2, what="two restarts")
    assert status["lastState"]["terminated"]["exitCode"] == 3  # type: ignore[index]
    assert kubectl(box, "logs", "app").count("short-lived") >= 2


def test_bad_run_image_rules_are_refused() -> None:
    assert parse_run_image("repo/app:*=/usr/bin/app --flag 'a b'") == RunImage(
        "repo/app:*", ("/usr/bin/app", "--flag", "a b")
    )
    for text, message in [
        ("no-equals", "expected IMAGE=COMMAND"),
        ("=cmd", "expected IMAGE=COMMAND"),
        ("img=", "expected IMAGE=COMMAND"),
        ("img=cmd 'unclosed", "cannot be split into words"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_run_image(text)
    result = subprocess.run(
        [sys.executable, "-m", "seal", "sandbox", "--run-image", "nope"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--run-image 'nope': expected IMAGE=COMMAND" in result.stderr


def test_a_pod_that_runs_to_completion_ends_succeeded_or_failed(
    running_app: Callable[..., Sandbox], tmp_path: Path
) -> None:
    box = running_app(rootful=False)
    for name, code in (("done", 0), ("broken", 3)):
        manifest = pod_manifest(tmp_path / "x", volumes=False)
        manifest["metadata"]["name"] = name  # type: ignore[index]
        manifest["spec"]["restartPolicy"] = "Never"  # type: ignore[index]
        container = manifest["spec"]["containers"][0]  # type: ignore[index]
        container["command"] = [sys.executable, "-c", f"print('{name}'); raise SystemExit({code})"]
        del container["readinessProbe"], container["livenessProbe"]
        kubectl(box, "apply", "-f", "-", stdin=json.dumps(manifest))

    def phases() -> dict[str, str] | None:
        found = json.loads(kubectl(box, "get", "pods", "done", "broken", "-o", "json"))
        got = {p["metadata"]["name"]: p["status"]["phase"] for p in found["items"]}
        return got if set(got.values()) <= {"Succeeded", "Failed"} else None

    assert wait_for(phases, timeout=30, interval=0.2, what="both pods ended") == {
        "done": "Succeeded",
        "broken": "Failed",
    }
    table = kubectl(box, "get", "pods", "done", "broken", "--no-headers")
    assert {line.split()[0]: line.split()[2] for line in table.splitlines()} == {
        "done": "Completed",
        "broken": "Error",
    }
    assert kubectl(box, "logs", "broken").splitlines() == ["broken"]


def test_a_command_that_is_not_there_never_starts_and_says_so(
    running_app: Callable[..., Sandbox], tmp_path: Path
) -> None:
    box = running_app(rootful=False)
    manifest = pod_manifest(tmp_path / "x", volumes=False)
    manifest["spec"]["containers"][0]["command"] = ["/no/such/program"]  # type: ignore[index]
    kubectl(box, "apply", "-f", "-", stdin=json.dumps(manifest))

    def waiting() -> str | None:
        status = pod(box)["status"]
        states = [c.get("state", {}) for c in status.get("containerStatuses", [])]  # type: ignore[attr-defined]
        reasons = [s.get("waiting", {}).get("reason") for s in states]
        return status["phase"] if "CreateContainerError" in reasons else None  # type: ignore[index]

    assert wait_for(waiting, timeout=30, interval=0.2, what="CreateContainerError") == "Pending"
    assert "CreateContainerError" in kubectl(box, "get", "pod", "app", "--no-headers")
    logs = subprocess.run(
        ["kubectl", "--kubeconfig", str(box.kubeconfig_path), "logs", "app"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert logs.returncode != 0
    assert 'container "app" in pod "app" is waiting to start: CreateContainerError' in logs.stderr


def test_kept_directories_are_the_first_below_each_mount() -> None:
    from sandbox.processes import _kept

    mounts = [("/src/a", "/tmp", False), ("/src/b", "/etc/app", True)]
    assert _kept(mounts, ["/tmp/ci/main/.venv/bin/seal", "/usr/bin/python3"]) == ["/tmp/ci"]
    assert _kept(mounts, ["/usr/local/bin/seal"]) == []
    assert _kept([("/src", "/tmp/", False)], ["/tmp/x", "/tmp/x/y"]) == ["/tmp/x"]


@pytest.mark.skipif(not ROOT, reason="volume mounts need a private mount namespace (root)")
def test_a_volume_over_the_programs_directory_leaves_the_program_in_view(
    tmp_path: Path,
) -> None:
    # the program lives under /tmp (pytest's tmp_path), and the pod mounts an emptyDir there
    program = tmp_path / "bin" / "lister"
    program.parent.mkdir()
    program.write_text(
        f"#!{sys.executable}\n"
        "import os, time\n"
        "print('alive; /tmp holds', sorted(os.listdir('/tmp')), flush=True)\n"
        "time.sleep(600)\n"
    )
    program.chmod(0o755)
    kept = "/" + str(tmp_path).strip("/").split("/")[1]  # e.g. /tmp/pytest-of-root
    box = Sandbox(
        timing=SandboxTiming.fast(), seed=1, run_images=[parse_run_image(f"lister:*={program}")]
    )
    box.start()
    try:
        manifest = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "lister", "namespace": "default"},
            "spec": {
                "containers": [{"name": "c", "image": "lister:1",
                                "volumeMounts": [{"name": "scratch", "mountPath": "/tmp"}]}],
                "volumes": [{"name": "scratch", "emptyDir": {}}],
            },
        }  # fmt: skip
        kubectl(box, "apply", "-f", "-", stdin=json.dumps(manifest))

        def said() -> str | None:
            lines = subprocess.run(
                ["kubectl", "--kubeconfig", str(box.kubeconfig_path), "logs", "lister"],
                capture_output=True, text=True, timeout=60, check=False,
            ).stdout  # fmt: skip
            return lines if "alive" in lines else None

        line = wait_for(said, timeout=30, interval=0.2, what="the program's first line")
        # the emptyDir is /tmp for the process: it holds only the directories kept for
        # the program and its interpreter (this checkout's python, when it is under /tmp)
        needed = [str(program), sys.executable, os.path.realpath(sys.executable)]
        expected = sorted({p.split("/")[2] for p in needed if p.startswith("/tmp/")})
        assert kept.split("/")[-1] in expected
        assert f"alive; /tmp holds {expected!r}" in line
    finally:
        box.stop()
