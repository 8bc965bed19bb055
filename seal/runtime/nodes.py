"""An INI inventory file as the source of nodes, read again at every run so that an edit
between two runs is seen.

Reads one file.
"""

from __future__ import annotations

from pathlib import Path

from seal.errors import UsageError
from seal.model import Node
from seal.selection.inventory import parse_inventory

#: an inventory larger than this is refused, not read
MAX_BYTES = 4 * 1024 * 1024


class InventoryFile:
    """The hosts of an inventory file; `UsageError` naming the file when it cannot be read."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def nodes(self) -> list[Node]:
        try:
            with self.path.open("rb") as handle:
                raw = handle.read(MAX_BYTES + 1)
        except OSError as exc:
            raise UsageError(
                f"{self.path}: cannot read the inventory file: {exc.strerror}"
            ) from exc
        if len(raw) > MAX_BYTES:
            raise UsageError(f"{self.path}: the inventory file is larger than {MAX_BYTES} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UsageError(
                f"{self.path}: the inventory file is not UTF-8 ({exc.reason})"
            ) from exc
        hosts = parse_inventory(text, str(self.path))
        if not hosts:
            raise UsageError(f"{self.path}: the inventory file lists no hosts")
        return hosts
