"""The garbage collector: what a deleted owner controlled goes after it (background), or
before it while the owner waits with the `foregroundDeletion` finalizer. No I/O."""

from __future__ import annotations

import contextlib

from sandbox.controllers.base import Context, Controller
from sandbox.controllers.index import OWNED, OwnerIndex
from sandbox.podutil import owner_uids
from sandbox.store import FOREGROUND, ApiError, Obj

#: the kinds whose deletion leaves dependents to collect
OWNERS = ("deployments", "replicasets")


class GarbageCollector(Controller):
    def __init__(self, context: Context, owners: OwnerIndex) -> None:
        super().__init__(context)
        self.owners = owners
        #: owners deleted in the foreground, waiting for their dependents to go
        self.foreground: set[tuple[str, str, str]] = set()
        #: uids of owners that are gone, whose dependents are still to delete
        self.gone: set[str] = set()

    def observe(self, event_type: str, resource: str, obj: Obj) -> None:
        meta = obj["metadata"]
        if event_type == "MODIFIED" and FOREGROUND in (meta.get("finalizers") or []):
            self.foreground.add((resource, meta.get("namespace", ""), meta["name"]))
        if event_type == "DELETED" and resource in OWNERS:
            self.gone.add(meta["uid"])

    def reconcile(self) -> None:
        if self.foreground:
            waiting, self.foreground = self.foreground, set()
            for resource, namespace, name in waiting:
                self._delete_in_foreground(resource, namespace, name)
        if self.gone:
            gone, self.gone = self.gone, set()
            self._collect(gone)

    def _delete_in_foreground(self, resource: str, namespace: str, name: str) -> None:
        """Dependents first, then the owner."""
        owner = self.store.peek(resource, namespace, name)
        if owner is None or FOREGROUND not in (owner["metadata"].get("finalizers") or []):
            return
        uid = owner["metadata"]["uid"]
        dependents = [(plural, obj) for plural in OWNED for obj in self.owners.owned(plural, uid)]
        for plural, obj in dependents:
            if not obj["metadata"].get("deletionTimestamp"):
                with contextlib.suppress(ApiError):
                    self.store.delete(
                        plural,
                        obj["metadata"]["namespace"],
                        obj["metadata"]["name"],
                        propagation_policy="Foreground",
                    )
        if dependents:
            self.foreground.add((resource, namespace, name))  # look again next tick
            return
        finalizers = [f for f in owner["metadata"]["finalizers"] if f != FOREGROUND]
        self.store.mutate(
            resource, namespace, name, lambda o: o["metadata"].__setitem__("finalizers", finalizers)
        )

    def _collect(self, gone: set[str]) -> None:
        """Delete what the vanished owners controlled (background propagation)."""
        for uid in gone:
            for namespace, name in list(self.owners.children.pop(uid, ())):
                for resource in OWNED:
                    obj = self.store.peek(resource, namespace, name)
                    if obj is not None and uid in owner_uids(obj):
                        with contextlib.suppress(ApiError):
                            self.store.delete(resource, namespace, name)
