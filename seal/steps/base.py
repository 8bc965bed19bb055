"""What a step type is: its policy key, its schema fragment, and how its spec is built."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from seal.frozen import frozen
from seal.policy.build import Node
from seal.policy.schema import Schema


@frozen
class StepType:
    """One kind of step. The registry lists these; the policy schema is made from them."""

    key: str
    schema: Schema
    build: Callable[[Node], Any]
    description: str = ""
    #: Where the step is run: "module" (its `run`) or "module:function"; the module
    #: also defines `UNDO_HANDLERS` (undo kind -> handler). Imported only when a
    #: policy runs, so that checking a policy never loads the Kubernetes client.
    runner: str = ""

    def load_runner(self) -> tuple[Callable[[Any, Any], None], Mapping[str, Any]]:
        """The run function and the undo handlers of this step type."""
        module_name, _, function = self.runner.partition(":")
        module = importlib.import_module(module_name)
        run: Callable[[Any, Any], None] = getattr(module, function or "run")
        return run, getattr(module, "UNDO_HANDLERS", {})
