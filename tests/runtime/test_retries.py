"""Retries re-run a pipeline by count or by time."""

from __future__ import annotations

import pytest

from seal.errors import SafetyError, StepFailed
from seal.runtime.retries import run_with_retries


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def flaky(failures: int) -> tuple[list[int], object]:
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        if len(calls) <= failures:
            raise StepFailed(f"failure {len(calls)}")
        return "ok"

    return calls, attempt


def test_count_allows_that_many_attempts() -> None:
    clock = FakeClock()
    calls, attempt = flaky(2)
    assert run_with_retries(attempt, clock, count=3, sleep=5) == "ok"  # type: ignore[arg-type]
    assert len(calls) == 3
    assert clock.slept == [5, 5]


def test_count_exhausted_raises_last_error() -> None:
    calls, attempt = flaky(10)
    with pytest.raises(StepFailed, match="failure 2"):
        run_with_retries(attempt, FakeClock(), count=2, sleep=1)  # type: ignore[arg-type]
    assert len(calls) == 2


def test_timeout_stops_new_attempts() -> None:
    calls, attempt = flaky(100)
    with pytest.raises(StepFailed):
        run_with_retries(attempt, FakeClock(), timeout=10, sleep=3)  # type: ignore[arg-type]
    assert len(calls) == 4  # at 0, 3, 6, 9; a fifth would start past 10


def test_no_retries_means_one_attempt_and_safety_is_never_retried() -> None:
    calls, attempt = flaky(1)
    with pytest.raises(StepFailed):
        run_with_retries(attempt, FakeClock())  # type: ignore[arg-type]
    assert len(calls) == 1

    def refused() -> None:
        raise SafetyError("too many")

    with pytest.raises(SafetyError):
        run_with_retries(refused, FakeClock(), count=5)
