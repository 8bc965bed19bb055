"""The `probePrometheus` step: a PromQL instant query, its value checked against a tolerance."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any, ClassVar

from seal.errors import ProbeError
from seal.frozen import frozen
from seal.model import ProbeRequest
from seal.outcomes import StepOutcome
from seal.policy.docnode import DocNode
from seal.policy.problems import Location
from seal.policy.schema import boolean, number, obj, string
from seal.steps import tolerance
from seal.steps.base import StepContext, StepType
from seal.steps.tolerance import Tolerance


@frozen
class ProbePrometheusSpec:
    """Ask a Prometheus server one instant query; its single value must be in tolerance."""

    key: ClassVar[str] = "probePrometheus"
    url: str
    query: str
    value: Tolerance
    location: Location
    timeout_ms: int = 5000
    proxy: str | None = None
    insecure: bool = False


def build(node: DocNode) -> ProbePrometheusSpec:
    url = str(node.get("url", ""))
    if url and not url.startswith(("http://", "https://")):
        node.child("url").problem(f"'{url}' is not an http:// or https:// URL")
    return ProbePrometheusSpec(
        url=url.rstrip("/"),
        query=str(node.get("query", "")),
        value=tolerance.build(node.child("value")),
        location=node.location,
        timeout_ms=int(node.get("timeout", 5000)),
        proxy=node.get("proxy"),
        insecure=bool(node.get("insecure", False)),
    )


class _NoValue(Exception):
    """The answer holds no single value; the message says what it holds."""


def _value(answer: Any) -> float:
    """The one value of a query's answer (a scalar, or a vector of one sample)."""
    if not isinstance(answer, dict) or answer.get("status") != "success":
        error = answer.get("error") if isinstance(answer, dict) else None
        raise _NoValue(f"the query failed: {error or 'not a Prometheus answer'}")
    data = answer.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return float(result[1])
    if kind == "vector" and isinstance(result, list):
        if len(result) != 1:
            labels = ", ".join(str(r.get("metric", {})) for r in result[:3])
            more = f": {labels}" if result else ""
            raise _NoValue(
                f"the query returned {len(result)} series{more}; it must return exactly one "
                "(aggregate it, e.g. with sum())"
            )
        return float(result[0]["value"][1])
    raise _NoValue(f"the query returned a {kind}; it must return a scalar or one series")


def run(spec: ProbePrometheusSpec, ctx: StepContext) -> StepOutcome:
    what = f"probePrometheus {spec.query!r}"
    url = f"{spec.url}/api/v1/query?" + urllib.parse.urlencode({"query": spec.query})
    request = ProbeRequest("get", url, (), None, spec.timeout_ms / 1000, spec.proxy, spec.insecure)
    try:
        answer = ctx.prober.send(request)
    except ProbeError as exc:
        return tolerance.verdict(ctx, what, f"{spec.url} did not answer: {exc}", "")
    try:
        value = _value(json.loads(answer.body.decode(errors="replace")))
    except ValueError:
        problem = f"{spec.url} answered {answer.status} with something that is not JSON"
        return tolerance.verdict(ctx, what, problem, "")
    except (_NoValue, KeyError, IndexError, TypeError) as exc:
        return tolerance.verdict(ctx, what, str(exc) or "the answer has no value", "")
    return tolerance.verdict(ctx, what, spec.value.problem(value), f"{value:g}")


DESCRIPTION = "check the value of a PromQL instant query against a tolerance"
STEP = StepType(
    key="probePrometheus",
    spec=ProbePrometheusSpec,
    schema=obj(
        {
            "url": string("the Prometheus server, e.g. http://prometheus:9090", minLength=1),
            "query": string("a PromQL query returning one value", minLength=1),
            "value": tolerance.schema("the value allowed"),
            "timeout": number("milliseconds for the query", integer=True, minimum=1),
            "proxy": string("proxy; HTTP(S)_PROXY from the environment are ignored"),
            "insecure": boolean("skip TLS verification", default=False),
        },
        required=["url", "query", "value"],
        description=DESCRIPTION,
    ),
    builder=build,
    runner=run,
    description=DESCRIPTION,
)
