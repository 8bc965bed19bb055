"""config.schedule: the weekly windows in which chaos may run, and the blackout dates on
which it may not, in a named time zone, to the minute.

The schema fragment, the builder (with located problems for what the schema cannot
say), and the arithmetic: is an instant inside the schedule, and when does it next
open. No I/O beyond reading the time-zone database.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from seal.frozen import frozen
from seal.policy.docnode import DocNode
from seal.policy.problems import did_you_mean
from seal.policy.schema import array, obj, string
from seal.policy.schema import describe as show

if TYPE_CHECKING:  # time zones only for a policy with a schedule
    import zoneinfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^(?P<h>\d\d):(?P<m>\d\d)$")
_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")
_MOMENT = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d$")
#: how far ahead the next opening is looked for (a year and a bit: a yearly freeze ends)
HORIZON_DAYS = 400
MINUTES_PER_DAY = 24 * 60


@frozen
class Window:
    """Allowed from `start` to `end` (minutes after local midnight) on each of `days`
    (0 = Monday); an `end` at or before `start` runs past midnight into the next day."""

    days: frozenset[int]
    start: int
    end: int
    text: str

    def holds(self, moment: dt.datetime) -> bool:
        minute = moment.hour * 60 + moment.minute
        if self.start < self.end:
            return moment.weekday() in self.days and self.start <= minute < self.end
        # crosses midnight: the evening of an allowed day, or the morning after one
        evening = moment.weekday() in self.days and minute >= self.start
        morning = (moment.weekday() - 1) % 7 in self.days and minute < self.end
        return evening or morning


@frozen
class Blackout:
    """No chaos from `start` (inclusive) to `end` (exclusive), local wall-clock times."""

    start: dt.datetime
    end: dt.datetime
    reason: str

    def holds(self, moment: dt.datetime) -> bool:
        wall = moment.replace(tzinfo=None)
        return self.start <= wall < self.end

    @property
    def text(self) -> str:
        span = f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M}"
        return f"blackout {span}" + (f" ({self.reason})" if self.reason else "")


@frozen
class Schedule:
    """When chaos may run. Without windows, any time outside the blackouts."""

    zone: str
    windows: tuple[Window, ...]
    blackouts: tuple[Blackout, ...]

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        import zoneinfo

        return zoneinfo.ZoneInfo(self.zone)

    def closed_because(self, when: dt.datetime) -> str | None:
        """None when chaos may run at `when` (an aware datetime), else why not."""
        local = when.astimezone(self.tz)
        for blackout in self.blackouts:
            if blackout.holds(local):
                return blackout.text
        if self.windows and not any(w.holds(local) for w in self.windows):
            return "outside every window (" + "; ".join(w.text for w in self.windows) + ")"
        return None

    def next_open(self, when: dt.datetime) -> dt.datetime | None:
        """The first minute at or after `when` at which chaos may run; None when none
        comes within HORIZON_DAYS."""
        for candidate in sorted(c for c in self._openings(when) if c >= when):
            if self.closed_because(candidate) is None:
                return candidate
        return None

    def _openings(self, when: dt.datetime) -> Iterator[dt.datetime]:
        """Every instant at which the schedule may open: the windows' starts, the
        blackouts' ends, and `when` itself."""
        tz = self.tz
        yield when.replace(second=0, microsecond=0) + (
            dt.timedelta(minutes=1) if when.second or when.microsecond else dt.timedelta()
        )
        today = when.astimezone(tz).date()
        for offset in range(-1, HORIZON_DAYS + 1):
            day = today + dt.timedelta(days=offset)
            for window in self.windows:
                if day.weekday() in window.days:
                    yield _aware(dt.datetime.combine(day, _clock(window.start)), tz)
        for blackout in self.blackouts:
            yield _aware(blackout.end, tz)


def _exists(wall: dt.datetime, tz: zoneinfo.ZoneInfo) -> bool:
    aware = wall.replace(tzinfo=tz)
    return aware.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None) == wall


def _aware(wall: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """A wall-clock time in `tz`; a time skipped by a daylight-saving change becomes the
    first minute after the change (02:30 on a night the clocks go from 02:00 to 03:00 is
    03:00)."""
    moment = wall
    for _ in range(MINUTES_PER_DAY):  # changes skip an hour or two, never a day
        if _exists(moment, tz):
            return moment.replace(tzinfo=tz)
        moment += dt.timedelta(minutes=1)
    return wall.replace(tzinfo=tz)


def _clock(minutes: int) -> dt.time:
    return dt.time(minutes // 60, minutes % 60)


def describe(moment: dt.datetime, zone: str) -> str:
    import zoneinfo

    return f"{moment.astimezone(zoneinfo.ZoneInfo(zone)):%a %Y-%m-%d %H:%M} {zone}"


_TIME_TEXT = 'a time of day as a quoted "HH:MM", from "00:00" to "24:00"'
SCHEDULE_SCHEMA = obj(
    {
        "timeZone": string(
            "an IANA time zone name, such as Europe/Paris (default: UTC)", minLength=1
        ),
        "windows": array(
            obj(
                {
                    "days": array(
                        string(enum=list(DAYS)),
                        "the days the window opens (default: every day)",
                        minItems=1,
                    ),
                    # a number too: YAML reads an unquoted 17:00 as one, and the builder
                    # says how to write it
                    "start": {"type": ["string", "integer"], "description": _TIME_TEXT},
                    "end": {
                        "type": ["string", "integer"],
                        "description": _TIME_TEXT + "; at or before start: the next day",
                    },
                },
                required=["start", "end"],
            ),
            "chaos runs only inside one of these (default: any time outside blackouts)",
            minItems=1,
        ),
        "blackouts": array(
            obj(
                {
                    "date": string('a whole day, "YYYY-MM-DD"'),
                    "from": string('the first minute, "YYYY-MM-DD HH:MM"'),
                    "to": string('the end (not included), "YYYY-MM-DD HH:MM"'),
                    "reason": string("why: a change freeze, a holiday; shown in the log"),
                }
            ),
            "dates and times with no chaos at all, whatever the windows say",
        ),
    },
    description="when chaos may run: weekly windows and blackout dates in a time zone; "
    "outside them the daemon waits for the next window (a seal extension)",
)


def _zone(node: DocNode) -> str:
    import zoneinfo

    name = str(node.get("timeZone", "UTC"))
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        hint = did_you_mean(name, sorted(zoneinfo.available_timezones()))
        node.child("timeZone").problem(f"unknown time zone '{name}'{hint}")
        return "UTC"
    return name


def _minutes(node: DocNode, key: str) -> int | None:
    value = node.get(key)
    match = _TIME.match(value) if isinstance(value, str) else None
    if match and ((int(match["h"]) < 24 and int(match["m"]) < 60) or value == "24:00"):
        return int(match["h"]) * 60 + int(match["m"])
    hint = ""
    if isinstance(value, int) and 0 <= value <= MINUTES_PER_DAY:
        # YAML 1.1 reads an unquoted 17:00 as the base-60 number 1020
        hint = f" (an unquoted {value // 60}:{value % 60:02d} reads as a number: quote it)"
    node.child(key).problem(f"{key} must be {_TIME_TEXT}; got {show(value)}{hint}")
    return None


def _window(node: DocNode) -> Window | None:
    start, end = _minutes(node, "start"), _minutes(node, "end")
    if start is None or end is None:
        return None
    if start == MINUTES_PER_DAY:
        node.child("start").problem('start "24:00" is the end of a day; write "00:00"')
        return None
    if start == end:
        node.child("end").problem(
            'start and end are the same: the window is empty (all day is "00:00" to "24:00")'
        )
        return None
    names = [str(d) for d in node.get("days", list(DAYS))]
    days = frozenset(DAYS.index(d) for d in names if d in DAYS)
    label = ",".join(names) if len(days) < len(DAYS) else "every day"
    return Window(days, start, end, f"{label} {node.get('start')}-{node.get('end')}")


def _moment(node: DocNode, key: str) -> dt.datetime | None:
    value = str(node.get(key))
    if _MOMENT.match(value):
        try:
            return dt.datetime.fromisoformat(value.replace(" ", "T"))
        except ValueError:
            pass
    node.child(key).problem(f'{key} must be a date and time "YYYY-MM-DD HH:MM"; got {show(value)}')
    return None


def _blackout(node: DocNode) -> Blackout | None:
    reason = str(node.get("reason", ""))
    if node.has("date"):
        if node.has("from") or node.has("to"):
            node.problem("a blackout has either date or from and to, not both")
            return None
        value = str(node.get("date"))
        try:
            day = dt.date.fromisoformat(value) if _DATE.match(value) else None
        except ValueError:
            day = None
        if day is None:
            node.child("date").problem(f'date must be a day "YYYY-MM-DD"; got {show(value)}')
            return None
        midnight = dt.datetime.combine(day, dt.time())
        return Blackout(midnight, midnight + dt.timedelta(days=1), reason)
    if not (node.has("from") and node.has("to")):
        node.problem('a blackout needs date, or from and to ("YYYY-MM-DD HH:MM")')
        return None
    start, end = _moment(node, "from"), _moment(node, "to")
    if start is None or end is None:
        return None
    if end <= start:
        node.child("to").problem(f"to ({end:%Y-%m-%d %H:%M}) is not after from")
        return None
    return Blackout(start, end, reason)


def build_schedule(node: DocNode) -> Schedule | None:
    """config.schedule as a `Schedule` (None when the policy has none), each problem
    reported at its line."""
    if not isinstance(node.value, dict):
        return None
    if not any(key in node.value for key in ("windows", "blackouts")):
        node.problem("a schedule needs windows, blackouts or both")
        return None
    zone = _zone(node)
    windows = [_window(w) for w in node.children("windows")]
    blackouts = [_blackout(b) for b in node.children("blackouts")]
    return Schedule(
        zone,
        tuple(w for w in windows if w is not None),
        tuple(b for b in blackouts if b is not None),
    )
