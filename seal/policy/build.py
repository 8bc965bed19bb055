"""A read-only view of a validated document for the spec builders. No I/O.

Builders read values through `Node`, which knows where each value is, so that
semantic problems are located like schema problems.
"""

from __future__ import annotations

from typing import Any

from seal.frozen import frozen
from seal.policy.document import Document
from seal.policy.problems import Location, Path


@frozen
class Node:
    """A value of the policy document with where it was written."""

    doc: Document
    path: Path
    value: Any

    @property
    def location(self) -> Location:
        return self.doc.at(self.path)

    def has(self, key: str) -> bool:
        return isinstance(self.value, dict) and self.value.get(key) is not None

    def get(self, key: str, default: Any = None) -> Any:
        """The raw value under `key`, or `default` when absent or null."""
        if not isinstance(self.value, dict):
            return default
        found = self.value.get(key)
        return default if found is None else found

    def child(self, key: str | int) -> Node:
        if isinstance(key, int):
            value = self.value[key] if isinstance(self.value, list) else None
        else:
            value = self.value.get(key) if isinstance(self.value, dict) else None
        return Node(self.doc, (*self.path, key), value)

    def children(self, key: str) -> list[Node]:
        """The items of the list under `key` (none when absent)."""
        node = self.child(key)
        if not isinstance(node.value, list):
            return []
        return [node.child(i) for i in range(len(node.value))]

    def only_key(self) -> tuple[str, Node]:
        """For a one-key mapping (a step, an action...): its key and value."""
        key = next(iter(self.value))
        return key, self.child(key)

    def problem(self, message: str, *, warning: bool = False) -> None:
        self.doc.problem(self.path, message, warning=warning)
