"""Verdicts: what the evidence says of each action's effect, and a step's record of them.

Every action a step carries out on a target becomes an `ActionRecord` with a verdict:
`verified` (its effect was seen), `not-verified` (it was seen not to have happened) or
`unverified` (it could not be seen: a dry run, a read that failed). Each verdict is
counted in `seal_action_verified_total{result}`.

Kills and evictions are checked with one LIST of each namespace's pods after all of
them, read in parallel in the step's pool (never a request per pod): a pod that is
gone, that has another uid (replaced under the same name), or that is Terminating (its
deletion accepted, the kubelet stopping it within its grace period) is verified; a pod
still there with the same uid and not terminating is not-verified. I/O only through the
step's context.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from seal.errors import KubeError
from seal.model import Pod
from seal.outcomes import ActionRecord, StepOutcome, StepResult, Verdict
from seal.steps.base import StepContext

log = logging.getLogger("seal.steps.verdicts")

VERDICTS: tuple[Verdict, ...] = ("verified", "not-verified", "unverified")


@dataclass(frozen=True)
class KillAttempt:
    """One pod a kill or eviction was sent for: what the API answered, and when."""

    pod: Pod
    #: "ok", "gone" (404: already deleted), "refused" (eviction), "failed"
    outcome: str
    reason: str
    at: float


@dataclass
class StepReport:
    """What a step's actions did, gathered as they run (from the step's own thread)."""

    records: list[ActionRecord] = field(default_factory=list)
    #: the longest recovery measured, in seconds
    recovery: float | None = None
    #: why the step fails although every action was carried out (a recovery too slow)
    failure: str = ""
    notes: list[str] = field(default_factory=list)

    def add(self, ctx: StepContext, records: Iterable[ActionRecord]) -> None:
        """Keep the records, and count each verdict."""
        for record in records:
            self.records.append(record)
            ctx.metrics.action_verified(record.verdict)

    def recovered(self, seconds: float) -> None:
        self.recovery = seconds if self.recovery is None else max(self.recovery, seconds)

    def outcome(self, reason: str, targets: int) -> StepOutcome:
        """The step's outcome: passed with `reason`, or failed with `failure`; the notes
        (what could not be measured) are added to the reason either way."""
        result: StepResult = "failed" if self.failure else "passed"
        text = self.failure or reason
        if self.notes:
            text += "; " + "; ".join(self.notes)
        return StepOutcome(
            result, text, targets, actions=tuple(self.records), recovery_seconds=self.recovery
        )


def dry_run(ctx: StepContext, action: str, targets: Sequence[str]) -> list[ActionRecord]:
    """Records of actions a dry run did not carry out: their effect is unverified."""
    at = ctx.clock.now()
    return [
        ActionRecord(action, target, "dry-run", "dry run: not carried out", "unverified", at)
        for target in targets
    ]


def _namespace_pods(ctx: StepContext, namespaces: Sequence[str]) -> dict[str, dict[str, Pod] | str]:
    """Each namespace's pods by name (one LIST each, in parallel), or why it was not read."""
    futures: list[tuple[str, Future[list[Pod]]]] = [
        (ns, ctx.pool.submit(contextvars.copy_context().run, ctx.kube.list_pods, ns))
        for ns in namespaces
    ]
    found: dict[str, dict[str, Pod] | str] = {}
    for namespace, future in futures:
        try:
            found[namespace] = {pod.name: pod for pod in future.result()}
        except KubeError as exc:
            found[namespace] = f"could not list the pods of {namespace} to check: {exc}"
    return found


def _pod_verdict(attempt: KillAttempt, now: Pod | None) -> tuple[Verdict, str]:
    pod = attempt.pod
    if now is None:
        return "verified", "the pod is gone"
    if pod.uid and now.uid and now.uid != pod.uid:
        return "verified", f"the pod was replaced (uid {now.uid})"
    if now.terminating:
        return "verified", "the pod is terminating (deletionTimestamp set)"
    why = f"the pod is still {now.state} with the same uid"
    return "not-verified", why + (f" ({attempt.reason})" if attempt.reason else "")


def check_pods_gone(
    ctx: StepContext, action: str, attempts: Sequence[KillAttempt]
) -> list[ActionRecord]:
    """The verdict of each kill or eviction, from one LIST per namespace after all of them."""
    pods = _namespace_pods(ctx, sorted({a.pod.namespace for a in attempts}))
    records = []
    for attempt in attempts:
        listed = pods[attempt.pod.namespace]
        verdict: Verdict
        if isinstance(listed, str):
            verdict, why = "unverified", listed
        else:
            verdict, why = _pod_verdict(attempt, listed.get(attempt.pod.name))
        reason = (
            why
            if attempt.outcome in ("ok", "gone") or not attempt.reason
            else (f"{attempt.reason}; {why}")
        )
        outcome = "ok" if attempt.outcome in ("ok", "gone") else "failed"
        records.append(ActionRecord(action, attempt.pod.key, outcome, reason, verdict, attempt.at))
        if verdict != "verified":
            log.warning(
                "%s of %s: %s",
                action,
                attempt.pod.key,
                reason,
                extra={"target": attempt.pod.key, "action": action, "verdict": verdict},
            )
    return records


def not_taken(records: Sequence[ActionRecord]) -> str:
    """What a failure says of the records whose action was seen not to have happened (an
    ok answer only: a refused or failed one is reported as such), or ""."""
    missed = [r for r in records if r.verdict == "not-verified" and r.outcome == "ok"]
    if not missed:
        return ""
    return (
        f"{missed[0].action} did not take for {len(missed)} of {len(records)} pod(s): "
        + "; ".join(f"{r.target}: {r.reason}" for r in missed[:10])
    )
