"""How fast `seal validate` starts, and how fast it checks a big policy.

Prints the median cold-start time of `seal validate` on one example policy
next to `python -c "import yaml, jsonschema"` (target: within 1.5x), and the
time to validate a generated policy of 1,000 scenarios. seal's bytecode is compiled
first, as an installed seal has it (an environment with PYTHONDONTWRITEBYTECODE=1
would otherwise compile every changed module at every start).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
POLICY = REPO / "policies" / "kill-half-of-a-deployment.yml"
RUNS = 15


def seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=REPO)
    return time.perf_counter() - started


def median_seconds(command: list[str]) -> float:
    return statistics.median(seconds(command) for _ in range(RUNS))


def interleaved_medians(first: list[str], second: list[str]) -> tuple[float, float]:
    """Both commands, alternately, so that a busy moment of the machine weighs on both."""
    pairs = [(seconds(first), seconds(second)) for _ in range(RUNS)]
    return statistics.median(a for a, _ in pairs), statistics.median(b for _, b in pairs)


def generated_policy(scenarios: int) -> str:
    body = POLICY.read_text().split("scenarios:\n", 1)[1]
    lines = ["scenarios:"]
    for index in range(scenarios):
        lines.append(body.replace("name: kill half of goldpinger", f"name: scenario {index:04d}"))
    return "\n".join(lines)


def main() -> None:
    # Cold start as an installed seal has it: with its bytecode compiled (as pip does),
    # whatever PYTHONDONTWRITEBYTECODE says.
    subprocess.run([sys.executable, "-m", "compileall", "-q", "seal"], check=True, cwd=REPO)
    baseline, validate = interleaved_medians(
        [sys.executable, "-c", "import yaml, jsonschema"],
        [sys.executable, "-m", "seal", "validate", str(POLICY)],
    )
    print(f"python -c 'import yaml, jsonschema': {baseline * 1000:7.1f} ms (median of {RUNS})")
    print(f"seal validate <one policy>:          {validate * 1000:7.1f} ms (median of {RUNS})")
    print(f"ratio:                               {validate / baseline:7.2f}x (target <= 1.5x)")
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        handle.write(generated_policy(1000))
    big = median_seconds([sys.executable, "-m", "seal", "validate", handle.name])
    Path(handle.name).unlink()
    print(f"seal validate <1,000 scenarios>:     {big * 1000:7.1f} ms (median of {RUNS})")


if __name__ == "__main__":
    main()
