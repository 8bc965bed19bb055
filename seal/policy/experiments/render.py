"""A converted experiment as seal policy text, with comments saying where each part
came from. No I/O."""

from __future__ import annotations

import os
from typing import Any

import yaml

from seal.policy.experiments.convert import Converted, Origin, provider_name
from seal.policy.experiments.values import EnvRef
from seal.policy.problems import printable


class _Dumper(yaml.SafeDumper):
    """Plain YAML; a `${VARIABLE}` standing for a whole value stays a plain scalar, so
    that seal types what the environment holds."""


def _env_ref(dumper: yaml.SafeDumper, value: EnvRef) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="")


_Dumper.add_representer(EnvRef, _env_ref)


def _dump(value: Any, indent: int) -> list[str]:
    text = yaml.dump(value, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)
    return [" " * indent + line for line in text.splitlines()]


def _comment(origin: Origin) -> str:
    where = _path_text(origin.path)
    at = f" (line {origin.line})" if origin.line else ""
    name = f" '{' '.join(origin.name.split())}'" if origin.name else ""
    if origin.listed is not None:
        where, name = _path_text(origin.listed), f": ref{name}, as {where}"
    if origin.role != "activity":
        when = origin.role.split("-", 1)[1]
        return f"# {where}{name}{at}: its pause {when}"
    provider = origin.activity.get("provider") if isinstance(origin.activity, dict) else None
    kind = f": {provider_name(provider)}" if isinstance(provider, dict) else ""
    return f"# {where}{name}{at}{kind}"


def _path_text(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        if part in ("provider", "pauses"):
            break
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _section(
    converted: Converted,
    key: str,
    phase: str,
    items: list[Any],
    indent: int,
) -> list[str]:
    lines = [" " * indent + f"{key}:"]
    origins = converted.origins.get(phase, [])
    for item, origin in zip(items, origins, strict=False):
        lines.append(" " * indent + printable(_comment(origin)))
        lines.extend(_dump([item], indent))
    return lines


def render(converted: Converted) -> str:
    """The policy as YAML text."""
    policy = converted.policy
    scenario = policy["scenarios"][0]
    lines = [
        f"# The Chaos Toolkit experiment {os.path.basename(converted.source)} as a seal policy,",
        f"# '{printable(' '.join(converted.title.split()))}'.",
        "# Its hypothesis is the steady state (checked before and after), its method the",
        "# steps, its rollbacks the rollbacks (run once the steps started, whatever became",
        "# of them, before seal's own undos); it runs once.",
    ]
    values = converted.values
    for name, default in sorted((values.env_used if values else {}).items()):
        secret = values.secret_env.get(name) if values else None
        if secret is not None:
            lines.append(
                printable(f"# Reads the environment variable {name}: set it to the secret {secret}")
            )
            lines.append("#   before running (its literal value is not copied here).")
            continue
        lines.append(
            printable(
                f"# Reads the environment variable {name}"
                + (f" (default {default!r})." if default else ".")
            )
        )
    lines += _dump({"config": policy["config"]}, 0)
    lines += ["scenarios:"]
    head = {k: v for k, v in scenario.items() if k in ("name", "description")}
    lines += [("- " if i == 0 else "  ") + line for i, line in enumerate(_dump(head, 0))]
    if "steadyState" in scenario:
        lines += ["  steadyState:", f"    title: {_scalar(scenario['steadyState']['title'])}"]
        probes = scenario["steadyState"]["probes"]
        lines += _section(converted, "probes", "hypothesis", probes, 4)
    lines += _section(converted, "steps", "method", scenario["steps"], 2)
    if "rollbacks" in scenario:
        lines += _section(converted, "rollbacks", "rollbacks", scenario["rollbacks"], 2)
    return "\n".join(lines) + "\n"


def _scalar(value: str) -> str:
    return yaml.dump(value, Dumper=_Dumper, width=10_000).splitlines()[0].removesuffix(" ...")
