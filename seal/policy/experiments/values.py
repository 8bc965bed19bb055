"""An experiment's `configuration` and `secrets`, and `${name}` in its strings. No I/O.

Run directly (`environ` given), a `${name}` becomes its value now, as Chaos Toolkit
substitutes it. Converted (`environ` None), a value read from the environment becomes
seal's own `${VARIABLE}` (or `${VARIABLE:-default}`), so the converted policy reads
the environment when it runs, and a literal `${` is written `$${`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from seal import bounded_yaml
from seal.errors import DocumentError
from seal.policy.document import Document
from seal.policy.problems import DocPath, Problem, did_you_mean

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.\-]*)\}")
_ENV_TYPES = ("str", "int", "float", "bool", "json")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class EnvRef(str):
    """A converted value that is exactly one `${VARIABLE}`: written as a plain scalar, so
    that seal types what the environment holds (a number stays a number)."""


@dataclass
class Sink:
    """Where conversion problems go: located in the experiment, gathered in the policy
    document being built (so they come out beside the policy's own)."""

    exp: Document
    out: Document

    def problem(
        self, path: DocPath, message: str, *, warning: bool = False, key: bool = False
    ) -> None:
        where = self.exp.at(path, key=key)
        self.out.problems.append(Problem(where, path, message, warning))


@dataclass(frozen=True)
class Setting:
    """One configuration value or secret: a literal, or an environment variable."""

    value: Any = None
    env: str = ""
    default: Any = None
    has_default: bool = False
    env_type: str = "str"


def _typed(text: str, env_type: str, whole: bool) -> Any:
    if env_type == "int":
        return int(text)
    if env_type == "float":
        return float(text)
    if env_type == "bool":
        return text.strip().lower() in ("1", "true", "yes", "on")
    if env_type == "json":
        return json.loads(text)
    if not whole:
        return text
    try:  # as seal types a plain `${VARIABLE}`: a number stays a number
        value = bounded_yaml.load(text)
    except DocumentError:
        return text
    return value if isinstance(value, bool | int | float) else text


@dataclass
class Values:
    """The named values `${name}` may refer to."""

    sink: Sink
    environ: Mapping[str, str] | None
    settings: dict[str, Setting] = field(default_factory=dict)
    #: the environment variables the converted policy reads (for its header)
    env_used: dict[str, str] = field(default_factory=dict)
    #: converted, a literal secret becomes an environment variable: its name -> the secret
    #: it stands for (`scope.name`), so the literal never reaches the policy text
    secret_env: dict[str, str] = field(default_factory=dict)
    #: ... and its literal value, kept in memory only (to check the converted policy with)
    secret_literal: dict[str, str] = field(default_factory=dict)
    #: where a `${name}` named nothing (reported once: its value is not judged again)
    unresolved: set[DocPath] = field(default_factory=set)
    #: values whose own problem is reported where they are defined
    broken: set[str] = field(default_factory=set)

    def read(self, data: Any) -> None:
        """Read `configuration` and `secrets` (every scope) of the experiment."""
        config = data.get("configuration")
        if config is not None:
            self._read_table(("configuration",), config)
        secrets = data.get("secrets")
        if secrets is None:
            return
        if not isinstance(secrets, dict):
            self.sink.problem(("secrets",), "secrets must be a mapping of scopes to values")
            return
        for scope, table in secrets.items():
            self._read_table(("secrets", scope), table)
            if self.environ is None and isinstance(table, dict):
                self._hide_literals(str(scope), table)

    def _hide_literals(self, scope: str, table: dict[Any, Any]) -> None:
        """Converted, a literal secret becomes `${SEAL_SECRET_SCOPE_NAME}`."""
        for name in table:
            setting = self.settings.get(str(name))
            if setting is None or setting.env:
                continue
            env = re.sub(r"[^A-Z0-9_]", "_", f"SEAL_SECRET_{scope}_{name}".upper())
            self.settings[str(name)] = Setting(env=env)
            self.secret_env[env] = f"{scope}.{name}"
            literal = setting.value
            self.secret_literal[env] = literal if isinstance(literal, str) else json.dumps(literal)

    def _read_table(self, path: DocPath, table: Any) -> None:
        if not isinstance(table, dict):
            self.sink.problem(path, "must be a mapping of names to values")
            return
        for name, entry in table.items():
            setting = self._setting((*path, name), entry)
            if setting is None:
                self.broken.add(str(name))
            else:
                self.settings[str(name)] = setting

    def _setting(self, path: DocPath, entry: Any) -> Setting | None:
        if not isinstance(entry, dict) or "type" not in entry:
            return Setting(value=entry)
        kind = entry.get("type")
        if kind != "env":
            self.sink.problem(
                (*path, "type"),
                f"seal reads values from the environment only (type: env), not {kind!r}",
            )
            return None
        key, env_type = entry.get("key"), str(entry.get("env_var_type", "str"))
        if not isinstance(key, str) or not _ENV_NAME.fullmatch(key):
            self.sink.problem(
                (*path, "key") if "key" in entry else path,
                "an env value needs 'key': the environment variable's name (letters, digits, _)",
            )
            return None
        if env_type not in _ENV_TYPES:
            self.sink.problem(
                (*path, "env_var_type"), f"env_var_type must be one of {', '.join(_ENV_TYPES)}"
            )
            return None
        default = entry.get("default")
        if "default" in entry and (
            not isinstance(default, str | int | float | bool) or "}" in str(default)
        ):
            self.sink.problem(
                (*path, "default"),
                "a default is text, a number or true/false, without '}' "
                "(seal keeps it as ${VARIABLE:-default})",
            )
            return None
        setting = Setting(
            env=key, default=default, has_default="default" in entry, env_type=env_type
        )
        if self.environ is not None and key not in self.environ and not setting.has_default:
            self.sink.problem(
                path,
                f"the environment variable '{key}' is not set and this value has no default; "
                f"set {key}, or give it a 'default'",
            )
            return None
        return setting

    def substitute(self, value: Any, path: DocPath) -> Any:
        """`value` with every `${name}` replaced, lists and mappings included."""
        if isinstance(value, str):
            return self._text(value, path)
        if isinstance(value, list):
            return [self.substitute(item, (*path, i)) for i, item in enumerate(value)]
        if isinstance(value, dict):
            return {k: self.substitute(v, (*path, k)) for k, v in value.items()}
        return value

    def _text(self, text: str, path: DocPath) -> Any:
        whole = _PLACEHOLDER.fullmatch(text)
        if whole:
            setting = self._lookup(whole.group(1), path)
            if setting is not None:
                return self._value(setting, whole=True)
            return text
        parts: list[str] = []
        end = 0
        for match in _PLACEHOLDER.finditer(text):
            parts.append(self._literal(text[end : match.start()]))
            setting = self._lookup(match.group(1), path)
            if setting is None:
                parts.append(self._literal(match.group(0)))
            elif self.environ is None and setting.env:
                parts.append(self._reference(setting))
            else:
                parts.append(self._literal(str(self._value(setting, whole=False))))
            end = match.end()
        parts.append(self._literal(text[end:]))
        return "".join(parts)

    def _literal(self, text: str) -> str:
        return text.replace("${", "$${") if self.environ is None else text

    def _lookup(self, name: str, path: DocPath) -> Setting | None:
        if name in self.settings:
            return self.settings[name]
        self.unresolved.add(path)
        if name in self.broken:
            return None
        known = ", ".join(sorted(self.settings)) or "none"
        self.sink.problem(
            path,
            f"'${{{name}}}' names no configuration value or secret (known: {known})"
            + did_you_mean(name, self.settings),
        )
        return None

    def _reference(self, setting: Setting) -> str:
        self.env_used[setting.env] = "" if not setting.has_default else str(setting.default)
        default = str(setting.default) if setting.has_default else None
        if default is not None and "}" not in default:
            return f"${{{setting.env}:-{default}}}"
        return f"${{{setting.env}}}"

    def _value(self, setting: Setting, *, whole: bool) -> Any:
        if not setting.env:
            value = setting.value
            return self._literal(value) if isinstance(value, str) else value
        if self.environ is None:
            reference = self._reference(setting)
            return EnvRef(reference) if whole else reference
        if setting.env in self.environ:
            try:
                return _typed(self.environ[setting.env], setting.env_type, whole)
            except ValueError:
                return self.environ[setting.env]
        return setting.default
