"""seal side by side with Chaos Toolkit and PowerfulSeal, on one sandbox, in one run.

Installs Chaos Toolkit (with chaostoolkit-kubernetes) and PowerfulSeal 3.1.0 into virtual
environments of their own under a cache directory (default .bench-venvs/ at the top of the
repository), reusing them when they are there. Then starts one sandbox (`seal sandbox
--preset large` in its own process) and, for each size (1, 100, 1,000 and 10,000 pods by
default), for each tool in turn, creates that many pods matched by one label selector and
has the tool kill them all, in three rounds (`--repeats`):

- seal: `seal autonomous` with a podAction killing every matched pod (force);
- Chaos Toolkit: `chaos run` of an experiment calling chaosk8s.pod.actions.terminate_pods
  with all=true and grace period 0;
- PowerfulSeal: `powerfulseal autonomous` with the same policy as seal's (runs: 1).

For each run it prints the wall time and the CPU time of the tool (its processes'
rusage); then, for each tool and size, the median round's wall time, the median CPU
time, the sandbox's CPU time, the API requests the tool made (by verb and resource, read
from the sandbox's /sandbox/v1/metrics before and after), the fewest pods actually
deleted in a round (by uid) and the ratios against seal. Then the startup of each tool
(`seal validate`, `chaos validate`, `powerfulseal validate`) and a seal daemon of 1,000
loops (RSS at loops 10 and 1,000, time per loop). Each run has a timeout; a tool that
fails is reported as failed with the tail of its output, and the benchmark goes on.

    python benchmarks/peers.py [--sizes 1,100] [--tools seal,chaos] [--quick]
"""

from __future__ import annotations

import argparse
import base64
import collections
import concurrent.futures
import contextlib
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3
import yaml
from large_sandbox import large_sandbox
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parent.parent
TOOLS = ("seal", "chaos", "powerfulseal")
NAMESPACE = "bench"
#: what each peer's environment holds: steps of pip arguments, run in order
INSTALL: dict[str, tuple[tuple[str, ...], ...]] = {
    # chaostoolkit 1.19.0 is the last release that runs on Python 3.11
    "chaos": (
        ("chaostoolkit==1.19.0", "chaostoolkit-lib==1.44.0", "chaostoolkit-kubernetes==0.39.0"),
    ),
    # PowerfulSeal 3.1.0 on Python 3.11: PyYAML 5.4.1 builds only with Cython < 3 and
    # without build isolation; Jinja2 2.x needs markupsafe 2.0.1; python-dateutil < 2.7
    # (its pin) uses collections.Callable, gone in Python 3.10, so 2.8.2 replaces it.
    "powerfulseal": (
        ("cython<3", "wheel", "setuptools<70"),
        ("--no-build-isolation", "PyYAML==5.4.1"),
        ("powerfulseal==3.1.0", "markupsafe==2.0.1", "PyYAML==5.4.1"),
        ("--no-deps", "python-dateutil==2.8.2"),
    ),
}
POLICY = """\
config:
  runStrategy: {{runs: 1, minSecondsBetweenRuns: 0, maxSecondsBetweenRuns: 0}}
scenarios:
- name: kill every matched pod
  steps:
  - podAction:
      matches: [{{labels: {{selector: "{selector}", namespace: {namespace}}}}}]
      actions: [{{kill: {{probability: 1, force: true}}}}]
"""
DAEMON_POLICY = """\
config:
  runStrategy: {minSecondsBetweenRuns: 0.05, maxSecondsBetweenRuns: 0.05}
scenarios:
- name: kill one pod of the daemon deployment
  steps:
  - podAction:
      matches: [{labels: {selector: "app=daemon", namespace: bench}}]
      filters: [{randomSample: {size: 1}}]
      actions: [{kill: {probability: 1, force: true}}]
"""


# ---------------------------------------------------------------- environments


def ensure_venv(cache: Path, tool: str) -> Path:
    """The bin directory of `tool`'s virtual environment, installed first if missing (or
    installed with other pins)."""
    venv = cache / tool
    ready = venv / ".installed"
    wanted = json.dumps(INSTALL[tool])
    if ready.exists() and ready.read_text() == wanted:
        return venv / "bin"
    print(f"installing {tool} into {venv} (once; reused afterwards) ...", flush=True)
    pip = [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
    for argv in (
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        *([*pip, *step] for step in INSTALL[tool]),
    ):
        try:
            done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=1800)
        except subprocess.TimeoutExpired as exc:
            raise InstallFailed(f"{' '.join(argv)} timed out") from exc
        if done.returncode:
            tail = " | ".join(done.stderr.strip().splitlines()[-3:])
            raise InstallFailed(f"{' '.join(argv[3:])}: exit {done.returncode}: {tail}")
    ready.write_text(wanted)
    return venv / "bin"


class InstallFailed(Exception):
    """A peer's environment could not be made (the benchmark goes on without it)."""


def install(cache: Path, tools: list[str]) -> tuple[dict[str, Path], list[str]]:
    """The bin directories of the peers among `tools`, and the tools that can run."""
    bins = {}
    for tool in tools:
        if tool == "seal":
            compile_seal()
            continue
        try:
            bins[tool] = ensure_venv(cache, tool)
        except InstallFailed as exc:
            print(f"{tool}: FAILED to install, left out: {exc}", flush=True)
    return bins, [t for t in tools if t == "seal" or t in bins]


def compile_seal() -> None:
    """seal's bytecode written, as pip writes the peers' when it installs them: an
    editable tree has none where PYTHONDONTWRITEBYTECODE is set, and seal would then
    compile its sources at every start while the peers do not."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "seal", "drivers", "sandbox"],
        cwd=REPO, check=True, stdout=subprocess.DEVNULL, timeout=600,
    )  # fmt: skip


# ---------------------------------------------------------------- the sandbox


class Cluster:
    """The sandbox's API, for setting runs up and checking what they did."""

    def __init__(self, kubeconfig: Path, pid: int) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        self.kubeconfig = kubeconfig
        self.pid = pid
        self.url = cluster["server"]
        ca = kubeconfig.with_name("ca.crt")
        ca.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
        self.headers = {
            "Authorization": f"Bearer {config['users'][0]['user']['token']}",
            "Content-Type": "application/json",
        }
        self.http = urllib3.PoolManager(maxsize=16, ca_certs=str(ca), cert_reqs="CERT_REQUIRED")

    def call(self, method: str, path: str, body: object = None) -> Any:
        answer = self.http.request(
            method,
            f"{self.url}{path}",
            headers=self.headers,
            body=None if body is None else json.dumps(body).encode(),
            timeout=120,
        )
        if answer.status >= 300:
            raise SystemExit(f"{method} {path}: {answer.status} {answer.data[:300]!r}")
        return json.loads(answer.data) if answer.data.startswith(b"{") else answer.data

    def pods(self, selector: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token = ""
        for _ in range(10_000):
            page = self.call(
                "GET",
                f"/api/v1/namespaces/{NAMESPACE}/pods?labelSelector={selector}&limit=500{token}",
            )
            items += page["items"]
            if not page["metadata"].get("continue"):
                break
            token = f"&continue={page['metadata']['continue']}"
        return items

    def create_pods(self, label: str, count: int) -> None:
        def make(index: int) -> None:
            body = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"{label}-{index}", "labels": {"bench": label}},
                "spec": {"containers": [{"name": "main", "image": "busybox"}]},
            }
            self.call("POST", f"/api/v1/namespaces/{NAMESPACE}/pods", body)

        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(make, range(count)))
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            running = [
                p
                for p in self.pods(f"bench={label}")
                if p.get("status", {}).get("phase") == "Running"
            ]
            if len(running) == count:
                return
            time.sleep(0.5)
        raise SystemExit(f"the {count} pods of {label} did not all start within 300 s")

    def requests(self) -> collections.Counter[str]:
        """The API server's request counts so far, by verb and resource."""
        text = self.call("GET", "/sandbox/v1/metrics").decode()
        counts: collections.Counter[str] = collections.Counter()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "apiserver_request_total":
                    what = sample.labels["resource"] or sample.labels["subresource"]
                    counts[f"{sample.labels['verb']} {what}"] += int(sample.value)
        return counts

    def settle(self, quiet: float = 0.01, window: float = 0.2, bound: float = 10.0) -> None:
        """Wait (at most `bound` seconds) for a `window` in which the sandbox spent less
        than `quiet` CPU seconds: every tool starts on an idle sandbox, not on one still
        busy with the pods just made."""
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            before = self.cpu_seconds()
            time.sleep(window)
            if self.cpu_seconds() - before < quiet:
                return

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- the tools


@dataclass
class Result:
    tool: str
    size: int
    wall: float = 0.0
    cpu: float = 0.0
    sandbox_cpu: float = 0.0
    deleted: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    failure: str = ""


def command(tool: str, bins: dict[str, Path], workdir: Path, selector: str) -> list[str]:
    """The command that has `tool` kill every pod `selector` matches in the namespace."""
    policy = workdir / f"{tool}-policy.yml"
    policy.write_text(POLICY.format(selector=selector, namespace=NAMESPACE))
    if tool == "seal":
        return [
            *seal_command(),
            "autonomous",
            "--policy-file",
            str(policy),
            "--state-dir",
            str(workdir / "seal-state"),
        ]
    if tool == "powerfulseal":
        return [
            str(bins[tool] / "powerfulseal"),
            "autonomous",
            "--policy-file",
            str(policy),
            "--no-cloud",
            "--inventory-kubernetes",
            "--headless",
        ]
    experiment = workdir / "experiment.json"
    experiment.write_text(json.dumps(chaos_experiment(selector)))
    (workdir / "journal.json").unlink(missing_ok=True)  # the last run's says nothing of this one
    return [
        str(bins[tool] / "chaos"),
        "--no-version-check",
        "--no-log-file",
        "run",
        "--journal-path",
        str(workdir / "journal.json"),
        str(experiment),
    ]


def chaos_experiment(selector: str) -> dict[str, Any]:
    arguments = {"label_selector": selector, "ns": NAMESPACE, "all": True, "grace_period": 0}
    provider = {
        "type": "python",
        "module": "chaosk8s.pod.actions",
        "func": "terminate_pods",
        "arguments": arguments,
    }
    return {
        "version": "1.0.0",
        "title": "kill every matched pod",
        "description": "benchmarks/peers.py",
        "method": [{"type": "action", "name": "terminate-pods", "provider": provider}],
    }


def seal_command() -> list[str]:
    script = Path(sys.executable).parent / "seal"
    return [str(script)] if script.exists() else [sys.executable, "-m", "seal"]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(
    argv: list[str], env: dict[str, str], timeout: float, log: Path
) -> tuple[float, float, str]:
    """Run `argv`; its wall time, CPU time and, if it failed, why (with its output's tail)."""
    cpu, started = children_cpu(), time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, expire)
        timer.start()
        try:
            # a blocking wait sees the exit at once; wait(timeout=...) polls every 50 ms,
            # which added up to 50 ms to every run
            code = process.wait()
        finally:
            timer.cancel()
        code = -1 if expired.is_set() else code
    wall, used = time.perf_counter() - started, children_cpu() - cpu
    if code == 0:
        return wall, used, ""
    tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-4:])
    why = f"timed out after {timeout:g} s" if code == -1 else f"exit {code}"
    return wall, used, f"{why}: {tail[-400:]}"


def chaos_failure(journal: Path) -> str:
    """Why a Chaos Toolkit run that exited 0 did not do its action ('' when it did)."""
    if not journal.exists():
        return "no journal written"
    data = json.loads(journal.read_text())
    failed = [r for r in data.get("run", []) if r.get("status") != "succeeded"]
    if data.get("status") != "completed" or failed:
        return f"status {data.get('status')}: {[r.get('exception') for r in failed][-1:]}"
    return ""


def run_one(
    tool: str,
    size: int,
    cluster: Cluster,
    bins: dict[str, Path],
    workdir: Path,
    timeout: float,
    round_: int,
) -> Result:
    label = f"{tool}-{size}-{round_}"
    cluster.create_pods(label, size)
    selector = f"bench={label}"
    uids = {p["metadata"]["uid"] for p in cluster.pods(selector)}
    argv = command(tool, bins, workdir, selector)
    env = dict(os.environ, KUBECONFIG=str(cluster.kubeconfig))
    env["PATH"] = f"{bins.get(tool, Path(sys.executable).parent)}:{env['PATH']}"
    cluster.settle()
    before, sandbox_before = cluster.requests(), cluster.cpu_seconds()
    wall, cpu, failure = timed(argv, env, timeout, workdir / f"{label}.log")
    sandbox_cpu = cluster.cpu_seconds() - sandbox_before
    made = cluster.requests() - before
    if tool == "chaos" and not failure:
        failure = chaos_failure(workdir / "journal.json")
    left = {
        p["metadata"]["uid"]
        for p in cluster.pods(selector)
        if not p["metadata"].get("deletionTimestamp")
    }
    result = Result(tool, size, wall, cpu, sandbox_cpu, len(uids - left), dict(made), failure)
    # what is left goes, so that the next run's sandbox is as this one's was
    cluster.call("DELETE", f"/api/v1/namespaces/{NAMESPACE}/pods?labelSelector={selector}")
    return result


# ---------------------------------------------------------------- startup and daemon


def startup(tools: list[str], bins: dict[str, Path], workdir: Path, repeats: int) -> None:
    """Wall and CPU time of each tool's `validate` of the policy of a kill (the median of
    `repeats` runs): what any command of the tool pays before it does anything."""
    policy = workdir / "validate-policy.yml"
    policy.write_text(POLICY.format(selector="bench=x", namespace=NAMESPACE))
    experiment = workdir / "validate-experiment.json"
    experiment.write_text(json.dumps(chaos_experiment("bench=x")))
    commands = {
        "seal": [*seal_command(), "validate", "--policy-file", str(policy)],
        "powerfulseal": [
            str(bins.get("powerfulseal", Path()) / "powerfulseal"),
            "validate",
            "--policy-file",
            str(policy),
        ],
        "chaos": [
            str(bins.get("chaos", Path()) / "chaos"),
            "--no-version-check",
            "--no-log-file",
            "validate",
            str(experiment),
        ],
    }
    print(f"\nstartup: validate the policy of a kill (median of {repeats})")
    print(f"{'tool':<14}{'wall s':>9}{'CPU s':>9}{'wall ratio':>12}")
    base = 0.0
    for tool in tools:
        walls, cpus, failure = [], [], ""
        for _ in range(repeats):
            wall, cpu, failure = timed(commands[tool], dict(os.environ), 120, workdir / "v.log")
            walls.append(wall)
            cpus.append(cpu)
        wall, cpu = sorted(walls)[len(walls) // 2], sorted(cpus)[len(cpus) // 2]
        base = base or (wall if tool == "seal" else 0.0)
        ratio = f"x{wall / base:.1f}" if base else "-"
        note = f"  FAILED {failure}" if failure else ""
        print(f"{tool:<14}{wall:>9.2f}{cpu:>9.2f}{ratio:>12}{note}")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def daemon(cluster: Cluster, workdir: Path, loops: int, timeout: float) -> None:
    """seal as a daemon: a policy pausing 50 ms between loops, each loop killing one pod
    of a 20-replica Deployment (the sandbox brings it back; without the pause seal runs
    out of pods to kill); RSS at loops 10 and `loops`,
    and the time per loop between them."""
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "daemon"},
        "spec": {
            "replicas": 20,
            "selector": {"matchLabels": {"app": "daemon"}},
            "template": {
                "metadata": {"labels": {"app": "daemon"}},
                "spec": {"containers": [{"name": "main", "image": "busybox"}]},
            },
        },
    }
    cluster.call("POST", f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments", deployment)
    policy = workdir / "daemon.yml"
    policy.write_text(DAEMON_POLICY)
    argv = [*seal_command(), "autonomous", "--policy-file", str(policy)]
    argv += ["--state-dir", str(workdir / "daemon-state")]
    env = dict(os.environ, KUBECONFIG=str(cluster.kubeconfig))
    print(f"\nseal daemon: {loops} loops 50 ms apart, one pod of a Deployment killed per loop")
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True
    )
    assert process.stdout is not None
    watchdog = threading.Timer(timeout, process.kill)
    watchdog.start()
    done = passed = killed = 0
    tail: collections.deque[str] = collections.deque(maxlen=4)
    marks: dict[int, tuple[float, float]] = {}
    log = (workdir / "daemon.log").open("w")
    for line in _lines(process.stdout):
        log.write(line)
        tail.append(line.strip())
        # the line that ends a scenario run (one per loop): "scenario passed in ... outcome="
        killed += " seal.steps.pod_action: killed " in line
        if "seal.runtime.scenario: scenario " in line and " outcome=" in line:
            done += 1
            passed += "outcome=passed" in line
            if done in (10, 100, 500, loops):
                marks[done] = (time.perf_counter(), rss_mib(process.pid))
            if done == loops:
                break
    watchdog.cancel()
    log.close()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if loops not in marks or 10 not in marks:
        print(f"  FAILED after {done} loops (exit {process.returncode}): {' | '.join(tail)}")
        return
    (t10, rss10), (tn, rssn) = marks[10], marks[loops]
    growth = (rssn - rss10) / rss10 * 100
    print(
        f"  RSS at loop 10: {rss10:.1f} MiB; at loop {loops}: {rssn:.1f} MiB "
        f"({growth:+.1f}%); {(tn - t10) / (loops - 10) * 1000:.1f} ms per loop; "
        f"{passed} of {loops} loops passed, {killed} pods killed"
    )
    print(
        "  RSS along the way: " + ", ".join(f"loop {n}: {m[1]:.1f} MiB" for n, m in marks.items())
    )


def _lines(stream: Any) -> Iterator[str]:
    yield from iter(stream.readline, "")


# ---------------------------------------------------------------- the table


def show(results: list[Result]) -> None:
    print(
        f"\n{'pods':>6} {'tool':<13}{'wall s':>8}{'CPU s':>8}{'sandbox':>9}{'deleted':>9}"
        f"{'wall x':>8}{'CPU x':>8}  requests (verb resource: count)"
    )
    seal = {r.size: r for r in results if r.tool == "seal" and not r.failure}
    for r in results:
        base = seal.get(r.size)
        wall_x = f"{r.wall / base.wall:.1f}" if base and base.wall else "-"
        cpu_x = f"{r.cpu / base.cpu:.1f}" if base and base.cpu else "-"
        made = ", ".join(f"{k}: {v}" for k, v in sorted(r.requests.items(), key=lambda i: -i[1]))
        print(
            f"{r.size:>6} {r.tool:<13}{r.wall:>8.2f}{r.cpu:>8.2f}{r.sandbox_cpu:>9.2f}"
            f"{r.deleted:>9}{wall_x:>8}{cpu_x:>8}  {made}"
        )
        if r.failure:
            print(f"{'':>7}FAILED {r.failure}")
    print(
        "(wall x, CPU x: the tool's time over seal's at the same size; sandbox: the "
        "sandbox's CPU seconds during the run; deleted: pods gone or terminating, by uid)"
    )


def kills(
    cluster: Cluster,
    tools: list[str],
    sizes: list[int],
    bins: dict[str, Path],
    workdir: Path,
    timeout: float,
    repeats: int,
) -> None:
    """Each size, `repeats` rounds of each tool in turn (interleaved), then the table of
    the median runs."""
    results = []
    for size in sizes:
        for round_ in range(1, repeats + 1):
            for tool in tools:
                result = run_one(tool, size, cluster, bins, workdir, timeout, round_)
                results.append(result)
                state = f"FAILED ({result.failure[:80]})" if result.failure else "ok"
                print(
                    f"  {size:>6} pods, {tool}, round {round_}: "
                    f"{result.wall:.2f} s wall, {result.cpu:.2f} s CPU, {state}",
                    flush=True,
                )
    show([median_run([r for r in results if (r.tool, r.size) == key]) for key in _keys(results)])


def _keys(results: list[Result]) -> list[tuple[str, int]]:
    return list(dict.fromkeys((r.tool, r.size) for r in results))


def median_run(runs: list[Result]) -> Result:
    """One line for the runs of a tool at a size: the median wall and the median CPU
    time, the requests and sandbox CPU of the median-wall run; the fewest pods deleted and
    the first failure, so that no failed or partial round hides behind the others."""
    by_wall = sorted(runs, key=lambda r: r.wall)
    middle = by_wall[len(by_wall) // 2]
    failed = next((r.failure for r in runs if r.failure), "")
    return Result(
        middle.tool,
        middle.size,
        middle.wall,
        statistics.median(r.cpu for r in runs),
        middle.sandbox_cpu,
        min(r.deleted for r in runs),
        middle.requests,
        failed,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,100,1000,10000", help="pod counts, comma-separated")
    parser.add_argument("--tools", default=",".join(TOOLS), help="seal,chaos,powerfulseal")
    parser.add_argument("--quick", action="store_true", help="sizes 1,100; 100 daemon loops")
    parser.add_argument("--nodes", type=int, default=200, help="nodes of the sandbox")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    parser.add_argument("--daemon-loops", type=int, default=1000)
    parser.add_argument(
        "--repeats", type=int, default=3, help="rounds of each kill; the median is shown"
    )
    parser.add_argument("--startup-repeats", type=int, default=3)
    parser.add_argument("--cache-dir", type=Path, default=REPO / ".bench-venvs")
    parser.add_argument(
        "--parts", default="kills,startup,daemon", help="which parts to run, comma-separated"
    )
    args = parser.parse_args()
    tools = [t for t in args.tools.split(",") if t]
    if not tools or set(tools) - set(TOOLS):
        parser.error(f"--tools: choose among {', '.join(TOOLS)}")
    try:
        sizes = [int(s) for s in ("1,100" if args.quick else args.sizes).split(",")]
    except ValueError:
        parser.error("--sizes: whole numbers separated by commas, such as 1,100,1000")
    if any(s < 1 for s in sizes):
        parser.error("--sizes: every size must be at least 1")
    parts = set(args.parts.split(","))
    if not parts or parts - {"kills", "startup", "daemon"}:
        parser.error("--parts: choose among kills, startup, daemon")
    loops = 100 if args.quick else args.daemon_loops
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if loops <= 10:
        parser.error("--daemon-loops must be more than 10")
    bins, tools = install(args.cache_dir, tools)
    if not tools:
        raise SystemExit("no tool left to run")
    workdir = Path(tempfile.mkdtemp(prefix="seal-peers-"))
    kubeconfig = workdir / "kubeconfig"
    with large_sandbox(args.nodes, 0, kubeconfig) as process:
        cluster = Cluster(kubeconfig, process.pid)
        cluster.call("POST", "/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
        print(f"sandbox: {args.nodes} nodes; tools: {', '.join(tools)}; sizes: {sizes}")
        if "kills" in parts:
            kills(
                cluster,
                tools,
                sizes,
                bins,
                workdir,
                args.timeout,
                1 if args.quick else args.repeats,
            )
        if "startup" in parts:
            startup(tools, bins, workdir, 1 if args.quick else args.startup_repeats)
        if "daemon" in parts and "seal" in tools:
            daemon(cluster, workdir, loops, max(args.timeout, loops * 2.0))
    print(f"\n(logs of every run: {workdir})")


if __name__ == "__main__":
    main()
