"""The `clone` step: copy a Deployment and inject failure into the copy (an environment
variable, tc, a Toxiproxy sidecar), so that the original keeps serving; the copy is
deleted and retargeted services are reverted at cleanup.

spec.py: what the policy says (no I/O); manifest.py and toxiproxy.py: the clone's
Deployment (no I/O); run.py: the API calls, and the undo.
"""

from __future__ import annotations

from seal.steps.base import ApiCall, StepType
from seal.steps.clone.manifest import clone_name
from seal.steps.clone.run import CLONE_UNDO, run, undo_clone
from seal.steps.clone.spec import SCHEMA, CloneSpec, ObjectRef, build

__all__ = ["CLONE_UNDO", "STEP", "CloneSpec"]


def api_calls(spec: CloneSpec) -> tuple[ApiCall, ...]:
    namespace, source = spec.source.namespace, spec.source.name
    clone = clone_name(spec.source)
    calls = [
        ApiCall("get", "deployments", "apps", namespace=namespace, name=source),
        ApiCall("get", "deployments", "apps", namespace=namespace, name=clone),
        ApiCall("create", "deployments", "apps", namespace=namespace),
        # an earlier run's clone is adopted in place; the undo deletes the clone
        ApiCall("update", "deployments", "apps", namespace=namespace, name=clone),
        ApiCall("delete", "deployments", "apps", namespace=namespace, name=clone),
    ]
    for ref in spec.labels:  # labels copied from a Service's selector
        if isinstance(ref, ObjectRef):
            calls.append(ApiCall("get", "services", namespace=ref.namespace, name=ref.name))
    for ref in spec.services_to_retarget:
        calls += [
            ApiCall(verb, "services", namespace=ref.namespace, name=ref.name)
            for verb in ("get", "patch")
        ]
    return tuple(dict.fromkeys(calls))


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
