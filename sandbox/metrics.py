"""What the sandbox's API server served, counted as the Kubernetes API server counts it:
`apiserver_request_total` and the `apiserver_request_duration_seconds` histogram, with the
API server's metric names, labels, verbs and buckets, rendered in Prometheus's text format.

Counting is one dict update and one bucket increment under a lock per request, so it stays
on for every sandbox. No I/O.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from typing import NamedTuple

#: the API server's request latency buckets, in seconds
BUCKETS: tuple[float, ...] = (
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5,
    2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60,
)  # fmt: skip
#: the first path segments of the requests that are not for a resource (discovery, health)
NON_RESOURCE_ROOTS = frozenset(
    ("api", "apis", "openapi", "version", "healthz", "readyz", "livez", "metrics")
)
#: the code counted for a request whose connection was dropped before any answer
NO_ANSWER = 0
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class RequestLabels(NamedTuple):
    """One kind of request, labelled as the API server labels it: `verb` is GET, LIST,
    WATCH, POST, PUT, PATCH, APPLY, DELETE or DELETECOLLECTION for a resource request;
    `scope` is resource (one named object), namespace or cluster. A tuple: cheap to make
    and to hash, once per request."""

    verb: str
    dry_run: str = ""
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    scope: str = ""


def resource_verb(method: str, named: bool, watch: bool, apply: bool) -> str:
    """The verb the API server reports for a `method` request on one object (`named`) or
    on a collection; `watch` when the query asked for a watch, `apply` for a server-side
    apply patch."""
    if method == "GET":
        if named:
            return "GET"
        return "WATCH" if watch else "LIST"
    if method == "DELETE" and not named:
        return "DELETECOLLECTION"
    if method == "PATCH" and apply:
        return "APPLY"
    return method


def non_resource_labels(method: str, path: str) -> RequestLabels:
    """A request for no resource (discovery, health, OpenAPI, or a path the server does not
    know): labelled by its method and the first segment of its path, so that unknown paths
    cannot grow the set of series without bound."""
    root = path.lstrip("/").split("/", 1)[0]
    where = f"/{root}" if root in NON_RESOURCE_ROOTS else "other"
    return RequestLabels(verb=method, subresource=where)


_LABELS = RequestLabels._fields


class _Histogram:
    __slots__ = ("buckets", "count", "total")

    def __init__(self) -> None:
        self.buckets = [0] * len(BUCKETS)  # per bucket, not cumulative (summed when shown)
        self.count = 0
        self.total = 0.0


class RequestMetrics:
    """Request counts by labels and answer code, and latency histograms by labels. Safe to
    update and read from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[RequestLabels, int], int] = {}
        self._durations: dict[RequestLabels, _Histogram] = {}

    def observe(self, labels: RequestLabels, code: int, seconds: float) -> None:
        """Count one request answered with `code` (NO_ANSWER if it never was), which took
        `seconds`."""
        index = bisect_left(BUCKETS, seconds)
        with self._lock:
            key = (labels, code)
            self._counts[key] = self._counts.get(key, 0) + 1
            histogram = self._durations.get(labels)
            if histogram is None:
                histogram = self._durations[labels] = _Histogram()
            if index < len(BUCKETS):
                histogram.buckets[index] += 1
            histogram.count += 1
            histogram.total += seconds

    def total(self, verb: str | None = None, resource: str | None = None) -> int:
        """How many requests were counted, of one verb and resource if given."""
        with self._lock:
            return sum(
                n
                for (labels, _), n in self._counts.items()
                if (verb is None or labels.verb == verb)
                and (resource is None or labels.resource == resource)
            )

    def render(self) -> str:
        """Both metrics in Prometheus's text exposition format (version 0.0.4)."""
        with self._lock:
            counts = sorted(self._counts.items())
            durations = sorted(
                (labels, list(h.buckets), h.count, h.total) for labels, h in self._durations.items()
            )
        lines = [
            "# HELP apiserver_request_total Counter of apiserver requests broken out for each "
            "verb, dry run value, group, version, resource, scope, component, and HTTP "
            "response code.",
            "# TYPE apiserver_request_total counter",
        ]
        for (labels, code), n in counts:
            lines.append(f'apiserver_request_total{{{_text(labels)},code="{code}"}} {n}')
        lines += [
            "# HELP apiserver_request_duration_seconds Response latency distribution in seconds "
            "for each verb, dry run value, group, version, resource, subresource, scope and "
            "component.",
            "# TYPE apiserver_request_duration_seconds histogram",
        ]
        for labels, buckets, count, total in durations:
            lines += _histogram_lines(labels, buckets, count, total)
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _text(labels: RequestLabels) -> str:
    pairs = [f'{name}="{_escape(value)}"' for name, value in zip(_LABELS, labels, strict=True)]
    return ",".join([*pairs, 'component="apiserver"'])


def _histogram_lines(
    labels: RequestLabels, buckets: list[int], count: int, total: float
) -> list[str]:
    text = _text(labels)
    name = "apiserver_request_duration_seconds"
    lines = []
    running = 0
    for bound, n in zip(BUCKETS, buckets, strict=True):
        running += n
        lines.append(f'{name}_bucket{{{text},le="{bound:g}"}} {running}')
    lines.append(f'{name}_bucket{{{text},le="+Inf"}} {count}')
    lines.append(f"{name}_sum{{{text}}} {total!r}")
    lines.append(f"{name}_count{{{text}}} {count}")
    return lines
