"""Loading a policy: parse, check against the schema made from the step types, build specs.

The step types are an argument, so the policy package knows no step: the
registry in `seal.steps` hands its table in. Reads the policy file; nothing else.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence

from seal import bounded_yaml
from seal.errors import PolicyError
from seal.policy.background import (
    ABORT_CHECK_SCHEMA,
    BACKGROUND_SCHEMA,
    DEFAULT_ABORT_CHECK_SECONDS,
    abort_when_schema,
    build_background,
)
from seal.policy.docnode import DocNode
from seal.policy.document import Document, parse_file, parse_text
from seal.policy.model import (
    DEFAULT_PROTECTED_NAMESPACES,
    Config,
    ExitStrategy,
    Policy,
    RunStrategy,
    Safety,
    ScenarioSpec,
    SteadyState,
    StepBuilder,
    StepSpec,
)
from seal.policy.problems import sorted_problems
from seal.policy.schedule import SCHEDULE_SCHEMA, build_schedule
from seal.policy.schema import Schema, array, boolean, number, obj, one_key, string

StepTable = Sequence[StepBuilder]
#: the steps a steady-state hypothesis may hold: those whose key starts with this
PROBE_PREFIX = "probe"

CONFIG_SCHEMA = obj(
    {
        "runStrategy": obj(
            {
                "strategy": string(
                    "round-robin runs every scenario each loop; random picks one",
                    enum=["round-robin", "random"],
                    default="round-robin",
                ),
                "runs": number("stop after this many loops (default: forever)", minimum=1),
                "minSecondsBetweenRuns": number("shortest sleep between two loops", minimum=0),
                "maxSecondsBetweenRuns": number("longest sleep between two loops", minimum=0),
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
                "failOnEmptyMatch": boolean(
                    "a matcher that matches nothing fails its step (else: a warning)",
                    default=False,
                ),
            },
            description="seal's safety rules (a seal extension)",
        ),
        "schedule": SCHEDULE_SCHEMA,
    }
)


@functools.cache
def _schema(step_types: tuple[StepBuilder, ...]) -> Schema:
    step = one_key(
        "step",
        {s.key: s.schema for s in step_types},
        description="a step: exactly one of " + ", ".join(s.key for s in step_types),
    )
    probe = one_key(
        "probe",
        {s.key: s.schema for s in step_types if s.key.startswith(PROBE_PREFIX)},
        description="a probe: exactly one of "
        + ", ".join(s.key for s in step_types if s.key.startswith(PROBE_PREFIX)),
    )
    steady_state = obj(
        {
            "title": string("what the hypothesis says, for logs and reports"),
            "probes": array(probe, "every one must pass", minItems=1),
        },
        required=["probes"],
        description="checked before the steps (not met: no chaos, not-steady) and after "
        "them and their undos (not met: deviated); a seal extension",
    )
    scenario = obj(
        {
            "name": string("used in logs and metric labels", minLength=3, maxLength=80),
            "description": string(),
            "steadyState": steady_state,
            "background": BACKGROUND_SCHEMA,
            "abortWhen": abort_when_schema(probe),
            "abortCheckSeconds": ABORT_CHECK_SCHEMA,
            "steps": array(step, "run in order; the first failing step fails the scenario"),
            "rollbacks": array(
                step,
                "run after the steps, whatever became of them, each even if the one before "
                "failed, before the undos; a failing one fails the scenario",
            ),
        },
        required=["name", "steps"],
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "seal policy",
        **obj(
            {"config": CONFIG_SCHEMA, "scenarios": array(scenario, "the chaos experiments")},
            required=["scenarios"],
        ),
    }


def policy_schema(step_types: StepTable) -> Schema:
    """The JSON Schema of the policy format for these step types: what `seal validate` checks.

    Built once per process for a given table (the runner re-reads the policy every
    loop); do not change what it returns.
    """
    return _schema(tuple(step_types))


def build_config(root: DocNode) -> Config:
    """The config section, with defaults filled in (built only from a schema-valid section)."""
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
            fail_on_empty_match=bool(safety.get("failOnEmptyMatch", False)),
        ),
        schedule=build_schedule(node.child("schedule")),
    )


def _build_steps(
    scenario: DocNode, by_key: Mapping[str, StepBuilder], section: str = "steps"
) -> tuple[StepSpec, ...]:
    """The specs of the scenario's steps (or rollbacks) that the schema accepted (the others
    are reported)."""
    steps: list[StepSpec] = []
    for step in scenario.children(section):
        key, body = step.only_key()
        if key in by_key:
            steps.append(by_key[key].build(body))
    return tuple(steps)


def _build_steady_state(scenario: DocNode, by_key: Mapping[str, StepBuilder]) -> SteadyState | None:
    node = scenario.child("steadyState")
    if not isinstance(node.value, dict):
        return None
    probes: list[StepSpec] = []
    for probe in node.children("probes"):
        key, body = probe.only_key()
        if key in by_key:
            probes.append(by_key[key].build(body))
    return SteadyState(str(node.get("title", "")), tuple(probes), node.location)


def _build_abort_when(scenario: DocNode, by_key: Mapping[str, StepBuilder]) -> tuple[StepSpec, ...]:
    probes: list[StepSpec] = []
    for probe in scenario.children("abortWhen"):
        key, body = probe.only_key()
        if key in by_key:
            probes.append(by_key[key].build(body))
    return tuple(probes)


def _build_scenarios(root: DocNode, by_key: Mapping[str, StepBuilder]) -> tuple[ScenarioSpec, ...]:
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
        scenarios.append(
            ScenarioSpec(
                name,
                _build_steps(scenario, by_key),
                str(scenario.get("description", "")),
                scenario.location,
                _build_steady_state(scenario, by_key),
                rollbacks=_build_steps(scenario, by_key, "rollbacks"),
                background=build_background(scenario),
                abort_when=_build_abort_when(scenario, by_key),
                abort_check_seconds=float(
                    scenario.get("abortCheckSeconds", DEFAULT_ABORT_CHECK_SECONDS)
                ),
            )
        )
    return tuple(scenarios)


def policy_from_document(doc: Document, step_types: StepTable) -> Policy:
    """Check and build a parsed document; raise `PolicyError` listing every problem.

    Builders run only on what the schema accepted, so they may rely on its shape.
    """
    config, scenarios = Config(), tuple[ScenarioSpec, ...]()
    if isinstance(doc.data, dict):
        from seal.policy.schema import check_schema

        check_schema(doc, policy_schema(step_types))
        root = DocNode(doc, (), doc.data)
        config = build_config(root)
        scenarios = _build_scenarios(root, {s.key: s for s in step_types})
    problems = sorted_problems(doc.problems)
    errors = [str(p) for p in problems if not p.warning]
    if errors:
        raise PolicyError(errors)
    warnings = tuple(str(p) for p in problems if p.warning)
    return Policy(doc.source, config, scenarios, warnings)


def load_policy(
    path: str, step_types: StepTable, environ: Mapping[str, str] | None = None
) -> Policy:
    """Read, check and build the policy in file `path` (or the Chaos Toolkit experiment:
    a file with a top-level `method` is converted into the policy it stands for)."""
    if may_hold_experiment(path):
        from seal.policy.experiments.convert import load_converted, read_experiment

        experiment = read_experiment(path, os.environ if environ is None else environ)
        if experiment is not None:
            return load_converted(experiment, step_types)
    document = parse_file(path, os.environ if environ is None else environ)
    return policy_from_document(document, step_types)


def may_hold_experiment(path: str) -> bool:
    """False only for a UTF-8 file without the word `method`, which no experiment is:
    such a policy never pays for the experiment converter's import."""
    raw = _read_head(path)
    try:
        return raw is None or "method" in raw.decode("utf-8")
    except UnicodeDecodeError:
        return True  # the converter or the policy parser says what is wrong


def _read_head(path: str) -> bytes | None:
    """The file's bytes, up to one past the largest policy read; None when unreadable."""
    try:
        with open(path, "rb") as handle:
            return handle.read(bounded_yaml.DEFAULT_LIMITS.max_bytes + 1)
    except OSError:
        return None


#: what a policy is made of: the file's bytes and the environment its values come from
Fingerprint = tuple[bytes, frozenset[tuple[str, str]]]


def _fingerprint(path: str) -> Fingerprint | None:
    raw = _read_head(path)
    return None if raw is None else (raw, frozenset(os.environ.items()))


class PolicyFile:
    """A policy file parsed and checked again only when its bytes or the environment
    changed, so that a run checks an unchanged policy once, however many loops it has."""

    def __init__(self, path: str, step_types: StepTable) -> None:
        self.path = path
        self._step_types = step_types
        self._seen: Fingerprint | None = None
        self._policy: Policy | None = None

    def load(self) -> tuple[Policy, bool]:
        """The policy as the file holds it now, and whether it was read afresh (else it is
        the one read before); `PolicyError` when it is invalid."""
        seen = _fingerprint(self.path)  # taken first: a change while loading shows next time
        if seen is not None and seen == self._seen and self._policy is not None:
            return self._policy, False
        policy = load_policy(self.path, self._step_types)
        self._seen, self._policy = seen, policy
        return policy, True


def load_policy_text(
    text: str,
    step_types: StepTable,
    source: str = "<policy>",
    environ: Mapping[str, str] | None = None,
) -> Policy:
    """Check and build a policy given as text."""
    return policy_from_document(
        parse_text(text, source, os.environ if environ is None else environ), step_types
    )
