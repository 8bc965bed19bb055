"""The `clone` step: copy a Deployment and inject failure into the copy (an environment
variable, tc, a Toxiproxy sidecar), so that the original keeps serving; the copy is
deleted and retargeted services are reverted at cleanup.

spec.py: what the policy says (no I/O); manifest.py and toxiproxy.py: the clone's
Deployment (no I/O); run.py: the API calls, and the undo.
"""

from __future__ import annotations

from seal.steps.base import ApiCall, StepType
from seal.steps.clone.run import CLONE_UNDO, run, undo_clone
from seal.steps.clone.spec import SCHEMA, CloneSpec, build

__all__ = ["CLONE_UNDO", "STEP", "CloneSpec"]


def api_calls(spec: CloneSpec) -> tuple[ApiCall, ...]:
    calls = [ApiCall(verb, "deployments", "apps") for verb in ("get", "create", "update", "delete")]
    if spec.labels or spec.services_to_retarget:
        calls.append(ApiCall("get", "services"))
    if spec.services_to_retarget:
        calls.append(ApiCall("patch", "services"))
    return tuple(calls)


STEP = StepType(
    spec=CloneSpec,
    key="clone",
    schema=SCHEMA,
    builder=build,
    runner=run,
    description="copy a Deployment and inject failure into the copy",
    undo_handlers={CLONE_UNDO: undo_clone},
    api_calls=api_calls,
)
