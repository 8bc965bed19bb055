"""What the shell prints: rich tables that fit the terminal, states coloured.

Writes to the console it is given; nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from seal.model import Node, Pod
from seal.runtime.journal import UndoEntry

STATE_STYLES = {
    "Running": "green",
    "UP": "green",
    "Succeeded": "blue",
    "Pending": "yellow",
    "Terminating": "yellow",
    "UNKNOWN": "yellow",
    "Unknown": "yellow",
    "Failed": "red",
    "DOWN": "red",
    "Warning": "red",
    "Normal": "green",
}


def state(value: str) -> Text:
    return Text(value, style=STATE_STYLES.get(value, ""))


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A table that wraps its cells to fit the console's width."""
    result = Table(title=title, title_justify="left", expand=False, show_edge=False)
    for column in columns:
        result.add_column(column, overflow="fold")
    for row in rows:
        result.add_row(*(cell if isinstance(cell, Text) else str(cell) for cell in row))
    return result


def pods(console: Console, found: Sequence[Pod]) -> None:
    rows = [(p.namespace, p.name, state(p.state), p.node_name or "-") for p in found]
    console.print(table(f"{len(rows)} pod(s)", ("NAMESPACE", "NAME", "STATE", "NODE"), rows))


def nodes(console: Console, found: Sequence[Node]) -> None:
    rows = [
        (n.name, state(n.state.value), n.zone or "-", n.ip or "-", n.provider_id or "-")
        for n in found
    ]
    console.print(table(f"{len(rows)} node(s)", ("NAME", "STATE", "AZ", "IP", "PROVIDER ID"), rows))


def _age(timestamp: str) -> str:
    if not timestamp:
        return "-"
    try:
        then = time.mktime(time.strptime(timestamp[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    except ValueError:
        return "-"
    return duration(max(0.0, time.time() - then))


def duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def deployments(console: Console, items: Sequence[Mapping[str, Any]]) -> None:
    rows = []
    for obj in items:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        wanted, ready = int(spec.get("replicas", 1)), int(status.get("readyReplicas") or 0)
        shown = Text(f"{ready}/{wanted}", style="green" if ready >= wanted else "yellow")
        age = _age(str(_meta(obj).get("creationTimestamp", "")))
        rows.append((_meta(obj).get("namespace", ""), _meta(obj).get("name", ""), shown, age))
    console.print(table(f"{len(rows)} deployment(s)", ("NAMESPACE", "NAME", "READY", "AGE"), rows))


def services(console: Console, items: Sequence[Mapping[str, Any]]) -> None:
    rows = []
    for obj in items:
        spec = obj.get("spec") or {}
        ports = ",".join(
            f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or []
        )
        rows.append(
            (
                _meta(obj).get("namespace", ""),
                _meta(obj).get("name", ""),
                spec.get("type", "ClusterIP"),
                spec.get("clusterIP", "-"),
                ports or "-",
            )
        )
    columns = ("NAMESPACE", "NAME", "TYPE", "CLUSTER-IP", "PORTS")
    console.print(table(f"{len(rows)} service(s)", columns, rows))


def event_time(obj: Mapping[str, Any]) -> str:
    return str(
        obj.get("lastTimestamp")
        or obj.get("eventTime")
        or obj.get("firstTimestamp")
        or _meta(obj).get("creationTimestamp")
        or ""
    )


def events(console: Console, items: Sequence[Mapping[str, Any]]) -> None:
    rows = []
    for obj in items:
        involved = obj.get("involvedObject") or {}
        what = f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"
        rows.append(
            (
                _age(event_time(obj)),
                _meta(obj).get("namespace", ""),
                state(str(obj.get("type", "Normal"))),
                obj.get("reason", ""),
                what,
                obj.get("message", ""),
            )
        )
    columns = ("AGE", "NAMESPACE", "TYPE", "REASON", "OBJECT", "MESSAGE")
    console.print(table(f"{len(rows)} event(s)", columns, rows))


def pending(console: Console, entries: Sequence[UndoEntry], now: float) -> None:
    if not entries:
        console.print("nothing pending: no change of this session is waiting to be undone")
        return
    rows = [
        (e.id[:8], e.scenario.rpartition("-")[2], e.description, duration(now - e.created))
        for e in entries
    ]
    columns = ("ID", "ACTION", "UNDO", "AGE")
    console.print(table(f"{len(rows)} undo(s) pending, latest last", columns, rows))


def targets(console: Console, what: str, names: Sequence[str]) -> None:
    console.print(table(f"{len(names)} {what}", ("TARGET",), [(n,) for n in names]))
