"""`${NAME}` and `${NAME:-default}` in policy strings, from the environment. No I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping

from seal.frozen import frozen

_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@frozen
class Interpolation:
    text: str
    missing: tuple[str, ...] = ()
    #: the whole input was exactly one reference (so a plain scalar may be re-typed)
    whole_reference: bool = False


def interpolate(text: str, environ: Mapping[str, str]) -> Interpolation:
    """Replace references; `$${` stands for a literal `${`. Unset names are reported."""
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        missing.append(name)
        return ""

    whole = bool(_REFERENCE.fullmatch(text)) and not text.startswith("$${")
    return Interpolation(_REFERENCE.sub(replace, text), tuple(missing), whole)
