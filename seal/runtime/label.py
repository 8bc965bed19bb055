"""Label mode: kill the pods that opted in through `seal/...` labels or annotations.

Talks to the cluster through the services' client; sleeps between runs.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from seal.errors import SafetyError, ShutdownRequested
from seal.log import log_context
from seal.model import Pod
from seal.policy.problems import Location
from seal.runtime.scenario import ScenarioUndo
from seal.runtime.services import Services
from seal.selection.filters import DAY_NAMES
from seal.selection.safety import PROTECTED_LABEL, SafetyRules, log_left_alone, screen_pods
from seal.steps.base import ApiCall, StepContext
from seal.steps.pod_action import KillAction, kill_pods

log = logging.getLogger(__name__)
PREFIX = "seal/"
DEFAULTS = {
    "enabled": "false",
    "force-kill": "false",
    "kill-probability": "1",
    "days": "mon,tue,wed,thu,fri",
    "start-time": "10-00-00",
    "end-time": "17-30-00",
}
_SHORT_DAYS = {name[:3]: name for name in DAY_NAMES}


@dataclass(frozen=True)
class PodSettings:
    enabled: bool
    force: bool
    probability: float
    days: frozenset[str]
    start: dt.time
    end: dt.time


def _setting(pod: Pod, key: str) -> str:
    """A label wins over an annotation of the same key."""
    name = PREFIX + key
    return pod.labels.get(name) or pod.annotations.get(name) or DEFAULTS[key]


def _time(text: str) -> dt.time:
    hours, minutes, seconds = (int(part) for part in text.strip().split("-"))
    return dt.time(hours, minutes, seconds)


def settings(pod: Pod) -> PodSettings:
    """The pod's settings; `ValueError` naming the bad one when a value can't be read."""
    days = set()
    for raw in _setting(pod, "days").replace(" ", "").split(","):
        day = _SHORT_DAYS.get(raw.lower()[:3])
        if day is None:
            raise ValueError(f"{PREFIX}days: unknown day {raw!r}")
        days.add(day)
    try:
        probability = float(_setting(pod, "kill-probability"))
    except ValueError as exc:
        raise ValueError(f"{PREFIX}kill-probability: not a number") from exc
    if not 0 <= probability <= 1:
        raise ValueError(f"{PREFIX}kill-probability: must be between 0 and 1")
    try:
        start, end = _time(_setting(pod, "start-time")), _time(_setting(pod, "end-time"))
    except ValueError as exc:
        raise ValueError(f"{PREFIX}start-time/end-time: expected HH-MM-SS ({exc})") from exc
    return PodSettings(
        enabled=_setting(pod, "enabled").lower() == "true",
        force=_setting(pod, "force-kill").lower() == "true",
        probability=probability,
        days=frozenset(days),
        start=start,
        end=end,
    )


def due(pod_settings: PodSettings, now: dt.datetime) -> bool:
    return (
        DAY_NAMES[now.weekday()] in pod_settings.days
        and pod_settings.start <= now.time() < pod_settings.end
    )


def _window(pod_settings: PodSettings) -> str:
    days = ",".join(d[:3] for d in DAY_NAMES if d in pod_settings.days)
    return f"{days} {pod_settings.start:%H:%M:%S}-{pod_settings.end:%H:%M:%S}"


def _choose(pods: list[Pod], services: Services, ctx: StepContext) -> dict[bool, list[Pod]]:
    """The opted-in pods due now and drawn by their probability, by force-kill setting.

    A pass that finds opted-in pods but none due says so, with their windows.
    """
    now = services.clock.local_now()
    chosen: dict[bool, list[Pod]] = {True: [], False: []}
    outside: dict[str, int] = {}
    for pod in pods:
        try:
            pod_settings = settings(pod)
        except ValueError as exc:
            log.warning("skipping %s: %s", pod.key, exc, extra={"target": pod.key})
            continue
        if not pod_settings.enabled:
            continue
        if not due(pod_settings, now):
            window = _window(pod_settings)
            outside[window] = outside.get(window, 0) + 1
            continue
        if services.rng.random() >= pod_settings.probability:
            ctx.metrics.probability_filter_not_passed()
            continue
        chosen[pod_settings.force].append(pod)
    if outside:
        log.info(
            "%d opted-in pod(s) left alone: outside their kill window (%s); now is %s",
            sum(outside.values()),
            "; ".join(f"{n} pod(s): {w}" for w, n in outside.items()),
            f"{DAY_NAMES[now.weekday()][:3]} {now:%H:%M:%S}",
            extra={"outcome": "outside-window"},
        )
    return chosen


def run_once(services: Services, namespaces: list[str] | None, rules: SafetyRules) -> int:
    """One pass over the pods; returns how many were killed (or would be, in a dry run)."""
    kube = services.kube
    if namespaces:
        found = [p for ns in namespaces for p in kube.list_pods(ns)]
    else:
        found = kube.list_pods(None)
    labelled = frozenset(kube.list_namespaces(label_selector=f"{PROTECTED_LABEL}=true"))
    ctx = services.context(
        "label mode",
        ScenarioUndo(services.journal, "label-mode", services.metrics),
        rules,
    )
    pods, removed = screen_pods(found, ctx.safety, labelled)
    log_left_alone(log, removed, level=logging.DEBUG)
    chosen = _choose(pods, services, ctx)
    total = len(chosen[True]) + len(chosen[False])
    limit = ctx.safety.max_targets_per_step
    if limit is not None and total > limit:
        raise SafetyError(
            f"label mode: {total} opted-in pod(s) are due in this pass, more than "
            f"--max-targets-per-step={limit}; none was killed. Opt fewer pods in "
            "(seal/enabled, seal/kill-probability) or raise --max-targets-per-step"
        )
    for force, group in chosen.items():
        if group:
            kill_pods(KillAction(1.0, force, Location("label mode")), group, ctx)
    return total


def run_label_mode(
    services: Services,
    namespaces: list[str] | None,
    *,
    runs: int | None,
    min_seconds: float,
    max_seconds: float,
) -> int:
    """Pass after pass, sleeping a random time between them; the number of passes done."""
    done = 0
    rules = services.safety()
    try:
        while runs is None or done < runs:
            if done:
                services.clock.sleep(services.rng.uniform(min_seconds, max_seconds))
            with log_context(scenario="label mode"):
                try:
                    count = run_once(services, namespaces, rules)
                except SafetyError as exc:
                    log.error("%s", exc, extra={"outcome": "refused"})
                    count = 0
            done += 1
            verb = "would be killed (dry run)" if rules.dry_run else "killed"
            log.info("label mode pass %d: %d pod(s) %s", done, count, verb)
    except ShutdownRequested:
        log.warning("shutdown requested; label mode stops")
    return done


def parse_namespaces(text: str) -> list[str] | None:
    names = [n.strip() for n in text.split(",") if n.strip()]
    return None if not names or names == ["*"] else names


def api_calls(namespaces: list[str] | None) -> tuple[ApiCall, ...]:
    """The API calls of label mode over `namespaces` (None: every namespace): the pods
    listed and killed, Events on them, the namespaces labelled seal/protected=true."""
    calls = [ApiCall("list", "namespaces")]
    where: list[str | None] = [*namespaces] if namespaces else [None]
    for namespace in where:
        calls += [
            ApiCall(verb, resource, namespace=namespace)
            for verb, resource in (
                ("list", "pods"),
                ("delete", "pods"),
                ("create", "events"),
                ("patch", "events"),  # many kills of one owner fold into one summary Event
            )
        ]
    return tuple(calls)
