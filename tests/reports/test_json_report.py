"""The JSON journal of a scenario run: everything it ran, in order, against its schema."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import jsonschema
import pytest

from seal.outcomes import StepOutcome
from seal.reports.json_report import journal
from seal.reports.schema import REPORT_SCHEMA
from tests.autonomous.helpers import seal
from tests.reports.conftest import T0, outcomes, report_problems, validate_report


def test_the_published_schema_is_a_valid_json_schema_and_seal_prints_it() -> None:
    jsonschema.Draft202012Validator.check_schema(REPORT_SCHEMA)
    printed = seal("schema", "--report")
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == REPORT_SCHEMA
    policy_schema = json.loads(seal("schema").stdout)
    assert policy_schema != REPORT_SCHEMA  # without --report, still the policy format


@pytest.mark.parametrize("number", range(4))
def test_every_hand_made_run_gives_a_journal_the_schema_accepts(number: int) -> None:
    validate_report(journal(outcomes()[number], "policies/x.yml"))


def test_the_journal_holds_steps_actions_probes_timings_and_cleanup() -> None:
    passed = journal(outcomes()[0], "policies/x.yml")
    assert passed["runId"] == "kill and heal#0000aaaa"
    assert passed["started"] == "2026-09-21T14:13:20.000Z"
    assert passed["finished"] == "2026-09-21T14:13:24.000Z"
    assert [(s["index"], s["key"], s["result"]) for s in passed["steps"]] == [
        (1, "podAction", "passed"),
        (2, "waitFor", "passed"),
    ]
    assert passed["steps"][1]["waitedSeconds"] == 2.1
    assert passed["steps"][0]["actions"] == [
        {
            "action": "kill",
            "target": "default/goldpinger-abc",
            "outcome": "ok",
            "reason": "pod gone",
            "verdict": "verified",
            "at": "2026-09-21T14:13:21.200Z",
        }
    ]
    # the hypothesis ran in full before the steps and again after them
    assert [(p["when"], p["index"], p["reason"]) for p in passed["steadyState"]] == [
        ("before", 1, "200 in 12 ms"),
        ("after", 1, "200 in 12 ms"),
    ]
    assert passed["cleanup"] == {"undone": 1, "failed": []}
    assert passed["load"] is None

    failed = journal(outcomes()[1], "policies/x.yml")
    assert failed["result"] == "failed"
    assert failed["reason"] == "step 2 (probeHTTP): answered 503 <not> \x07 ok"
    assert failed["cleanup"]["failed"] == [
        {"id": "u1", "kind": "scale", "description": "scale default/web back to 3", "reason": "403"}
    ]


def test_a_step_record_holds_its_own_reason_and_no_measurement_it_did_not_make() -> None:
    failed = journal(outcomes()[1], "p.yml")
    assert failed["reason"] == "step 2 (probeHTTP): answered 503 <not> \x07 ok"
    assert failed["steps"][1]["reason"] == "probe GET /healthz: answered 503, expected 200"
    interrupted = journal(outcomes()[3], "p.yml")
    assert interrupted["reason"] == "step 1 (podAction): shutdown"
    assert interrupted["steps"][0]["reason"] == "shutdown"
    unmeasured = StepOutcome("passed", "held", key="waitFor", index=2, seconds=1.0)
    measured = replace(unmeasured, key="podAction", index=1, recovery_seconds=4.5)
    record = journal(replace(outcomes()[0], steps=(measured, unmeasured)), "p.yml")
    assert record["steps"][0]["recoverySeconds"] == 4.5
    assert "recoverySeconds" not in record["steps"][1]
    assert record["steps"][1]["waitedSeconds"] == 1.0
    validate_report(record)


def test_background_load_statistics_are_in_the_journal() -> None:
    load = journal(outcomes()[1], "p.yml")["load"]
    assert load["requests"] == 300
    assert load["errors"] == 7
    assert load["p99"] == 140.0
    assert load["errorRate"] == pytest.approx(7 / 300)
    assert [(s["t"], s["errors"], s["p95"]) for s in load["seconds"]][2:4] == [
        (2, 0, 50.0),
        (3, 7, 55.0),
    ]


def test_what_a_step_measures_beyond_the_known_fields_is_kept_in_camel_case() -> None:
    @dataclass(frozen=True)
    class MeasuredStep(StepOutcome):
        recovered_after_seconds: float | None = None

    step = MeasuredStep("passed", key="podAction", index=1, recovered_after_seconds=4.5)
    outcome = replace(outcomes()[0], steps=(step,))
    record = journal(outcome, "p.yml")
    assert record["steps"][0]["recoveredAfterSeconds"] == 4.5
    validate_report(record)


def test_a_journal_the_schema_must_refuse_is_refused() -> None:
    record = journal(outcomes()[0], "p.yml")
    record["result"] = "fine"
    record["steps"][0]["actions"][0]["verdict"] = "probably"
    problems = report_problems(record)
    assert len(problems) == 2
    assert problems[0].startswith("result: 'fine' is not one of")
    assert problems[1].startswith("steps/0/actions/0/verdict: 'probably' is not one of")
    record["started"] = "yesterday"
    assert "started: 'yesterday' is not a 'date-time'" in report_problems(record)


def test_an_unknown_start_time_is_null_not_1970() -> None:
    record = journal(replace(outcomes()[2], started=0.0), "p.yml")
    assert record["started"] is None
    assert record["finished"] is None
    validate_report(record)
    assert T0 > 0
