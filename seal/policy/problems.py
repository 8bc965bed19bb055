"""Located problems of a policy file, and how they are worded. No I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from seal.frozen import frozen

#: A position in a document: keys and list indexes from the root.
DocPath = tuple[str | int, ...]


def format_path(path: DocPath) -> str:
    """`("scenarios", 0, "steps", 2)` -> `scenarios[0].steps[2]`; the root is `(top level)`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "(top level)"


def printable(text: str) -> str:
    """`text` on one line, with control and other unprintable characters escaped
    (`\\x1b`, `\\n`), so that a key or value of a policy cannot rewrite the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`; did you mean 'X'?` when a candidate is close to `word`, else empty."""
    import difflib  # only for a document with a mistake in it

    options = sorted(set(candidates))
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in options}
        if word.lower() in lowered:
            close = [lowered[word.lower()]]
    return f"; did you mean '{close[0]}'?" if close else ""


@dataclass(frozen=True, order=True)
class Location:
    """Where something is in a file: 1-based line and column."""

    source: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.source}:{self.line}:{self.column}"
        return self.source


@frozen
class Problem:
    """One located problem of a policy file."""

    location: Location
    path: DocPath
    message: str
    warning: bool = False

    def sort_key(self) -> tuple[int, int, str]:
        return (self.location.line, self.location.column, self.message)

    def __str__(self) -> str:
        kind = "warning: " if self.warning else ""
        return printable(f"{self.location}: {format_path(self.path)}: {kind}{self.message}")


def sorted_problems(problems: Iterable[Problem]) -> list[Problem]:
    unique = {(p.location, p.path, p.message, p.warning): p for p in problems}
    return sorted(unique.values(), key=Problem.sort_key)
