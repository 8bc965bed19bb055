"""nodeAction in process: matching and filtering nodes, stopping and starting their machines
through the sandbox's cloud driver, undos through a real journal."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from seal.errors import SafetyError, StepFailed
from seal.model import NodeState
from seal.runtime.scenario import replay_undos
from seal.steps.machines import MACHINE_START
from seal.steps.node_action import STEP
from tests.steps.conftest import StepHarness

WORKERS = {f"worker-{i}" for i in range(5)}
MASTERS = {f"master-{i}" for i in range(3)}


@pytest.fixture
def chosen(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="seal.steps.node_action")
    return caplog


def nodes_in_log(caplog: pytest.LogCaptureFixture) -> set[str]:
    """The nodes the last run said it selected."""
    lines = [r.getMessage() for r in caplog.records if "node(s) selected:" in r.getMessage()]
    assert lines, caplog.text
    found = re.search(r"(\d+) node\(s\) selected: (.*)$", lines[-1])
    assert found
    names = {n.strip() for n in found.group(2).split(",")}
    assert len(names) == int(found.group(1))
    return names


def select(h: StepHarness, matches: str, filters: str = "[]", config: str = "") -> str:
    outcome = h.run(
        STEP,
        f"""\
        - nodeAction:
            matches: {matches}
            filters: {filters}
            actions: []
        """,
        config,
    )
    assert outcome.result in ("passed", "skipped")
    return outcome.reason


def machines_running(h: StepHarness) -> bool:
    return all(m.running for m in h.box.machines.by_id.values()) and all(
        n.state is NodeState.UP for n in h.kube.list_nodes()
    )


def test_nodes_are_matched_by_every_property(
    harness: StepHarness, chosen: pytest.LogCaptureFixture
) -> None:
    assert select(harness, "[{property: {name: name, value: worker-}}]") == "5 node(s) selected"
    assert nodes_in_log(chosen) == WORKERS
    select(harness, "[{property: {name: name, value: master, negative: true}}]")
    assert nodes_in_log(chosen) == WORKERS
    select(harness, "[{property: {name: az, value: EAST-1}}]")
    assert nodes_in_log(chosen) == {"master-2", "worker-2"}
    # group: any label value (the region label is EAST or WEST)
    select(harness, "[{property: {name: group, value: 'EAST$'}}]")
    assert nodes_in_log(chosen) == {"master-2", "worker-2"}
    ips = {n.name: n.ip for n in harness.kube.list_nodes()}
    select(harness, f"[{{property: {{name: ip, value: '{re.escape(ips['worker-3'])}$'}}}}]")
    assert nodes_in_log(chosen) == {"worker-3"}
    assert select(harness, "[{property: {name: state, value: UP}}]") == "8 node(s) selected"
    # several matchers: the union
    select(
        harness,
        "[{property: {name: name, value: master-0}}, {property: {name: az, value: EAST}}]",
    )
    assert nodes_in_log(chosen) == {"master-0", "master-2", "worker-2"}


def test_nodes_no_matcher_finds_are_an_empty_match(harness: StepHarness) -> None:
    outcome = harness.run(
        STEP,
        """\
        - nodeAction:
            matches: [{property: {name: name, value: nope}}]
            actions: [{stop: {force: true}}]
        """,
    )
    assert outcome.result == "skipped"
    assert outcome.reason == "no nodes matched"
    assert harness.metrics.named("empty_match") == [("node",)]
    assert machines_running(harness)


def test_node_filters_narrow_the_matched_nodes(
    harness: StepHarness, chosen: pytest.LogCaptureFixture
) -> None:
    workers = "[{property: {name: name, value: worker}}]"
    select(harness, workers, "[{property: {name: az, value: WEST-2}}]")
    assert nodes_in_log(chosen) == {"worker-1", "worker-4"}
    assert select(harness, workers, "[{randomSample: {size: 2}}]") == "2 node(s) selected"
    assert nodes_in_log(chosen) < WORKERS
    assert select(harness, workers, "[{randomSample: {ratio: 0.5}}]") == "2 node(s) selected"
    assert select(harness, workers, "[{probability: 0}]") == (
        "no nodes left after the safety rules and filters"
    )
    day_time = (
        "[{dayTime: {onlyDays: [%s], startTime: {hour: 11, minute: 0, second: 0}, "
        "endTime: {hour: 13, minute: 0, second: 0}}}]"
    )
    # the fake clock says Monday noon
    assert select(harness, workers, day_time % "monday") == "5 node(s) selected"
    assert select(harness, workers, day_time % "sunday").startswith("no nodes left")
    assert len(harness.metrics.named("empty_filter")) == 2


def test_protected_nodes_and_the_target_limit(
    harness: StepHarness, chosen: pytest.LogCaptureFixture
) -> None:
    harness.label("nodes", "", "worker-0", "seal/protected", "true")
    assert select(harness, "[{property: {name: name, value: worker}}]") == "4 node(s) selected"
    assert nodes_in_log(chosen) == WORKERS - {"worker-0"}
    with pytest.raises(SafetyError, match="4 nodes selected, more than maxTargetsPerStep=3"):
        select(
            harness,
            "[{property: {name: name, value: worker}}]",
            config="safety: {maxTargetsPerStep: 3}",
        )


@pytest.mark.parametrize(
    ("action", "needs"),
    [
        ("stop: {force: true, autoRestart: false}", "stopping a machine needs a cloud driver"),
        ("start: {}", "starting a machine needs a cloud driver"),
        ("execute: {cmd: reboot}", "execute needs an executor"),
    ],
)
def test_without_a_cloud_driver_or_executor_acting_fails_clearly_and_touches_nothing(
    harness: StepHarness, action: str, needs: str
) -> None:
    with pytest.raises(StepFailed) as failure:
        harness.run(
            STEP,
            f"""\
            - nodeAction:
                matches: [{{property: {{name: name, value: worker-1}}}}]
                actions:
                - wait: {{seconds: 1}}
                - {action}
            """,
        )
    line = harness.line(action.split(":", maxsplit=1)[0] + ":", 1)
    assert str(failure.value).startswith(f"line {line}: {needs}")
    assert "touched" in str(failure.value) or "nothing was run" in str(failure.value)
    assert machines_running(harness)


def machine_of(h: StepHarness, node: str) -> Any:
    [machine] = [m for m in h.box.machines.by_id.values() if m.node_name == node]
    return machine


STOP_WORKER_1 = """\
- nodeAction:
    matches: [{property: {name: name, value: worker-1$}}]
    actions: [{stop: {autoRestart: %s}}]
"""


def test_stop_journals_the_restart_first_and_the_undo_starts_exactly_that_machine(
    harness: StepHarness,
) -> None:
    harness.sandbox_cloud()
    machine_of(harness, "worker-3").running = False  # down before seal: never started by it
    outcome = harness.run(
        STEP,
        """\
        - nodeAction:
            matches: [{property: {name: name, value: 'worker-(1|3)$'}}]
            actions: [{stop: {autoRestart: true}}]
        """,
    )
    assert outcome.result == "passed", outcome
    assert outcome.reason == "2 node(s) selected: 1 machine(s) stopped"
    assert not machine_of(harness, "worker-1").running
    [entry] = harness.journal.pending(harness.run_id)
    assert entry.kind == MACHINE_START
    assert entry.payload["node"] == "worker-1"
    assert entry.payload["providerID"] == f"sandbox://{machine_of(harness, 'worker-1').id}"
    assert harness.metrics.named("node_stopped") == [("worker-1", "stopped")]
    [event] = harness.seal_events()
    assert event["involvedObject"]["kind"] == "Node"
    assert event["involvedObject"]["name"] == "worker-1"
    assert "stopping its machine" in event["message"]

    report = replay_undos(harness.journal, harness.context(), harness.metrics, harness.run_id)
    assert (report.undone, report.failed) == (1, ())
    assert machine_of(harness, "worker-1").running
    assert not machine_of(harness, "worker-3").running
    assert harness.journal.pending(harness.run_id) == []


def test_stop_without_auto_restart_records_nothing_and_start_brings_it_back(
    harness: StepHarness,
) -> None:
    harness.sandbox_cloud()
    assert harness.run(STEP, STOP_WORKER_1 % "false").result == "passed"
    assert not machine_of(harness, "worker-1").running
    assert harness.journal.pending(harness.run_id) == []
    outcome = harness.run(
        STEP,
        """\
        - nodeAction:
            matches: [{property: {name: name, value: worker-1$}}]
            actions: [{start: null}]
        """,
    )
    assert outcome.reason == "1 node(s) selected: 1 machine(s) started"
    assert machine_of(harness, "worker-1").running


def test_the_state_property_comes_from_the_cloud_when_there_is_a_driver(
    harness: StepHarness, chosen: pytest.LogCaptureFixture
) -> None:
    harness.sandbox_cloud()
    machine_of(harness, "worker-4").running = False
    select(harness, "[{property: {name: state, value: DOWN}}]")
    assert nodes_in_log(chosen) == {"worker-4"}


def test_a_stop_that_never_shows_fails_after_its_timeout(harness: StepHarness) -> None:
    cloud = harness.sandbox_cloud()

    class Stuck:
        name = cloud.name

        def __getattr__(self, attribute: str) -> Any:
            return getattr(cloud, attribute)

        def stop(self, machine: Any, *, force: bool = False) -> None:
            pass  # the cloud accepts the request and never acts on it

    harness.cloud = Stuck()  # type: ignore[assignment]
    with pytest.raises(StepFailed, match=r"was not DOWN within 30 s \(it is running\)"):
        harness.run(
            STEP,
            """\
            - nodeAction:
                matches: [{property: {name: name, value: worker-1$}}]
                actions: [{stop: {timeout: 30}}]
            """,
        )
    assert harness.metrics.named("node_stopped") == [("worker-1", "failed")]
    assert harness.clock.now() - harness.clock.start >= 30
    # the restart stays journaled: a half-done stop is still undone
    assert [e.kind for e in harness.journal.pending(harness.run_id)] == [MACHINE_START]


class NeverRun:
    """An executor a dry run must not call."""

    def run(self, node: Any, command: str, *, timeout: float) -> Any:
        raise AssertionError(f"a dry run ran {command!r} on {node.name}")


def test_dry_run_selects_but_acts_on_no_machine(harness: StepHarness) -> None:
    harness.sandbox_cloud()
    harness.executor = NeverRun()
    outcome = harness.run(
        STEP,
        """\
        - nodeAction:
            matches: [{property: {name: name, value: worker}}]
            actions: [{stop: {force: true}}, {execute: {cmd: 'rm -rf /'}}, {start: null}]
        """,
        config="safety: {dryRun: true}",
    )
    assert outcome.result == "passed"
    assert outcome.targets == 0
    assert harness.journal.pending(harness.run_id) == []
    assert machines_running(harness)


def test_node_wait_action_advances_the_fake_clock(harness: StepHarness) -> None:
    outcome = harness.run(
        STEP,
        """\
        - nodeAction:
            matches: [{property: {name: name, value: master}}]
            actions: [{wait: {seconds: 12}}, {wait: {seconds: 0.25}}]
        """,
    )
    assert outcome.result == "passed"
    assert harness.clock.slept == [12, 0.25]
    assert harness.clock.now() == harness.clock.start + 12.25
