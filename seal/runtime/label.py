"""Label mode: kill the pods that opted in through `seal/...` labels or annotations.

Talks to the cluster through the services' client; sleeps between runs.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from seal.errors import ShutdownRequested
from seal.log import log_context
from seal.model import Pod
from seal.policy.problems import Location
from seal.runtime.scenario import ScenarioUndo
from seal.runtime.services import Services
from seal.selection.filters import DAY_NAMES
from seal.selection.safety import PROTECTED_LABEL, log_left_alone, screen_pods
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


def run_once(services: Services, namespaces: list[str] | None) -> int:
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
        services.safety(),
    )
    pods, removed = screen_pods(found, ctx.safety, labelled)
    log_left_alone(log, removed, level=logging.DEBUG)
    now = services.clock.local_now()
    chosen: dict[bool, list[Pod]] = {True: [], False: []}
    for pod in pods:
        try:
            pod_settings = settings(pod)
        except ValueError as exc:
            log.warning("skipping %s: %s", pod.key, exc, extra={"target": pod.key})
            continue
        if not pod_settings.enabled or not due(pod_settings, now):
            continue
        if services.rng.random() >= pod_settings.probability:
            ctx.metrics.probability_filter_not_passed()
            continue
        chosen[pod_settings.force].append(pod)
    total = len(chosen[True]) + len(chosen[False])
    ctx.safety.check_target_count(total, "pods")
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
    try:
        while runs is None or done < runs:
            if done:
                services.clock.sleep(services.rng.uniform(min_seconds, max_seconds))
            with log_context(scenario="label mode"):
                count = run_once(services, namespaces)
            done += 1
            log.info("label mode pass %d: %d pod(s) killed", done, count)
    except ShutdownRequested:
        log.warning("shutdown requested; label mode stops")
    return done


def parse_namespaces(text: str) -> list[str] | None:
    names = [n.strip() for n in text.split(",") if n.strip()]
    return None if not names or names == ["*"] else names
