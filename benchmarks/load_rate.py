"""The rate seal's background load holds against a sandbox Service.

Starts `seal sandbox` (the demo cluster) in its own process, as a user would, finds the
cluster IP of its Service myapp/my-service through the API, and runs seal's load
generator against it in this process for --seconds at each target rate and number of
users. Prints, for each: the rate asked for and the rate held, errors, p50 and p99
latency, and the CPU the generator (this process) and the sandbox (its process) used,
per second (cores) and per request (microseconds): when the rate is not held, the one
at a full core is the bottleneck; on a busy machine, CPU per request still compares
the two (the generator must cost less per request than the Service it loads).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from seal.load.generator import LoadGenerator, LoadRequest

#: (users, requests per second in all)
DEFAULT_CASES = "1:50,10:200,10:1000,50:2000,100:5000,200:100000"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def demo_sandbox(kubeconfig: Path) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "seal", "sandbox", "--kubeconfig-out", str(kubeconfig)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        if not process.stdout.readline().startswith("sandbox ready"):
            raise SystemExit("the sandbox did not start")
        yield process
    finally:
        process.terminate()
        process.wait(timeout=60)


def service_url(kubeconfig: Path, workdir: Path) -> str:
    config = yaml.safe_load(kubeconfig.read_text())
    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    ca = workdir / "ca.crt"
    ca.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    request = urllib.request.Request(
        f"{cluster['server']}/api/v1/namespaces/myapp/services/my-service",
        headers={"Authorization": f"Bearer {user['token']}"},
    )
    context = ssl.create_default_context(cafile=str(ca))
    with urllib.request.urlopen(request, context=context, timeout=30) as answer:
        service = json.loads(answer.read())
    return f"http://{service['spec']['clusterIP']}:80/"


def measure(url: str, users: int, rate: float, seconds: float, sandbox_pid: int) -> str:
    generator = LoadGenerator(LoadRequest("get", url, timeout_seconds=5.0), users, rate)
    own, theirs, started = time.process_time(), cpu_seconds(sandbox_pid), time.monotonic()
    generator.start()
    time.sleep(seconds)
    report = generator.stop()
    took = time.monotonic() - started
    own_cpu = time.process_time() - own
    sandbox_cpu = cpu_seconds(sandbox_pid) - theirs
    per_request = 1e6 / max(1, report.requests)
    return (
        f"{users:6d} {rate:9.0f} {report.achieved_rate:9.0f} {report.errors:7d} "
        f"{report.p50 or 0:8.1f} {report.p99 or 0:8.1f} {own_cpu / took:8.2f} "
        f"{sandbox_cpu / took:8.2f} {own_cpu * per_request:9.0f} {sandbox_cpu * per_request:9.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--cases", default=DEFAULT_CASES, help="users:rate,... to run")
    args = parser.parse_args()
    cases = [tuple(map(float, case.split(":"))) for case in args.cases.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="seal-load-bench-"))
    kubeconfig = workdir / "kubeconfig"
    with demo_sandbox(kubeconfig) as process:
        url = service_url(kubeconfig, workdir)
        time.sleep(1)  # the Service's listener opens once its cluster IP is assigned
        print(f"target {url}, {args.seconds:g} s per case")
        print(
            " users    target     held  errors  p50(ms)  p99(ms)  gen-cpu  sbx-cpu"
            "  gen-us/req  sbx-us/req"
        )
        for users, rate in cases:
            print(measure(url, int(users), rate, args.seconds, process.pid), flush=True)


if __name__ == "__main__":
    main()
