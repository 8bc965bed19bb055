"""The step types seal knows, the policy schema made from them, and loading a policy.

Adding a step type: one module with its `STEP`, and one line in `STEP_TYPES`.
Reads the policy file; nothing else.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Mapping

from seal.errors import PolicyError
from seal.policy.build import Node
from seal.policy.document import Document, parse_file, parse_text
from seal.policy.model import (
    DEFAULT_PROTECTED_NAMESPACES,
    Config,
    ExitStrategy,
    Policy,
    RunStrategy,
    Safety,
    ScenarioSpec,
    StepSpec,
)
from seal.policy.problems import Path, sorted_problems
from seal.policy.schema import Schema, array, boolean, number, obj, one_key, string
from seal.steps import alertmanager, clone, kubectl, node_action, pod_action, probe_http, wait
from seal.steps.base import StepType

STEP_TYPES: tuple[StepType, ...] = (
    pod_action.STEP,
    node_action.STEP,
    kubectl.STEP,
    probe_http.STEP,
    wait.STEP,
    clone.STEP,
    alertmanager.STEP,
)
STEPS_BY_KEY = {step.key: step for step in STEP_TYPES}

_CONFIG = obj(
    {
        "runStrategy": obj(
            {
                "strategy": string(
                    "round-robin runs every scenario each loop; random picks one",
                    enum=["round-robin", "random"],
                    default="round-robin",
                ),
                "runs": number("stop after this many loops (default: forever)", minimum=1),
                "minSecondsBetweenRuns": number("shortest sleep before a loop", minimum=0),
                "maxSecondsBetweenRuns": number("longest sleep before a loop", minimum=0),
            }
        ),
        "exitStrategy": obj(
            {
                "strategy": string(
                    "report: log failures and carry on; fail-fast: stop at the first",
                    enum=["report", "fail-fast"],
                    default="report",
                )
            }
        ),
        "safety": obj(
            {
                "dryRun": boolean("match and filter for real, change nothing", default=False),
                "protectedNamespaces": array(
                    string(minLength=1),
                    "namespaces seal never touches",
                    default=list(DEFAULT_PROTECTED_NAMESPACES),
                ),
                "maxTargetsPerStep": number(
                    "a step left with more targets fails before touching anything",
                    integer=True,
                    minimum=1,
                ),
            },
            description="seal's safety rules (a seal extension)",
        ),
    }
)


@functools.cache
def policy_schema() -> Schema:
    """The JSON Schema of the policy format: exactly what `seal validate` checks.

    Built once per process (the runner re-reads the policy every loop); do not change it.
    """
    step = one_key(
        "step",
        {s.key: s.schema for s in STEP_TYPES},
        description="a step: exactly one of " + ", ".join(s.key for s in STEP_TYPES),
    )
    scenario = obj(
        {
            "name": string("used in logs and metric labels", minLength=3, maxLength=80),
            "description": string(),
            "steps": array(step, "run in order; the first failing step fails the scenario"),
        },
        required=["name", "steps"],
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "seal policy",
        **obj(
            {"config": _CONFIG, "scenarios": array(scenario, "the chaos experiments")},
            required=["scenarios"],
        ),
    }


def _has_errors_under(path: Path, bad: set[Path]) -> bool:
    return any(b[: len(path)] == path for b in bad)


def _build_config(root: Node) -> Config:
    node = root.child("config")
    run = node.child("runStrategy")
    minimum = float(run.get("minSecondsBetweenRuns", 0))
    maximum = float(run.get("maxSecondsBetweenRuns", 300))
    if minimum > maximum:
        run.child("minSecondsBetweenRuns").problem(
            f"minSecondsBetweenRuns ({minimum:g}) is more than maxSecondsBetweenRuns ({maximum:g})"
        )
    runs = run.get("runs")
    safety = node.child("safety")
    limit = safety.get("maxTargetsPerStep")
    return Config(
        run_strategy=RunStrategy(
            strategy="random" if run.get("strategy") == "random" else "round-robin",
            runs=None if runs is None else int(runs),
            min_seconds=minimum,
            max_seconds=maximum,
        ),
        exit_strategy=ExitStrategy(
            "fail-fast" if node.child("exitStrategy").get("strategy") == "fail-fast" else "report"
        ),
        safety=Safety(
            dry_run=bool(safety.get("dryRun", False)),
            protected_namespaces=tuple(
                str(n) for n in safety.get("protectedNamespaces", DEFAULT_PROTECTED_NAMESPACES)
            ),
            max_targets_per_step=None if limit is None else int(limit),
        ),
    )


_SHAPE_ERRORS = (TypeError, ValueError, KeyError, AttributeError, StopIteration)


def _build_step(step: Node, bad: set[Path]) -> StepSpec | None:
    """The step's spec; for a step with schema problems, only its semantic problems.

    Building a step that failed the schema still finds problems the schema can't
    (a bad regular expression beside a misspelt key), so that one run of
    `seal validate` reports everything; what it builds is thrown away.
    """
    if not isinstance(step.value, dict) or len(step.value) != 1:
        return None
    key, body = step.only_key()
    step_type = STEPS_BY_KEY.get(key)
    if step_type is None:
        return None
    if not _has_errors_under(step.path, bad):
        spec: StepSpec = step_type.build(body)
        return spec
    with contextlib.suppress(*_SHAPE_ERRORS):
        step_type.build(body)
    return None


def _build_scenarios(root: Node, bad: set[Path]) -> tuple[ScenarioSpec, ...]:
    scenarios: list[ScenarioSpec] = []
    first_seen: dict[str, int] = {}
    for scenario in root.children("scenarios"):
        name = str(scenario.get("name", ""))
        if name in first_seen:
            scenario.child("name").problem(
                f"another scenario is also named '{name}' (line {first_seen[name]}); "
                "their logs and metrics will be mixed",
                warning=True,
            )
        first_seen.setdefault(name, scenario.child("name").location.line)
        steps: list[StepSpec] = []
        for step in scenario.children("steps"):
            built = _build_step(step, bad)
            if built is not None:
                steps.append(built)
        scenarios.append(
            ScenarioSpec(
                name, tuple(steps), str(scenario.get("description", "")), scenario.location
            )
        )
    return tuple(scenarios)


def policy_from_document(doc: Document) -> Policy:
    """Check and build a parsed document; raise `PolicyError` listing every problem."""
    config, scenarios = Config(), tuple[ScenarioSpec, ...]()
    if isinstance(doc.data, dict):
        from seal.policy.schema import check_schema

        bad = check_schema(doc, policy_schema())
        root = Node(doc, (), doc.data)
        if _has_errors_under(("config",), bad):
            with contextlib.suppress(*_SHAPE_ERRORS):
                _build_config(root)
        else:
            config = _build_config(root)
        scenarios = _build_scenarios(root, bad)
    problems = sorted_problems(doc.problems)
    errors = [str(p) for p in problems if not p.warning]
    if errors:
        raise PolicyError(errors)
    warnings = tuple(str(p) for p in problems if p.warning)
    return Policy(doc.source, config, scenarios, warnings)


def load_policy(path: str, environ: Mapping[str, str] | None = None) -> Policy:
    """Read, check and build the policy in file `path`."""
    return policy_from_document(parse_file(path, os.environ if environ is None else environ))


def load_policy_text(
    text: str, source: str = "<policy>", environ: Mapping[str, str] | None = None
) -> Policy:
    """Check and build a policy given as text."""
    return policy_from_document(
        parse_text(text, source, os.environ if environ is None else environ)
    )
