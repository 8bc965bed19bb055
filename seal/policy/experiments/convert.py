"""A Chaos Toolkit experiment as a seal policy document, every part located in the
experiment, so that seal's loader checks it and reports problems at the experiment's
lines. Reads the experiment file; nothing else.

The experiment becomes one scenario run once: its steady-state hypothesis the
scenario's `steadyState`, its method the steps (a pause a `wait` before or after its
activity), its rollbacks the scenario's `rollbacks`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from seal import bounded_yaml
from seal.errors import DocumentError, PolicyError
from seal.policy.document import Document, parse_text
from seal.policy.experiments.activity import MISSING, Activity
from seal.policy.experiments.providers import ACTIONS, PROVIDERS
from seal.policy.experiments.values import Sink, Values
from seal.policy.loader import StepTable, policy_from_document
from seal.policy.model import Policy
from seal.policy.problems import DocPath, did_you_mean, format_path

PHASES = ("hypothesis", "method", "rollbacks")
_KNOWN_KEYS = (
    "version", "title", "description", "tags", "contributions", "configuration", "secrets",
    "extensions", "controls", "steady-state-hypothesis", "method", "rollbacks", "runtime",
    "keywords", "extra",
)  # fmt: skip
_IGNORED = {
    "controls": "seal runs no controls: 'controls' is ignored",
    "runtime": "seal ignores 'runtime': the hypothesis is checked before and after the "
    "method, and the rollbacks run whenever the method started",
}


class _Verbatim(Mapping[str, str]):
    """An environment in which every `${name}` stands for itself: an experiment's
    placeholders name its configuration, and are substituted by the converter."""

    def __getitem__(self, key: str) -> str:
        return "${" + key + "}"

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


@dataclass(frozen=True)
class Origin:
    """Where one step of the converted policy comes from."""

    phase: str
    #: the activity's path in the experiment, and the activity as written
    path: DocPath
    activity: Any
    #: "activity", or "pause-before" / "pause-after"
    role: str = "activity"
    #: the activity's line in the experiment
    line: int = 0
    #: where it is listed, when that is a `ref` to an activity defined elsewhere
    listed: DocPath | None = None

    @property
    def name(self) -> str:
        return str(self.activity.get("name", "")) if isinstance(self.activity, dict) else ""


@dataclass
class Converted:
    """An experiment as a seal policy: the policy, its document (with the experiment's
    locations and the conversion's problems) and where each step came from."""

    source: str
    experiment: Any
    policy: dict[str, Any]
    doc: Document
    origins: dict[str, list[Origin]] = field(default_factory=dict)
    values: Values | None = None

    @property
    def title(self) -> str:
        return str(self.experiment.get("title", ""))


def looks_like_experiment(data: Any) -> bool:
    return isinstance(data, dict) and "method" in data and "scenarios" not in data


def read_experiment(path: str, environ: Mapping[str, str] | None) -> Converted | None:
    """The experiment in file `path` converted, or None when the file holds no experiment
    (a policy, or nothing seal can read: the policy loader reports that). `environ`:
    the environment values are read from now; None keeps them references (`seal
    convert`)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(bounded_yaml.DEFAULT_LIMITS.max_bytes + 1)
        bounded_yaml.check_size(len(raw))
        text = bounded_yaml.decode(raw)
    except (OSError, DocumentError):
        return None
    if "method" not in text:
        return None
    return experiment_from_text(text, path, environ)


def experiment_from_text(
    text: str, source: str, environ: Mapping[str, str] | None
) -> Converted | None:
    exp = parse_text(text, source, _Verbatim())
    if not looks_like_experiment(exp.data):
        return None
    out = Document(source, problems=list(exp.problems))
    converted = Converted(source, exp.data, {}, out)
    _Builder(converted, Sink(exp, out), environ).build()
    if any(not p.warning for p in out.problems):
        # what the experiment says is wrong: the policy made of it would only repeat it
        out.data = None
    return converted


class _Builder:
    def __init__(self, converted: Converted, sink: Sink, environ: Mapping[str, str] | None) -> None:
        self.converted = converted
        self.sink = sink
        self.values = Values(sink, environ)
        converted.values = self.values
        self.data: dict[str, Any] = converted.experiment
        self.named: dict[str, tuple[DocPath, Any]] = {}
        self.sections: dict[str, tuple[DocPath, list[Any]]] = {}

    def place(self, policy_path: DocPath, exp_path: DocPath) -> None:
        self.sink.out.values[policy_path] = self.sink.exp.at(exp_path)

    def build(self) -> None:
        self._top_level()
        self.values.read(self.data)
        self.sections = {phase: (path, items) for phase, path, items in self._sections()}
        self._index_names()
        title = self.data.get("title")
        name = self.values.substitute(title, ("title",)) if isinstance(title, str) else ""
        if len(name) > 80:
            self.sink.problem(
                ("title",),
                "seal names the scenario after the title's first 80 characters",
                warning=True,
            )
        if isinstance(title, str) and len(name.strip()) < 3:
            self.sink.problem(("title",), "the title names the scenario: at least 3 characters")
            self.sink.out.settled.add(("scenarios", 0, "name"))
        scenario: dict[str, Any] = {"name": name[:80]}
        description = self.data.get("description")
        if isinstance(description, str) and description:
            scenario["description"] = self.values.substitute(description, ("description",))
        hypothesis = self._steps("hypothesis", ("scenarios", 0, "steadyState", "probes"))
        if hypothesis:
            ssh = self.data.get("steady-state-hypothesis") or {}
            title = ssh.get("title") if isinstance(ssh, dict) else None
            title = self.values.substitute(title, ("steady-state-hypothesis", "title"))
            scenario["steadyState"] = {"title": str(title or ""), "probes": hypothesis}
            self.place(("scenarios", 0, "steadyState"), ("steady-state-hypothesis",))
        scenario["steps"] = self._steps("method", ("scenarios", 0, "steps"))
        rollbacks = self._steps("rollbacks", ("scenarios", 0, "rollbacks"))
        if rollbacks:
            scenario["rollbacks"] = rollbacks
        self.converted.policy = {
            "config": {
                "runStrategy": {"runs": 1, "minSecondsBetweenRuns": 0, "maxSecondsBetweenRuns": 0},
                "exitStrategy": {"strategy": "fail-fast"},
            },
            "scenarios": [scenario],
        }
        self.sink.out.data = self.converted.policy
        self.place(("scenarios", 0, "name"), ("title",))
        self.place(("scenarios", 0), ())

    def _top_level(self) -> None:
        for key in self.data:
            if key in _IGNORED:
                self.sink.problem((key,), _IGNORED[key], warning=True, key=True)
            elif key not in _KNOWN_KEYS:
                hint = did_you_mean(key, _KNOWN_KEYS)
                message = f"not part of an experiment; ignored{hint}"
                self.sink.problem((key,), message, warning=True, key=True)
        if not isinstance(self.data.get("title"), str) or not self.data["title"].strip():
            self.sink.problem((), "an experiment needs a 'title' (it names the scenario)")
        method = self.data.get("method")
        if not isinstance(method, list) or not method:
            self.sink.problem(
                ("method",) if method is not None else (),
                "an experiment needs a 'method': a list of at least one activity",
            )

    def _sections(self) -> Iterator[tuple[str, DocPath, list[Any]]]:
        ssh = self.data.get("steady-state-hypothesis")
        if ssh is not None and not isinstance(ssh, dict):
            self.sink.problem(("steady-state-hypothesis",), "must be a mapping {title, probes}")
        elif isinstance(ssh, dict):
            if not ssh.get("title"):
                self.sink.problem(("steady-state-hypothesis",), "the hypothesis needs a 'title'")
            probes = ssh.get("probes")
            yield "hypothesis", ("steady-state-hypothesis", "probes"), _list(probes)
        yield "method", ("method",), _list(self.data.get("method"))
        rollbacks = self.data.get("rollbacks")
        if rollbacks is not None and not isinstance(rollbacks, list):
            self.sink.problem(("rollbacks",), "rollbacks must be a list of activities")
        yield "rollbacks", ("rollbacks",), _list(rollbacks)

    def _index_names(self) -> None:
        for path, items in self.sections.values():
            for index, item in enumerate(items):
                if isinstance(item, dict) and "ref" not in item and item.get("name"):
                    self.named.setdefault(str(item["name"]), ((*path, index), item))

    def _steps(self, phase: str, out_path: DocPath) -> list[dict[str, Any]]:
        if phase not in self.sections:
            return []
        path, items = self.sections[phase]
        steps: list[dict[str, Any]] = []
        origins = self.converted.origins.setdefault(phase, [])
        for index, item in enumerate(items):
            listed = (*path, index) if isinstance(item, dict) and "ref" in item else None
            for role, step, at in self._activity(phase, (*path, index), item):
                self.place((*out_path, len(steps)), at)
                steps.append(step)
                line = self.sink.exp.at(at).line
                origin = Origin(phase, at, self._resolved(item), role, line, listed)
                origins.append(origin)
        return steps

    def _resolved(self, item: Any) -> Any:
        if isinstance(item, dict) and isinstance(item.get("ref"), str):
            return self.named.get(item["ref"], (None, item))[1]
        return item

    def _activity(
        self, phase: str, path: DocPath, item: Any
    ) -> Iterator[tuple[str, dict[str, Any], DocPath]]:
        if isinstance(item, dict) and "ref" in item:
            ref = item["ref"]
            if not isinstance(ref, str) or ref not in self.named:
                known = ", ".join(sorted(self.named)) or "none"
                shown = ref if isinstance(ref, str) else json.dumps(ref)[:40]
                message = f"no activity is named {shown!r} (named: {known})"
                self.sink.problem((*path, "ref"), message)
                return
            path, item = self.named[ref]
            if phase != "hypothesis":  # its tolerance is the hypothesis's business
                item = {k: v for k, v in item.items() if k != "tolerance"}
        activity = self._checked(phase, path, item)
        if activity is None:
            return
        pauses = item.get("pauses") if isinstance(item.get("pauses"), dict) else {}
        if phase == "hypothesis" and pauses:
            self.sink.problem(
                (*path, "pauses"), "a hypothesis probe's pauses are not kept", warning=True
            )
            pauses = {}
        if item.get("background"):
            self.sink.problem(
                (*path, "background"),
                "seal runs every activity in turn: this one runs in the foreground",
                warning=True,
            )
        if item.get("controls"):
            self.sink.problem((*path, "controls"), "seal runs no controls: ignored", warning=True)
        yield from self._pause(pauses, "before", path)
        step = self._provider(activity)
        if step is not None:
            yield "activity", step, activity.provider_path
        yield from self._pause(pauses, "after", path)

    def _pause(
        self, pauses: Mapping[str, Any], when: str, path: DocPath
    ) -> Iterator[tuple[str, dict[str, Any], DocPath]]:
        if when not in pauses:
            return
        seconds = self.values.substitute(pauses[when], (*path, "pauses", when))
        yield f"pause-{when}", {"wait": {"seconds": seconds}}, (*path, "pauses", when)

    def _checked(self, phase: str, path: DocPath, item: Any) -> Activity | None:
        if not isinstance(item, dict):
            self.sink.problem(path, "an activity is a mapping {type, name, provider}")
            return None
        kind, provider = item.get("type"), item.get("provider")
        if kind not in ("action", "probe"):
            self.sink.problem(
                (*path, "type") if "type" in item else path, "an activity's type is action or probe"
            )
            return None
        if not isinstance(item.get("name"), str) or not item["name"]:
            self.sink.problem(path, "an activity needs a 'name'")
        if not isinstance(provider, dict):
            self.sink.problem(path, "an activity needs a 'provider' mapping")
            return None
        tolerance = item.get("tolerance", MISSING)
        if phase == "hypothesis" and tolerance is MISSING:
            self.sink.problem(path, "a hypothesis probe needs a 'tolerance'")
        return Activity(path, str(item.get("name", "")), kind, phase, provider, tolerance)

    def _provider(self, activity: Activity) -> dict[str, Any] | None:
        name = provider_name(activity.provider)
        convert = PROVIDERS.get(name)
        if convert is None:
            self.sink.problem(activity.provider_path, unknown_provider(name))
            return None
        if activity.phase == "hypothesis" and name.rsplit(".", 1)[-1] in ACTIONS:
            self.sink.problem(
                activity.provider_path, f"{name} changes the system: a hypothesis holds probes only"
            )
            return None
        return convert(self.values, activity)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def provider_name(provider: Mapping[str, Any]) -> str:
    kind = str(provider.get("type", ""))
    if kind == "python":
        return f"python {provider.get('module', '')}.{provider.get('func', '')}"
    if kind == "process":
        return f"process {provider.get('path', '')}"
    return kind


def unknown_provider(name: str) -> str:
    known = ", ".join(PROVIDERS)
    if name.startswith("process"):
        return (
            f"the provider '{name}' runs a program on this machine: seal runs no process "
            f"activity. Providers seal runs: {known}"
        )
    return f"unknown provider '{name or 'no type'}'. Providers seal runs: {known}" + did_you_mean(
        name, PROVIDERS
    )


def as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


_POLICY_STEP = re.compile(
    r"^(?P<where>.*?:\d+:\d+: )scenarios\[0\]\.(?P<section>steps|rollbacks|steadyState\.probes)"
    r"\[(?P<index>\d+)\](?:\.(?P<rest>\S+?))?: "
)
_PHASE_OF = {"steps": "method", "rollbacks": "rollbacks", "steadyState.probes": "hypothesis"}


def in_experiment_terms(converted: Converted, problem: str) -> str:
    """A problem of the converted policy, naming the experiment's activity instead of the
    policy's step: `method[3].provider (as probeHTTP.target.url): ...`."""
    match = _POLICY_STEP.match(problem)
    if match is None:
        return problem
    origins = converted.origins.get(_PHASE_OF[match["section"]], [])
    index = int(match["index"])
    if index >= len(origins):
        return problem
    origin = origins[index]
    path = format_path(origin.listed or origin.path)
    path += f" (as {match['rest']})" if match["rest"] else ""
    return f"{match['where']}{path}: {problem[match.end() :]}"


def load_converted(converted: Converted, step_types: StepTable) -> Policy:
    """The converted experiment checked and built by the policy loader, its problems
    naming the experiment's activities."""
    try:
        policy = policy_from_document(converted.doc, step_types)
    except PolicyError as exc:
        raise PolicyError([in_experiment_terms(converted, p) for p in exc.problems]) from None
    return Policy(
        policy.source,
        policy.config,
        policy.scenarios,
        tuple(in_experiment_terms(converted, w) for w in policy.warnings),
    )
