"""Reading a policy file into plain values, remembering where each value came from.

Reads the file it is given; nothing else. Every failure becomes a located
`Problem`; no input raises anything but `PolicyError`.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from seal import bounded_yaml
from seal.errors import DocumentError, PolicyError
from seal.policy.interpolate import Interpolation, interpolate
from seal.policy.problems import DocPath, Location, Problem, sorted_problems

_TOO_DEEP = "the document is nested too deeply"
_STR_TAG = "tag:yaml.org,2002:str"
_COLLECTION_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}
_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}
_KNOWN_TAGS = _SCALAR_TAGS | _COLLECTION_TAGS


@dataclass
class Document:
    """A parsed policy: plain values plus the line/column of every value and key."""

    source: str
    data: Any = None
    values: dict[DocPath, Location] = field(default_factory=dict)
    keys: dict[DocPath, Location] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    #: paths whose one problem is already reported (later ones would only repeat it)
    settled: set[DocPath] = field(default_factory=set)
    #: paths the schema rejected: builders never see the values at or under them
    rejected: set[DocPath] = field(default_factory=set)

    def at(self, path: DocPath, *, key: bool = False) -> Location:
        """The location of the value (or key) at `path`, else of its nearest ancestor."""
        table = self.keys if key else self.values
        probe = path
        while True:
            found = table.get(probe) or self.values.get(probe)
            if found is not None:
                return found
            if not probe:
                return Location(self.source, 1, 1)
            probe = probe[:-1]

    def problem(
        self, path: DocPath, message: str, *, key: bool = False, warning: bool = False
    ) -> None:
        if path in self.settled:
            return
        self.problems.append(Problem(self.at(path, key=key), path, message, warning))


def _mark(source: str, mark: yaml.Mark | None) -> Location:
    if mark is None:
        return Location(source, 1, 1)
    return Location(source, mark.line + 1, mark.column + 1)


class _Converter:
    """Turns a composed YAML node tree into plain values, recording positions and problems."""

    def __init__(self, doc: Document, environ: Mapping[str, str]) -> None:
        self.doc = doc
        self.environ = environ
        self.active: set[int] = set()
        self.constructor = yaml.constructor.SafeConstructor()

    def convert(self, node: yaml.Node, path: DocPath) -> Any:
        self.doc.values[path] = _mark(self.doc.source, node.start_mark)
        if id(node) in self.active:
            self.doc.problem(path, "an alias refers to a node that contains it; remove the cycle")
            return None
        self.active.add(id(node))
        try:
            if node.tag not in _KNOWN_TAGS:
                self.doc.problem(path, f"unsupported YAML tag '{node.tag}'; use plain values")
                self.doc.settled.add(path)
                return None
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            if isinstance(node, yaml.SequenceNode):
                return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
            assert isinstance(node, yaml.ScalarNode)
            return self._scalar(node, path)
        finally:
            self.active.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: DocPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key_loc = _mark(self.doc.source, key_node.start_mark)
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _SCALAR_TAGS:
                self.doc.problems.append(Problem(key_loc, path, "a key must be a plain string"))
                continue
            key = str(key_node.value)
            child = (*path, key)
            if key in result:
                first = self.doc.keys[child]
                message = f"duplicate key '{key}' (first given at line {first.line})"
                self.doc.problems.append(Problem(key_loc, child, message))
                continue
            self.doc.keys[child] = key_loc
            result[key] = self.convert(value_node, child)
        return result

    def _scalar(self, node: yaml.ScalarNode, path: DocPath) -> Any:
        if node.tag not in _SCALAR_TAGS:
            self.doc.problem(path, f"unsupported YAML tag '{node.tag}'; use plain values")
            return None
        if node.tag != _STR_TAG:
            try:
                value = self.constructor.construct_object(node, deep=True)
            except (ValueError, OverflowError, yaml.YAMLError) as exc:
                self.doc.problem(path, f"cannot read {node.value[:40]!r} as a value: {exc}")
                self.doc.settled.add(path)
                return None
            return value.isoformat() if isinstance(value, dt.date) else value
        text = str(node.value)
        if "$" not in text:
            return text
        result: Interpolation = interpolate(text, self.environ)
        for name in result.missing:
            self.doc.problem(
                path,
                f"environment variable '{name}' is not set and has no default; "
                f"set it, or write ${{{name}:-default}}",
            )
        if result.missing:
            self.doc.settled.add(path)
        if not node.style and result.whole_reference:
            return _reread_scalar(result.text)
        return result.text


def _reread_scalar(text: str) -> Any:
    """A plain scalar that was one `${NAME}` reference is typed like YAML would type it."""
    try:
        value = bounded_yaml.load(text)
    except DocumentError:
        return text
    if isinstance(value, bool | int | float) or value is None:
        return value
    return text


def _document_problem(doc: Document, exc: DocumentError) -> Document:
    where = Location(doc.source, exc.line or 1, exc.column or 1)
    doc.problems.append(Problem(where, (), exc.reason))
    return doc


def parse_text(text: str, source: str, environ: Mapping[str, str]) -> Document:
    """Parse policy text (YAML or JSON), within the bounds of `seal.bounded_yaml`.
    Problems are collected in the document."""
    doc = Document(source)
    try:
        nodes = bounded_yaml.compose_all(text)
    except DocumentError as exc:
        return _document_problem(doc, exc)
    if not nodes:
        doc.problems.append(
            Problem(Location(source, 1, 1), (), "the file is empty; a policy needs 'scenarios:'")
        )
        return doc
    if len(nodes) > 1:
        where = _mark(source, nodes[1].start_mark)
        message = "a policy file holds one YAML document, not several"
        doc.problems.append(Problem(where, (), message))
    root = nodes[0]
    if not isinstance(root, yaml.MappingNode):
        kind = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
        doc.problems.append(
            Problem(
                _mark(source, root.start_mark),
                (),
                f"a policy is a mapping with 'scenarios:' (and optionally 'config:'), not {kind}",
            )
        )
        return doc
    try:
        doc.data = _Converter(doc, environ).convert(root, ())
    except RecursionError:
        doc.problems.append(Problem(Location(source, 1, 1), (), _TOO_DEEP))
        doc.data = None
    return doc


def parse_file(path: str, environ: Mapping[str, str]) -> Document:
    """Read and parse a policy file; an unreadable file raises `PolicyError`."""
    try:
        with open(path, "rb") as handle:
            # never more than one byte past the bound, however large the file
            raw = handle.read(bounded_yaml.DEFAULT_LIMITS.max_bytes + 1)
            size = os.fstat(handle.fileno()).st_size
    except OSError as exc:
        raise PolicyError([f"{path}: cannot read the file: {exc.strerror or exc}"]) from exc
    doc = Document(path)
    try:
        bounded_yaml.check_size(max(size, len(raw)))
        text = bounded_yaml.decode(raw)
    except DocumentError as exc:
        return _document_problem(doc, exc)
    return parse_text(text, path, environ)


def problems_text(doc: Document) -> list[str]:
    return [str(p) for p in sorted_problems(doc.problems)]
