"""What runs beside a scenario's steps: its background load, the watch over the load's
thresholds and the polls of its abortWhen probes, and the abort they may call.

An abort is scoped to one scenario run: the steps see a clock whose waits end with
`ScenarioAborted` once it is called, the undos run with the clock of the process, and
the daemon carries on with the next scenario. Sends HTTP requests; starts threads.
"""

from __future__ import annotations

import contextvars
import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from seal.clock import Clock
from seal.errors import (
    KubeError,
    NotFoundError,
    ScenarioAborted,
    SealError,
    ShutdownRequested,
    StepFailed,
)
from seal.log import log_context
from seal.outcomes import LoadReport, ScenarioOutcome, StepOutcome
from seal.policy.background import BackgroundLoad
from seal.policy.model import ScenarioSpec
from seal.steps.base import ApiCall, StepContext, StepType
from seal.tracing import with_trace_headers

if TYPE_CHECKING:  # asyncio and aiohttp only for a scenario with background load
    from seal.load.generator import LoadGenerator

log = logging.getLogger(__name__)

#: how often the load's window is judged and its requests counted in the metrics
TICK_SECONDS = 0.25
#: the longest an abortable wait sleeps before it looks at the process's shutdown again
_SLICE_SECONDS = 0.1


class AbortSignal:
    """Called once, with the reason; armed only while the steps run."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._armed = False
        self.reason: str | None = None

    def arm(self, armed: bool = True) -> None:
        with self._lock:
            self._armed = armed

    def trigger(self, reason: str) -> bool:
        """Abort (the first reason wins); False when not armed or aborted already."""
        with self._lock:
            if not self._armed or self.reason is not None:
                return False
            self.reason = reason
        self._event.set()
        return True

    def check(self) -> None:
        if self.reason is not None:
            raise ScenarioAborted(self.reason)

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)


class AbortableClock:
    """The process's clock, whose interruptible waits also end when `signal` is called."""

    def __init__(self, base: Clock, signal: AbortSignal) -> None:
        self.base = base
        self.signal = signal

    def now(self) -> float:
        return self.base.now()

    def monotonic(self) -> float:
        return self.base.monotonic()

    def local_now(self) -> dt.datetime:
        return self.base.local_now()

    def check(self) -> None:
        self.signal.check()
        self.base.check()

    def sleep(self, seconds: float, *, interruptible: bool = True) -> None:
        if not interruptible:
            self.base.sleep(seconds, interruptible=False)
            return
        deadline = time.monotonic() + max(0.0, seconds)
        while True:
            self.check()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            # the process's shutdown is looked at between slices; the abort at once
            self.signal.wait(min(left, _SLICE_SECONDS))


def load_url(load: BackgroundLoad, ctx: StepContext) -> str:
    """The URL the load is sent to: its own, or its Service's cluster IP, port and path."""
    service = load.service
    if service is None:
        return load.url or ""
    where = f"{service.namespace}/{service.name}"
    try:
        info = ctx.kube.get_service(service.namespace, service.name)
    except NotFoundError as exc:
        raise StepFailed(f"background load: service {where} does not exist") from exc
    except KubeError as exc:
        raise StepFailed(f"background load: cannot read service {where}: {exc}") from exc
    if not info.cluster_ip or info.cluster_ip == "None":
        raise StepFailed(f"background load: service {where} has no cluster IP")
    return f"{service.protocol}://{info.cluster_ip}:{service.port}{service.path}"


def background_calls(scenario: ScenarioSpec) -> tuple[ApiCall, ...]:
    """The API calls the scenario's background load makes (to find its Service)."""
    service = scenario.background.service if scenario.background is not None else None
    if service is None:
        return ()
    return (ApiCall("get", "services", namespace=service.namespace, name=service.name),)


class ScenarioGuard:
    """Starts the background load and the watches beside the steps, aborts the scenario
    when users are hurt more than it allows, and stops it all at the end."""

    def __init__(
        self, scenario: ScenarioSpec, ctx: StepContext, step_types: Mapping[str, StepType[Any]]
    ) -> None:
        self.scenario = scenario
        self.signal = AbortSignal()
        self._ctx = ctx
        self._step_types = step_types
        self._stopping = AbortSignal()
        self._stopping.arm()
        #: called when the steps are over: the abortWhen probes are polled no more
        self._steps_over = AbortSignal()
        self._steps_over.arm()
        self._generator: LoadGenerator | None = None
        self._threads: list[threading.Thread] = []
        #: the steps' context: its clock's waits end when the scenario is aborted
        self.context = dataclasses.replace(ctx, clock=AbortableClock(ctx.clock, self.signal))

    def start(self) -> None:
        """Start the load and the watches (nothing without background or abortWhen);
        `StepFailed` when the load's Service cannot be found."""
        self.signal.arm()  # before the watches start: their first finding counts
        load = self.scenario.background
        if load is not None:
            from seal.load.generator import LoadGenerator, LoadRequest

            url = load_url(load, self._ctx)
            headers = with_trace_headers(load.headers)  # the load joins the scenario's trace
            request = LoadRequest(load.method, url, headers, load.body, load.timeout_ms / 1000)
            keep = load.thresholds.window_seconds
            self._generator = LoadGenerator(request, load.users, load.rate, keep_seconds=keep)
            self._ctx.metrics.load_requests(self.scenario.name, (), ())
            self._generator.start()
            log.info(
                "background load: %d user(s), %g request(s)/s in total, to %s",
                load.users,
                load.rate,
                url,
            )
            self._spawn("seal-load-watch", self._watch_load)
        if self.scenario.abort_when:
            self._spawn("seal-abort-when", self._poll_probes)

    def _spawn(self, name: str, target: Any) -> None:
        # the scenario's context goes along: its trace span is the abortWhen probes' parent
        context = contextvars.copy_context()
        thread = threading.Thread(target=context.run, args=(target,), name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def disarm(self) -> None:
        """The steps are over: nothing aborts the scenario from now on, and the abortWhen
        probes are polled no more (a probe already sending its request may finish)."""
        self.signal.arm(False)
        self._steps_over.trigger("the steps are over")

    def _abort(self, reason: str) -> None:
        if self.signal.trigger(reason):
            log.error("scenario aborted: %s", reason, extra={"outcome": "aborted"})

    def _watch_load(self) -> None:
        generator, load = self._generator, self.scenario.background
        assert generator is not None and load is not None
        from seal.load.stats import breach

        with log_context(scenario=self.scenario.name, step="background"):
            while not self._stopping.wait(TICK_SECONDS):
                self._publish()
                if self.signal.reason is not None:
                    continue  # aborted: counted still, judged no more
                window = generator.stats.window(time.monotonic(), load.thresholds.window_seconds)
                reason = breach(load.thresholds, window)
                if reason is not None:
                    self._abort(reason)

    def _publish(self) -> None:
        if self._generator is not None:
            successes, errors = self._generator.stats.drain()
            if successes or errors:
                self._ctx.metrics.load_requests(self.scenario.name, successes, errors)

    def _poll_probes(self) -> None:
        over = self._steps_over
        ctx = dataclasses.replace(self._ctx, clock=AbortableClock(self._ctx.clock, over))
        with log_context(scenario=self.scenario.name, step="abortWhen"):
            try:
                # aborted, or the steps are over: nothing more to watch for
                while self.signal.reason is None and over.reason is None:
                    self._poll_once(ctx)
                    ctx.clock.sleep(self.scenario.abort_check_seconds)
            except ShutdownRequested:
                return  # the steps are over (or the process stops): no more polls

    def _poll_once(self, ctx: StepContext) -> None:
        for index, probe in enumerate(self.scenario.abort_when, 1):
            if self._steps_over.reason is not None:
                return  # the steps ended during this poll: its next probes are not sent
            try:
                outcome = self._step_types[probe.key].run(probe, ctx)
            except SealError as exc:
                outcome = StepOutcome.failed(str(exc))
            if not outcome.ok:
                self._abort(f"abortWhen probe {index} ({probe.key}) failed: {outcome.reason}")
                return

    def stop(self) -> LoadReport | None:
        """Stop the watches and the load; what the load measured (None without one)."""
        self.disarm()
        self._stopping.trigger("the scenario is over")
        for thread in self._threads:
            thread.join(30)
        if self._generator is None:
            return None
        report = self._generator.stop()
        self._publish()
        log.info(
            "background load: %d request(s) in %.1fs (%.1f/s), %d error(s), p99 %s ms",
            report.requests,
            report.duration,
            report.achieved_rate,
            report.errors,
            "-" if report.p99 is None else f"{report.p99:g}",
        )
        return report

    def conclude(self, outcome: ScenarioOutcome, load: LoadReport | None) -> ScenarioOutcome:
        """The outcome with the load's report, and `aborted` with its reason when it was."""
        if self.signal.reason is not None and not self._shutting_down():
            reason = self.signal.reason
            if not outcome.cleanup.ok:
                reason += f"; {len(outcome.cleanup.failed)} undo(s) failed"
            outcome = dataclasses.replace(outcome, result="aborted", reason=reason)
        return dataclasses.replace(outcome, load=load) if load is not None else outcome

    def _shutting_down(self) -> bool:
        """True when the process is shutting down: the run stops, `interrupted` stays."""
        try:
            self._ctx.clock.check()
        except ShutdownRequested:
            return True
        return False
