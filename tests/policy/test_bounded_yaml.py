"""The bounded YAML reader every file of seal goes through: policies, `-c` flag files,
kubeconfigs and kubectl payloads; and the daemon keeping its last good policy when
an edit breaks a bound."""

from __future__ import annotations

import random
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from seal import bounded_yaml
from seal.adapters.kubeconfig import from_kubeconfig
from seal.errors import DocumentError, UsageError
from seal.outcomes import ScenarioOutcome
from seal.policy.loader import load_policy
from seal.policy.model import Policy, ScenarioSpec
from seal.runtime.runner import PolicyRunner
from seal.steps.kubectl import payload_objects
from seal.steps.registry import STEP_TYPES
from tests.policy.helpers import REPO
from tests.policy.test_limits import BILLION_LAUGHS

DEEP_FLOW = "a: " + "[" * 25_000 + "]" * 25_000 + "\n"
DEEP_MAPS = "a: " + "{a: " * 25_000 + "1" + "}" * 25_000 + "\n"


def refused(text: str) -> DocumentError:
    started = time.monotonic()
    with pytest.raises(DocumentError) as info:
        bounded_yaml.load(text)
    assert time.monotonic() - started < 2, "a bound must be found quickly"
    return info.value


def test_an_alias_bomb_is_refused_at_the_alias_that_crosses_the_budget() -> None:
    error = refused(BILLION_LAUGHS)
    assert error.reason == "the aliases stand for more than 50000 values; seal does not expand them"
    assert error.line in range(5, 10) and error.column > 1
    assert error.located("x.yml").startswith(f"x.yml:{error.line}:{error.column}: ")


@pytest.mark.parametrize("text", [DEEP_FLOW, DEEP_MAPS])
def test_deep_nesting_is_refused_on_the_event_stream_in_process(text: str) -> None:
    error = refused(text)
    assert error.reason == "the document is nested more than 100 levels deep"
    # the root mapping is the first level: the 100th bracket opens the 101st
    assert (error.line, error.column) == (1, 103 if text is DEEP_FLOW else 400)


def test_aliases_may_stand_for_up_to_50000_values() -> None:
    shared = "a: &a [" + ", ".join(["x"] * 999) + "]\n"  # 1,000 values with its list
    fine = shared + "b: [" + ", ".join(["*a"] * 50) + "]\n"
    assert len(bounded_yaml.load(fine)["b"]) == 50
    error = refused(shared + "b: [" + ", ".join(["*a"] * 51) + "]\n")
    assert (error.line, error.column) == (2, 5 + 50 * 4)


def test_too_many_values_without_aliases() -> None:
    small = bounded_yaml.Limits(max_values=1000)
    bounded_yaml.compose_all("[" + "0," * 998 + "0]", small)
    with pytest.raises(DocumentError) as info:
        bounded_yaml.compose_all("[" + "0," * 999 + "0]", small)
    assert info.value.reason == "the document has more than 1000 values; seal does not read it"
    assert (info.value.line, info.value.column) == (1, 2 + 2 * 999)


def test_nesting_up_to_the_bound_is_read() -> None:
    assert bounded_yaml.load("[" * 100 + "]" * 100) is not None
    refused("[" * 101 + "]" * 101)


def test_shared_aliases_are_read_and_cycles_and_unknown_aliases_are_located() -> None:
    assert bounded_yaml.load("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}
    cycle = refused("a: &x [1, *x]\n")
    assert (cycle.line, cycle.column, cycle.reason) == (
        1,
        11,
        "the alias *x refers to a node that contains it; remove the cycle",
    )
    assert refused("a: *nothing\n").reason == "the alias *nothing names no anchor"


def test_duplicate_keys_numbers_and_several_documents() -> None:
    duplicate = refused("a: 1\nb:\n  c: 1\n  c: 2\n")
    assert (duplicate.line, duplicate.column) == (4, 3)
    assert duplicate.reason == "duplicate key 'c' (first given at line 3)"
    assert bounded_yaml.load("a: 1\na: 2\n", unique_keys=False) == {"a": 2}
    for text in ("a: .nan", "a: -.Inf", "a: 1.0e+999"):
        assert refused(text).reason.endswith("a number must be finite"), text
    assert "64 bits" in refused("a: " + "9" * 30).reason
    assert "too large" in refused("a: " + "9" * 5000).reason
    assert refused("a: 1\n---\nb: 2\n").line == 3
    assert bounded_yaml.load_all("a: 1\n---\nb: 2\n") == [{"a": 1}, {"b": 2}]


def test_size_utf8_and_syntax_are_located() -> None:
    with pytest.raises(DocumentError, match="larger than 4 MiB"):
        bounded_yaml.compose_all("a: " + "x" * (4 * 1024 * 1024))
    with pytest.raises(DocumentError) as info:
        bounded_yaml.decode(b"a: 1\nb: caf\xe9\n")
    assert (info.value.line, info.value.column) == (2, 7)
    control = refused("a: 1\nb: é\x00\n")
    assert (control.line, control.column) == (2, 5)
    assert control.reason.startswith("not valid YAML: '\\x00' is not allowed")
    syntax = refused("a: [1, 2\nb: 3\n")
    assert syntax.reason.startswith("not valid YAML: ") and syntax.line == 2


def seal(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "seal", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    ("content", "where", "message"),
    [
        (BILLION_LAUGHS, r":\d:\d+: ", "the aliases stand for more than 50000 values"),
        (DEEP_FLOW, ":1:103: ", "nested more than 100 levels deep"),
        ("policy-file: p.yml\npolicy-file: q.yml\n", ":2:1: ", "duplicate key 'policy-file'"),
        ("policy-file: {a: [1]}\n", ":1:14: ", "a flag's value is a single value or a list"),
        ("verbose: .nan\n", ":1:10: ", "a number must be finite"),
        ("verbose: 1e300\n", ":1:10: ", "verbose: must be a whole number from 0"),
        ("silent: [true]\n", ":1:9: ", "silent: must be true or false"),
        ("log-format: xml\n", ":1:13: ", "log-format: must be plain or json"),
        ("[1, 2]\n", ":1:1: ", "a config file is a mapping of flag names to values"),
    ],
)
def test_a_bad_flag_file_is_one_located_usage_error(
    tmp_path: Path, content: str, where: str, message: str
) -> None:
    flags = tmp_path / "flags.yml"
    flags.write_text(content)
    started = time.monotonic()
    result = seal("-c", str(flags), "validate", "policies/kill-one-pod-and-probe.yml")
    assert time.monotonic() - started < 20
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"seal: error: {flags}"), line
    assert message in line

    assert re.match(rf"seal: error: {re.escape(str(flags))}{where}", line), line


def test_a_good_flag_file_still_works(tmp_path: Path) -> None:
    flags = tmp_path / "flags.yml"
    flags.write_text("verbose: 1\nsilent: false\nlog-format: plain\n")
    result = seal("-c", str(flags), "validate", "policies/kill-one-pod-and-probe.yml")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (DEEP_MAPS, ":1:400: the document is nested more than 100 levels deep"),
        (BILLION_LAUGHS, "values; seal does not expand them"),
        (b"clusters: []\nusers: [{name: caf\xe9}]\n", ":2:19: the file is not UTF-8 text"),
    ],
)
def test_a_bad_kubeconfig_is_a_located_usage_error(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    path = tmp_path / "config"
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_bytes(content)
    with pytest.raises(UsageError) as info:
        from_kubeconfig([path])
    assert str(info.value).startswith(f"{path}:"), info.value
    assert message in str(info.value)


def test_a_kubectl_payload_is_read_within_bounds() -> None:
    assert payload_objects("kind: Pod\nmetadata: {name: a}\n---\nkind: List\nitems: []\n") == [
        {"kind": "Pod", "metadata": {"name": "a"}}
    ]
    started = time.monotonic()
    assert payload_objects(DEEP_FLOW) == []  # not read: kubectl says why
    assert payload_objects(BILLION_LAUGHS) == []
    assert time.monotonic() - started < 2


class Clock:
    def sleep(self, seconds: float, *, interruptible: bool = True) -> None:
        pass


class Metrics:
    def __init__(self) -> None:
        self.reload_failures = 0

    def policy_reload_failed(self) -> None:
        self.reload_failures += 1

    def scenarios_known(self, names: Sequence[str]) -> None:
        pass


def test_the_daemon_keeps_its_last_good_policy_when_an_edit_breaks_a_bound(
    tmp_path: Path,
) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(
        "config: {runStrategy: {runs: 3, maxSecondsBetweenRuns: 0}}\n"
        "scenarios:\n- name: good one\n  steps: []\n"
    )
    edits = iter([BILLION_LAUGHS, DEEP_MAPS])
    ran: list[str] = []

    def run(scenario: ScenarioSpec, policy: Policy) -> ScenarioOutcome:
        ran.append(scenario.name)
        path.write_text(next(edits, "scenarios: []\n"))
        return ScenarioOutcome(scenario.name, "passed")

    metrics = Metrics()
    summary = PolicyRunner(
        lambda: load_policy(str(path), STEP_TYPES, {}),
        run,
        clock=Clock(),
        rng=random.Random(1),
        metrics=metrics,
    ).run()
    assert ran == ["good one"] * 3
    assert metrics.reload_failures == 2
    assert summary.exit_code == 0
