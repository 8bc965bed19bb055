"""The sandbox's CPU per pod DELETE served through its API.

Starts `seal sandbox --preset large` in its own process (as a user would), then, for two
kinds of pods, creates N of them in a namespace of their own and DELETEs each one
through the API (grace period 0) over 16 concurrent keep-alive connections:

- bare pods (no owner): a DELETE removes the pod, nothing replaces it;
- pods of a Deployment's ReplicaSet: every DELETE makes the sandbox create, schedule
  and start a replacement, with its Events; the run waits until the Deployment is
  ready again.

For each it prints the sandbox's CPU seconds per 1,000 deletions (user + system, read
from /proc/PID/stat, its controllers' work included; the CPU the idle sandbox spends
over the same length of time, measured in an idle settle just before, taken off) and
the DELETE requests served per second. Other work on the machine makes the figures
noisy: compare runs made close together.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import urllib3
import yaml
from large_sandbox import large_sandbox

CONNECTIONS = 16
SETTLE_SECONDS = 5.0


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU time of the process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def cpu_seconds(pid: int) -> float:
    return sum(cpu_times(pid))


class Client:
    """Requests to the sandbox's API over a pool of keep-alive TLS connections."""

    def __init__(self, kubeconfig: Path, workdir: Path) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        ca = workdir / "ca.crt"
        ca.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
        url = urlsplit(cluster["server"])
        self.pool = urllib3.HTTPSConnectionPool(
            url.hostname,
            url.port,
            maxsize=CONNECTIONS,
            block=True,
            ca_certs=str(ca),
            retries=False,
            timeout=urllib3.Timeout(total=120),
        )
        self.headers = {
            "Authorization": f"Bearer {config['users'][0]['user']['token']}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        answer = self.pool.request(method, path, body=data, headers=self.headers)
        return answer.status, json.loads(answer.data) if answer.data else None

    def concurrently(self, fn: Callable[[str], int], names: list[str]) -> list[int]:
        with concurrent.futures.ThreadPoolExecutor(max_workers=CONNECTIONS) as pool:
            return list(pool.map(fn, names))

    def names(self, namespace: str, field_selector: str = "") -> list[str]:
        query = f"?fieldSelector={field_selector}" if field_selector else ""
        _, found = self.call("GET", f"/api/v1/namespaces/{namespace}/pods{query}")
        return [p["metadata"]["name"] for p in found["items"]]


def _container() -> dict[str, Any]:
    return {"name": "app", "image": "sandbox/app:latest", "ports": [{"containerPort": 8080}]}


def make_namespace(client: Client, name: str) -> None:
    status, _ = client.call("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    if status != 201:
        raise SystemExit(f"could not create namespace {name}: {status}")


def wait_for(what: str, done: Callable[[], bool], timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.5)


def bare_pods(client: Client, namespace: str, count: int) -> list[str]:
    make_namespace(client, namespace)

    def create(name: str) -> int:
        body = {"metadata": {"name": name}, "spec": {"containers": [_container()]}}
        return client.call("POST", f"/api/v1/namespaces/{namespace}/pods", body)[0]

    names = [f"bare-{i:05d}" for i in range(count)]
    codes = client.concurrently(create, names)
    if set(codes) != {201}:
        raise SystemExit(f"creating bare pods answered {sorted(set(codes))}")
    wait_for(
        "the bare pods to run",
        lambda: len(client.names(namespace, "status.phase=Running")) == count,
    )
    return names


def deployment_pods(client: Client, namespace: str, count: int) -> list[str]:
    make_namespace(client, namespace)
    labels = {"app": "churn"}
    body = {
        "metadata": {"name": "churn"},
        "spec": {
            "replicas": count,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [_container()]}},
        },
    }
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    status, _ = client.call("POST", path, body)
    if status != 201:
        raise SystemExit(f"could not create the deployment: {status}")
    wait_for("the deployment to be ready", lambda: ready(client, namespace, count))
    return client.names(namespace)


def ready(client: Client, namespace: str, count: int) -> bool:
    _, found = client.call("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/churn")
    status = found.get("status", {})
    return bool(status.get("readyReplicas") == count and status.get("replicas") == count)


def measure(
    client: Client,
    pid: int,
    label: str,
    namespace: str,
    names: list[str],
    after: Callable[[], None],
) -> None:
    """DELETE every pod of `names`, wait for `after`, settle; print the sandbox's CPU."""
    before = cpu_seconds(pid)
    time.sleep(SETTLE_SECONDS)
    idle_rate = (cpu_seconds(pid) - before) / SETTLE_SECONDS

    def delete(name: str) -> int:
        path = f"/api/v1/namespaces/{namespace}/pods/{name}?gracePeriodSeconds=0"
        return client.call("DELETE", path)[0]

    started = time.monotonic()
    user, system = cpu_times(pid)
    before = user + system
    codes = client.concurrently(delete, names)
    took = time.monotonic() - started
    after()
    time.sleep(SETTLE_SECONDS)
    window = time.monotonic() - started
    busy = cpu_seconds(pid) - before - idle_rate * window
    in_kernel = cpu_times(pid)[1] - system
    if set(codes) != {200}:
        raise SystemExit(f"{label}: DELETE answered {sorted(set(codes))}")
    print(
        f"{label}: {len(names)} DELETEs in {took:.2f} s ({len(names) / took:.0f} requests/s); "
        f"sandbox CPU {busy * 1000 / len(names):.2f} s per 1,000 deletions "
        f"({busy:.2f} s in {window:.1f} s, {in_kernel:.2f} s of it in the kernel; idle "
        f"{idle_rate * window:.2f} s taken off)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=500, help="nodes of the large sandbox")
    parser.add_argument("--pods", type=int, default=10000, help="pods it starts with")
    parser.add_argument("-n", "--count", type=int, default=5000, help="pods deleted per case")
    parser.add_argument("--case", choices=("bare", "replicaset", "both"), default="both")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="seal-bench-"))
    kubeconfig = workdir / "kubeconfig"
    with large_sandbox(args.nodes, args.pods, kubeconfig) as process:
        client = Client(kubeconfig, workdir)
        print(
            f"sandbox: {args.nodes} nodes, {args.pods} pods; {args.count} pods deleted per "
            f"case over {CONNECTIONS} connections, grace period 0",
            flush=True,
        )
        if args.case in ("bare", "both"):
            names = bare_pods(client, "delete-bare", args.count)
            measure(client, process.pid, "bare pods", "delete-bare", names, lambda: None)
        if args.case in ("replicaset", "both"):
            names = deployment_pods(client, "delete-rs", args.count)
            measure(
                client,
                process.pid,
                "ReplicaSet pods",
                "delete-rs",
                names,
                lambda: wait_for("replacements", lambda: ready(client, "delete-rs", args.count)),
            )


if __name__ == "__main__":
    main()
