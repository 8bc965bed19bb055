"""The `probeHTTP` step: check that a URL or a service still answers as expected."""

from __future__ import annotations

import logging
from typing import ClassVar

from seal.errors import NotFoundError, ProbeError, StepFailed
from seal.frozen import frozen
from seal.model import ProbeAnswer, ProbeRequest
from seal.outcomes import StepOutcome
from seal.policy.docnode import DocNode
from seal.policy.problems import Location
from seal.policy.schema import array, boolean, number, obj, one_key, string
from seal.steps import tolerance
from seal.steps.base import ApiCall, StepContext, StepType
from seal.steps.tolerance import Tolerance

log = logging.getLogger(__name__)

METHODS = ("get", "post", "patch", "put", "head", "delete")


@frozen
class UrlTarget:
    """A probe target given as a URL."""

    url: str


@frozen
class ServiceTarget:
    """Called on the service's cluster IP, resolved through the API."""

    name: str
    namespace: str
    port: int = 80
    protocol: str = "http"


@frozen
class HttpTolerance:
    """What an answer may be: its status (instead of `code`), its body, its latency."""

    status: Tolerance | None = None
    body: Tolerance | None = None
    latency_ms: Tolerance | None = None

    def __str__(self) -> str:
        parts = [
            f"{name} {t}"
            for name, t in (
                ("status", self.status),
                ("body", self.body),
                ("latency ms", self.latency_ms),
            )
            if t is not None
        ]
        return ", ".join(parts)


@frozen
class ProbeHTTPSpec:
    """The probeHTTP step: send requests and expect a status code."""

    key: ClassVar[str] = "probeHTTP"
    target: UrlTarget | ServiceTarget
    location: Location
    endpoint: str = ""
    method: str = "get"
    body: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    code: int = 200
    count: int = 1
    retries: int = 3
    delay_ms: int = 100
    timeout_ms: int = 1000
    proxy: str | None = None
    insecure: bool = False
    tolerance: HttpTolerance | None = None


def _check_url(node: DocNode, url: str) -> None:
    if not url.startswith(("http://", "https://")):
        node.problem(f"'{url}' is not an http:// or https:// URL")


def build(node: DocNode) -> ProbeHTTPSpec:
    kind, target_node = node.child("target").only_key()
    target: UrlTarget | ServiceTarget
    if kind == "url":
        target = UrlTarget(str(target_node.scalar("")))
        _check_url(target_node, target.url)
    else:
        target = ServiceTarget(
            str(target_node.get("name")),
            str(target_node.get("namespace")),
            int(target_node.get("port", 80)),
            str(target_node.get("protocol", "http")),
        )
    endpoint = str(node.get("endpoint", ""))
    if endpoint and not endpoint.startswith("/"):
        endpoint = "/" + endpoint
    headers = tuple((str(h.get("name")), str(h.get("value", ""))) for h in node.children("headers"))
    body = node.get("body")
    return ProbeHTTPSpec(
        target=target,
        location=node.location,
        endpoint=endpoint,
        method=str(node.get("method", "get")).lower(),
        body=None if body is None else str(body),
        headers=headers,
        code=int(node.get("code", 200)),
        count=int(node.get("count", 1)),
        retries=int(node.get("retries", 3)),
        delay_ms=int(node.get("delay", 100)),
        timeout_ms=int(node.get("timeout", 1000)),
        proxy=node.get("proxy"),
        insecure=bool(node.get("insecure", False)),
        tolerance=_tolerance(node.child("tolerance"))
        if isinstance(node.child("tolerance").value, dict)
        else None,
    )


def _tolerance(node: DocNode) -> HttpTolerance:
    def part(key: str) -> Tolerance | None:
        return tolerance.build(node.child(key)) if node.has(key) else None

    return HttpTolerance(part("status"), part("body"), part("latencyMs"))


TARGET = one_key(
    "target",
    {
        "url": string("the URL to call", minLength=1),
        "service": obj(
            {
                "name": string(minLength=1),
                "namespace": string(minLength=1),
                "port": number(integer=True, minimum=1, maximum=65535, default=80),
                "protocol": string(enum=["http", "https"], default="http"),
            },
            required=["name", "namespace"],
        ),
    },
)


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


def run(spec: ProbeHTTPSpec, ctx: StepContext) -> StepOutcome:
    if not ctx.dry_run:
        return _probe(spec, ctx)
    # Probes only read, so a dry run sends them; but the steps before changed nothing,
    # so what they find is reported, not held against the scenario.
    try:
        return _probe(spec, ctx)
    except StepFailed as exc:
        log.warning(
            "dry run: the probe fails now (%s); the steps before it changed nothing",
            exc,
            extra={"action": "probe", "outcome": "dry-run"},
        )
        return StepOutcome.skipped(f"dry run: the probe fails now: {exc}")


def _attempt(spec: ProbeHTTPSpec, request: ProbeRequest, ctx: StepContext) -> str | None:
    """One request; what was wrong with its answer, or None when it was as expected."""
    try:
        answer = ctx.prober.send(request)
    except ProbeError as exc:
        ctx.metrics.probe_finished(request.url, "error", spec.timeout_ms / 1000)
        return str(exc)
    if spec.tolerance is not None:
        problem, outcome = _out_of_tolerance(spec.tolerance, spec.code, answer)
        ctx.metrics.probe_finished(request.url, outcome, answer.latency_seconds)
        return problem
    good = answer.status == spec.code
    ctx.metrics.probe_finished(
        request.url, "success" if good else "wrong-code", answer.latency_seconds
    )
    return None if good else f"answered {answer.status}, expected {spec.code}"


def _out_of_tolerance(
    allowed: HttpTolerance, code: int, answer: ProbeAnswer
) -> tuple[str | None, str]:
    """What was out of tolerance in an answer (or None), and the metric's outcome."""
    if allowed.status is not None:
        if not allowed.status.holds(answer.status):
            return f"answered {answer.status}, expected status {allowed.status}", "wrong-code"
    elif answer.status != code:
        return f"answered {answer.status}, expected {code}", "wrong-code"
    if allowed.body is not None:
        problem = allowed.body.problem(answer.body.decode(errors="replace"))
        if problem is not None:
            return f"body: {problem}", "out-of-tolerance"
    latency_ms = round(answer.latency_seconds * 1000, 1)
    if allowed.latency_ms is not None and not allowed.latency_ms.holds(latency_ms):
        return f"took {latency_ms:g} ms, expected latency {allowed.latency_ms}", "out-of-tolerance"
    return None, "success"


def _probe(spec: ProbeHTTPSpec, ctx: StepContext) -> StepOutcome:
    url = probe_url(spec, ctx)
    request = ProbeRequest(
        spec.method, url, spec.headers, spec.body, spec.timeout_ms / 1000, spec.proxy, spec.insecure
    )
    for request_number in range(1, spec.count + 1):
        for attempt in range(1, spec.retries + 1):
            problem = _attempt(spec, request, ctx)
            if problem is None:
                break
            if attempt < spec.retries:
                ctx.clock.sleep(spec.delay_ms / 1000)
        else:
            raise StepFailed(
                f"probe {spec.method.upper()} {url}: request {request_number} of "
                f"{spec.count} failed {spec.retries} time(s); last: {problem}"
            )
    expected = str(spec.code) if spec.tolerance is None else f"within {spec.tolerance}"
    log.info(
        "probe %s %s: %d request(s) answered %s",
        spec.method.upper(),
        url,
        spec.count,
        expected,
        extra={"target": url, "action": "probe", "outcome": "success"},
    )
    return StepOutcome.passed(f"{spec.count} request(s) answered {expected}")


def api_calls(spec: ProbeHTTPSpec) -> tuple[ApiCall, ...]:
    target = spec.target
    if not isinstance(target, ServiceTarget):
        return ()
    return (ApiCall("get", "services", namespace=target.namespace, name=target.name),)


STEP = StepType(
    key="probeHTTP",
    spec=ProbeHTTPSpec,
    schema=obj(
        {
            "target": TARGET,
            "endpoint": string("path appended to the URL, e.g. /healthz"),
            "method": string("HTTP method", enum=[*METHODS, *(m.upper() for m in METHODS)]),
            "body": string("request body"),
            "headers": array(
                obj({"name": string(minLength=1), "value": string()}, required=["name"]),
                "request headers",
            ),
            "code": number("expected status code", integer=True, minimum=100, maximum=599),
            "count": number("number of requests; every one must succeed", integer=True, minimum=1),
            "retries": number("attempts per request", integer=True, minimum=1),
            "delay": number("milliseconds between attempts", integer=True, minimum=0),
            "timeout": number("milliseconds per request", integer=True, minimum=1),
            "proxy": string("proxy; HTTP(S)_PROXY from the environment are ignored"),
            "insecure": boolean("skip TLS verification", default=False),
            "tolerance": obj(
                {
                    "status": tolerance.schema("status codes allowed (instead of code)"),
                    "body": tolerance.schema("the body allowed, as text"),
                    "latencyMs": tolerance.schema("milliseconds an answer may take"),
                },
                description="what an answer may be (a seal extension)",
            ),
        },
        required=["target"],
        description="check that a URL or service answers",
    ),
    builder=build,
    runner=run,
    description="check that a URL or service answers",
    api_calls=api_calls,
)
