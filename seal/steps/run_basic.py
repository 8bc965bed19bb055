"""Running `wait`, `probeHTTP` and `kubectl` steps."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from seal.adapters.http import ProbeError, ProbeRequest
from seal.adapters.kubectl import KubectlTarget, run_kubectl
from seal.errors import ExecutionError, NotFoundError, StepFailed
from seal.steps.context import StepContext, UndoHandler
from seal.steps.kubectl import KubectlSpec
from seal.steps.probe_http import ProbeHTTPSpec, ServiceTarget
from seal.steps.wait import WaitSpec

log = logging.getLogger(__name__)
KUBECTL_DELETE = "kubectl-delete"


def run_wait(spec: WaitSpec, ctx: StepContext) -> None:
    log.info("waiting %gs", spec.seconds)
    ctx.clock.sleep(spec.seconds)


# ---------------------------------------------------------------- probeHTTP


def probe_url(spec: ProbeHTTPSpec, ctx: StepContext) -> str:
    target = spec.target
    if isinstance(target, ServiceTarget):
        try:
            service = ctx.kube.get_service(target.namespace, target.name)
        except NotFoundError as exc:
            raise StepFailed(f"service {target.namespace}/{target.name} does not exist") from exc
        if not service.cluster_ip or service.cluster_ip == "None":
            raise StepFailed(f"service {target.namespace}/{target.name} has no cluster IP")
        return f"{target.protocol}://{service.cluster_ip}:{target.port}{spec.endpoint}"
    return target.url.rstrip("/") + spec.endpoint if spec.endpoint else target.url


def run_probe(spec: ProbeHTTPSpec, ctx: StepContext) -> None:
    if not ctx.dry_run:
        _probe(spec, ctx)
        return
    # Probes only read, so a dry run sends them; but the steps before changed nothing,
    # so what they find is reported, not held against the scenario.
    try:
        _probe(spec, ctx)
    except StepFailed as exc:
        log.warning(
            "dry run: the probe fails now (%s); the steps before it changed nothing",
            exc,
            extra={"action": "probe", "outcome": "dry-run"},
        )


def _probe(spec: ProbeHTTPSpec, ctx: StepContext) -> None:
    url = probe_url(spec, ctx)
    request = ProbeRequest(
        spec.method, url, spec.headers, spec.body, spec.timeout_ms / 1000, spec.proxy, spec.insecure
    )
    for number in range(1, spec.count + 1):
        last = ""
        for attempt in range(1, spec.retries + 1):
            try:
                answer = ctx.prober.send(request)
            except ProbeError as exc:
                ctx.metrics.probe_finished(url, "error", spec.timeout_ms / 1000)
                last = str(exc)
            else:
                good = answer.status == spec.code
                ctx.metrics.probe_finished(
                    url, "success" if good else "wrong-code", answer.latency_seconds
                )
                if good:
                    break
                last = f"answered {answer.status}, expected {spec.code}"
            if attempt < spec.retries:
                ctx.clock.sleep(spec.delay_ms / 1000)
        else:
            raise StepFailed(
                f"probe {spec.method.upper()} {url}: request {number} of "
                f"{spec.count} failed {spec.retries} time(s); last: {last}"
            )
    log.info(
        "probe %s %s: %d request(s) answered %d",
        spec.method.upper(),
        url,
        spec.count,
        spec.code,
        extra={"target": url, "action": "probe", "outcome": "success"},
    )


# ---------------------------------------------------------------- kubectl


def run_kubectl_step(spec: KubectlSpec, ctx: StepContext) -> None:
    """kubectl apply or delete of the payload. In a dry run the API server checks the
    payload and says what it would do (`--dry-run=server`); nothing changes."""
    if spec.action == "apply" and spec.auto_delete and not ctx.dry_run:
        # Recorded first: even a partial apply is deleted again at cleanup.
        ctx.undo.record(
            KUBECTL_DELETE,
            {
                "manifest": spec.payload,
                "binary": spec.kubectl_binary,
                "proxy": spec.proxy,
                "kubeconfig": ctx.kubectl.kubeconfig,
                "context": ctx.kubectl.context,
                "timeout": spec.timeout_seconds,
            },
            f"kubectl delete of what line {spec.location.line} applied",
        )
    try:
        output = run_kubectl(
            spec.action,
            spec.payload,
            ctx.kubectl,
            binary=spec.kubectl_binary,
            proxy=spec.proxy,
            timeout=spec.timeout_seconds,
            server_dry_run=ctx.dry_run,
        )
    except ExecutionError as exc:
        if not ctx.dry_run:
            raise
        raise StepFailed(
            f"kubectl {spec.action} of the payload at line {spec.location.line} would fail "
            f"(server dry run): {exc}"
        ) from exc
    log.info(
        "%skubectl %s: %s",
        "dry run: " if ctx.dry_run else "",
        spec.action,
        " / ".join(output.strip().splitlines()[:10]),
        extra={
            "action": f"kubectl-{spec.action}",
            "outcome": "dry-run" if ctx.dry_run else "success",
        },
    )


def undo_kubectl_delete(payload: Mapping[str, Any], ctx: StepContext) -> None:
    target = KubectlTarget(payload.get("kubeconfig"), payload.get("context"))
    run_kubectl(
        "delete",
        str(payload["manifest"]),
        target,
        binary=str(payload.get("binary") or "kubectl"),
        proxy=payload.get("proxy"),
        timeout=float(payload.get("timeout") or 120),
        ignore_not_found=True,
    )


UNDO_HANDLERS: dict[str, UndoHandler] = {KUBECTL_DELETE: undo_kubectl_delete}
