"""Tables fit the terminal, and states are coloured."""

from __future__ import annotations

import io

from rich.console import Console

from seal.interactive import render
from seal.model import Node, NodeState, Pod

PODS = [
    Pod("myapp", "my-service-with-a-rather-long-generated-name-0123456789", state="Running"),
    Pod("myapp", "batch-job-1", state="Failed", node_name="worker-1"),
    Pod("other", "pending-one", state="Pending"),
]


def printed(width: int, colour: bool, show: object) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=colour,
        color_system="standard" if colour else None,
        highlight=False,
    )
    show(console)  # type: ignore[operator]
    return buffer.getvalue()


def test_tables_fit_a_narrow_terminal() -> None:
    out = printed(40, False, lambda c: render.pods(c, PODS))
    assert max(len(line) for line in out.splitlines()) <= 40
    assert "Pending" in out and "Failed" in out  # long names fold, the states stay whole


def test_states_are_coloured() -> None:
    out = printed(120, True, lambda c: render.pods(c, PODS))
    assert "\x1b[32mRunning" in out  # green
    assert "\x1b[31mFailed" in out  # red
    assert "\x1b[33mPending" in out  # yellow
    nodes = [Node("worker-1", state=NodeState.DOWN), Node("worker-2", state=NodeState.UP)]
    out = printed(120, True, lambda c: render.nodes(c, nodes))
    assert "\x1b[31mDOWN" in out and "\x1b[32mUP" in out
