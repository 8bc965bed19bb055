"""Fixtures of the report tests: headless Chromium to open the HTML report in, the report
schema's validator, and hand-made outcomes (passed, failed with background load,
skipped, interrupted) to write reports of."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from seal.outcomes import (
    ActionRecord,
    LoadReport,
    LoadSecond,
    ReplayReport,
    ScenarioOutcome,
    StepOutcome,
    UndoFailure,
)
from seal.reports.schema import REPORT_SCHEMA

T0 = 1_790_000_000.0  # a start time (2026-09-21, UTC), so the tests' times are known


def load_report() -> LoadReport:
    seconds = tuple(
        LoadSecond(t, 50, 7 if t == 3 else 0, 10.0 + t, 40.0 + 5 * t, 90.0 + 10 * t)
        for t in range(6)
    )
    return LoadReport("http://127.0.0.1:9/", 5, 50.0, 6.0, 300, 7, 12.0, 55.0, 140.0, seconds)


def kill_step(index: int = 1, origin: float = T0) -> StepOutcome:
    action = ActionRecord(
        "kill", "default/goldpinger-abc", "ok", "pod gone", "verified", origin + index + 0.2
    )
    return StepOutcome(
        "passed",
        "1 pod(s) selected",
        1,
        actions=(action,),
        key="podAction",
        index=index,
        started=origin + index,
        duration=0.5,
    )


def outcomes() -> list[ScenarioOutcome]:
    """Four scenario runs: passed; failed (with load, steady state and a failed undo);
    skipped; interrupted."""
    probe = StepOutcome(
        "passed", "200 in 12 ms", key="probeHTTP", index=1, started=T0 + 0.1, duration=0.05
    )
    failed_probe = StepOutcome(
        "failed",
        "step 2 (probeHTTP): probe GET /healthz: answered 503, expected 200",
        key="probeHTTP",
        index=2,
        started=T0 + 12,
        duration=1.5,
    )
    wait = StepOutcome(
        "passed",
        "held after 2.1s",
        seconds=2.1,
        key="waitFor",
        index=2,
        started=T0 + 1.6,
        duration=2.1,
    )
    passed = ScenarioOutcome(
        "kill and heal",
        "passed",
        "",
        4.0,
        (kill_step(), wait),
        ReplayReport(1),
        steady_state=(probe, replace(probe, started=T0 + 3.8)),
        run_id="kill and heal#0000aaaa",
        started=T0,
    )
    failed = ScenarioOutcome(
        "rollout under load",
        "failed",
        "step 2 (probeHTTP): answered 503 <not> \x07 ok",
        6.0,
        (kill_step(origin=T0 + 10), failed_probe),
        ReplayReport(0, (UndoFailure("u1", "scale", "scale default/web back to 3", "403"),)),
        steady_state=(replace(probe, started=T0 + 10.1),),
        run_id="rollout under load#0000bbbb",
        started=T0 + 10,
        load=load_report(),
    )
    skipped = ScenarioOutcome(
        "nothing to kill",
        "skipped",
        "no pod matched",
        0.2,
        run_id="nothing to kill#0000cccc",
        started=T0 + 20,
    )
    interrupted = ScenarioOutcome(
        "kill and heal",
        "interrupted",
        "step 1 (podAction): shutdown",
        0.3,
        (StepOutcome("interrupted", "step 1 (podAction): shutdown", key="podAction", index=1),),
        run_id="kill and heal#0000dddd",
        started=T0 + 30,
    )
    return [passed, failed, skipped, interrupted]


def report_problems(document: Any) -> list[str]:
    """What the published schema finds wrong with `document`, each with its path."""
    validator = jsonschema.Draft202012Validator(
        REPORT_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = validator.iter_errors(document)
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def validate_report(document: Any) -> None:
    """Fail unless `document` is a report the published schema accepts."""
    assert report_problems(document) == []


#: how a page could load something from elsewhere
REMOTE = re.compile(
    r"""(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:[a-z]+:)?//|url\(\s*["']?\s*(?:[a-z]+:)?//"""
    r"""|@import|<link\b|<iframe\b|<img\b|<object\b|<embed\b""",
    re.IGNORECASE,
)


@pytest.fixture
def open_in_chromium(tmp_path: Path) -> Callable[[Path], str]:
    """Open a file in headless Chromium with every host name unresolvable (so nothing can
    be fetched) and return the DOM as rendered, scripts run."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    assert binary, "chromium is not installed (scripts/setup installs Debian's chromium)"

    def dump(page: Path) -> str:
        result = subprocess.run(
            [
                binary,
                "--headless",
                "--disable-gpu",
                "--no-sandbox",
                "--no-first-run",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                f"--user-data-dir={tmp_path / 'chromium-profile'}",
                "--virtual-time-budget=2000",
                "--dump-dom",
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert "<html" in result.stdout, result.stderr[-2000:]
        return result.stdout

    return dump


class Dom(HTMLParser):
    """The rendered page, read back: each element's tag, attributes and text."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], list[str]]] = []
        self._open: list[int] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}, []))
        if tag not in ("meta", "br", "input", "hr", "img", "link"):
            self._open.append(len(self.elements) - 1)

    def handle_endtag(self, tag: str) -> None:
        if any(self.elements[index][0] == tag for index in self._open):
            while self.elements[self._open.pop()][0] != tag:
                pass

    def handle_data(self, data: str) -> None:
        for index in self._open:
            self.elements[index][2].append(data)

    def find(self, tag: str, **attrs: str) -> list[tuple[dict[str, str], str]]:
        """Elements of `tag` with these attribute values (`class_` for class, a word of
        it), with their text."""
        found = []
        for name, attributes, text in self.elements:
            if name != tag:
                continue
            wanted = {k.rstrip("_"): v for k, v in attrs.items()}
            if all(
                v in attributes.get(k, "").split() if k == "class" else attributes.get(k) == v
                for k, v in wanted.items()
            ):
                found.append((attributes, " ".join("".join(text).split())))
        return found
