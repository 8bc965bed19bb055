"""The sandbox at scale: load time and memory of a big cluster, LIST and DELETE speed.

Starts `seal sandbox --preset large` in its own process (as a user would) and prints:
the time until it is ready with 2,000 nodes and 50,000 pods and its RSS; the time
to serve a LIST of the 10,000 pods of one namespace (whole, and in pages of 500);
the time for 200 concurrent DELETEs (all must succeed); and the sandbox's CPU seconds
per 1,000 deletions through the API, its controllers' work included (the CPU of an idle
settle of the same length taken off). --nodes and --pods change the sizes.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import json
import os
import ssl
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml
from large_sandbox import large_sandbox


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of the process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--pods", type=int, default=50000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="seal-bench-"))
    kubeconfig = workdir / "kubeconfig"
    started = time.perf_counter()
    with large_sandbox(args.nodes, args.pods, kubeconfig) as process:
        print(
            f"ready with {args.nodes} nodes + {args.pods} pods: "
            f"{time.perf_counter() - started:6.2f} s (process start included), "
            f"RSS {rss_mib(process.pid):.0f} MiB"
        )
        run(kubeconfig, workdir, process.pid)


def run(kubeconfig: Path, workdir: Path, pid: int) -> None:
    config = yaml.safe_load(kubeconfig.read_text())
    url = config["clusters"][0]["cluster"]["server"]
    ca = workdir / "ca.crt"
    ca.write_bytes(base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]))
    headers = {"Authorization": f"Bearer {config['users'][0]['user']['token']}"}
    context = ssl.create_default_context(cafile=str(ca))

    def fetch(path: str, method: str = "GET") -> bytes:
        request = urllib.request.Request(f"{url}{path}", headers=headers, method=method)
        with urllib.request.urlopen(request, context=context, timeout=120) as answer:
            return bytes(answer.read())

    raw = b""
    for attempt in ("first", "second", "third"):
        started = time.perf_counter()
        raw = fetch("/api/v1/namespaces/bulk-0/pods")
        print(
            f"LIST of one namespace ({attempt}), {len(raw) / 1e6:.1f} MB: "
            f"{(time.perf_counter() - started) * 1000:6.0f} ms"
        )
    items = json.loads(raw)["items"]
    print(f"  ({len(items)} pods in the answer)")
    started = time.perf_counter()
    count, token = 0, ""
    for _ in range(1000):
        page = json.loads(fetch(f"/api/v1/namespaces/bulk-0/pods?limit=500{token}"))
        count += len(page["items"])
        if not page["metadata"].get("continue"):
            break
        token = f"&continue={page['metadata']['continue']}"
    print(f"LIST {count} pods in pages of 500: {(time.perf_counter() - started) * 1000:6.0f} ms")
    names = [p["metadata"]["name"] for p in items[:200]]

    def delete(name: str) -> bool:
        fetch(f"/api/v1/namespaces/bulk-0/pods/{name}?gracePeriodSeconds=0", "DELETE")
        return True

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=200) as pool:
        done = list(pool.map(delete, names))
    print(
        f"200 concurrent DELETEs: {(time.perf_counter() - started) * 1000:6.0f} ms, "
        f"{sum(done)} succeeded"
    )
    settle = 8.0
    before = cpu_seconds(pid)
    time.sleep(settle)
    idle = cpu_seconds(pid) - before
    victims = [p["metadata"]["name"] for p in items[200:1200]]
    before = cpu_seconds(pid)
    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        deleted = sum(pool.map(delete, victims))
    time.sleep(settle)
    busy = cpu_seconds(pid) - before - idle
    print(
        f"sandbox CPU per 1,000 deletions (controllers included, {settle:g} s settle, idle "
        f"{idle:.2f} s taken off): {busy * 1000 / max(deleted, 1):.2f} s for {deleted} deletions"
    )
    print(f"sandbox RSS at the end: {rss_mib(pid):.0f} MiB")


if __name__ == "__main__":
    main()
