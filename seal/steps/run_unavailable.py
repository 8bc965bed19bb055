"""Steps this version of seal can check but not yet run: they fail, touching nothing."""

from __future__ import annotations

from typing import Any

from seal.errors import StepFailed
from seal.steps.context import StepContext, UndoHandler

UNDO_HANDLERS: dict[str, UndoHandler] = {}


def run(spec: Any, ctx: StepContext) -> None:
    raise StepFailed(
        f"the {spec.key} step (line {spec.location.line}) is not available in this version of "
        "seal; nothing was changed"
    )
