"""The scaleDeployment step in process, against the sandbox's real API: it scales, writes
its undo first, and the undo sets the replicas back."""

from __future__ import annotations

from typing import Any

import pytest

from seal.errors import StepFailed
from seal.runtime.scenario import replay_undos
from seal.steps import scale_deployment
from tests.steps.conftest import ObservingUndo, StepHarness


def spec_replicas(harness: StepHarness, name: str = "goldpinger") -> int:
    deployment: dict[str, Any] = harness.store(lambda s: s.get("deployments", "default", name))
    return int(deployment["spec"]["replicas"])


def test_scale_writes_its_undo_first_and_the_undo_sets_the_replicas_back(
    harness: StepHarness,
) -> None:
    observing = ObservingUndo(harness.undo, lambda: spec_replicas(harness))
    outcome = harness.run(
        scale_deployment.STEP,
        "- scaleDeployment: {name: goldpinger, namespace: default, replicas: 5}",
        undo=observing,
    )
    assert outcome.result == "passed" and outcome.targets == 1
    assert outcome.reason == "scaled Deployment default/goldpinger from 3 to 5 replica(s)"
    [action] = outcome.actions  # with the time it was done (the report's `at`)
    assert (action.action, action.target, action.at) == (
        "scale",
        "default/goldpinger",
        harness.clock.now(),
    )
    assert observing.seen == [3]  # the undo was written while the Deployment still had 3
    assert spec_replicas(harness) == 5
    [entry] = harness.journal.pending(harness.run_id)
    assert entry.kind == scale_deployment.SCALE_UNDO
    assert entry.description == "scale Deployment default/goldpinger back to 3 replica(s)"
    report = replay_undos(harness.journal, harness.context(), harness.metrics, harness.run_id)
    assert report.ok and report.undone == 1
    assert spec_replicas(harness) == 3


def test_scale_without_restore_writes_no_undo(harness: StepHarness) -> None:
    harness.run(
        scale_deployment.STEP,
        "- scaleDeployment: {name: goldpinger, namespace: default, replicas: 1, restore: false}",
    )
    assert spec_replicas(harness) == 1
    assert harness.journal.pending(harness.run_id) == []


def test_scale_of_a_missing_deployment_fails_naming_it_and_changes_nothing(
    harness: StepHarness,
) -> None:
    with pytest.raises(StepFailed) as failure:
        harness.run(
            scale_deployment.STEP,
            "- scaleDeployment: {name: nowhere, namespace: default, replicas: 2}",
        )
    assert str(failure.value) == "Deployment default/nowhere does not exist; nothing to scale"
    assert harness.journal.pending(harness.run_id) == []


def test_a_dry_run_says_what_it_would_scale(harness: StepHarness) -> None:
    outcome = harness.run(
        scale_deployment.STEP,
        "- scaleDeployment: {name: goldpinger, namespace: default, replicas: 0}",
        "safety: {dryRun: true}",
    )
    assert outcome.reason == (
        "dry run: would scale Deployment default/goldpinger from 3 to 0 replica(s)"
    )
    assert spec_replicas(harness) == 3
    assert harness.journal.pending(harness.run_id) == []


def test_the_undo_of_a_deployment_since_deleted_is_done(harness: StepHarness) -> None:
    harness.run(
        scale_deployment.STEP,
        "- scaleDeployment: {name: goldpinger, namespace: default, replicas: 4}",
    )
    harness.store(lambda s: s.delete("deployments", "default", "goldpinger"))
    report = replay_undos(harness.journal, harness.context(), harness.metrics, harness.run_id)
    assert report.ok and report.undone == 1


def test_scale_asks_for_get_and_update_of_that_deployment_only() -> None:
    spec = scale_deployment.ScaleDeploymentSpec("web", "shop", 2, location=None)  # type: ignore[arg-type]
    calls = scale_deployment.STEP.calls(spec)
    assert [(c.verb, c.resource, c.group, c.namespace, c.name) for c in calls] == [
        ("get", "deployments", "apps", "shop", "web"),
        ("update", "deployments", "apps", "shop", "web"),
    ]
