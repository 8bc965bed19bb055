"""The policy fuzzing property of tests/test_fuzz_policies.py with a large budget.

Mutates every policy seal accepts (the compatibility corpus and `policies/`) and
loads each mutant: it must load, or fail with located problems only, within the
time bound. Prints the figures (examples, examples/s, valid, invalid, failures,
slowest and 99th-percentile load time, peak memory) and keeps each failing input
in --keep DIR. Exit status 1 when anything failed.

    .venv/bin/python benchmarks/fuzz_policies.py --examples 20000 [--seed N]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.test_fuzz_policies import DEADLINE_SECONDS, SEEDS, check, mutated_policies  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=None, help="replay a run (default: random)")
    parser.add_argument("--keep", type=Path, default=Path("fuzz-failures"))
    args = parser.parse_args()

    outcomes: Counter[str] = Counter()
    durations: list[float] = []
    failures: list[tuple[str, str]] = []

    @settings(
        max_examples=args.examples,
        deadline=None,  # timed here, so that a slow example is counted, not shrunk
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(mutated_policies())
    def one(text: str) -> None:
        started = time.perf_counter()
        try:
            outcomes[check(text)] += 1
        except Exception:  # noqa: BLE001 - every failure is counted and kept
            failures.append((text, traceback.format_exc()))
        took = time.perf_counter() - started
        durations.append(took)
        if took > DEADLINE_SECONDS:
            failures.append((text, f"took {took:.2f} s (bound: {DEADLINE_SECONDS} s)"))

    run = seed(args.seed)(one) if args.seed is not None else one
    started = time.perf_counter()
    run()
    elapsed = time.perf_counter() - started

    durations.sort()
    count = len(durations)
    print(f"seeds                 {len(SEEDS)} policies")
    print(f"examples              {count}")
    print(f"examples/s            {count / elapsed:.1f}")
    print(f"valid / invalid       {outcomes['valid']} / {outcomes['invalid']}")
    print(f"failures              {len(failures)}")
    if durations:
        p99 = durations[min(count - 1, int(count * 0.99))]
        print(f"load time median      {statistics.median(durations) * 1000:.1f} ms")
        print(f"load time p99 / max   {p99 * 1000:.1f} ms / {durations[-1] * 1000:.1f} ms")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory           {peak:.0f} MiB")
    if failures:
        args.keep.mkdir(parents=True, exist_ok=True)
        for index, (text, why) in enumerate(failures):
            (args.keep / f"{index}.yml").write_text(text)
            (args.keep / f"{index}.txt").write_text(why)
        print(f"failing inputs kept in {args.keep}/")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
