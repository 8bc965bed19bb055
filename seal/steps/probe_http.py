"""The `probeHTTP` step: check that a URL or a service still answers as expected."""

from __future__ import annotations

from typing import ClassVar

from seal.frozen import frozen
from seal.policy.build import Node
from seal.policy.problems import Location
from seal.policy.schema import array, boolean, number, obj, one_key, string
from seal.steps.base import StepType

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


def _check_url(node: Node, url: str) -> None:
    if not url.startswith(("http://", "https://")):
        node.problem(f"'{url}' is not an http:// or https:// URL")


def build(node: Node) -> ProbeHTTPSpec:
    kind, target_node = node.child("target").only_key()
    target: UrlTarget | ServiceTarget
    if kind == "url":
        target = UrlTarget(str(target_node.value))
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
    )


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

STEP = StepType(
    key="probeHTTP",
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
        },
        required=["target"],
        description="check that a URL or service answers",
    ),
    build=build,
    runner="seal.steps.run_basic:run_probe",
)
