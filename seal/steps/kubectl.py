"""The `kubectl` step: apply or delete manifests, deleting what was applied at cleanup."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Literal

import yaml

from seal import bounded_yaml
from seal.errors import DocumentError, ExecutionError, SafetyError, StepFailed
from seal.frozen import frozen
from seal.outcomes import StepOutcome
from seal.policy.docnode import DocNode
from seal.policy.problems import Location
from seal.policy.schema import boolean, number, obj, string
from seal.selection.safety import PROTECTED_LABEL, is_protected_label
from seal.steps.base import CONTEXT_NAMESPACE, ApiCall, StepContext, StepType

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
    # The safety rules first: a refused payload changes nothing and leaves no undo behind
    # (its delete at cleanup would touch what the rules protect).
    _screen(spec, ctx)
    if spec.action == "apply" and spec.auto_delete and not ctx.dry_run:
        # Recorded first: even a partial apply is deleted again at cleanup.
        ctx.undo.record(
            KUBECTL_DELETE,
            {
                "manifest": identities(spec.payload) or spec.payload,
                "binary": spec.kubectl_binary,
                "proxy": spec.proxy,
                "timeout": spec.timeout_seconds,
            },
            applied_description(spec, ctx.kubectl.default_namespace),
        )
    try:
        output = _run_kubectl(spec, ctx, spec.action)
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
    r"an error on the server .* has prevented the request from succeeding|"
    # validation could not start: the schema document did not come (a server-side fault)
    r"failed to download openapi",
    re.IGNORECASE,
)
#: attempts at a kubectl call that fails transiently, and the first pause between them
ATTEMPTS, FIRST_PAUSE = 5, 0.5


def _run_kubectl(spec: KubectlSpec, ctx: StepContext, action: str) -> str:
    """kubectl with the step's payload, tried again when the API failed transiently.

    Every action is safe to repeat: an apply of the same manifest changes nothing
    more, a repeated delete ignores what an earlier attempt already deleted, and a
    get only reads.
    """
    attempt = 1
    while True:
        try:
            return ctx.kubectl.run(
                action,
                spec.payload,
                binary=spec.kubectl_binary,
                proxy=spec.proxy,
                timeout=spec.timeout_seconds,
                server_dry_run=ctx.dry_run and action != "get",
                ignore_not_found=attempt > 1,
            )
        except ExecutionError as exc:
            if attempt >= ATTEMPTS or not TRANSIENT.search(str(exc)):
                raise
            pause = FIRST_PAUSE * 2 ** (attempt - 1)
            log.warning(
                "kubectl %s failed transiently (attempt %d of %d), trying again in %gs: %s",
                action,
                attempt,
                ATTEMPTS,
                pause,
                str(exc)[:300],
            )
            ctx.clock.sleep(pause)
            attempt += 1


def applied_description(spec: KubectlSpec, default_namespace: str) -> str:
    """The undo of an apply in words: the objects it deletes (kind namespace/name)."""
    names = [_describe(o, _namespace(o, default_namespace)) for o in payload_objects(spec.payload)]
    what = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f"kubectl delete of {what or 'the payload'} applied at line {spec.location.line}"


#: After its delete, the undo of an apply watches for SETTLE_SECONDS that nothing it
#: deleted comes back (an apply seal started before it died may land late), checking
#: every SETTLE_PAUSE; it gives up, keeping the undo, after SETTLE_LIMIT.
SETTLE_SECONDS, SETTLE_PAUSE, SETTLE_LIMIT = 2.0, 0.5, 15.0


def undo_kubectl_delete(payload: Mapping[str, Any], ctx: StepContext) -> None:
    """Delete what an apply created, through seal's own connection to the cluster, and
    make sure it stays deleted once any earlier attempt at the apply could have landed."""

    def kubectl(action: str) -> str:
        return ctx.kubectl.run(
            action,
            str(payload["manifest"]),
            binary=str(payload.get("binary") or "kubectl"),
            proxy=payload.get("proxy"),
            timeout=float(payload.get("timeout") or 120),
            ignore_not_found=True,
        )

    kubectl("delete")
    if not payload_objects(str(payload["manifest"])):
        return
    clock = ctx.clock
    started = quiet_since = clock.monotonic()
    while clock.monotonic() - quiet_since < SETTLE_SECONDS:
        clock.sleep(SETTLE_PAUSE, interruptible=False)
        live = _live(kubectl("get"), ctx.kubectl.default_namespace)
        if not live:
            continue
        if clock.monotonic() - started > SETTLE_LIMIT:
            raise ExecutionError(f"still there after the undo deleted it: {', '.join(live)}")
        log.warning("came back after the undo deleted it, deleting again: %s", ", ".join(live))
        kubectl("delete")
        quiet_since = clock.monotonic()


def _live(output: str, default_namespace: str) -> list[str]:
    """The objects of `kubectl get -o json` output that are not being deleted."""
    try:
        found = objects_of([json.loads(output)] if output.strip() else [])
    except ValueError:
        return []  # not kubectl's JSON: nothing to check against
    return [
        _describe(item, _namespace(item, default_namespace))
        for item in found
        if not (item.get("metadata") or {}).get("deletionTimestamp")
    ]


# ---------------------------------------------------------------- what the payload touches

#: kinds that live in no namespace (the common ones; others are taken as namespaced)
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "StorageClass",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PriorityClass",
        "IngressClass",
        "RuntimeClass",
        "CSIDriver",
        "APIService",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    }
)


def objects_of(documents: list[Any]) -> list[dict[str, Any]]:
    """The objects of parsed manifests, `List`s opened up."""
    found: list[dict[str, Any]] = []
    for document in documents:
        if not isinstance(document, dict):
            continue
        if document.get("kind") == "List":
            found.extend(objects_of(list(document.get("items") or [])))
        else:
            found.append(document)
    return found


def payload_objects(payload: str) -> list[dict[str, Any]]:
    """The objects a payload names (none when it is not YAML: kubectl will say why)."""
    try:
        return objects_of(bounded_yaml.load_all(payload, unique_keys=False))
    except (yaml.YAMLError, DocumentError):
        return []


def identities(payload: str) -> str:
    """The objects of a payload by identity alone (apiVersion, kind, name, namespace), as
    YAML documents: all that the undo's `kubectl delete` and `get` need, and none of the
    contents (a Secret's data, a ConfigMap's values), which the journal, perhaps a
    ConfigMap in the cluster, must not hold. "" for a payload without objects."""
    documents = []
    for item in payload_objects(payload):
        metadata = item.get("metadata") or {}
        identity: dict[str, Any] = {k: item[k] for k in ("apiVersion", "kind") if k in item}
        if isinstance(metadata, dict):
            names = ("name", "generateName", "namespace")
            identity["metadata"] = {k: metadata[k] for k in names if k in metadata}
        documents.append(identity)
    return yaml.safe_dump_all(documents, sort_keys=True) if documents else ""


def _unreadable(payload: str) -> str | None:
    """Why seal cannot read the objects of a payload, or None when it can."""
    try:
        documents = bounded_yaml.load_all(payload, unique_keys=False)
    except (yaml.YAMLError, DocumentError) as exc:
        return f"its payload is not readable YAML ({str(exc).splitlines()[0]})"
    stack = [d for d in documents if d is not None]
    if not stack:
        return "its payload is empty"
    while stack:
        item = stack.pop()
        if not isinstance(item, dict) or not item.get("kind"):
            return "its payload holds something other than objects with a kind"
        if item.get("kind") == "List":
            stack.extend(item.get("items") or [])
    return None


def _describe(item: dict[str, Any], namespace: str | None) -> str:
    name = str((item.get("metadata") or {}).get("name", "?"))
    return f"{item.get('kind', '?')} {namespace + '/' if namespace else ''}{name}"


def _namespace(item: dict[str, Any], default: str) -> str | None:
    """The namespace the object is in (a Namespace: itself), None for cluster-scoped kinds."""
    meta = item.get("metadata") or {}
    if item.get("kind") == "Namespace":
        return str(meta.get("name", ""))
    if item.get("kind") in CLUSTER_SCOPED:
        return None
    return str(meta.get("namespace") or default)


def _screen(spec: KubectlSpec, ctx: StepContext) -> None:
    """Refuse a payload that would touch what seal must leave alone: protected
    namespaces, namespaces labelled seal/protected=true, and live objects so labelled."""
    unreadable = _unreadable(spec.payload)
    if unreadable:
        # What seal cannot read it cannot check: kubectl never gets such a payload.
        raise SafetyError(
            f"kubectl {spec.action} at line {spec.location.line} refused, nothing was changed: "
            f"{unreadable}, so seal cannot check it against the safety rules"
        )
    wanted = payload_objects(spec.payload)
    if not wanted:
        return  # an empty List: nothing to check
    default = ctx.kubectl.default_namespace
    labelled = set(ctx.kube.list_namespaces(label_selector=f"{PROTECTED_LABEL}=true"))
    problems = []
    for item in wanted:
        namespace = _namespace(item, default)
        if namespace in ctx.safety.protected_namespaces:
            problems.append(f"{_describe(item, namespace)}: {namespace} is a protected namespace")
        elif namespace in labelled:
            problems.append(
                f"{_describe(item, namespace)}: namespace {namespace} is labelled "
                f"{PROTECTED_LABEL}=true"
            )
    if not problems:
        live = _run_kubectl(spec, ctx, "get")
        for item in objects_of([json.loads(live)] if live.strip() else []):
            if is_protected_label((item.get("metadata") or {}).get("labels") or {}):
                where = _namespace(item, default)
                problems.append(f"{_describe(item, where)} is labelled {PROTECTED_LABEL}=true")
    if problems:
        raise SafetyError(
            f"kubectl {spec.action} at line {spec.location.line} refused, nothing was changed: "
            + "; ".join(problems)
        )


def _kinds(payload: str) -> Iterator[tuple[str, str, str | None, str]]:
    """(API group, resource, namespace, name) of each object in the payload; the namespace
    is None for kinds in none (a Namespace too: it is created outside any)."""
    for item in payload_objects(payload):
        api_version, kind = str(item.get("apiVersion", "")), str(item.get("kind", ""))
        if kind:
            where = None if kind == "Namespace" else _namespace(item, CONTEXT_NAMESPACE)
            name = str((item.get("metadata") or {}).get("name") or "")
            yield api_version.rpartition("/")[0], _plural(kind.lower()), where, name


def _plural(kind: str) -> str:
    if kind == "endpoints":
        return kind
    if kind.endswith(("s", "x", "ch", "sh")):
        return kind + "es"
    if kind.endswith("y") and kind[-2:-1] not in "aeiou":
        return kind[:-1] + "ies"
    return kind + "s"


def api_calls(spec: KubectlSpec) -> tuple[ApiCall, ...]:
    """kubectl reads each object first (the safety screen; apply's own look), then creates
    or patches it (client-side apply), or deletes it and watches it go (a list and watch
    of that one name); an applied object is deleted so at cleanup unless autoDelete is off."""
    named: tuple[str, ...] = ("get", "patch") if spec.action == "apply" else ("get",)
    if spec.action == "delete" or spec.auto_delete:
        named += ("delete", "list", "watch")
    calls: list[ApiCall] = []
    for group, resource, namespace, name in _kinds(spec.payload):
        calls += [ApiCall(verb, resource, group, "", namespace, name) for verb in named]
        if spec.action == "apply":  # a create names no object RBAC could check
            calls.append(ApiCall("create", resource, group, "", namespace))
    if calls:  # the safety screen lists the namespaces labelled seal/protected=true
        calls.insert(0, ApiCall("list", "namespaces"))
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
