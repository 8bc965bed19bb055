"""Metrics as lines on standard output, one per event."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import Any, TextIO


class StdoutCollector:
    """One line per event, as it happens."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        # Kills run on several threads: each line is written whole, under a lock.
        self._lock = threading.Lock()

    def _say(self, event: str, **fields: Any) -> None:
        details = " ".join(f"{k}={v}" for k, v in fields.items())
        line = f"seal-metric {event} {details}".rstrip() + "\n"
        with self._lock:
            self.stream.write(line)
            self.stream.flush()

    def pod_killed(self, namespace: str, name: str, status: str) -> None:
        self._say("pod_killed", namespace=namespace, name=name, status=status)

    def node_stopped(self, node: str, status: str) -> None:
        self._say("node_stopped", node=node, status=status)

    def execute_failed(self, node: str) -> None:
        self._say("execute_failed", node=node)

    def events_dropped(self, count: int) -> None:
        self._say("events_dropped", count=count)

    def empty_match(self, source: str) -> None:
        self._say("empty_match", source=source)

    def empty_filter(self) -> None:
        self._say("empty_filter")

    def probability_filter_not_passed(self) -> None:
        self._say("probability_filter_not_passed")

    def scenario_finished(self, name: str, result: str, duration: float) -> None:
        self._say("scenario_finished", name=repr(name), result=result, seconds=f"{duration:.3f}")

    def step_finished(self, scenario: str, step: str, result: str, duration: float) -> None:
        self._say(
            "step_finished",
            scenario=repr(scenario),
            step=step,
            result=result,
            seconds=f"{duration:.3f}",
        )

    def probe_finished(self, target: str, outcome: str, latency: float) -> None:
        self._say("probe", target=target, outcome=outcome, seconds=f"{latency:.3f}")

    def load_requests(
        self, scenario: str, successes: Sequence[float], errors: Sequence[float]
    ) -> None:
        """One line per batch of background-load requests (four a second while it runs)."""
        if successes or errors:
            self._say(
                "load_requests",
                scenario=repr(scenario),
                success=len(successes),
                error=len(errors),
            )

    def wait_for_seconds(self, scenario: str, step: str, seconds: float) -> None:
        self._say("wait_for", scenario=repr(scenario), step=repr(step), seconds=f"{seconds:.3f}")

    def recovery_seconds(self, scenario: str, step: str, seconds: float) -> None:
        self._say("recovery", scenario=repr(scenario), step=repr(step), seconds=f"{seconds:.3f}")

    def action_verified(self, result: str) -> None:
        self._say("action_verified", result=result)

    def pending_undos(self, count: int) -> None:
        self._say("pending_undos", count=count)

    def leader(self, is_leader: bool) -> None:
        self._say("leader", leader=int(is_leader))

    def undo_failed(self, kind: str) -> None:
        self._say("undo_failed", kind=kind)

    def policy_reload_failed(self) -> None:
        self._say("policy_reload_failed")

    def scenarios_known(self, names: Sequence[str]) -> None:
        """Nothing to print: runs are printed as they finish."""

    def undo_kinds_known(self, kinds: Sequence[str]) -> None:
        """Nothing to print: failed undos are printed as they happen."""

    def schedule_state(self, open_now: bool, reason: str, next_open: float | None) -> None:
        nxt = {"next_open": f"{next_open:.0f}"} if next_open is not None else {}
        self._say("schedule", open=int(open_now), reason=repr(reason), **nxt)
