"""Kubernetes label selectors: parsing, matching, and key/value validation. No I/O.

Syntax: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, joined
by commas (all must hold).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from seal.errors import SelectorError
from seal.frozen import frozen

_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_TOKEN = re.compile(r"\s*(!=|==|=|\(|\)|,|!|[^\s!=(),]+)")


def key_problem(key: str) -> str | None:
    """Why `key` is not a valid label key, or None."""
    prefix, _, name = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return f"the prefix of label key '{key}' must be a DNS subdomain"
    if not name or len(name) > 63 or not _NAME.match(name):
        return (
            f"label key '{key}' must be 1-63 characters of letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return None


def value_problem(value: str) -> str | None:
    """Why `value` is not a valid label value, or None."""
    if len(value) > 63 or not _NAME.match(value):
        return (
            f"label value '{value}' must be at most 63 characters of letters, digits, '-', '_' "
            "or '.', starting and ending with a letter or digit"
        )
    return None


@frozen
class Requirement:
    """One requirement of a label selector (key, operator, values)."""

    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if self.operator in ("=", "in"):
            return present and labels[self.key] in self.values
        # "!=" and "notin" also match objects without the key, as Kubernetes does.
        return not present or labels[self.key] not in self.values

    def __str__(self) -> str:
        if self.operator == "exists":
            return self.key
        if self.operator == "!":
            return f"!{self.key}"
        if self.operator in ("in", "notin"):
            return f"{self.key} {self.operator} ({','.join(self.values)})"
        return f"{self.key}{self.operator}{self.values[0]}"


@frozen
class Selector:
    """A parsed label selector: all of its requirements must hold."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _tokens(text: str) -> list[tuple[str, int]]:
    tokens: list[tuple[str, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:  # pragma: no cover - the pattern accepts any non-space run
            raise SelectorError(f"unexpected character at position {pos + 1}")
        tokens.append((match.group(1), match.start(1) + 1))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.index = 0

    def peek(self) -> tuple[str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, what: str) -> tuple[str, int]:
        token = self.peek()
        if token is None:
            raise SelectorError(f"selector '{self.text}' ends where {what} was expected")
        self.index += 1
        return token

    def fail(self, message: str, position: int) -> SelectorError:
        return SelectorError(f"{message} at character {position} of selector '{self.text}'")

    def word(self, what: str) -> str:
        token, position = self.take(what)
        if token in ("!=", "==", "=", "(", ")", ",", "!"):
            raise self.fail(f"expected {what}, found '{token}'", position)
        return token

    def requirement(self) -> Requirement:
        token, position = self.take("a label key")
        if token == "!":
            key = self.word("a label key after '!'")
            self.check_key(key, position)
            return Requirement(key, "!")
        self.index -= 1
        key = self.word("a label key")
        self.check_key(key, position)
        nxt = self.peek()
        if nxt is None or nxt[0] == ",":
            return Requirement(key, "exists")
        op, op_position = self.take("an operator")
        if op in ("=", "=="):
            return Requirement(key, "=", (self.value(),))
        if op == "!=":
            return Requirement(key, "!=", (self.value(),))
        if op in ("in", "notin"):
            return Requirement(key, op, self.value_set())
        raise self.fail(f"expected =, ==, !=, in or notin after '{key}', found '{op}'", op_position)

    def check_key(self, key: str, position: int) -> None:
        problem = key_problem(key)
        if problem:
            raise self.fail(problem, position)

    def value(self) -> str:
        token = self.peek()
        if token is None or token[0] in (",", ")"):
            value, position = "", token[1] if token else len(self.text)
        else:
            position = token[1]
            value = self.word("a label value")
        problem = value_problem(value)
        if problem:
            raise self.fail(problem, position)
        return value

    def value_set(self) -> tuple[str, ...]:
        token, position = self.take("'('")
        if token != "(":
            raise self.fail(f"expected '(' , found '{token}'", position)
        values: list[str] = []
        while True:
            values.append(self.value())
            token, position = self.take("',' or ')'")
            if token == ")":
                return tuple(values)
            if token != ",":
                raise self.fail(f"expected ',' or ')', found '{token}'", position)

    def parse(self) -> Selector:
        requirements: list[Requirement] = []
        if not self.tokens:
            return Selector()
        while True:
            requirements.append(self.requirement())
            token = self.peek()
            if token is None:
                return Selector(tuple(requirements))
            if token[0] != ",":
                raise self.fail(f"expected ',' between requirements, found '{token[0]}'", token[1])
            self.index += 1


def parse_selector(text: str) -> Selector:
    """Parse a label selector; raise `SelectorError` saying what is wrong and where."""
    return _Parser(text).parse()


def selector_from_match(
    match_labels: Mapping[str, str] | None,
    match_expressions: Iterable[Mapping[str, object]] | None = None,
) -> Selector:
    """The selector of a Deployment's or Service's `matchLabels`/`matchExpressions`."""
    requirements = [Requirement(k, "=", (v,)) for k, v in sorted((match_labels or {}).items())]
    operators = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expression in match_expressions or ():
        op = operators.get(str(expression.get("operator")))
        if op is None:
            raise SelectorError(f"unknown matchExpressions operator {expression.get('operator')!r}")
        raw_values = expression.get("values") or []
        values = tuple(str(v) for v in raw_values) if isinstance(raw_values, list) else ()
        requirements.append(Requirement(str(expression.get("key")), op, values))
    return Selector(tuple(requirements))
