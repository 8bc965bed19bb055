"""Commands the sandbox's kubelets "run": pods with `restartPolicy: Never` whose containers
give a `command` (as seal's exec pods do) run to completion, with a result chosen by rules
set through the admin API, and every run is recorded. No I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sandbox.store import ApiError, Obj

MAX_RECORDED = 10_000
MAX_RULES = 1_000
MAX_OUTPUT = 1 << 20
MAX_SECONDS = 86_400
#: `sleep N` in a command makes it run N seconds longer, as on a real node
_SLEEP = re.compile(r"(?:^|[\s;&|(])sleep\s+(\d+(?:\.\d+)?)s?\b")


def duration(command: str, base: float) -> float:
    """How long `command` runs: `base`, plus the seconds of every `sleep N` in it."""
    return min(MAX_SECONDS, base + sum(float(n) for n in _SLEEP.findall(command)))


@dataclass(frozen=True)
class Rule:
    """The result of every command whose joined words `match` (a regular expression)."""

    match: str
    exit_code: int = 0
    output: str = ""
    #: how long the command runs (None: as `duration` says)
    seconds: float | None = None
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", re.compile(self.match))

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"match": self.match, "exitCode": self.exit_code}
        found["output"] = self.output
        if self.seconds is not None:
            found["seconds"] = self.seconds
        return found


@dataclass(frozen=True)
class Execution:
    """One container's command, run on a node."""

    node: str
    namespace: str
    pod: str
    pod_uid: str
    container: str
    command: tuple[str, ...]
    time: str
    exit_code: int
    output: str
    seconds: float

    @property
    def joined(self) -> str:
        return " ".join(self.command)

    def as_json(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "namespace": self.namespace,
            "pod": self.pod,
            "container": self.container,
            "command": list(self.command),
            "joined": self.joined,
            "time": self.time,
            "exitCode": self.exit_code,
            "output": self.output,
            "seconds": self.seconds,
        }


def runs_to_completion(pod: Obj) -> bool:
    """Whether the pod runs its containers' commands once (then Succeeded or Failed)."""
    spec = pod.get("spec", {})
    return spec.get("restartPolicy") == "Never" and any(
        c.get("command") for c in spec.get("containers") or []
    )


def command_of(container: Obj) -> tuple[str, ...]:
    return tuple(
        str(w) for w in [*(container.get("command") or []), *(container.get("args") or [])]
    )


def parse_rule(body: object) -> Rule:
    """A rule from the admin API's JSON body; `ApiError` 400 naming what is wrong."""
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", 'the body must be an object: {"match": "<regex>", ...}')
    unknown = sorted(set(body) - {"match", "exitCode", "output", "seconds"})
    if unknown:
        raise ApiError(400, "BadRequest", f"unknown field(s): {', '.join(unknown)}")
    match, exit_code, output = body.get("match"), body.get("exitCode", 0), body.get("output", "")
    if not isinstance(match, str):
        raise ApiError(400, "BadRequest", "match: a regular expression (string) is required")
    if isinstance(exit_code, bool) or not isinstance(exit_code, int) or not 0 <= exit_code <= 255:
        raise ApiError(
            400, "BadRequest", f"exitCode: must be an integer from 0 to 255, got {exit_code!r}"
        )
    if not isinstance(output, str) or len(output) > MAX_OUTPUT:
        raise ApiError(
            400, "BadRequest", f"output: must be a string of at most {MAX_OUTPUT} characters"
        )
    seconds = body.get("seconds")
    if seconds is not None and (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not 0 <= seconds <= MAX_SECONDS
    ):
        raise ApiError(
            400, "BadRequest", f"seconds: must be a number from 0 to {MAX_SECONDS}, got {seconds!r}"
        )
    try:
        return Rule(match, exit_code, output, None if seconds is None else float(seconds))
    except re.error as exc:
        raise ApiError(400, "BadRequest", f"match: not a regular expression: {exc}") from exc


class Executions:
    """The rules deciding commands' results (the newest matching rule wins; none: exit code
    0 and no output), and the commands run so far (the oldest forgotten past a bound)."""

    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self.done: list[Execution] = []
        #: (pod uid, container) -> its output, for the pod's log
        self._outputs: dict[tuple[str, str], str] = {}

    def add_rule(self, rule: Rule) -> None:
        if len(self.rules) >= MAX_RULES:
            raise ApiError(409, "Conflict", f"at most {MAX_RULES} rules; delete them first")
        self.rules.append(rule)

    def rule_for(self, command: tuple[str, ...]) -> Rule | None:
        joined = " ".join(command)
        return next((r for r in reversed(self.rules) if r.pattern.search(joined)), None)

    def run(self, pod: Obj, container: Obj, when: str, base_seconds: float) -> Execution:
        """Run `container`'s command of `pod` (bound to a node): its result, recorded.
        `base_seconds`: how long a command takes when no rule and no `sleep` says."""
        meta = pod["metadata"]
        command = command_of(container)
        rule = self.rule_for(command)
        seconds = rule.seconds if rule and rule.seconds is not None else None
        done = Execution(
            node=str(pod["spec"].get("nodeName", "")),
            namespace=str(meta.get("namespace", "")),
            pod=str(meta["name"]),
            pod_uid=str(meta.get("uid", "")),
            container=str(container.get("name", "")),
            command=command,
            time=when,
            exit_code=rule.exit_code if rule else 0,
            output=rule.output if rule else "",
            seconds=duration(" ".join(command), base_seconds) if seconds is None else seconds,
        )
        self.done.append(done)
        if len(self.done) > MAX_RECORDED:
            gone = self.done.pop(0)
            self._outputs.pop((gone.pod_uid, gone.container), None)
        self._outputs[(done.pod_uid, done.container)] = done.output
        return done

    def output(self, pod: Obj, container: str) -> str | None:
        """What the pod's container printed, or None when it has not run here."""
        return self._outputs.get((str(pod["metadata"].get("uid", "")), container))
