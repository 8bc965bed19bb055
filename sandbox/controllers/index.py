"""Indexes the controllers share, kept up to date from the store's changes. No I/O."""

from __future__ import annotations

from sandbox.controllers.base import Key, key_of
from sandbox.podutil import owner_uids
from sandbox.store import Obj, Store

#: the kinds an owner reference can point from (what owners own)
OWNED = ("replicasets", "pods")


class OwnerIndex:
    """Owner uid -> the (namespace, name) of the ReplicaSets and Pods that name it.

    Entries are added, never moved when references change: readers check that the object
    still names its owner (`owned`)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.children: dict[str, set[Key]] = {}

    def seed(self) -> None:
        for resource in OWNED:
            for _, entry in self.store.entries(resource):
                self.observe("ADDED", resource, entry.obj)

    def observe(self, event_type: str, resource: str, obj: Obj) -> None:
        if resource not in OWNED:
            return
        key = key_of(obj)
        for uid in owner_uids(obj):
            bucket = self.children.setdefault(uid, set())
            if event_type == "DELETED":
                bucket.discard(key)
            else:
                bucket.add(key)

    def owned(self, resource: str, owner_uid: str) -> list[Obj]:
        """The stored objects of `resource` that name `owner_uid` as an owner."""
        found = []
        for namespace, name in list(self.children.get(owner_uid, ())):
            obj = self.store.peek(resource, namespace, name)
            if obj is not None and owner_uid in owner_uids(obj):
                found.append(obj)
        return found
