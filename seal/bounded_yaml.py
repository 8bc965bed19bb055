"""Reading YAML and JSON text within bounds: size, nesting depth, number of values and
alias expansion. No I/O: callers hand in the text (or bytes) they read.

Every YAML file seal reads goes through here: policies, `-c` flag files, kubeconfigs
and kubectl payloads. The bounds are checked on the parser's event stream, before
any node tree is built, so that a hostile file is refused after reading only as
much of it as breaks a bound: 25,000 nested brackets never reach a recursive
composer, and a few hundred bytes of aliases that would expand to billions of
values are refused at the alias that crosses the budget. Every failure is a
`DocumentError` with the line and column where it was found.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import yaml

from seal.errors import DocumentError, UsageError

#: libyaml's parser when PyYAML was built with it: several times faster, same marks.
#: Only its event stream is used: its composer recurses in C.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MIB = 1024 * 1024
#: what a number read by `load` may be: a 64-bit integer, a finite float
_MAX_INT = 2**63 - 1


@dataclass(frozen=True)
class Limits:
    """How much a document may hold. The defaults fit any sane policy or kubeconfig."""

    max_bytes: int = 4 * _MIB
    max_depth: int = 100
    #: values (scalars and collections) counted as if every alias were expanded
    max_values: int = 500_000
    #: of which values that aliases stand for: sharing a few steps is what they are for
    max_alias_values: int = 50_000


DEFAULT_LIMITS = Limits()


def decode(raw: bytes) -> str:
    """UTF-8 text (a byte-order mark is dropped); a located `DocumentError` when not."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DocumentError("the file is not UTF-8 text", line=line, column=column) from exc


def check_size(size: int, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse a document of `size` bytes when it is over the bound, before reading it."""
    if size > limits.max_bytes:
        mib = limits.max_bytes / _MIB
        raise DocumentError(f"the file is larger than {mib:g} MiB; seal does not read it")


def _at(mark: Any) -> dict[str, int]:
    if mark is None:
        return {}
    return {"line": mark.line + 1, "column": mark.column + 1}


class _Composer:
    """Builds YAML nodes from parser events, checking every bound as it goes."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.resolver = yaml.resolver.Resolver()
        self.documents: list[yaml.Node] = []
        self.anchors: dict[str, yaml.Node] = {}
        #: anchor -> how many values its node holds, aliases expanded
        self.weights: dict[str, int] = {}
        #: open collections: (node, anchor, values so far, a pending mapping key)
        self.stack: list[list[Any]] = []
        self.total = 0
        self.aliased = 0

    def feed(self, event: Any) -> None:
        if isinstance(event, yaml.DocumentStartEvent):
            self.anchors, self.weights, self.stack = {}, {}, []
        elif isinstance(event, yaml.AliasEvent):
            self._alias(event)
        elif isinstance(event, yaml.ScalarEvent):
            self._scalar(event)
        elif isinstance(event, yaml.CollectionStartEvent):
            self._open(event)
        elif isinstance(event, yaml.CollectionEndEvent):
            node, anchor, weight, _ = self.stack.pop()
            node.end_mark = event.end_mark
            self._register(anchor, node, weight)
            self._attach(node, weight)

    def _scalar(self, event: Any) -> None:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self._resolve(yaml.ScalarNode, event.value, event.implicit)
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        self._count(1, event, "the document has")
        self._register(event.anchor, node, 1)
        self._attach(node, 1)

    def _resolve(self, kind: type[yaml.Node], value: str | None, implicit: Any) -> str:
        return str(self.resolver.resolve(kind, value, implicit))  # type: ignore[no-untyped-call]

    def _count(self, weight: int, event: Any, what: str) -> None:
        self.total += weight
        if self.total > self.limits.max_values:
            raise DocumentError(
                f"{what} more than {self.limits.max_values} values; seal does not read it",
                **_at(event.start_mark),
            )

    def _open(self, event: Any) -> None:
        if len(self.stack) >= self.limits.max_depth:
            raise DocumentError(
                f"the document is nested more than {self.limits.max_depth} levels deep",
                **_at(event.start_mark),
            )
        self._count(1, event, "the document has")
        mapping = isinstance(event, yaml.MappingStartEvent)
        kind = yaml.MappingNode if mapping else yaml.SequenceNode
        tag = event.tag
        if tag is None or tag == "!":
            tag = self._resolve(kind, None, event.implicit)
        node = kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
        if event.anchor is not None:
            self.anchors[event.anchor] = node  # an alias to it before its end is a cycle
            self.weights.pop(event.anchor, None)
        self.stack.append([node, event.anchor, 1, None])

    def _alias(self, event: Any) -> None:
        name = event.anchor
        node = self.anchors.get(name)
        if node is None:
            raise DocumentError(f"the alias *{name} names no anchor", **_at(event.start_mark))
        if name not in self.weights:
            raise DocumentError(
                f"the alias *{name} refers to a node that contains it; remove the cycle",
                **_at(event.start_mark),
            )
        weight = self.weights[name]
        self.aliased += weight
        if self.aliased > self.limits.max_alias_values:
            raise DocumentError(
                f"the aliases stand for more than {self.limits.max_alias_values} values; "
                "seal does not expand them",
                **_at(event.start_mark),
            )
        self._count(weight, event, "with its aliases expanded, the document has")
        self._attach(node, weight)

    def _register(self, anchor: str | None, node: yaml.Node, weight: int) -> None:
        if anchor is not None:
            self.anchors[anchor] = node
            self.weights[anchor] = weight

    def _attach(self, node: yaml.Node, weight: int) -> None:
        if not self.stack:
            self.documents.append(node)
            return
        parent = self.stack[-1]
        parent[2] += weight
        if isinstance(parent[0], yaml.SequenceNode):
            parent[0].value.append(node)
        elif parent[3] is None:
            parent[3] = node
        else:
            parent[0].value.append((parent[3], node))
            parent[3] = None


def _yaml_error(exc: yaml.YAMLError) -> DocumentError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        reason = " ".join(str(p) for p in (exc.problem, exc.context) if p) or "invalid YAML"
        return DocumentError(f"not valid YAML: {reason}", **_at(mark))
    return DocumentError(f"not valid YAML: {exc}")


def compose_all(text: str, limits: Limits = DEFAULT_LIMITS) -> list[yaml.Node]:
    """The node trees of every document in `text`, aliases shared (not copied)."""
    check_size(len(text) if text.isascii() else len(text.encode("utf-8", "replace")), limits)
    try:
        try:
            return _composed(text, limits, _LOADER)
        except yaml.MarkedYAMLError as exc:
            if _LOADER is yaml.SafeLoader or "maximum nesting depth" not in str(exc.problem):
                raise
            # libyaml's own depth bound (PyYAML 6.0.4 on), met as its scanner reads ahead
            # of the events: the pure-Python parser finds where seal's bound is crossed
            try:
                return _composed(text, limits, yaml.SafeLoader)
            except yaml.reader.ReaderError as python_exc:  # it counts characters
                raise _reader_error(text, python_exc, in_bytes=False) from python_exc
    except yaml.reader.ReaderError as exc:
        raise _reader_error(text, exc, in_bytes=_LOADER is not yaml.SafeLoader) from exc
    except yaml.YAMLError as exc:
        raise _yaml_error(exc) from exc
    except UnicodeEncodeError as exc:  # a lone surrogate: text that no file can hold
        raise DocumentError("the text is not valid Unicode", **_position(text, exc.start)) from exc


def _composed(text: str, limits: Limits, loader: Any) -> list[yaml.Node]:
    composer = _Composer(limits)
    for event in yaml.parse(text, Loader=loader):
        composer.feed(event)
    return composer.documents


def _position(text: str, index: int) -> dict[str, int]:
    line_start = text.rfind("\n", 0, index) + 1
    return {"line": text.count("\n", 0, index) + 1, "column": index - line_start + 1}


def _reader_error(text: str, exc: yaml.reader.ReaderError, *, in_bytes: bool) -> DocumentError:
    """A character YAML does not allow, located (libyaml counts UTF-8 bytes)."""
    index = exc.position
    if in_bytes:
        index = len(text.encode("utf-8")[: exc.position].decode("utf-8", "ignore"))
    shown = repr(text[index : index + 1]) if index < len(text) else "a character"
    return DocumentError(
        f"not valid YAML: {shown} is not allowed ({exc.reason}); "
        "remove it, or write it as an escape in double quotes",
        **_position(text, index),
    )


class _Constructor(yaml.constructor.SafeConstructor):
    """Plain values, with numbers a program can use: finite, within 64 bits."""

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        value = float(super().construct_yaml_float(node))
        if not math.isfinite(value):
            raise DocumentError(
                f"{node.value[:40]}: a number must be finite", **_at(node.start_mark)
            )
        return value

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        try:
            value = int(super().construct_yaml_int(node))
        except ValueError as exc:  # beyond the interpreter's int-to-text limit
            raise DocumentError("a number too large to read", **_at(node.start_mark)) from exc
        if abs(value) > _MAX_INT:
            raise DocumentError(
                f"a number of {len(str(abs(value)))} digits; numbers must fit in 64 bits",
                **_at(node.start_mark),
            )
        return value


_Constructor.yaml_constructors = {
    **yaml.constructor.SafeConstructor.yaml_constructors,
    "tag:yaml.org,2002:float": _Constructor.construct_yaml_float,
    "tag:yaml.org,2002:int": _Constructor.construct_yaml_int,
}


def _check_unique_keys(root: yaml.Node) -> None:
    """A key given twice in one mapping is an error (the reader would keep only one)."""
    pending, seen = [root], set[int]()
    while pending:
        node = pending.pop()
        if id(node) in seen or isinstance(node, yaml.ScalarNode):
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)
            continue
        first: dict[str, int] = {}
        for key, value in node.value:
            pending.append(value)
            if not isinstance(key, yaml.ScalarNode) or key.value == "<<":
                continue
            if key.value in first:
                raise DocumentError(
                    f"duplicate key '{key.value[:60]}' (first given at line {first[key.value]})",
                    **_at(key.start_mark),
                )
            first[key.value] = key.start_mark.line + 1


def construct(node: yaml.Node, *, unique_keys: bool = True) -> Any:
    """Plain Python values of a composed document."""
    if unique_keys:
        _check_unique_keys(node)
    try:
        return _Constructor().construct_document(node)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc) from exc
    except (ValueError, OverflowError, TypeError) as exc:
        raise DocumentError(f"cannot read a value: {exc}", **_at(node.start_mark)) from exc


def load_all(text: str, limits: Limits = DEFAULT_LIMITS, *, unique_keys: bool = True) -> list[Any]:
    """The plain values of every document in `text`."""
    return [construct(n, unique_keys=unique_keys) for n in compose_all(text, limits)]


def load(text: str, limits: Limits = DEFAULT_LIMITS, *, unique_keys: bool = True) -> Any:
    """The plain values of the one document in `text` (None when it is empty)."""
    documents = compose_all(text, limits)
    if len(documents) > 1:
        raise DocumentError(
            "the file holds several YAML documents; give one", **_at(documents[1].start_mark)
        )
    return construct(documents[0], unique_keys=unique_keys) if documents else None


def load_config(raw: bytes, source: str, *, unique_keys: bool = True) -> Any:
    """The one document of a configuration file's bytes; a `UsageError` saying
    `source:line:column: what is wrong` when it cannot be read within bounds."""
    try:
        check_size(len(raw))
        return load(decode(raw), unique_keys=unique_keys)
    except DocumentError as exc:
        raise UsageError(exc.located(source)) from exc


def _is_flat(node: yaml.Node) -> bool:
    """A scalar, or a list of scalars: what a command-line flag can take."""
    if isinstance(node, yaml.SequenceNode):
        return all(isinstance(item, yaml.ScalarNode) for item in node.value)
    return isinstance(node, yaml.ScalarNode)


def load_flags(raw: bytes, source: str) -> list[tuple[str, Any, str]]:
    """A file of flag values (`name: value` per line, a list for a repeated flag): each
    flag's name, value and `source:line:column` of the value, in file order.
    A `UsageError` with the location when the file is not such a mapping."""
    try:
        check_size(len(raw))
        documents = compose_all(decode(raw))
        if len(documents) > 1:
            raise DocumentError(
                "the file holds several YAML documents; give one", **_at(documents[1].start_mark)
            )
        if not documents or documents[0].tag == "tag:yaml.org,2002:null":
            return []
        root = documents[0]
        if not isinstance(root, yaml.MappingNode):
            raise DocumentError(
                "a config file is a mapping of flag names to values", **_at(root.start_mark)
            )
        _check_unique_keys(root)
        flags = []
        for key, value in root.value:
            if not isinstance(key, yaml.ScalarNode):
                raise DocumentError("a flag name is a single word", **_at(key.start_mark))
            if not _is_flat(value):
                raise DocumentError(
                    f"{key.value[:60]}: a flag's value is a single value or a list of them",
                    **_at(value.start_mark),
                )
            where = f"{source}:{value.start_mark.line + 1}:{value.start_mark.column + 1}"
            flags.append((str(key.value), construct(value, unique_keys=False), where))
        return flags
    except DocumentError as exc:
        raise UsageError(exc.located(source)) from exc
