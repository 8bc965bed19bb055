"""The disruption controller: each PodDisruptionBudget's status follows its pods. No I/O."""

from __future__ import annotations

import copy

from sandbox.controllers.base import Context, Controller, key_of
from sandbox.disruption import budget_status
from sandbox.store import Obj


class DisruptionController(Controller):
    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.dirty_namespaces: set[str] = set()

    def seed(self) -> None:
        for _, entry in self.store.entries("namespaces"):
            self.dirty_namespaces.add(entry.obj["metadata"]["name"])

    RESOURCES = frozenset({"pods", "poddisruptionbudgets"})

    def observe(self, event_type: str, resource: str, obj: Obj) -> None:
        if resource == "pods" or (resource == "poddisruptionbudgets" and event_type != "DELETED"):
            self.dirty_namespaces.add(key_of(obj)[0])

    def reconcile(self) -> None:
        if self.dirty_namespaces:
            namespaces, self.dirty_namespaces = self.dirty_namespaces, set()
            for namespace in sorted(namespaces - {""}):
                self._sync(namespace)

    def _sync(self, namespace: str) -> None:
        budgets = [e.obj for _, e in self.store.entries("poddisruptionbudgets", namespace)]
        for budget in budgets:
            status = budget_status(self.store, budget)
            if budget.get("status") != status:
                updated = copy.deepcopy(budget)
                updated["status"] = status
                self.store.update("poddisruptionbudgets", updated, status_only=True)
