"""Running a clone step, and undoing it: the clone deleted, the services' selectors
back as they were."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from seal.errors import ConflictError, NotFoundError, StepFailed
from seal.outcomes import StepOutcome
from seal.steps.base import StepContext
from seal.steps.clone.manifest import (
    CHAOS_LABEL,
    CHAOS_VALUE,
    RUN_ANNOTATION,
    check,
    clone_manifest,
    clone_name,
    is_seal_clone,
)
from seal.steps.clone.spec import CloneSpec, LabelSpec, ObjectRef

log = logging.getLogger(__name__)
#: the undo kind: revert the retargeted services, delete the clone
CLONE_UNDO = "clone-delete"
#: on a retargeted service: its selector's `chaos` value before seal set it (JSON; null:
#: it had none), so that a run after a crash restores the true original
SELECTOR_ANNOTATION = "seal/selector-chaos-before"
Obj = dict[str, Any]


def _get(ctx: StepContext, kind: str, ref: ObjectRef, what: str) -> Obj:
    try:
        if kind == "Deployment":
            return ctx.kube.get_deployment(ref.namespace, ref.name)
        return ctx.kube.get_service_object(ref.namespace, ref.name)
    except NotFoundError:
        raise StepFailed(
            f"{what}: {kind} {ref.namespace}/{ref.name} does not exist; nothing was changed"
        ) from None


def _selector(ctx: StepContext, ref: ObjectRef, what: str) -> tuple[Obj, dict[str, str]]:
    service = _get(ctx, "Service", ref, what)
    selector = (service.get("spec") or {}).get("selector") or {}
    if not selector:
        raise StepFailed(
            f"{what}: Service {ref.namespace}/{ref.name} has no selector (its endpoints are "
            "managed by hand), so it cannot choose the clone's pods; nothing was changed"
        )
    return service, {str(k): str(v) for k, v in selector.items()}


def _pod_labels(spec: CloneSpec, ctx: StepContext) -> dict[str, str] | None:
    if not spec.labels:
        return None
    labels: dict[str, str] = {}
    for item in spec.labels:
        if isinstance(item, LabelSpec):
            labels[item.key] = item.value
        else:
            labels.update(_selector(ctx, item, f"labels (line {spec.location.line})")[1])
    return labels


def _existing(ctx: StepContext, namespace: str, name: str) -> Obj | None:
    """A clone already there: seal's, left by a run that stopped, or refused."""
    try:
        found = ctx.kube.get_deployment(namespace, name)
    except NotFoundError:
        return None
    if not is_seal_clone(found):
        raise StepFailed(
            f"Deployment {namespace}/{name} already exists and is not a clone seal made; "
            "seal leaves it alone: rename or delete it; nothing was changed"
        )
    return found


def run(spec: CloneSpec, ctx: StepContext) -> StepOutcome:
    """Check everything, write the undo down, then make (or adopt) the clone and
    retarget the services."""
    line = spec.location.line
    source = _get(ctx, "Deployment", spec.source, f"clone source (line {line})")
    check(source, spec)
    pod_labels = _pod_labels(spec, ctx)
    services = [
        _selector(ctx, ref, f"servicesToRetarget (line {line})")[0]
        for ref in spec.services_to_retarget
    ]
    namespace, name = spec.source.namespace, clone_name(spec.source)
    existing = _existing(ctx, namespace, name)
    marker = uuid.uuid4().hex
    manifest = clone_manifest(source, spec, pod_labels, marker, ctx.scenario)
    retargeted = [f"{r.namespace}/{r.name}" for r in spec.services_to_retarget]
    what = f"Deployment {namespace}/{name} ({spec.replicas} replica(s))"
    if ctx.dry_run:
        if existing is None:
            ctx.kube.create_deployment(namespace, manifest, dry_run=True)
        also = f", and add chaos=true to the selector of {', '.join(retargeted)}"
        message = f"dry run: would create {what}{also if retargeted else ''}"
        log.info(message, extra={"action": "clone", "outcome": "dry-run"})
        return StepOutcome.passed(message)
    markers = [marker]
    if existing is not None:
        markers.append(str(existing["metadata"]["annotations"][RUN_ANNOTATION]))
    ctx.undo.record(
        CLONE_UNDO,
        {
            "namespace": namespace,
            "name": name,
            "markers": markers,
            "services": [[r.namespace, r.name] for r in spec.services_to_retarget],
        },
        f"delete the clone {namespace}/{name}"
        + (f" and revert the selector of {', '.join(retargeted)}" if retargeted else ""),
    )
    if existing is None:
        ctx.kube.create_deployment(namespace, manifest)
    else:
        _adopt(ctx, existing, manifest)
    if services:  # users reach the clone only once it can answer them
        _wait_available(ctx, namespace, name, spec.replicas, f"clone (line {line})")
    for service in services:
        _retarget(ctx, service)
    message = f"created {what}" if existing is None else f"adopted and updated {what}"
    if retargeted:
        verb = "selects" if len(retargeted) == 1 else "select"
        message += f"; {', '.join(retargeted)} now {verb} chaos=true"
    log.info(message, extra={"action": "clone", "outcome": "success"})
    return StepOutcome.passed(message, targets=1)


#: attempts at replacing an adopted clone that the cluster keeps changing (its status)
ADOPT_ATTEMPTS = 5
#: how long a clone may take to have its replicas available before services select it
AVAILABLE_TIMEOUT = 300.0
POLL_SECONDS = 0.5


def _wait_available(ctx: StepContext, namespace: str, name: str, replicas: int, what: str) -> None:
    """Wait (on the step's clock: a shutdown or an abort ends it) until the clone has
    `replicas` available; `StepFailed` after AVAILABLE_TIMEOUT, before any service is
    retargeted (the undo deletes the clone)."""
    started = ctx.clock.monotonic()
    available = 0
    while True:
        status = ctx.kube.get_deployment(namespace, name).get("status") or {}
        available = int(status.get("availableReplicas") or 0)
        if available >= replicas:
            return
        if ctx.clock.monotonic() - started >= AVAILABLE_TIMEOUT:
            raise StepFailed(
                f"{what}: Deployment {namespace}/{name} has {available} of {replicas} "
                f"replica(s) available after {AVAILABLE_TIMEOUT:g} s; no service was "
                "retargeted to it"
            )
        ctx.clock.sleep(POLL_SECONDS)


def _adopt(ctx: StepContext, existing: Obj, manifest: Obj) -> None:
    """Replace a clone an earlier run left with this run's, in place (never a second one)."""
    namespace, name = existing["metadata"]["namespace"], existing["metadata"]["name"]
    for attempt in range(1, ADOPT_ATTEMPTS + 1):
        manifest["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
        try:
            ctx.kube.replace_deployment(namespace, name, manifest)
            break
        except ConflictError:
            if attempt == ADOPT_ATTEMPTS:
                raise
            existing = ctx.kube.get_deployment(namespace, name)
    log.warning("adopted the clone %s/%s that an earlier run left behind", namespace, name)


def _retarget(ctx: StepContext, service: Obj) -> None:
    meta = service["metadata"]
    annotations = meta.get("annotations") or {}
    selector = (service.get("spec") or {}).get("selector") or {}
    # Already retargeted (by a run that stopped, or an earlier step): keep its original.
    before = annotations.get(SELECTOR_ANNOTATION, json.dumps(selector.get(CHAOS_LABEL)))
    ctx.kube.patch_service(
        meta["namespace"],
        meta["name"],
        {
            "metadata": {"annotations": {SELECTOR_ANNOTATION: before}},
            "spec": {"selector": {CHAOS_LABEL: CHAOS_VALUE}},
        },
    )


def _revert(ctx: StepContext, namespace: str, name: str) -> None:
    try:
        service = ctx.kube.get_service_object(namespace, name)
    except NotFoundError:
        return
    before = ((service.get("metadata") or {}).get("annotations") or {}).get(SELECTOR_ANNOTATION)
    if before is None:
        return  # reverted already
    try:
        original = json.loads(before)
    except ValueError:
        original = None
    ctx.kube.patch_service(
        namespace,
        name,
        {
            "metadata": {"annotations": {SELECTOR_ANNOTATION: None}},
            "spec": {"selector": {CHAOS_LABEL: original}},
        },
    )
    log.info("service %s/%s selects its pods as before", namespace, name)


def undo_clone(payload: Mapping[str, Any], ctx: StepContext) -> None:
    """Revert the services first (traffic back on the originals), then delete the clone
    if it is the one this run made or adopted; one already gone is fine."""
    for namespace, name in payload.get("services") or []:
        _revert(ctx, str(namespace), str(name))
    namespace, name = str(payload["namespace"]), str(payload["name"])
    try:
        clone = ctx.kube.get_deployment(namespace, name)
    except NotFoundError:
        return
    annotations = (clone.get("metadata") or {}).get("annotations") or {}
    if annotations.get(RUN_ANNOTATION) not in payload.get("markers", []):
        log.warning("Deployment %s/%s is not the clone this run made; left alone", namespace, name)
        return
    try:
        ctx.kube.delete_deployment(namespace, name, uid=clone["metadata"].get("uid"))
    except NotFoundError:
        return
    log.info("deleted the clone %s/%s", namespace, name)
