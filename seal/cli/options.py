"""Shared helpers for defining flags: every flag also reads `SEAL_<FLAG>` from the environment."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def env_name(flag: str) -> str:
    """`--policy-file` -> `SEAL_POLICY_FILE`."""
    return "SEAL_" + flag.lstrip("-").replace("-", "_").upper()


class FiniteFloatRange(click.FloatRange):
    """A float range that refuses NaN and infinities (which compare false against any
    bound, and so would slip through a plain range)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if isinstance(number, float) and not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def _finite(kind: Any) -> Any:
    """Every float flag is finite: `float` and float ranges become `FiniteFloatRange`."""
    if kind is float:
        return FiniteFloatRange()
    if isinstance(kind, click.FloatRange) and not isinstance(kind, FiniteFloatRange):
        return FiniteFloatRange(
            kind.min, kind.max, min_open=kind.min_open, max_open=kind.max_open, clamp=kind.clamp
        )
    return kind


def option(*decls: str, legacy_env: Sequence[str] = (), **attrs: Any) -> Callable[[F], F]:
    """A click option whose value may also come from `SEAL_<FLAG>` (and PowerfulSeal's names).

    The first long flag in `decls` names the variable; `legacy_env` adds the
    environment names PowerfulSeal used for the same flag.
    """
    long_flags = [d.split("/")[0] for d in decls if d.startswith("--")]
    envvars = [env_name(long_flags[0])] if long_flags else []
    envvars.extend(legacy_env)
    attrs.setdefault("show_envvar", True)
    if "type" in attrs:
        attrs["type"] = _finite(attrs["type"])
    return click.option(*decls, envvar=envvars, **attrs)
