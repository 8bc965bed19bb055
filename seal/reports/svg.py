"""Inline SVG for the HTML report: a scenario run's timeline and line charts of its
background load. No I/O; every text is escaped; nothing refers to anything outside.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from seal.outcomes import StepOutcome

Points = list[tuple[float, float]]

#: the fill of a result, shared with the page's stylesheet
COLOURS = {
    "passed": "#2e7d32",
    "failed": "#c62828",
    "skipped": "#9e9e9e",
    "interrupted": "#ef6c00",
    "not-steady": "#6a1b9a",
    "deviated": "#ad1457",
    "aborted": "#b71c1c",
}
_LINE_COLOURS = ("#1565c0", "#ef6c00", "#c62828", "#2e7d32", "#6a1b9a", "#00838f")
_LABEL_WIDTH, _ROW, _WIDTH = 230, 24, 900


@dataclass(frozen=True)
class Row:
    """One row of a timeline: a label, where its bar starts and ends, and its marks."""

    label: str
    result: str
    start: float
    end: float
    tip: str
    #: (seconds from the start, tooltip) of each action
    marks: tuple[tuple[float, str], ...] = ()


def _ticks(limit: float, count: int = 6, whole: bool = False) -> list[float]:
    """About `count` round tick values from 0 up to `limit` (whole numbers if `whole`)."""
    limit = max(limit, 1e-3)
    raw = limit / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    step = max(1.0, math.ceil(step)) if whole else step
    return [i * step for i in range(int(limit / step) + 1) if i * step <= limit * 1.0001]


def _number(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 or value == int(value) else f"{value:.3g}"


def _step_row(label: str, step: StepOutcome, origin: float, cursor: float) -> Row:
    start = step.started - origin if step.started and origin else cursor
    tip = f"{label}: {step.result} in {step.duration:.2f}s"
    if step.reason:
        tip += f" ({step.reason})"
    marks = tuple(
        (
            (a.at - origin) if a.at and origin else start,
            f"{a.action} {a.target}: {a.outcome}, {a.verdict}"
            + (f" ({a.reason})" if a.reason else ""),
        )
        for a in step.actions
    )
    return Row(label, step.result, start, start + step.duration, tip, marks)


def timeline_rows(origin: float, steps: Sequence[tuple[str, StepOutcome]]) -> list[Row]:
    """A row for every (name, step) of a scenario run that started at `origin` (seconds
    since the epoch; 0 when not known: the steps are then laid out one after another)."""
    rows, cursor = [], 0.0
    for label, step in steps:
        row = _step_row(label, step, origin, cursor)
        cursor = max(cursor, row.end)
        rows.append(row)
    return rows


def timeline(rows: Sequence[Row], total: float) -> str:
    """The rows as bars along the scenario's time, each action a diamond on its step's bar."""
    span = max([total, *(row.end for row in rows), *(t for r in rows for t, _ in r.marks), 1e-3])
    plot = _WIDTH - _LABEL_WIDTH - 20
    height = _ROW * len(rows) + 34

    def x(seconds: float) -> float:
        return _LABEL_WIDTH + max(0.0, seconds) / span * plot

    parts = [
        f'<svg class="timeline" role="img" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}"><title>timeline of the steps and actions</title>'
    ]
    for tick in _ticks(span):
        parts.append(
            f'<line x1="{x(tick):.1f}" y1="0" x2="{x(tick):.1f}" y2="{height - 18}" '
            f'stroke="#e0e0e0"/><text x="{x(tick):.1f}" y="{height - 4}" font-size="11" '
            f'text-anchor="middle">{_number(tick)}s</text>'
        )
    for i, row in enumerate(rows):
        y = i * _ROW + 4
        colour = COLOURS.get(row.result, "#607d8b")
        width = max(2.0, x(row.end) - x(row.start))
        parts.append(
            f'<g class="bar" data-result="{escape(row.result)}"><text x="4" y="{y + 14}" '
            f'font-size="12">{escape(row.label[:34])}</text><rect x="{x(row.start):.1f}" '
            f'y="{y}" width="{width:.1f}" height="{_ROW - 8}" rx="3" fill="{colour}">'
            f"<title>{escape(row.tip)}</title></rect>"
        )
        for at, tip in row.marks:
            cx, cy = x(at), y + (_ROW - 8) / 2
            parts.append(
                f'<path class="action" d="M{cx:.1f} {cy - 7:.1f} l6 7 l-6 7 l-6 -7 z" '
                f'fill="#ffca28" stroke="#333"><title>{escape(tip)}</title></path>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def line_chart(title: str, unit: str, lines: Mapping[str, Points], least: float = 1.0) -> str:
    """A line chart of named series of (seconds, value) points, with axes and a legend;
    its value axis goes at least up to `least` (no errors at all is a flat line at 0)."""
    width, height, left, bottom, top = 720, 240, 60, 30, 28
    points = [p for series in lines.values() for p in series]
    if not points:
        return ""
    x_span = max([*(p[0] for p in points), 1e-3])
    y_span = max([*(p[1] for p in points), least]) * 1.1

    def xy(point: tuple[float, float]) -> str:
        px = left + point[0] / x_span * (width - left - 10)
        py = height - bottom - point[1] / y_span * (height - bottom - top)
        return f"{px:.1f},{py:.1f}"

    parts = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>'
        f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>'
    ]
    whole = least >= 1 and all(float(p[1]).is_integer() for p in points)
    for tick in _ticks(y_span, 4, whole):
        y = xy((0, tick)).split(",")[1]
        parts.append(
            f'<line x1="{left}" y1="{y}" x2="{width - 10}" y2="{y}" stroke="#e0e0e0"/>'
            f'<text x="{left - 6}" y="{y}" font-size="11" text-anchor="end">'
            f"{_number(tick)}{escape(unit)}</text>"
        )
    for tick in _ticks(x_span):
        x = xy((tick, 0)).split(",")[0]
        parts.append(
            f'<text x="{x}" y="{height - 10}" font-size="11" text-anchor="middle">'
            f"{_number(tick)}s</text>"
        )
    for i, (name, series) in enumerate(lines.items()):
        colour = _LINE_COLOURS[i % len(_LINE_COLOURS)]
        path = " ".join(xy(p) for p in sorted(series))
        parts.append(
            f'<polyline class="series" data-series="{escape(name)}" fill="none" '
            f'stroke="{colour}" stroke-width="2" points="{path}"><title>{escape(name)}</title>'
            f'</polyline><text x="{width - 10 - 70 * (len(lines) - i)}" y="16" font-size="12" '
            f'fill="{colour}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
