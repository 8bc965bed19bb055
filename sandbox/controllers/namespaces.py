"""The namespace controller: a Terminating namespace's contents are deleted (pods get their
grace period, finalizers are honoured), then the namespace goes. No I/O."""

from __future__ import annotations

import contextlib

from sandbox.controllers.base import Context, Controller
from sandbox.store import ApiError, Obj

#: what the namespace controller deletes, owners before what they own
NAMESPACED_CONTENT = (
    "deployments",
    "replicasets",
    "pods",
    "services",
    "endpoints",
    "configmaps",
    "leases",
    "poddisruptionbudgets",
    "rolebindings",
    "roles",
    "serviceaccounts",
)


class NamespaceController(Controller):
    def __init__(self, context: Context) -> None:
        super().__init__(context)
        #: namespaces being deleted, whose contents are being deleted
        self.terminating: set[str] = set()

    RESOURCES = frozenset({"namespaces"})

    def observe(self, event_type: str, resource: str, obj: Obj) -> None:
        if (
            resource == "namespaces"
            and event_type == "MODIFIED"
            and obj["metadata"].get("deletionTimestamp")
        ):
            self.terminating.add(obj["metadata"]["name"])

    def reconcile(self) -> None:
        for namespace in sorted(self.terminating):
            self._empty(namespace)

    def _empty(self, namespace: str) -> None:
        for plural in NAMESPACED_CONTENT:
            for _, entry in list(self.store.entries(plural, namespace)):
                if not entry.obj["metadata"].get("deletionTimestamp"):
                    with contextlib.suppress(ApiError):
                        self.store.delete(plural, namespace, entry.obj["metadata"]["name"])
        if (
            self.store.finish_namespace(namespace)
            or self.store.peek("namespaces", "", namespace) is None
        ):
            self.terminating.discard(namespace)
