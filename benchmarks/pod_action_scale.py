"""A podAction over 10,000 pods: the API requests it makes and how long it takes.

Starts `seal sandbox --preset large` in its own process, then runs a policy that
matches every pod of the namespace `bulk-0` (10,000 pods) and kills them all,
through seal's runtime. Prints the requests by verb (expected: one paginated
LIST per matcher, one DELETE per killed pod issued concurrently through a bounded
pool, and the Events as aggregated: ten per owner, then one summary Event on the
owner, sent in the background) and the wall time of the run.
`--qps`, `--burst` and `--max-concurrent` set the client's limits as the flags do.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from large_sandbox import large_sandbox

from seal.adapters.kubeconfig import resolve
from seal.adapters.ratelimit import (
    DEFAULT_BURST,
    DEFAULT_MAX_CONCURRENT,
    DEFAULT_QPS,
    ClientLimits,
)
from seal.runtime.autonomous import read_policy, run_policy
from seal.runtime.services import RunOptions, open_services

POLICY = """\
config:
  runStrategy: {runs: 1, minSecondsBetweenRuns: 0, maxSecondsBetweenRuns: 0}
scenarios:
- name: kill a whole namespace
  steps:
  - podAction:
      matches: [{namespace: bulk-0}]
      actions: [{kill: {force: true}}]
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--qps", type=float, default=DEFAULT_QPS)
    parser.add_argument("--burst", type=int, default=DEFAULT_BURST)
    parser.add_argument("--max-concurrent", type=int, default=DEFAULT_MAX_CONCURRENT)
    args = parser.parse_args()
    limits = ClientLimits(args.qps, args.burst, args.max_concurrent)
    workdir = Path(tempfile.mkdtemp(prefix="seal-bench-"))
    kubeconfig = workdir / "kubeconfig"
    with large_sandbox(args.nodes, args.pods, kubeconfig):
        policy_file = workdir / "policy.yml"
        policy_file.write_text(POLICY)
        options = RunOptions(state_dir=str(workdir / "state"), client=limits)
        with open_services(options, resolve(str(kubeconfig))) as services:
            before = services.kube.request_counts
            started = time.perf_counter()
            summary = run_policy(services, str(policy_file), read_policy(str(policy_file)))
            took = time.perf_counter() - started
            counts = services.kube.request_counts
        made = {k: counts.get(k, 0) - before.get(k, 0) for k in counts}
        print(f"pods in the namespace: {args.pods}; scenario passed: {summary.passed == 1}")
        print(f"requests: {dict(sorted(made.items()))}")
        print(
            f"  LIST pages (limit 500): {made.get('LIST', 0)}; DELETE: {made.get('DELETE', 0)}; "
            f"POST (Events): {made.get('POST', 0)}; PATCH (summary Events): {made.get('PATCH', 0)}"
        )
        print(f"client limits: {limits}")
        print(f"wall time of the run: {took:.2f} s ({args.pods / took:.0f} pods/s)")


if __name__ == "__main__":
    main()
