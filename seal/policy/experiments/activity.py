"""An activity as a provider's converter sees it, and its checked arguments. No I/O."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from seal.policy.experiments.values import EnvRef, Values
from seal.policy.problems import DocPath

#: a tolerance that was not given
MISSING: Any = object()


@dataclass(frozen=True)
class Activity:
    """An activity as a provider converter sees it."""

    path: DocPath
    name: str
    kind: str
    #: "hypothesis", "method" or "rollbacks"
    phase: str
    provider: Mapping[str, Any]
    tolerance: Any = MISSING

    @property
    def provider_path(self) -> DocPath:
        return (*self.path, "provider")


class Args:
    """A python provider's arguments: each checked against the function's parameters."""

    def __init__(self, values: Values, activity: Activity, func: str, known: tuple[str, ...]):
        self.values = values
        self.path = (*activity.provider_path, "arguments")
        raw = activity.provider.get("arguments")
        self.raw: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if raw is not None and not isinstance(raw, dict):
            values.sink.problem(self.path, "arguments must be a mapping of names to values")
        for name in self.raw:
            if name not in known and name not in ("secrets", "configuration"):
                values.sink.problem(
                    (*self.path, name),
                    f"{func} takes no argument '{name}'; it takes: {', '.join(known)}",
                )

    def get(self, name: str, default: Any = None) -> Any:
        if name not in self.raw:
            return default
        return self.values.substitute(self.raw[name], (*self.path, name))

    def text(self, name: str, default: str | None = None, *, required: bool = False) -> Any:
        value = self.get(name, default)
        if value is None and required:
            self.values.sink.problem(self.path, f"the argument '{name}' is required")
        if value is not None and not isinstance(value, str):
            self._wrong(name, "text")
            return default
        return value

    def integer(self, name: str, default: int | None = None, *, required: bool = False) -> Any:
        value = self.get(name, default)
        if value is None and required:
            self.values.sink.problem(self.path, f"the argument '{name}' is required")
        if isinstance(value, EnvRef) or value is None:
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self._wrong(name, "a whole number")
            return default
        return value

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.get(name, default)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            self._wrong(name, "true or false")
            return default
        return value

    def _wrong(self, name: str, wanted: str) -> None:
        if (*self.path, name) in self.values.unresolved:
            return
        shown = json.dumps(self.raw.get(name))[:60]
        self.values.sink.problem((*self.path, name), f"'{name}' must be {wanted}, not {shown}")


def tolerance_path(activity: Activity) -> DocPath:
    return (*activity.path, "tolerance")


def query_url(url: Any, arguments: Mapping[str, Any]) -> Any:
    """A GET's arguments, as Chaos Toolkit sends them: the URL's query string."""
    if not arguments or not isinstance(url, str):
        return url
    joiner = "&" if "?" in url else "?"
    return url + joiner + urllib.parse.urlencode({k: str(v) for k, v in arguments.items()})
