"""The tracer when tracing is on: OpenTelemetry's SDK, spans exported over OTLP/HTTP in
batches by a background thread, W3C trace-context headers for outgoing requests.

Imported only when tracing is asked for; sends spans to the configured endpoint.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING

from seal import __version__
from seal.errors import UsageError
from seal.outcomes import ActionRecord
from seal.tracing import ACTION, AttributeValue, Span
from seal.tracing.settings import TracingSettings

if TYPE_CHECKING:
    from opentelemetry.trace import Span as OtelSpanType

log = logging.getLogger(__name__)

#: the modules of the `seal-chaos[tracing]` extra
SDK_MODULES = ("opentelemetry.sdk.trace", "opentelemetry.exporter.otlp.proto.http.trace_exporter")
#: one export request's time limit, and the bound on exporting what is left at exit
EXPORT_SECONDS = 5.0
FLUSH_SECONDS = 6.0


def require_sdk(settings: TracingSettings) -> None:
    """`UsageError` saying what to install when OpenTelemetry's SDK or exporter is missing."""
    for module in SDK_MODULES:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise UsageError(
                f"tracing to {settings.shown_endpoint} needs OpenTelemetry, which is not installed "
                f"({exc.name or module} is missing): pip install 'seal-chaos[tracing]', or "
                "leave out --otlp-endpoint and the OTEL_EXPORTER_OTLP_* variables"
            ) from exc


def _route_sdk_logs() -> None:
    """The SDK's own warnings (a collector that does not answer) go where seal's log lines
    go, in seal's format, rather than raw to standard error."""
    sdk = logging.getLogger("opentelemetry")
    seal_handlers = logging.getLogger("seal").handlers
    if not seal_handlers:
        return
    for handler in seal_handlers:
        if handler not in sdk.handlers:
            sdk.addHandler(handler)
    sdk.setLevel(logging.WARNING)
    sdk.propagate = False


class OtelSpan:
    """A seal span over an OpenTelemetry span."""

    def __init__(self, span: OtelSpanType, tracer: OtelTracer) -> None:
        self._span = span
        self._tracer = tracer

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        self._span.set_attributes(attributes)

    def fail(self, reason: str) -> None:
        from opentelemetry.trace import Status, StatusCode

        self._span.set_status(Status(StatusCode.ERROR, reason))

    def add_action(self, record: ActionRecord) -> None:
        self._tracer.action_span(self._span, record)


class OtelTracer:
    """Spans of one seal process, exported to one OTLP/HTTP endpoint."""

    def __init__(self, settings: TracingSettings) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        resource = Resource.create(
            {"service.name": settings.service_name, "service.version": __version__}
        )
        self._provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        exporter = OTLPSpanExporter(
            endpoint=settings.endpoint, headers=dict(settings.headers), timeout=EXPORT_SECONDS
        )
        self._provider.add_span_processor(BatchSpanProcessor(exporter))
        self._tracer = self._provider.get_tracer("seal", __version__)
        self._propagator = TraceContextTextMapPropagator()
        self._endpoint = settings.shown_endpoint
        _route_sdk_logs()

    def span(
        self, name: str, attributes: Mapping[str, AttributeValue]
    ) -> AbstractContextManager[Span]:
        return self._span(name, attributes)

    @contextmanager
    def _span(self, name: str, attributes: Mapping[str, AttributeValue]) -> Iterator[Span]:
        with self._tracer.start_as_current_span(name, attributes=attributes) as span:
            yield OtelSpan(span, self)

    def action_span(self, parent: OtelSpanType, record: ActionRecord) -> None:
        """A span of no duration at the action's time, a child of its step's span."""
        from opentelemetry.trace import Status, StatusCode, set_span_in_context

        at = int(record.at * 1e9) if record.at > 0 else time.time_ns()
        attributes: dict[str, AttributeValue] = {
            "seal.action.name": record.action,
            "seal.action.target": record.target,
            "seal.action.outcome": record.outcome,
            "seal.action.verdict": record.verdict,
        }
        if record.reason:
            attributes["seal.action.reason"] = record.reason
        span = self._tracer.start_span(
            ACTION, set_span_in_context(parent), attributes=attributes, start_time=at
        )
        if record.outcome == "failed":
            span.set_status(Status(StatusCode.ERROR, record.reason or "failed"))
        span.end(end_time=at)

    def headers(self) -> dict[str, str]:
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier)
        return carrier

    def close(self) -> None:
        """Export the spans still queued, waiting at most `FLUSH_SECONDS` (an unreachable
        collector must not hold up the exit, nor the undos before it)."""
        flush = threading.Thread(
            target=self._provider.shutdown, name="seal-trace-flush", daemon=True
        )
        flush.start()
        flush.join(FLUSH_SECONDS)
        if flush.is_alive():
            log.warning(
                "spans not all exported to %s within %.0fs; carrying on without them",
                self._endpoint,
                FLUSH_SECONDS,
            )
