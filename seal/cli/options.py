"""Shared helpers for defining flags: every flag also reads `SEAL_<FLAG>` from the environment."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def env_name(flag: str) -> str:
    """`--policy-file` -> `SEAL_POLICY_FILE`."""
    return "SEAL_" + flag.lstrip("-").replace("-", "_").upper()


def option(*decls: str, legacy_env: Sequence[str] = (), **attrs: Any) -> Callable[[F], F]:
    """A click option whose value may also come from `SEAL_<FLAG>` (and PowerfulSeal's names).

    The first long flag in `decls` names the variable; `legacy_env` adds the
    environment names PowerfulSeal used for the same flag.
    """
    long_flags = [d.split("/")[0] for d in decls if d.startswith("--")]
    envvars = [env_name(long_flags[0])] if long_flags else []
    envvars.extend(legacy_env)
    attrs.setdefault("show_envvar", True)
    return click.option(*decls, envvar=envvars, **attrs)
