"""Running podAction: match pods through the API, filter, screen for safety, act."""

from __future__ import annotations

import contextvars
import logging
import re
import threading
from collections.abc import Sequence
from typing import assert_never

from seal.errors import EvictionRefused, KubeError, NotFoundError, StepFailed
from seal.model import Pod
from seal.outcomes import ActionRecord, StepOutcome
from seal.selection.safety import PROTECTED_LABEL, log_left_alone, screen_nodes, screen_pods
from seal.steps import verdicts
from seal.steps.base import StepContext
from seal.steps.machines import cloud_of, stop_machines
from seal.steps.pipeline import WaitAction, apply_filters, describe
from seal.steps.pod_action.spec import (
    CheckPodCountAction,
    CheckPodStateAction,
    DeploymentMatcher,
    KillAction,
    LabelsMatcher,
    NamespaceMatcher,
    PodAction,
    PodActionSpec,
    PodMatcher,
    StopHostAction,
)
from seal.steps.recovery import baseline, pods_on, settle
from seal.steps.verdicts import KillAttempt, StepReport

log = logging.getLogger("seal.steps.pod_action")
EVENT_REASON = "SealChaos"
#: kills sent at once when the step's pool does not say how many it runs
WORKERS = 16


def match_pods(matcher: PodMatcher, ctx: StepContext) -> list[Pod]:
    """One LIST per matcher (paginated)."""
    kube = ctx.kube
    if isinstance(matcher, NamespaceMatcher):
        if matcher.namespace == "*":
            return kube.list_pods(None)
        if matcher.is_pattern:
            pattern = re.compile(matcher.namespace)
            return [p for p in kube.list_pods(None) if pattern.fullmatch(p.namespace)]
        if len(matcher.names) == 1:
            return kube.list_pods(matcher.names[0])
        wanted = set(matcher.names)
        return [p for p in kube.list_pods(None) if p.namespace in wanted]
    if isinstance(matcher, DeploymentMatcher):
        try:
            selector = kube.deployment_selector(matcher.namespace, matcher.name)
        except NotFoundError as exc:
            raise StepFailed(
                f"deployment {matcher.namespace}/{matcher.name} (line {matcher.location.line}) "
                "does not exist"
            ) from exc
        return kube.list_pods(matcher.namespace, label_selector=selector)
    if isinstance(matcher, LabelsMatcher):
        return kube.list_pods(matcher.namespace, label_selector=matcher.selector)
    assert_never(matcher)


def screen(pods: Sequence[Pod], ctx: StepContext) -> list[Pod]:
    """The pods the safety rules allow seal to touch; the others are logged."""
    if not pods:
        return []
    labelled = frozenset(ctx.kube.list_namespaces(label_selector=f"{PROTECTED_LABEL}=true"))
    kept, removed = screen_pods(pods, ctx.safety, labelled)
    log_left_alone(log, removed)
    return kept


def why_empty(matcher: PodMatcher, namespaces: frozenset[str]) -> str:
    """Why a matcher found no pod, as precisely as the namespaces that exist tell."""
    where = f"the matcher at line {matcher.location.line}"
    if isinstance(matcher, NamespaceMatcher):
        if matcher.namespace == "*":
            return f"{where} found no pods: the cluster has none"
        if matcher.is_pattern:
            pattern = re.compile(matcher.namespace)
            if not any(pattern.fullmatch(n) for n in namespaces):
                return f"{where} found no pods: no namespace matches '{matcher.namespace}'"
            return f"{where} found no pods in the namespaces matching '{matcher.namespace}'"
        missing = [n for n in matcher.names if n not in namespaces]
        if missing:
            return f"{where} found no pods: no such namespace: {', '.join(missing)}"
        return f"{where} found no pods: namespace {matcher.namespace} has none"
    if matcher.namespace not in namespaces:
        return f"{where} found no pods: no such namespace: {matcher.namespace}"
    if isinstance(matcher, DeploymentMatcher):
        return (
            f"{where} found no pods: deployment {matcher.namespace}/{matcher.name} has none "
            "matching its selector"
        )
    return (
        f"{where} found no pods: no pod in namespace {matcher.namespace} matches "
        f"'{matcher.selector}'"
    )


def select_pods(spec: PodActionSpec, ctx: StepContext) -> list[Pod]:
    found: dict[str, Pod] = {}
    namespaces: frozenset[str] | None = None
    for matcher in spec.matches:
        pods = match_pods(matcher, ctx)
        if not pods:
            ctx.metrics.empty_match("pod")
            if namespaces is None:
                namespaces = frozenset(ctx.kube.list_namespaces())
            ctx.safety.empty_match(log, why_empty(matcher, namespaces))
        for pod in pods:
            found.setdefault(pod.key, pod)
    return screen(sorted(found.values(), key=lambda p: p.key), ctx)


def run(spec: PodActionSpec, ctx: StepContext) -> StepOutcome:
    pods = select_pods(spec, ctx)
    if not pods:
        log.info("no pods matched; nothing to do", extra={"outcome": "empty-match"})
        return StepOutcome.skipped("no pods matched")
    pods = apply_filters(pods, spec.filters, ctx)
    if not pods:
        return StepOutcome.skipped("no pods left after the filters")
    ctx.safety.check_target_count(len(pods), "pods")
    log.info("%d pod(s) selected: %s", len(pods), describe(pods))
    acted = 0
    report = StepReport()
    for action in spec.actions:
        acted = max(acted, run_action(action, pods, ctx, report))
        if report.failure:  # a recovery too slow: the later actions are not carried out
            break
    return report.outcome(f"{len(pods)} pod(s) selected", acted)


def run_action(
    action: PodAction, pods: list[Pod], ctx: StepContext, report: StepReport | None = None
) -> int:
    """Carry out one action; how many pods it changed. What each kill or stop did, and
    the recovery measured after it, go to `report`."""
    if isinstance(action, KillAction):
        return kill_pods(action, pods, ctx, report)
    if isinstance(action, WaitAction):
        log.info("waiting %gs", action.seconds)
        ctx.clock.sleep(action.seconds)
        return 0
    if isinstance(action, CheckPodStateAction):
        wrong = [p for p in pods if p.state != action.state]
        if wrong:
            raise StepFailed(
                f"checkPodState (line {action.location.line}): "
                f"{len(wrong)} pod(s) not {action.state}: "
                + ", ".join(f"{p.key} is {p.state}" for p in wrong[:10])
            )
        log.info("all %d pod(s) are %s", len(pods), action.state)
        return 0
    if isinstance(action, CheckPodCountAction):
        if len(pods) != action.count:
            raise StepFailed(
                f"checkPodCount (line {action.location.line}): expected "
                f"{action.count} pod(s), found {len(pods)}: {describe(pods)}"
            )
        log.info("pod count is %d, as expected", action.count)
        return 0
    if isinstance(action, StopHostAction):
        return stop_hosts(action, pods, ctx, report)
    assert_never(action)


def stop_hosts(
    action: StopHostAction, pods: list[Pod], ctx: StepContext, report: StepReport | None = None
) -> int:
    """Stop the machine of each node the pods run on (each machine once); the safety
    rules apply to the nodes (seal's own node, `seal/protected`)."""
    cloud_of(ctx, "stopHost", action.location)
    wanted = {p.node_name for p in pods if p.node_name}
    unscheduled = [p.key for p in pods if not p.node_name]
    if unscheduled:
        log.info("pods on no node yet, no machine to stop: %s", ", ".join(unscheduled))
    nodes = [n for n in ctx.kube.list_nodes() if n.name in wanted]
    kept, removed = screen_nodes(nodes, ctx.safety)
    log_left_alone(log, removed)
    ctx.safety.check_target_count(len(kept), "nodes")
    if not kept:
        log.info("stopHost: no node left to stop")
        return 0
    names = [n.name for n in kept]
    within = None if ctx.dry_run else action.recovered_within
    base = None if within is None else baseline(ctx, pods_on(ctx, names), frozenset(names))
    started, records = ctx.clock.monotonic(), list[ActionRecord]()
    try:
        count = stop_machines(
            ctx,
            kept,
            force=False,
            auto_restart=action.auto_restart,
            location=action.location,
            records=records,
        )
    finally:
        (report or StepReport()).add(ctx, records)
    if base is not None and within is not None:
        settle(ctx, base, within, started, ("podAction", "stopHost", action.location), report)
    return count


def _grace(action: KillAction) -> int | None:
    if action.force:
        return 0
    return action.grace_period_seconds  # None: the pod's own grace period


def _choose(action: KillAction, pods: Sequence[Pod], ctx: StepContext) -> list[Pod]:
    chosen = []
    for pod in pods:
        if pod.terminating:
            log.info(
                "%s is already terminating; not killing it twice",
                pod.key,
                extra={"target": pod.key, "action": "kill", "outcome": "skipped"},
            )
            continue
        if action.probability < 1 and ctx.rng.random() >= action.probability:
            log.info(
                "%s spared by kill probability %g",
                pod.key,
                action.probability,
                extra={"target": pod.key, "action": "kill", "outcome": "spared"},
            )
            continue
        chosen.append(pod)
    return chosen


def kill_pods(
    action: KillAction, pods: Sequence[Pod], ctx: StepContext, report: StepReport | None = None
) -> int:
    """Kill (or evict) each pod with the action's probability, in parallel; how many were.

    The public way to kill pods: label mode uses it too. Each kill's verdict comes from
    one LIST per namespace after them all, and goes to `report`, as does the recovery
    measured with `recoveredWithin`. Raises `StepFailed` naming the pods that could not
    be killed, or that a kill the API accepted left in place.
    """
    chosen = _choose(action, pods, ctx)
    how = "evict" if action.evict else "kill"
    grace = _grace(action)
    gathered = StepReport() if report is None else report
    if ctx.dry_run:
        for pod in chosen:
            log.info(
                "dry run: would %s %s (grace period %s)",
                how,
                pod.key,
                grace if grace is not None else "the pod's own",
                extra={"target": pod.key, "action": how, "outcome": "dry-run"},
            )
        gathered.add(ctx, verdicts.dry_run(ctx, how, [pod.key for pod in chosen]))
        return 0
    within = action.recovered_within if chosen else None
    base = None if within is None else baseline(ctx, chosen)
    started = ctx.clock.monotonic()
    attempts = _kill_all(action, chosen, ctx)
    records = verdicts.check_pods_gone(ctx, how, attempts) if attempts else []
    gathered.add(ctx, base.annotate(records) if base is not None else records)
    problems = [f"{a.pod.key}: {a.reason}" for a in attempts if a.outcome in ("refused", "failed")]
    if problems:
        raise StepFailed(
            f"{how} failed for {len(problems)} of {len(chosen)} pod(s): " + "; ".join(problems[:10])
        )
    if missed := verdicts.not_taken(records):
        raise StepFailed(missed)
    if base is not None and within is not None:
        settle(ctx, base, within, started, ("podAction", how, action.location), report)
    return len(chosen)


def _kill_all(action: KillAction, pods: Sequence[Pod], ctx: StepContext) -> list[KillAttempt]:
    """Kill every pod, as many at once as the step's pool runs; what the API answered to
    each, in the pods' order. A few workers take the pods in turn (one task and one copy
    of the log context per worker, not per pod: at 10,000 pods that shows)."""
    attempts: list[KillAttempt | None] = [None] * len(pods)
    todo = iter(enumerate(pods))
    taking = threading.Lock()

    def work() -> None:
        while True:
            with taking:
                item = next(todo, None)
            if item is None:
                return
            attempts[item[0]] = _kill_one(action, item[1], ctx)

    # a ThreadPoolExecutor says how many it runs at once; more workers would only wait
    width = getattr(ctx.pool, "_max_workers", None) or WORKERS
    workers = [
        ctx.pool.submit(contextvars.copy_context().run, work) for _ in range(min(len(pods), width))
    ]
    for worker in workers:
        worker.result()
    return [attempt for attempt in attempts if attempt is not None]


def _kill_one(action: KillAction, pod: Pod, ctx: StepContext) -> KillAttempt:
    """Kill one pod; what the API answered."""
    how = "evict" if action.evict else "kill"
    grace = _grace(action)
    at = ctx.clock.now()
    try:
        if action.evict:
            ctx.kube.evict_pod(pod.namespace, pod.name, grace_period_seconds=grace)
        else:
            ctx.kube.delete_pod(pod.namespace, pod.name, grace_period_seconds=grace, uid=pod.uid)
    except EvictionRefused as exc:
        ctx.metrics.pod_killed(pod.namespace, pod.name, "refused")
        log.warning(
            "eviction of %s refused: %s",
            pod.key,
            exc,
            extra={"target": pod.key, "action": how, "outcome": "refused", "reason": str(exc)},
        )
        _event(ctx, pod, f"{how} refused", f": {exc}", "Warning")
        return KillAttempt(pod, "refused", f"eviction refused: {exc}", at)
    except NotFoundError:
        ctx.metrics.pod_killed(pod.namespace, pod.name, "gone")
        log.info(
            "%s was already gone",
            pod.key,
            extra={"target": pod.key, "action": how, "outcome": "gone"},
        )
        return KillAttempt(pod, "gone", "", at)
    except KubeError as exc:
        ctx.metrics.pod_killed(pod.namespace, pod.name, "failure")
        log.error(
            "could not %s %s: %s",
            how,
            pod.key,
            exc,
            extra={"target": pod.key, "action": how, "outcome": "failure", "reason": str(exc)},
        )
        _event(ctx, pod, f"{how} failed", f": {exc}", "Warning")
        return KillAttempt(pod, "failed", str(exc), at)
    ctx.metrics.pod_killed(pod.namespace, pod.name, "success")
    done, key = "evicted" if action.evict else "killed", pod.key
    period = "default" if grace is None else f"{grace}s"
    _event(ctx, pod, done, f" (grace period {period})")
    log.info(
        "%s %s",
        done,
        key,
        extra={"target": key, "action": how, "outcome": "success", "grace_period": grace},
    )
    return KillAttempt(pod, "ok", "", at)


def _event(ctx: StepContext, pod: Pod, what: str, detail: str, kind: str = "Normal") -> None:
    """A Kubernetes Event on the pod, so that `kubectl describe` shows what seal did; queued,
    never waited for. Beyond the first few of a step on one owner's pods, they are folded
    into one summary Event on the owner ("killed 990 more pod(s) of replicaset ...")."""
    ctx.events.record(
        pod,
        reason=EVENT_REASON,
        event_type=kind,
        message=f"seal scenario {ctx.scenario!r}: {what}{detail}",
        folded_as=what,
    )
