"""A scenario's background load (`background:`) and its abort conditions (`abortWhen:`,
`abortCheckSeconds:`): their schema fragments, specs and builders. No I/O.
"""

from __future__ import annotations

from seal.frozen import frozen
from seal.policy.docnode import DocNode
from seal.policy.problems import Location
from seal.policy.schema import Schema, array, number, obj, string

METHODS = ("get", "post", "put", "patch", "delete", "head")
#: how often abortWhen probes are polled when the scenario does not say
DEFAULT_ABORT_CHECK_SECONDS = 5.0


@frozen
class LoadService:
    """A Service the load is sent to, on its cluster IP (resolved as probeHTTP does)."""

    namespace: str
    name: str
    port: int = 80
    protocol: str = "http"
    path: str = "/"


@frozen
class LoadThresholds:
    """Limits on what users may suffer, checked continuously over a sliding window of the
    last `window_seconds`; a window with fewer than `min_requests` answers is not judged."""

    max_error_rate: float | None = None
    max_latency_ms: float | None = None
    percentile: float = 99.0
    window_seconds: float = 10.0
    min_requests: int = 20


@frozen
class BackgroundLoad:
    """`background:`: `users` simulated users sending `rate` requests per second in total,
    for the whole scenario, to a URL or a Service."""

    users: int
    rate: float
    url: str | None
    service: LoadService | None
    location: Location
    method: str = "get"
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None
    timeout_ms: int = 1000
    thresholds: LoadThresholds = LoadThresholds()


BACKGROUND_SCHEMA: Schema = obj(
    {
        "users": number(
            "simulated users, each sending one request at a time",
            integer=True,
            minimum=1,
            maximum=10000,
            default=1,
        ),
        "rate": number(
            "requests per second, all users together", exclusiveMinimum=0, maximum=100000
        ),
        "ratePerUser": number(
            "requests per second of each user (instead of rate)", exclusiveMinimum=0, maximum=100000
        ),
        "url": string("the URL to send requests to (or service)", minLength=1),
        "service": obj(
            {
                "namespace": string(minLength=1),
                "name": string(minLength=1),
                "port": number(integer=True, minimum=1, maximum=65535, default=80),
                "protocol": string(enum=["http", "https"], default="http"),
                "path": string("the path requested, e.g. /api", default="/"),
            },
            required=["namespace", "name"],
            description="a Service, called on its cluster IP (or url)",
        ),
        "method": string("HTTP method", enum=[*METHODS, *(m.upper() for m in METHODS)]),
        "headers": array(
            obj({"name": string(minLength=1), "value": string()}, required=["name"]),
            "request headers",
        ),
        "body": string("request body"),
        "timeoutMs": number(
            "milliseconds a request may take before it counts as an error",
            integer=True,
            minimum=1,
            maximum=600000,
            default=1000,
        ),
        "thresholds": obj(
            {
                "maxErrorRate": number(
                    "errors / requests allowed in the window (0..1)", minimum=0, maximum=1
                ),
                "maxLatencyMs": number(
                    "latency allowed at the percentile, in milliseconds", exclusiveMinimum=0
                ),
                "percentile": number(
                    "the latency percentile checked", exclusiveMinimum=0, maximum=100, default=99
                ),
                "windowSeconds": number(
                    "the sliding window thresholds are checked over",
                    minimum=1,
                    maximum=3600,
                    default=10,
                ),
                "minRequests": number(
                    "fewer answers in the window are not judged",
                    integer=True,
                    minimum=1,
                    default=20,
                ),
            },
            description="breaching one aborts the scenario: steps stop, undos run",
        ),
    },
    description="simulated users sending requests for the whole scenario, while the steps "
    "run; a seal extension",
)

ABORT_CHECK_SCHEMA: Schema = number(
    "seconds between two polls of the abortWhen probes",
    exclusiveMinimum=0,
    maximum=3600,
    default=DEFAULT_ABORT_CHECK_SECONDS,
)


def abort_when_schema(probe: Schema) -> Schema:
    return array(
        probe,
        "probes polled every abortCheckSeconds while the steps run; one failing aborts the "
        "scenario (steps stop, undos run); a seal extension",
        minItems=1,
    )


def build_background(scenario: DocNode) -> BackgroundLoad | None:
    """The scenario's background load, or None when it has none (or it is not valid)."""
    node = scenario.child("background")
    if not isinstance(node.value, dict):
        return None
    users = int(node.get("users", 1))
    if node.has("rate") and node.has("ratePerUser"):
        node.child("ratePerUser").problem("give rate (all users together) or ratePerUser, not both")
    rate = float(node.get("rate", float(node.get("ratePerUser", 1)) * users))
    url, service = node.get("url"), _service(node.child("service"))
    if (url is None) == (service is None) and node.accepted:
        node.problem("background needs exactly one of url and service")
    if url is not None and not str(url).startswith(("http://", "https://")):
        node.child("url").problem(f"'{url}' is not an http:// or https:// URL")
    return BackgroundLoad(
        users=users,
        rate=rate,
        url=None if url is None else str(url),
        service=service,
        location=node.location,
        method=str(node.get("method", "get")).lower(),
        headers=tuple(
            (str(h.get("name")), str(h.get("value", ""))) for h in node.children("headers")
        ),
        body=None if node.get("body") is None else str(node.get("body")),
        timeout_ms=int(node.get("timeoutMs", 1000)),
        thresholds=_thresholds(node.child("thresholds")),
    )


def _service(node: DocNode) -> LoadService | None:
    if not isinstance(node.value, dict) or not node.accepted:
        return None
    path = str(node.get("path", "/"))
    return LoadService(
        str(node.get("namespace")),
        str(node.get("name")),
        int(node.get("port", 80)),
        str(node.get("protocol", "http")),
        path if path.startswith("/") else "/" + path,
    )


def _thresholds(node: DocNode) -> LoadThresholds:
    def maybe(key: str) -> float | None:
        value = node.get(key)
        return None if value is None else float(value)

    return LoadThresholds(
        max_error_rate=maybe("maxErrorRate"),
        max_latency_ms=maybe("maxLatencyMs"),
        percentile=float(node.get("percentile", 99)),
        window_seconds=float(node.get("windowSeconds", 10)),
        min_requests=int(node.get("minRequests", 20)),
    )
