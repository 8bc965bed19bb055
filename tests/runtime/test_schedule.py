"""config.schedule: weekly windows and blackouts in a time zone, the located errors of a
wrong one, and the runner waiting for the next window."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import random
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import pytest

from seal.errors import PolicyError, ShutdownRequested
from seal.outcomes import ScenarioOutcome
from seal.policy.loader import load_policy_text
from seal.policy.model import Policy, ScenarioSpec
from seal.policy.schedule import Schedule
from seal.runtime.runner import PolicyRunner
from seal.steps.registry import STEP_TYPES

PARIS = ZoneInfo("Europe/Paris")
SCENARIOS = "scenarios:\n- name: only one\n  steps: []\n"


def load(config: str) -> Policy:
    return load_policy_text(f"config:\n{config}\n{SCENARIOS}", STEP_TYPES, "p.yml", {})


def schedule(config: str) -> Schedule:
    found = load(config).config.schedule
    assert found is not None
    return found


def at(text: str, tz: ZoneInfo = PARIS) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=tz)


OFFICE = """\
  schedule:
    timeZone: Europe/Paris
    windows:
    - days: [mon, tue, wed, thu, fri]
      start: "09:30"
      end: "17:00"
    blackouts:
    - date: "2026-12-25"
      reason: Christmas
    - from: "2026-12-28 12:00"
      to: "2026-12-30 08:15"
      reason: year-end freeze
"""


def test_a_weekday_window_in_a_named_zone_to_the_minute() -> None:
    office = schedule(OFFICE)
    # Monday 2026-11-23
    assert office.closed_because(at("2026-11-23T09:29")) is not None
    assert office.closed_because(at("2026-11-23T09:30")) is None
    assert office.closed_because(at("2026-11-23T16:59")) is None
    assert "outside every window (mon,tue,wed,thu,fri 09:30-17:00)" in str(
        office.closed_because(at("2026-11-23T17:00"))
    )
    # the same instant seen from UTC: 08:30 UTC is 09:30 in Paris in winter
    assert office.closed_because(at("2026-11-23T08:30", ZoneInfo("UTC"))) is None
    assert office.closed_because(at("2026-11-23T08:29", ZoneInfo("UTC"))) is not None


def test_the_next_window_after_a_weekend_and_after_a_blackout() -> None:
    office = schedule(OFFICE)
    # Friday evening: next is Monday 09:30
    assert office.next_open(at("2026-11-27T17:00")) == at("2026-11-30T09:30")
    # inside a window: now, to the minute
    assert office.next_open(at("2026-11-24T10:00")) == at("2026-11-24T10:00")
    # Christmas (a Friday) is a blackout; the next opening is Monday the 28th at 09:30,
    # but from noon on the 28th a freeze runs until Wednesday 08:15, so after Monday
    # noon the next opening is Wednesday 09:30
    assert office.closed_because(at("2026-12-25T10:00")) == "blackout 2026-12-25 00:00 to " \
        "2026-12-26 00:00 (Christmas)"
    assert office.next_open(at("2026-12-25T10:00")) == at("2026-12-28T09:30")
    assert office.next_open(at("2026-12-28T12:00")) == at("2026-12-30T09:30")


def test_a_window_past_midnight_and_one_ending_at_24_00() -> None:
    nights = schedule(
        '  schedule:\n    windows:\n    - {days: [sat], start: "22:00", end: "02:00"}\n'
        '    - {days: [sun], start: "12:00", end: "24:00"}\n'
    )
    utc = ZoneInfo("UTC")
    assert nights.closed_because(at("2026-11-28T21:59", utc)) is not None
    assert nights.closed_because(at("2026-11-28T22:00", utc)) is None
    assert nights.closed_because(at("2026-11-29T01:59", utc)) is None  # Sunday morning
    assert nights.closed_because(at("2026-11-29T02:00", utc)) is not None
    assert nights.closed_because(at("2026-11-29T23:59", utc)) is None
    assert nights.closed_because(at("2026-11-30T00:00", utc)) is not None
    assert nights.next_open(at("2026-11-29T02:00", utc)) == at("2026-11-29T12:00", utc)


def test_a_window_starting_in_the_hour_skipped_by_daylight_saving() -> None:
    # Paris skips 02:00-03:00 on Sunday 2027-03-28
    early = schedule(
        '  schedule:\n    timeZone: Europe/Paris\n'
        '    windows: [{days: [sun], start: "02:30", end: "04:00"}]\n'
    )
    opening = early.next_open(at("2027-03-27T12:00"))
    assert opening is not None
    assert opening.astimezone(PARIS).strftime("%Y-%m-%d %H:%M %Z") == "2027-03-28 03:00 CEST"
    assert early.closed_because(opening) is None
    # a window wholly inside the skipped hour has no minute that day: it opens a week on
    gap = schedule(
        '  schedule:\n    timeZone: Europe/Paris\n'
        '    windows: [{days: [sun], start: "02:30", end: "02:45"}]\n'
    )
    later = gap.next_open(at("2027-03-27T12:00"))
    assert later is not None
    assert later.astimezone(PARIS).strftime("%Y-%m-%d %H:%M %Z") == "2027-04-04 02:30 CEST"


def test_blackouts_alone_allow_any_other_time() -> None:
    freeze = schedule('  schedule:\n    blackouts: [{date: "2026-11-23"}]\n')
    utc = ZoneInfo("UTC")
    assert freeze.closed_because(at("2026-11-23T12:00", utc)) == (
        "blackout 2026-11-23 00:00 to 2026-11-24 00:00"
    )
    assert freeze.next_open(at("2026-11-23T12:00", utc)) == at("2026-11-24T00:00", utc)
    assert freeze.closed_because(at("2026-11-24T00:00", utc)) is None


def test_no_opening_within_the_horizon_is_none() -> None:
    never = schedule(
        '  schedule:\n    windows: [{days: [mon], start: "09:00", end: "10:00"}]\n'
        '    blackouts: [{from: "2026-01-01 00:00", to: "2099-01-01 00:00"}]\n'
    )
    assert never.next_open(at("2026-11-23T09:00", ZoneInfo("UTC"))) is None


def test_every_problem_of_a_wrong_schedule_is_located() -> None:
    with pytest.raises(PolicyError) as caught:
        load(
            "  schedule:\n"
            "    timeZone: Europe/Pariss\n"
            "    windows:\n"
            "    - {days: [mon, funday], start: \"09:30\", end: 17:00}\n"
            '    - {start: "25:00", end: "10:00"}\n'
            '    - {start: "10:00", end: "10:00"}\n'
            "    blackouts:\n"
            '    - {date: "2026-02-30"}\n'
            '    - {from: "2026-12-20 18:00", to: "2026-12-20 10:00"}\n'
            '    - {date: "2026-12-24", from: "2026-12-24 10:00", to: "2026-12-24 11:00"}\n'
            "    - {reason: nothing else}\n"
        )
    problems = caught.value.problems
    expected = [
        "p.yml:3:15: config.schedule.timeZone: unknown time zone 'Europe/Pariss'; "
        "did you mean 'Europe/Paris'?",
        'p.yml:5:20: config.schedule.windows[0].days[1]: must be one of mon, tue, wed, thu, '
        'fri, sat, sun; got "funday"',
        'p.yml:5:50: config.schedule.windows[0].end: end must be a time of day as a quoted '
        '"HH:MM", from "00:00" to "24:00"; got 1020 (an unquoted 17:00 reads as a number: '
        "quote it)",
        'p.yml:6:15: config.schedule.windows[1].start: start must be a time of day as a quoted '
        '"HH:MM", from "00:00" to "24:00"; got "25:00"',
        "p.yml:7:29: config.schedule.windows[2].end: start and end are the same: the window is "
        'empty (all day is "00:00" to "24:00")',
        'p.yml:9:14: config.schedule.blackouts[0].date: date must be a day "YYYY-MM-DD"; '
        'got "2026-02-30"',
        "p.yml:10:38: config.schedule.blackouts[1].to: to (2026-12-20 10:00) is not after from",
        "p.yml:11:7: config.schedule.blackouts[2]: a blackout has either date or from and to, "
        "not both",
        'p.yml:12:7: config.schedule.blackouts[3]: a blackout needs date, or from and to '
        '("YYYY-MM-DD HH:MM")',
    ]
    assert problems == expected


def test_a_wrong_window_is_one_problem_not_two() -> None:
    with pytest.raises(PolicyError) as caught:
        load('  schedule:\n    windows: [{days: [monday], start: "09:00", end: "10:00"}]\n')
    assert len(caught.value.problems) == 1
    assert "config.schedule.windows[0].days[0]: must be one of mon" in caught.value.problems[0]


def test_a_schedule_with_neither_windows_nor_blackouts_is_an_error() -> None:
    with pytest.raises(PolicyError) as caught:
        load("  schedule:\n    timeZone: UTC\n")
    assert caught.value.problems == [
        "p.yml:3:5: config.schedule: a schedule needs windows, blackouts or both"
    ]


class FakeClock:
    """Wall time that advances only when the runner sleeps."""

    def __init__(self, start: dt.datetime, stop_after: float | None = None) -> None:
        self.time = start.timestamp()
        self.slept: list[float] = []
        self.stop_after = stop_after

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float, *, interruptible: bool = True) -> None:
        self.slept.append(seconds)
        self.time += seconds
        if self.stop_after is not None and sum(self.slept) >= self.stop_after:
            raise ShutdownRequested("shutdown requested")


class ScheduleMetrics:
    def __init__(self) -> None:
        self.states: list[tuple[bool, str, float | None]] = []

    def policy_reload_failed(self) -> None:
        raise AssertionError("the policy is valid")

    def scenarios_known(self, names: Sequence[str]) -> None:
        self.known = list(names)

    def schedule_state(self, open_now: bool, reason: str, next_open: float | None) -> None:
        self.states.append((open_now, reason, next_open))


ONE_RUN = "  runStrategy: {runs: 1}\n"


def test_the_runner_waits_for_the_window_then_runs(caplog: pytest.LogCaptureFixture) -> None:
    current = load(ONE_RUN + OFFICE)
    clock = FakeClock(at("2026-11-23T09:28:30"))  # a Monday, 90 s before the window
    metrics = ScheduleMetrics()
    started: list[float] = []
    reloads = 0

    def reload() -> Policy:
        nonlocal reloads
        reloads += 1
        return current

    def run(scenario: ScenarioSpec, policy: Policy) -> ScenarioOutcome:
        started.append(clock.now())
        return ScenarioOutcome(scenario.name, "passed")

    with caplog.at_level(logging.INFO, logger="seal.runtime.runner"):
        summary = PolicyRunner(
            reload, run, clock=clock, rng=random.Random(1), metrics=metrics
        ).run()
    assert summary.passed == 1
    assert started == [at("2026-11-23T09:30").timestamp()]
    assert clock.slept == [30.0, 30.0, 30.0]
    assert reloads == 5  # the first loop's read, one after every nap, and the read that ends
    opening = at("2026-11-23T09:30").timestamp()
    assert metrics.states[0] == (
        False, "outside every window (mon,tue,wed,thu,fri 09:30-17:00)", opening
    )
    assert metrics.states[-1] == (True, "", None)
    waiting = [r.getMessage() for r in caplog.records if r.getMessage().startswith("no chaos")]
    assert waiting == [
        "no chaos: outside every window (mon,tue,wed,thu,fri 09:30-17:00); waiting for the "
        "next window, Mon 2026-11-23 09:30 Europe/Paris (in 2m)"
    ]


def test_a_shutdown_while_waiting_runs_nothing() -> None:
    current = load(ONE_RUN + OFFICE)
    clock = FakeClock(at("2026-11-28T12:00"), stop_after=120)  # a Saturday
    ran: list[str] = []

    def run(scenario: ScenarioSpec, policy: Policy) -> ScenarioOutcome:
        ran.append(scenario.name)
        return ScenarioOutcome(scenario.name, "passed")

    summary = PolicyRunner(
        lambda: current, run, clock=clock, rng=random.Random(1), metrics=ScheduleMetrics()
    ).run()
    assert ran == []
    assert summary.interrupted
    assert summary.loops == 0  # stopped while waiting for a window: no loop ran


def test_a_schedule_removed_while_waiting_lets_the_scenario_run() -> None:
    closed = load(ONE_RUN + OFFICE)
    open_now = load(ONE_RUN)
    policies = itertools.chain([closed, closed], itertools.repeat(open_now))
    clock = FakeClock(at("2026-11-28T12:00"))
    ran: list[float] = []

    def run(scenario: ScenarioSpec, policy: Policy) -> ScenarioOutcome:
        ran.append(clock.now())
        return ScenarioOutcome(scenario.name, "passed")

    metrics = ScheduleMetrics()
    PolicyRunner(
        lambda: next(policies), run, clock=clock, rng=random.Random(1), metrics=metrics
    ).run()
    assert clock.slept == [30.0, 30.0]
    assert len(ran) == 1
    assert metrics.states[-1] == (True, "", None)
