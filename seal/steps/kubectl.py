"""The `kubectl` step: apply or delete manifests, deleting what was applied at cleanup."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Literal

import yaml

from seal.errors import ExecutionError, StepFailed
from seal.frozen import frozen
from seal.outcomes import StepOutcome
from seal.policy.docnode import DocNode
from seal.policy.problems import Location
from seal.policy.schema import boolean, number, obj, string
from seal.steps.base import ApiCall, StepContext, StepType

log = logging.getLogger(__name__)
#: the undo kind: delete again what an apply created
KUBECTL_DELETE = "kubectl-delete"


@frozen
class KubectlSpec:
    """The kubectl step: apply or delete a manifest."""

    key: ClassVar[str] = "kubectl"
    action: Literal["apply", "delete"]
    payload: str
    location: Location
    auto_delete: bool = True
    proxy: str | None = None
    kubectl_binary: str = "kubectl"
    timeout_seconds: float = 120.0


def build(node: DocNode) -> KubectlSpec:
    action: Literal["apply", "delete"] = "delete" if node.get("action") == "delete" else "apply"
    return KubectlSpec(
        action=action,
        payload=str(node.get("payload", "")),
        location=node.location,
        auto_delete=bool(node.get("autoDelete", True)),
        proxy=node.get("proxy"),
        kubectl_binary=str(node.get("kubectlBinary", "kubectl")),
        timeout_seconds=float(node.get("timeoutSeconds", 120)),
    )


def run(spec: KubectlSpec, ctx: StepContext) -> StepOutcome:
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
                "timeout": spec.timeout_seconds,
            },
            f"kubectl delete of what line {spec.location.line} applied",
        )
    try:
        output = _run_kubectl(spec, ctx)
    except ExecutionError as exc:
        if not ctx.dry_run:
            raise
        raise StepFailed(
            f"kubectl {spec.action} of the payload at line {spec.location.line} would fail "
            f"(server dry run): {exc}"
        ) from exc
    summary = output.strip().splitlines()
    log.info(
        "%skubectl %s: %s",
        "dry run: " if ctx.dry_run else "",
        spec.action,
        " / ".join(summary[:10]),
        extra={
            "action": f"kubectl-{spec.action}",
            "outcome": "dry-run" if ctx.dry_run else "success",
        },
    )
    return StepOutcome.passed(f"kubectl {spec.action}", targets=0 if ctx.dry_run else len(summary))


#: what kubectl prints when the API server or the way to it failed for a while
TRANSIENT = re.compile(
    r"InternalError|ServiceUnavailable|TooManyRequests|Too Many Requests|"
    r"the server is currently unable|the server has received too many requests|"
    r"Internal Server Error|Service Unavailable|\b50[0-4]\b|\b429\b|"
    r"connection refused|connection reset|unexpected EOF|\bEOF\b|i/o timeout|"
    r"TLS handshake timeout|timed out|etcdserver|try again later|"
    r"an error on the server .* has prevented the request from succeeding",
    re.IGNORECASE,
)
#: attempts at a kubectl call that fails transiently, and the first pause between them
ATTEMPTS, FIRST_PAUSE = 5, 0.5


def _run_kubectl(spec: KubectlSpec, ctx: StepContext) -> str:
    """kubectl with the step's action, tried again when the API failed transiently.

    Both actions are safe to repeat: an apply of the same manifest changes nothing
    more, and a repeated delete ignores what an earlier attempt already deleted.
    """
    attempt = 1
    while True:
        try:
            return ctx.kubectl.run(
                spec.action,
                spec.payload,
                binary=spec.kubectl_binary,
                proxy=spec.proxy,
                timeout=spec.timeout_seconds,
                server_dry_run=ctx.dry_run,
                ignore_not_found=attempt > 1,
            )
        except ExecutionError as exc:
            if attempt >= ATTEMPTS or not TRANSIENT.search(str(exc)):
                raise
            pause = FIRST_PAUSE * 2 ** (attempt - 1)
            log.warning(
                "kubectl %s failed transiently (attempt %d of %d), trying again in %gs: %s",
                spec.action,
                attempt,
                ATTEMPTS,
                pause,
                str(exc)[:300],
            )
            ctx.clock.sleep(pause)
            attempt += 1


def undo_kubectl_delete(payload: Mapping[str, Any], ctx: StepContext) -> None:
    """Delete what an apply created, through seal's own connection to the cluster."""
    ctx.kubectl.run(
        "delete",
        str(payload["manifest"]),
        binary=str(payload.get("binary") or "kubectl"),
        proxy=payload.get("proxy"),
        timeout=float(payload.get("timeout") or 120),
        ignore_not_found=True,
    )


def _kinds(payload: str) -> Iterator[tuple[str, str]]:
    """(API group, resource) of each object in the payload."""
    try:
        documents = [d for d in yaml.safe_load_all(payload) if isinstance(d, dict)]
    except yaml.YAMLError:
        return
    for document in documents:
        if document.get("kind") == "List":
            documents.extend(i for i in document.get("items") or [] if isinstance(i, dict))
            continue
        api_version, kind = str(document.get("apiVersion", "")), str(document.get("kind", ""))
        if kind:
            group = api_version.rpartition("/")[0]
            yield group, _plural(kind.lower())


def _plural(kind: str) -> str:
    if kind == "endpoints":
        return kind
    if kind.endswith(("s", "x", "ch", "sh")):
        return kind + "es"
    if kind.endswith("y") and kind[-2:-1] not in "aeiou":
        return kind[:-1] + "ies"
    return kind + "s"


def api_calls(spec: KubectlSpec) -> tuple[ApiCall, ...]:
    verbs = ("get", "create", "patch", "delete") if spec.action == "apply" else ("get", "delete")
    calls = [ApiCall(verb, res, group) for group, res in _kinds(spec.payload) for verb in verbs]
    return tuple(dict.fromkeys(calls))


STEP = StepType(
    key="kubectl",
    spec=KubectlSpec,
    schema=obj(
        {
            "action": string("what kubectl does with the payload", enum=["apply", "delete"]),
            "payload": string("manifest text, given to kubectl as is"),
            "autoDelete": boolean("delete everything applied at cleanup", default=True),
            "proxy": string("proxy for kubectl; HTTP(S)_PROXY from the environment are ignored"),
            "kubectlBinary": string("path of the kubectl program", default="kubectl"),
            "timeoutSeconds": number("give up on kubectl after this long", exclusiveMinimum=0),
        },
        required=["action", "payload"],
        description="apply or delete manifests with kubectl",
    ),
    builder=build,
    runner=run,
    description="apply or delete manifests with kubectl",
    undo_handlers={KUBECTL_DELETE: undo_kubectl_delete},
    api_calls=api_calls,
)
