"""The JUnit XML of a policy run, read back as a CI tool reads it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from seal.reports.junit import PolicyRun, junit_xml
from tests.reports.conftest import T0, outcomes


def _parse() -> ET.Element:
    run = PolicyRun("policies/rollout.yml", T0, "ci-runner", finished=T0 + 40)
    return ET.fromstring(junit_xml(run, outcomes()))


def test_a_testsuite_per_policy_run_with_the_counts_ci_tools_read() -> None:
    root = _parse()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    for element in (root, suite):
        assert element.get("tests") == "4"
        assert element.get("failures") == "1"
        assert element.get("errors") == "1"
        assert element.get("skipped") == "1"
        assert float(element.get("time", "")) == 4.0 + 6.0 + 0.2 + 0.3
    assert suite.get("name") == "seal autonomous policies/rollout.yml"
    assert suite.get("timestamp") == "2026-09-21T14:13:20"
    assert suite.get("hostname") == "ci-runner"
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["seal.policy"] == "policies/rollout.yml"
    assert properties["seal.finished"] == "yes"


def test_a_testcase_per_scenario_run_failures_with_their_reason() -> None:
    cases = _parse().findall("testsuite/testcase")
    assert [(c.get("name"), c.get("classname"), c.get("time")) for c in cases] == [
        ("kill and heal (run 1)", "rollout", "4.000"),
        ("rollout under load", "rollout", "6.000"),
        ("nothing to kill", "rollout", "0.200"),
        ("kill and heal (run 2)", "rollout", "0.300"),
    ]
    passed, failed, skipped, interrupted = cases
    assert passed.find("failure") is None and passed.find("skipped") is None
    failure = failed.find("failure")
    assert failure is not None
    # the bell character XML cannot hold is replaced; the markup is escaped and read back
    assert failure.get("message") == "step 2 (probeHTTP): answered 503 <not> \ufffd ok"
    assert failure.get("type") == "failed"
    assert (
        "step 2 probeHTTP: failed in 1.50s (probe GET /healthz: answered 503, expected 200)\n"
        in (failure.text or "")
    )  # a step's line does not repeat `step 2 (probeHTTP): `
    assert "undo scale (scale default/web back to 3) failed: 403" in (failure.text or "")
    assert skipped.find("skipped") is not None
    assert skipped.find("skipped").get("message") == "no pod matched"  # type: ignore[union-attr]
    error = interrupted.find("error")
    assert error is not None and error.get("type") == "interrupted"
    out = passed.find("system-out")
    assert out is not None and "kill default/goldpinger-abc: ok, verified" in (out.text or "")


def test_every_failing_result_is_a_failure() -> None:
    from dataclasses import replace

    for result in ("not-steady", "deviated", "aborted"):
        outcome = replace(outcomes()[0], result=result, reason=f"{result} because")
        root = ET.fromstring(junit_xml(PolicyRun("p.yml", T0), [outcome]))
        failure = root.find("testsuite/testcase/failure")
        assert failure is not None
        assert (failure.get("type"), failure.get("message")) == (result, f"{result} because")
        assert root.get("failures") == "1"


def test_a_run_still_going_says_so_and_an_empty_one_is_valid() -> None:
    root = ET.fromstring(junit_xml(PolicyRun("p.yml", T0), []))
    assert root.get("tests") == "0"
    properties = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert properties["seal.finished"] == "no (still running)"
