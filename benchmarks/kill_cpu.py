"""seal's CPU per killed pod, measured in-process.

Starts `seal sandbox --preset large` in its own process, creates N bare pods matched by
one label selector, then runs, in this process, a policy whose podAction kills them all
(force, grace period 0) through seal's own runtime (`open_services` and `run_policy`, as
`seal autonomous` does, logging configured as the command line configures it, to a
file; with `--prometheus`, counting in Prometheus metrics as `--metrics-address` has
it). Prints, for each size: the wall time, seal's CPU time (this process: every thread,
the kube client's included) and the sandbox's CPU time, in total and per killed pod.

The sizes are run in turn on the same sandbox; the smallest size shows the fixed costs of
a run, the difference between sizes the cost per pod. `--profile` writes a profile of
every thread of the largest size (yappi, when installed) to kill_cpu.prof in its work
directory and prints its functions by own time. Other work on the machine makes the
figures noisy: compare runs made close together.

    python benchmarks/kill_cpu.py [--sizes 1,100,1000] [--prometheus] [--profile]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import peers
from large_sandbox import large_sandbox

from seal.adapters.kubeconfig import resolve
from seal.log import configure
from seal.metrics import PrometheusMetrics
from seal.runtime.autonomous import read_policy, run_policy
from seal.runtime.services import RunOptions, open_services

#: the columns of the profile printed: name, calls, own time, total time
COLUMNS = {0: ("name", 70), 1: ("ncall", 9), 3: ("tsub", 8), 4: ("ttot", 8)}


def kill(cluster: peers.Cluster, work: Path, size: int, profile: bool, prometheus: bool) -> None:
    """Create `size` pods, have seal kill them, and print what it cost."""
    label = f"k{size}"
    cluster.create_pods(label, size)
    policy = work / f"{label}.yml"
    policy.write_text(peers.POLICY.format(selector=f"bench={label}", namespace=peers.NAMESPACE))
    options = RunOptions(state_dir=str(work / "state"))
    metrics = PrometheusMetrics() if prometheus else None
    with open_services(options, resolve(str(work / "kubeconfig")), metrics=metrics) as services:
        sandbox0, wall0, cpu0 = cluster.cpu_seconds(), time.perf_counter(), time.process_time()
        if profile:
            import yappi  # type: ignore[import-not-found]

            yappi.set_clock_type("cpu")
            yappi.start()
        summary = run_policy(services, str(policy), read_policy(str(policy)))
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        sandbox = cluster.cpu_seconds() - sandbox0
        if profile:
            yappi.stop()
            stats = yappi.get_func_stats()
            stats.save(str(work / "kill_cpu.prof"), type="pstat")
            print(f"profile of every thread: {work / 'kill_cpu.prof'} (pstats)")
            stats.sort("tsub").print_all(columns=COLUMNS)
    left = len(cluster.pods(f"bench={label}"))
    print(
        f"{size:>6} pods: wall {wall:6.2f} s ({wall / size * 1e3:6.2f} ms/pod)  "
        f"seal cpu {cpu:6.2f} s ({cpu / size * 1e6:5.0f} us/pod)  "
        f"sandbox cpu {sandbox:6.2f} s ({sandbox / size * 1e6:5.0f} us/pod)  "
        f"passed={summary.passed} left={left}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,100,1000", help="pod counts, comma-separated")
    parser.add_argument("--nodes", type=int, default=50, help="nodes of the sandbox")
    parser.add_argument("--profile", action="store_true", help="profile the largest size")
    parser.add_argument(
        "--prometheus", action="store_true", help="count in Prometheus metrics (not served)"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="seal-kill-cpu-"))
    with (work / "seal.log").open("w") as log_file:
        configure(stream=log_file)
        with large_sandbox(args.nodes, 0, work / "kubeconfig") as process:
            cluster = peers.Cluster(work / "kubeconfig", process.pid)
            cluster.call("POST", "/api/v1/namespaces", {"metadata": {"name": peers.NAMESPACE}})
            for size in sizes:
                kill(cluster, work, size, args.profile and size == max(sizes), args.prometheus)
        logging.getLogger("seal").handlers.clear()
    print(f"seal's log: {work / 'seal.log'}")


if __name__ == "__main__":
    main()
