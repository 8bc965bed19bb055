"""The step types seal knows, and the policy schema assembled from them.

Adding a step type: one module with its `STEP`, and one line in `STEP_TYPES`.
No I/O.
"""

from __future__ import annotations

from typing import Any

from seal.policy.loader import policy_schema
from seal.policy.schema import Schema
from seal.steps import (
    alertmanager,
    clone,
    kubectl,
    node_action,
    pod_action,
    probe_deployment,
    probe_http,
    probe_logs,
    probe_pods,
    probe_prometheus,
    scale_deployment,
    wait,
    wait_for,
)
from seal.steps.base import StepType, UndoHandler

STEP_TYPES: tuple[StepType[Any], ...] = (
    pod_action.STEP,
    node_action.STEP,
    kubectl.STEP,
    probe_http.STEP,
    wait.STEP,
    clone.STEP,
    alertmanager.STEP,
    probe_pods.STEP,
    probe_deployment.STEP,
    probe_prometheus.STEP,
    probe_logs.STEP,
    wait_for.STEP,
    scale_deployment.STEP,
)
STEPS_BY_KEY: dict[str, StepType[Any]] = {step.key: step for step in STEP_TYPES}


def schema() -> Schema:
    """The JSON Schema of the policy format: exactly what `seal validate` checks."""
    return policy_schema(STEP_TYPES)


def undo_handlers() -> dict[str, UndoHandler]:
    """Every undo kind any step records, with the handler that carries it out."""
    return {kind: h for step in STEP_TYPES for kind, h in step.undo_handlers.items()}
