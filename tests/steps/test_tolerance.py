"""Tolerances as a policy writes them: what passes, what fails, and what a failure says."""

from __future__ import annotations

import pytest

from seal.policy.loader import load_policy_text
from seal.steps.probe_pods import ProbePodsSpec
from seal.steps.registry import STEP_TYPES
from seal.steps.tolerance import Scalar, Tolerance


def tolerance(written: str) -> Tolerance:
    text = f"scenarios:\n- name: tol\n  steps:\n  - probePods: {{namespace: x, count: {written}}}\n"
    [scenario] = load_policy_text(text, STEP_TYPES, "t.yml", {}).scenarios
    [spec] = scenario.steps
    assert isinstance(spec, ProbePodsSpec) and spec.count is not None
    return spec.count


@pytest.mark.parametrize(
    ("written", "passing", "failing", "shown"),
    [
        ("3", [3, 3.0, "3"], [2, "three", True, None], "= 3"),
        ("ok", ["ok"], ["OK", "ok ", 0], "= 'ok'"),
        ("true", [True, "true"], [False, 1, "True"], "= true"),
        ("[200, 204]", [200, 204.0, "204", "200\n"], [201, "200x"], "one of 200, 204"),
        ("{from: 1, to: 3}", [1, 2.5, 3, "2"], [0.99, 3.01, "x", True], "between 1 and 3"),
        ("{from: 0.5}", [0.5, 10**9], [0.49, -1], ">= 0.5"),
        ("{to: 0.05}", [0, -3, 0.05], [0.051], "<= 0.05"),
        ("{regex: '^ready'}", ["ready now", "ready"], ["not ready", 5], "matching /^ready/"),
        ("{regex: '^2..$'}", [200, 204, "299"], [301, 2000], "matching /^2..$/"),
    ],
)
def test_what_passes_and_what_fails(
    written: str, passing: list[Scalar], failing: list[Scalar | None], shown: str
) -> None:
    allowed = tolerance(written)
    assert str(allowed) == shown
    for value in passing:
        assert allowed.holds(value), value
        assert allowed.problem(value) is None
    for value in failing:
        assert not allowed.holds(value), value


def test_a_failure_names_the_observed_value_and_the_tolerance() -> None:
    assert tolerance("[200, 204]").problem(503) == "observed 503, expected one of 200, 204"
    assert tolerance("{regex: ok}").problem("x" * 100) == (
        f"observed '{'x' * 77}...', expected matching /ok/"
    )
    assert tolerance("{from: 1}").problem(None) == "observed nothing, expected >= 1"
