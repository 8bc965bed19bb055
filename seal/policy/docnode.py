"""A read-only view of a validated document for the spec builders. No I/O.

Builders read values through `DocNode`, which knows where each value is, so that
semantic problems are located like schema problems.
"""

from __future__ import annotations

from typing import Any

from seal.frozen import frozen
from seal.policy.document import Document
from seal.policy.problems import DocPath, Location


@frozen
class DocNode:
    """A value of the policy document with where it was written.

    Builders see only what the schema accepted: `get`, `scalar` and `children`
    hand out a value only when no schema problem lies at or under it, and the
    default otherwise, so a builder never meets a value of the wrong type or
    range. One run of `seal validate` still reports the semantic problems of
    the accepted parts beside the schema problems of the others; what such a
    run builds is thrown away.
    """

    doc: Document
    path: DocPath
    value: Any

    @property
    def location(self) -> Location:
        return self.doc.at(self.path)

    def _rejected_under(self, path: DocPath) -> bool:
        rejected = self.doc.rejected
        return bool(rejected) and any(bad[: len(path)] == path for bad in rejected)

    @property
    def accepted(self) -> bool:
        """True when the schema found nothing wrong at or under this node."""
        return not self._rejected_under(self.path)

    def scalar(self, default: Any = None) -> Any:
        """This node's value when the schema accepted it, else `default`."""
        return default if self.value is None or not self.accepted else self.value

    def has(self, key: str) -> bool:
        return self.get(key) is not None

    def get(self, key: str, default: Any = None) -> Any:
        """The value under `key`, or `default` when absent, null or rejected by the schema."""
        if not isinstance(self.value, dict):
            return default
        found = self.value.get(key)
        if found is None or self._rejected_under((*self.path, key)):
            return default
        return found

    def child(self, key: str | int) -> DocNode:
        if isinstance(key, int):
            value = self.value[key] if isinstance(self.value, list) else None
        else:
            value = self.value.get(key) if isinstance(self.value, dict) else None
        return DocNode(self.doc, (*self.path, key), value)

    def children(self, key: str) -> list[DocNode]:
        """The items of the list under `key` (none when absent), less those the schema
        rejected as a whole (wrong type, unknown or missing keys)."""
        node = self.child(key)
        if not isinstance(node.value, list):
            return []
        items = (node.child(i) for i in range(len(node.value)))
        return [item for item in items if item.path not in self.doc.rejected]

    def only_key(self) -> tuple[str, DocNode]:
        """For a one-key mapping (a step, an action...): its key and value. A node that
        is not one gives an empty key and an empty node, which builders treat as absent."""
        if not isinstance(self.value, dict) or len(self.value) != 1:
            return "", DocNode(self.doc, (*self.path, ""), None)
        key = next(iter(self.value))
        return key, self.child(key)

    def problem(self, message: str, *, warning: bool = False) -> None:
        self.doc.problem(self.path, message, warning=warning)
