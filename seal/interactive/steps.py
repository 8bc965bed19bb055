"""Shell commands as policy steps: the step a command stands for, checked and built by
the policy loader, so what the shell runs is exactly what a recording replays. No I/O."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from seal.errors import PolicyError, UsageError
from seal.policy.loader import load_policy_text
from seal.policy.model import StepSpec
from seal.steps.registry import STEP_TYPES

Step = dict[str, Any]


def _escaped(value: Any) -> Any:
    """Strings as typed: `${` is not an environment reference in the shell."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, dict):
        return {k: _escaped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    return value


def build(step: Step) -> StepSpec:
    """The spec of one step, checked as `seal validate` checks it; `UsageError` if invalid."""
    text = json.dumps({"scenarios": [{"name": "interactive", "steps": [_escaped(step)]}]})
    try:
        policy = load_policy_text(text, STEP_TYPES, source="<command>", environ={})
    except PolicyError as exc:
        reasons = "; ".join(p.split(": ", 1)[-1] for p in exc.problems)
        raise UsageError(f"not a valid step: {reasons}") from exc
    return policy.scenarios[0].steps[0]


def recorded(step: Step) -> Step:
    """The step as a policy file holds it."""
    result: Step = _escaped(step)
    return result


def names_pattern(names: Sequence[str]) -> str:
    """A property value matching exactly these names (values are anchored at the start)."""
    return "(?:" + "|".join(re.escape(n) for n in names) + ")$"


def sample_filter(sample: str | None) -> list[Step]:
    """`--sample N` (a count) or `--sample 0.3` (a ratio) as a randomSample filter."""
    if sample is None:
        return []
    try:
        if re.fullmatch(r"\d+", sample):
            return [{"randomSample": {"size": int(sample)}}]
        ratio = float(sample)
    except ValueError:
        ratio = -1.0
    if not 0 <= ratio <= 1:
        raise UsageError(f"--sample {sample}: expected a count (3) or a ratio from 0 to 1 (0.5)")
    return [{"randomSample": {"ratio": ratio}}]


def kill_by_names(pods: Sequence[tuple[str, str]], force: bool, evict: bool) -> Step:
    """Kill the named pods, given as (namespace, name)."""
    namespaces = sorted({ns for ns, _ in pods})
    names = sorted({name for _, name in pods})
    return {
        "podAction": {
            "matches": [{"namespace": ",".join(namespaces)}],
            "filters": [{"property": {"name": "name", "value": names_pattern(names)}}],
            "actions": [{"kill": {"force": force, "evict": evict}}],
        }
    }


def kill_step(matcher: Step, force: bool, evict: bool) -> Step:
    """Kill the pods one matcher (labels, deployment) finds."""
    return {
        "podAction": {
            "matches": [matcher],
            "filters": [],
            "actions": [{"kill": {"force": force, "evict": evict}}],
        }
    }


def nodes_step(names: Sequence[str], az: str | None, sample: str | None, action: Step) -> Step:
    """A nodeAction on the named nodes, or on those of an availability zone."""
    if names:
        matcher = {"property": {"name": "name", "value": names_pattern(sorted(set(names)))}}
    elif az:
        matcher = {"property": {"name": "az", "value": re.escape(az) + "$"}}
    else:
        raise UsageError("name the node(s), or give --az ZONE")
    return {
        "nodeAction": {"matches": [matcher], "filters": sample_filter(sample), "actions": [action]}
    }


def probe_step(
    target: str, namespace: str, port: int, endpoint: str | None, code: int, count: int
) -> Step:
    """Probe a URL, or a service named NAME or NAMESPACE/NAME."""
    if "://" in target:
        where: Step = {"url": target}
    else:
        ns, _, name = target.rpartition("/")
        where = {"service": {"name": name, "namespace": ns or namespace, "port": port}}
    body: Step = {"target": where, "code": code, "count": count}
    if endpoint:
        body["endpoint"] = endpoint
    return {"probeHTTP": body}


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(text: str, what: str) -> float:
    """`90`, `1.5`, `30s`, `10m`, `2h` as seconds; `UsageError` otherwise."""
    match = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)\s*([smhd]?)", text.strip().lower())
    if not match:
        raise UsageError(f"{what} {text!r}: expected seconds, or a number with s, m, h or d")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def silence_step(url: str, duration: float) -> Step:
    return {
        "alertManagerAction": {
            "targets": [{"url": url}],
            "actions": [{"mute": {"duration": int(duration), "autoUnmute": True}}],
        }
    }
