"""Kubernetes Events off the kill path: recorded through a bounded queue, sent by a
background thread, aggregated when one step touches many pods.

A kill never waits for its Event. Within one step, the first `per_owner` Events of a
reason on the pods of one owner (a ReplicaSet, StatefulSet... or the namespace of bare
pods) are sent one per pod; the rest are folded into one summary Event on the owner,
whose count and message are brought up to date as more come. An Event identical to one
already sent (same object, reason, type and message) raises that Event's `count`
instead of making a new one. Nothing is lost silently: what a full queue or a flush
past its deadline leaves out is counted (`seal_events_dropped_total`) and logged.

Talks to the API server (Event POSTs and PATCHes) from its own thread.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from seal.adapters.event_objects import Involved, involved, owner_of, send_event, timestamp
from seal.clock import Clock, SystemClock
from seal.errors import KubeError, NotFoundError
from seal.log import current_step
from seal.model import Node, Pod

if TYPE_CHECKING:
    from seal.adapters.kube import KubeClient

log = logging.getLogger(__name__)


class DropCounter(Protocol):
    """Where dropped Events are counted (seal's metrics; the adapters do not import them)."""

    def events_dropped(self, count: int) -> None: ...


class _NoCount:
    def events_dropped(self, count: int) -> None:
        """Counted nowhere."""


#: Events waiting to be sent; a record beyond this is dropped (and counted)
QUEUE_SIZE = 1000
#: Events sent one per pod, per step, reason and owner, before the rest are folded
PER_OWNER = 10
#: how long the flush at the end of a scenario (and at exit) may wait for the queue
FLUSH_SECONDS = 5.0
#: how often, at most, a growing summary Event is written while its step goes on
SUMMARY_SECONDS = 1.0
#: Events remembered for counting repeats (the oldest are forgotten first)
SENT_MEMORY = 4096


@dataclass(frozen=True)
class _Single:
    about: Involved
    reason: str
    message: str
    event_type: str


@dataclass
class _Summary:
    """The Event that stands for the folded ones of one step, reason and owner."""

    scenario: str
    owner: Involved
    reason: str
    event_type: str
    folded_as: str
    count: int = 0
    written: int = 0
    name: str = ""
    dirty: bool = field(default=False)

    def message(self) -> str:
        return (
            f"seal scenario {self.scenario!r}: {self.folded_as} {self.count} more pod(s) of "
            f"{self.owner.describe()} (the first {PER_OWNER} have Events of their own)"
        )


class EventRecorder:
    """One per process: the queue, the thread that empties it, and what was sent."""

    def __init__(
        self,
        kube: KubeClient,
        metrics: DropCounter | None = None,
        *,
        clock: Clock | None = None,
        queue_size: int = QUEUE_SIZE,
        per_owner: int = PER_OWNER,
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        self._kube = kube
        self._metrics: DropCounter = metrics or _NoCount()
        #: stamps the Events (their deadlines are real time: a flush is bounded however
        #: the clock of a test moves)
        self._clock: Clock = clock or SystemClock()
        self.per_owner = per_owner
        self.flush_seconds = flush_seconds
        self._queue: queue.Queue[_Single | None] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Condition()
        self._pending = 0  # queued or being sent
        self._flushing = 0  # callers waiting in `flush`
        self._summaries: dict[int, _Summary] = {}  # by id: the ones not written in full
        self._sent: collections.OrderedDict[tuple[Any, ...], tuple[str, int]] = (
            collections.OrderedDict()
        )
        self._thread: threading.Thread | None = None
        self._closed = False
        self.dropped = 0
        self.sent = 0

    def scope(self, scenario: str) -> EventScope:
        """What one scenario run records through (its own counts, one warning on drops)."""
        return EventScope(self, scenario)

    # ------------------------------------------------------------ callers' side
    def enqueue(self, item: _Single, scope: EventScope) -> None:
        """Queue an Event, never waiting; a full queue drops it and counts it."""
        with self._lock:
            if not self._closed:
                self._start()
                try:
                    self._queue.put_nowait(item)
                    self._pending += 1
                    return
                except queue.Full:
                    pass
            self._drop(1, scope)

    def fold(self, summary: _Summary) -> None:
        with self._lock:
            self._summaries.setdefault(id(summary), summary)
            summary.count += 1
            summary.dirty = True
            if self._thread is None:
                self._start()
            if self._flushing:  # a flush waits for it: written now, not at the next tick
                self._wake()

    def _drop(self, count: int, scope: EventScope | None) -> None:
        """Count Events that will not be sent (called holding the lock)."""
        self.dropped += count
        self._metrics.events_dropped(count)
        if scope is not None:
            scope.warn_dropped()

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="seal-events", daemon=True)
            self._thread.start()

    # ------------------------------------------------------------ flushing
    def flush(self, timeout: float | None = None, scope: EventScope | None = None) -> int:
        """Wait until every queued Event and summary is sent, at most `timeout` seconds
        (`flush_seconds` by default); drop and count what is left then. How many were."""
        wait = self.flush_seconds if timeout is None else timeout
        deadline = time.monotonic() + wait
        with self._lock:
            self._flushing += 1  # the thread writes the summaries now, not in a second
            self._wake()
            while self._busy():
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None:
                    break
                self._lock.wait(min(left, 0.1))
            left_over = self._discard()
            if left_over:
                self._drop(left_over, scope)
                log.warning("%d Event(s) not sent within %g s were dropped", left_over, wait)
            self._summaries = {key: s for key, s in self._summaries.items() if s.written != s.count}
            self._flushing -= 1
        return left_over

    def _wake(self) -> None:
        """Have the thread look at the summaries at once rather than at its next idle tick
        (a full queue keeps it busy anyway)."""
        if self._thread is not None:
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(_IDLE)

    def _busy(self) -> bool:
        return self._pending > 0 or any(
            s.dirty or s.written != s.count for s in self._summaries.values()
        )

    def _discard(self) -> int:
        """Empty the queue and forget dirty summaries (holding the lock): their count."""
        count = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None and item is not _IDLE:
                count += 1
                self._pending -= 1
        for summary in self._summaries.values():
            if summary.dirty:
                count += 1
                summary.dirty = False
                summary.written = summary.count
        return count

    def close(self) -> None:
        """Flush (bounded) and stop the thread; later records are dropped and counted."""
        self.flush()
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
        if thread is not None:
            try:
                self._queue.put_nowait(None)
            except queue.Full:  # a send is stuck: the thread is a daemon, leave it
                return
            thread.join(timeout=self.flush_seconds)

    # ------------------------------------------------------------ the thread
    def _run(self) -> None:
        next_summaries = time.monotonic() + SUMMARY_SECONDS
        while True:
            try:  # a flush wakes it at once (`_wake`): no polling in between
                item = self._queue.get(timeout=max(0.0, next_summaries - time.monotonic()))
            except queue.Empty:
                item = _IDLE
            if item is None:
                return
            if item is not _IDLE:
                try:
                    self._send(item)
                except Exception:  # the thread must outlive any one Event
                    log.exception("sending an Event on %s failed", item.about.describe())
                with self._lock:
                    self._pending -= 1
                    self._lock.notify_all()
            flushed = self._flushing and (item is _IDLE or self._queue.empty())
            if flushed or time.monotonic() >= next_summaries:
                self._write_summaries()
                next_summaries = time.monotonic() + SUMMARY_SECONDS

    def _send(self, item: _Single) -> None:
        key = (item.about, item.reason, item.event_type, item.message)
        try:
            seen = self._sent.get(key)
            if seen is not None:
                name, count = seen
                try:
                    self._patch(item.about, name, count + 1, item.message)
                    self._remember(key, name, count + 1)
                    return
                except NotFoundError:  # expired meanwhile: a new one
                    pass
            name = self._post(item.about, item.reason, item.message, item.event_type, 1)
            self._remember(key, name, 1)
        except KubeError as exc:
            log.warning("could not record an Event on %s: %s", item.about.describe(), exc)

    def _remember(self, key: tuple[Any, ...], name: str, count: int) -> None:
        self._sent[key] = (name, count)
        self._sent.move_to_end(key)
        while len(self._sent) > SENT_MEMORY:
            self._sent.popitem(last=False)

    def _write_summaries(self) -> None:
        with self._lock:
            work = [(s, s.count, s.message()) for s in self._summaries.values() if s.dirty]
            for summary, _, _ in work:
                summary.dirty = False
        for summary, count, message in work:
            try:
                if summary.name:
                    self._patch(summary.owner, summary.name, count, message)
                else:
                    summary.name = self._post(
                        summary.owner, summary.reason, message, summary.event_type, count
                    )
            except KubeError as exc:
                log.warning(
                    "could not record the summary Event on %s: %s", summary.owner.describe(), exc
                )
            with self._lock:
                summary.written = count
                if not summary.dirty and summary.count == count:  # a later fold adds it back
                    self._summaries.pop(id(summary), None)
                self._lock.notify_all()

    def _post(self, about: Involved, reason: str, message: str, kind: str, count: int) -> str:
        name = send_event(
            self._kube,
            about,
            reason=reason,
            message=message,
            kind=kind,
            stamp=self._clock.now(),
            count=count,
        )
        self.sent += 1
        return name

    def _patch(self, about: Involved, name: str, count: int, message: str) -> None:
        patch = {"count": count, "message": message, "lastTimestamp": timestamp(self._clock.now())}
        self._kube.request(
            "PATCH",
            f"/api/v1/namespaces/{about.event_namespace}/events/{name}",
            body=patch,
            content_type="application/merge-patch+json",
            idempotent=True,
        )


_IDLE = _Single(Involved("", ""), "", "", "")


class EventScope:
    """The Events of one scenario run: folding counts per step, one warning on drops."""

    def __init__(self, recorder: EventRecorder, scenario: str) -> None:
        self._recorder = recorder
        self.scenario = scenario
        self._counts: dict[tuple[Any, ...], int] = {}
        self._summaries: dict[tuple[Any, ...], _Summary] = {}
        self._lock = threading.Lock()
        self._warned = False

    def record(
        self,
        target: Pod | Node,
        *,
        reason: str,
        message: str,
        event_type: str = "Normal",
        folded_as: str = "",
    ) -> None:
        """Queue an Event on `target`, or fold it into its owner's summary (pods only,
        beyond the first `per_owner` of this step, reason and owner). Never blocks."""
        if isinstance(target, Pod) and folded_as:
            # the owner as the pod has it (plain strings: cheap to hash, once per pod)
            key = (current_step()[1], reason, event_type, folded_as, target.namespace, target.owner)
            summary = None
            with self._lock:
                count = self._counts[key] = self._counts.get(key, 0) + 1
                if count > self._recorder.per_owner:
                    summary = self._summaries.get(key)
                    if summary is None:
                        summary = self._summaries[key] = _Summary(
                            self.scenario, owner_of(target), reason, event_type, folded_as
                        )
            if summary is not None:
                self._recorder.fold(summary)
                return
        self._recorder.enqueue(_Single(involved(target), reason, message, event_type), self)

    def flush(self) -> None:
        """Send what is queued, waiting at most the recorder's flush time."""
        self._recorder.flush(scope=self)

    def warn_dropped(self) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "Events dropped in scenario %r: the queue of %d is full or closed "
                "(seal_events_dropped_total counts them)",
                self.scenario,
                self._recorder._queue.maxsize,
            )
