"""Each class of broken input that used to escape as a traceback is a located problem:
empty mappings and lists where a matcher, filter, action or step belongs, a list
where a mapping belongs, overflowing numbers, unicode and control characters,
duplicate and non-string keys, tags, merge keys, and values from the environment."""

from __future__ import annotations

import re

import pytest

from tests.policy.helpers import load, problems

LOCATED = re.compile(r"p\.yml:[1-9]\d*:[1-9]\d*: .+")


def pod_action(
    matches: str, filters: str = "[]", actions: str = "[{kill: {probability: 1}}]"
) -> str:
    return (
        "scenarios:\n- name: abc\n  steps:\n  - podAction:\n"
        f"      matches: {matches}\n      filters: {filters}\n      actions: {actions}\n"
    )


SHAPES = ["{}", "[{}]", "[[]]", "[null]", "[[{}]]", "[{a: 1}]", "[{namespace: {}}]", "[1]"]


def assert_located(text: str, env: dict[str, str] | None = None) -> list[str]:
    found = problems(text, env)
    assert found
    for line in found:
        assert LOCATED.fullmatch(line), line
        assert line.isprintable(), line
    return found


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("slot", ["matches", "filters", "actions"])
def test_wrong_shapes_in_a_pipeline_are_located(slot: str, shape: str) -> None:
    args = {"matches": "[{namespace: default}]", slot: shape}
    found = assert_located(pod_action(**args))
    assert any(f"podAction.{slot}" in line for line in found), found


@pytest.mark.parametrize(
    "step",
    [
        "{}",
        "[]",
        "{podAction: []}",
        "{nodeAction: {matches: [{}], actions: [[]]}}",
        "{clone: {mutations: [{}, [], {tc: []}, {toxiproxy: {toxics: [{}, []]}}]}}",
        "{kubectl: []}",
        "{probeHTTP: {target: []}}",
        "{probeHTTP: {target: {service: {}}}}",
        "{wait: []}",
        "{alertManagerAction: {actions: [{}, []]}}",
        "{podAction: {matches: [{namespace: a}], actions: [{kill: {}}], retries: []}}",
    ],
)
def test_wrong_shapes_of_steps_are_located(step: str) -> None:
    assert_located(f"scenarios:\n- name: abc\n  steps:\n  - {step}\n")


@pytest.mark.parametrize(
    "text",
    [
        "scenarios: [[]]",
        "scenarios: {}",
        "config: []\nscenarios: []",
        "config: {runStrategy: []}\nscenarios: []",
        "config: {safety: {protectedNamespaces: [{}]}}\nscenarios: []",
        "scenarios: [{name: [], steps: {}}]",
    ],
)
def test_wrong_shapes_at_the_top_are_located(text: str) -> None:
    assert_located(text + "\n")


def test_control_characters_are_escaped_not_sent_to_the_terminal() -> None:
    [found] = problems('"\\e[2J\\x00évil\\u202e": 1\nscenarios: []\n')
    assert found == (
        "p.yml:1:1: \\x1b[2J\\x00évil\\u202e: unknown key '\\x1b[2J\\x00évil\\u202e'; "
        "expected 'config', 'scenarios'"
    )


def test_unicode_names_are_fine() -> None:
    policy = load("scenarios:\n- name: kill ünïcødé 🦭\n  steps: []\n")
    assert policy.scenarios[0].name == "kill ünïcødé 🦭"
    assert load("scenarios: [{name: 2026-11-23, steps: []}]\n").scenarios[0].name == "2026-11-23"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("scenarios: []\nscenarios: []\n", "p.yml:2:1: scenarios: duplicate key 'scenarios'"),
        ("[1]: x\nscenarios: []\n", "p.yml:1:1: (top level): a key must be a plain string"),
        ("? {a: 1}\n: x\nscenarios: []\n", "p.yml:1:3: (top level): a key must be a plain string"),
        ("scenarios: !!python/object:os.system []\n", "unsupported YAML tag"),
        ("scenarios: !!binary aGVsbG8=\n", "unsupported YAML tag"),
        ("x: &a {name: abc}\nscenarios: [{<<: *a, steps: []}]\n", "unknown key"),
        ("scenarios: []\n---\nscenarios: []\n", "one YAML document, not several"),
        ("scenarios: [{name: abc, steps: [{wait: {seconds: 1e400}}]}]\n", "must be"),
        ("scenarios: [{name: abc, steps: [{wait: {seconds: 1.0e+400}}]}]\n", "finite"),
        (
            "scenarios: [{name: abc, steps: [{wait: {seconds: " + "9" * 5000 + "}}]}]\n",
            "cannot read",
        ),
    ],
)
def test_keys_tags_and_odd_values_are_located(text: str, message: str) -> None:
    found = assert_located(text)
    assert any(message in line for line in found), found


@pytest.mark.parametrize(
    "value",
    [".nan", "-.inf", "1" + "0" * 400, "[" * 5000, "&a [*a]", "{a: 1}", "\x1b[2J"],
)
def test_values_from_the_environment_are_checked_like_written_ones(value: str) -> None:
    text = "scenarios:\n- name: abc\n  steps:\n  - wait:\n      seconds: ${SECONDS}\n"
    found = assert_located(text, {"SECONDS": value})
    assert any("wait.seconds" in line for line in found), found
