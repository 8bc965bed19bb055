"""The `probeLogs` step: count the recent log lines of some pods that match a pattern."""

from __future__ import annotations

import re
from typing import ClassVar

from seal.errors import KubeError
from seal.frozen import frozen
from seal.outcomes import StepOutcome
from seal.policy.docnode import DocNode
from seal.policy.problems import Location
from seal.policy.schema import number, obj, string
from seal.steps import tolerance
from seal.steps.base import ApiCall, StepContext, StepType
from seal.steps.pipeline import check_regex
from seal.steps.tolerance import Tolerance


@frozen
class ProbeLogsSpec:
    """Read the last lines of each pod's log; count those matching `pattern`."""

    key: ClassVar[str] = "probeLogs"
    namespace: str
    pattern: str
    location: Location
    selector: str = ""
    container: str | None = None
    tail_lines: int = 100
    #: how many matching lines, over every pod, are allowed (default: at least one)
    count: Tolerance | None = None


def build(node: DocNode) -> ProbeLogsSpec:
    pattern = str(node.get("pattern", ""))
    check_regex(node.child("pattern"), pattern)
    container = node.get("container")
    return ProbeLogsSpec(
        namespace=str(node.get("namespace", "")),
        pattern=pattern,
        location=node.location,
        selector=str(node.get("selector", "")),
        container=None if container is None else str(container),
        tail_lines=int(node.get("tailLines", 100)),
        count=tolerance.build(node.child("count")) if node.has("count") else None,
    )


def run(spec: ProbeLogsSpec, ctx: StepContext) -> StepOutcome:
    what = f"probeLogs /{spec.pattern}/ in pods {spec.selector or '(all)'} of {spec.namespace}"
    pods = ctx.kube.list_pod_objects(spec.namespace, label_selector=spec.selector or None)
    names = sorted(
        str(p["metadata"]["name"])
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
        and (p.get("status") or {}).get("phase") != "Pending"
    )
    if not names:
        return tolerance.verdict(ctx, what, "no running pod matches", "")
    pattern = re.compile(spec.pattern)
    matched, last = 0, ""
    for name in names:
        try:
            text = ctx.kube.read_pod_log(
                spec.namespace, name, container=spec.container, tail_lines=spec.tail_lines
            )
        except KubeError as exc:
            if exc.status in (401, 403):
                raise
            return tolerance.verdict(ctx, what, f"cannot read the log of {name}: {exc}", "")
        for line in text.splitlines():
            if pattern.search(line):
                matched, last = matched + 1, f"{name}: {line}"
    seen = f"{matched} matching line(s) in the last {spec.tail_lines} of {len(names)} pod(s)"
    if last:
        seen += f" (last: {last[:200]})"
    allowed = spec.count or tolerance.at_least(1, spec.location)
    problem = None if allowed.holds(matched) else f"{seen}; expected {allowed}"
    return tolerance.verdict(ctx, what, problem, seen)


def api_calls(spec: ProbeLogsSpec) -> tuple[ApiCall, ...]:
    return (
        ApiCall("list", "pods", namespace=spec.namespace),
        ApiCall("get", "pods", subresource="log", namespace=spec.namespace),
    )


DESCRIPTION = "count the recent log lines of some pods that match a regular expression"
STEP = StepType(
    key="probeLogs",
    spec=ProbeLogsSpec,
    schema=obj(
        {
            "namespace": string("the pods' namespace", minLength=1),
            "selector": string("a label selector, e.g. app=web (default: every pod)"),
            "container": string("the container whose log is read (default: the first)"),
            "pattern": string("a regular expression searched in each line", minLength=1),
            "tailLines": number(
                "how many of each pod's last lines are read", integer=True, minimum=1
            ),
            "count": tolerance.schema("how many matching lines are allowed (default: >= 1)"),
        },
        required=["namespace", "pattern"],
        description=DESCRIPTION,
    ),
    builder=build,
    runner=run,
    description=DESCRIPTION,
    api_calls=api_calls,
)
