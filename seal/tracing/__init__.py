"""Traces of a run: a span per policy loop, scenario, steady-state check, step, cleanup and
action, and the W3C `traceparent` header that carries the current span to the services
seal probes, so that their own traces join the chaos run's.

The interface, the do-nothing tracer and the settings live here and import nothing from
OpenTelemetry: without an endpoint, tracing costs nothing. `seal.tracing.otel` (imported
only when tracing is on) exports over OTLP/HTTP; that is the only I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Protocol

from seal.outcomes import ActionRecord, LoadReport, ReplayReport, ScenarioOutcome, StepOutcome
from seal.tracing.settings import TracingSettings, settings_from

__all__ = [
    "ACTION",
    "CLEANUP",
    "LOOP",
    "NULL_TRACER",
    "SCENARIO",
    "STEADY_STATE",
    "STEP",
    "AttributeValue",
    "NullTracer",
    "Span",
    "Tracer",
    "TracingSettings",
    "current_headers",
    "open_tracer",
    "record_cleanup",
    "record_loop",
    "record_scenario",
    "record_step",
    "settings_from",
    "step_span",
    "with_trace_headers",
]

log = logging.getLogger(__name__)

#: span names (docs/tracing.md lists their attributes)
LOOP, SCENARIO, STEADY_STATE = "seal.loop", "seal.scenario", "seal.steady_state"
STEP, ACTION, CLEANUP = "seal.step", "seal.action", "seal.cleanup"

AttributeValue = str | bool | int | float


class Span(Protocol):
    """One span, open while its `with` block runs."""

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None: ...

    def fail(self, reason: str) -> None:
        """Mark the span as an error (status ERROR), with the reason as its description."""

    def add_action(self, record: ActionRecord) -> None:
        """A child span for an action the step carried out, at the action's time."""


class Tracer(Protocol):
    def span(
        self, name: str, attributes: Mapping[str, AttributeValue]
    ) -> AbstractContextManager[Span]:
        """A span, the current one (so the parent of spans and headers) inside the block."""

    def headers(self) -> dict[str, str]:
        """`traceparent` (and `tracestate`) naming the current span; {} outside any span."""

    def close(self) -> None:
        """Export what is left, within a bounded time, and stop."""


class _NullSpan:
    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None: ...
    def fail(self, reason: str) -> None: ...
    def add_action(self, record: ActionRecord) -> None: ...


_NULL_SPAN = _NullSpan()


class NullTracer:
    """Traces nothing, sends no header."""

    def span(
        self, name: str, attributes: Mapping[str, AttributeValue]
    ) -> AbstractContextManager[Span]:
        return nullcontext(_NULL_SPAN)

    def headers(self) -> dict[str, str]:
        return {}

    def close(self) -> None: ...


NULL_TRACER = NullTracer()


class _Active:
    #: the tracer of the running command (the do-nothing one unless tracing is on)
    tracer: Tracer = NULL_TRACER


def current_headers() -> dict[str, str]:
    """The trace headers to send on a request made for the current span: `traceparent` and
    `tracestate`, or {} when tracing is off. Call it in the thread that runs the scenario
    (the span is a context variable): a background task takes the headers when it starts."""
    return _Active.tracer.headers()


def with_trace_headers(headers: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """`headers` and the current trace headers that they do not set themselves (names
    compared without case): for requests prepared now and sent later, in another thread."""
    own = {name.lower() for name, _ in headers}
    extra = [(k, v) for k, v in current_headers().items() if k.lower() not in own]
    return (*headers, *extra)


@contextmanager
def open_tracer(settings: TracingSettings) -> Iterator[Tracer]:
    """The tracer the settings ask for, the active one until the block ends; then what is
    left is exported (bounded in time). `UsageError` when tracing is asked for and the
    `seal-chaos[tracing]` extra is not installed."""
    if settings.endpoint is None:
        yield NULL_TRACER
        return
    from seal.tracing.otel import OtelTracer, require_sdk

    require_sdk(settings)
    tracer = OtelTracer(settings)
    _Active.tracer = tracer
    log.info("traces exported to %s as service %r", settings.shown_endpoint, settings.service_name)
    try:
        yield tracer
    finally:
        _Active.tracer = NULL_TRACER
        tracer.close()


def step_span(
    tracer: Tracer, scenario: str, index: int, key: str, phase: str = "steps"
) -> AbstractContextManager[Span]:
    """The span of one step (`phase` "steps"), rollback ("rollbacks") or steady-state
    probe ("before", "after")."""
    return tracer.span(
        STEP,
        {
            "seal.scenario.name": scenario,
            "seal.step.index": index,
            "seal.step.key": key,
            "seal.step.phase": phase,
        },
    )


def record_step(span: Span, outcome: StepOutcome) -> None:
    """A step's result on its span, and a child span per action it carried out."""
    attributes: dict[str, AttributeValue] = {
        "seal.step.result": outcome.result,
        "seal.step.targets": outcome.targets,
        "seal.step.actions": len(outcome.actions),
    }
    if outcome.reason:
        attributes["seal.step.reason"] = outcome.reason
    if outcome.seconds is not None:
        attributes["seal.step.seconds"] = outcome.seconds
    if outcome.recovery_seconds is not None:
        attributes["seal.step.recovery_seconds"] = outcome.recovery_seconds
    span.set_attributes(attributes)
    for record in outcome.actions:
        span.add_action(record)
    if outcome.result in ("failed", "interrupted"):
        span.fail(outcome.reason or outcome.result)


def record_cleanup(span: Span, report: ReplayReport) -> None:
    """What carrying out a scenario run's undos came to, on the cleanup's span."""
    span.set_attributes(
        {"seal.cleanup.undone": report.undone, "seal.cleanup.failed": len(report.failed)}
    )
    if report.failed:
        span.fail("; ".join(f"{f.description}: {f.reason}" for f in report.failed))


def record_scenario(span: Span, outcome: ScenarioOutcome) -> None:
    """A scenario run's result on its span."""
    attributes: dict[str, AttributeValue] = {
        "seal.scenario.result": outcome.result,
        "seal.scenario.targets": outcome.targets,
        "seal.scenario.steps": len(outcome.steps),
        "seal.scenario.undone": outcome.cleanup.undone,
        "seal.scenario.undos_failed": len(outcome.cleanup.failed),
    }
    if outcome.reason:
        attributes["seal.scenario.reason"] = outcome.reason
    if outcome.run_id:
        attributes["seal.scenario.run_id"] = outcome.run_id
    if outcome.load is not None:
        attributes.update(_load_attributes(outcome.load))
    span.set_attributes(attributes)
    if outcome.failing or outcome.result == "interrupted":
        span.fail(outcome.reason or outcome.result)


def _load_attributes(load: LoadReport) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {
        "seal.load.target": load.target,
        "seal.load.users": load.users,
        "seal.load.requests": load.requests,
        "seal.load.errors": load.errors,
    }
    for name, value in (("p50", load.p50), ("p95", load.p95), ("p99", load.p99)):
        if value is not None:
            attributes[f"seal.load.{name}_ms"] = value
    return attributes


def record_loop(span: Span, outcomes: Sequence[ScenarioOutcome]) -> None:
    """What the scenario runs of one loop came to, on the loop's span."""
    failing = [o for o in outcomes if o.failing]
    span.set_attributes(
        {
            "seal.loop.scenario_runs": len(outcomes),
            "seal.loop.passed": sum(1 for o in outcomes if o.result == "passed"),
            "seal.loop.failed": len(failing),
        }
    )
    if failing:
        span.fail(f"{len(failing)} scenario run(s) failed: " + ", ".join(o.name for o in failing))
