"""Indexes the controllers share, kept up to date from the store's changes. No I/O."""

from __future__ import annotations

from sandbox.controllers.base import Key, key_of
from sandbox.podutil import condition, owner_uids, pod_terminating
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
        #: owner uid -> its pods not being deleted, and those of them that are Ready
        self.live: dict[str, set[Key]] = {}
        self.ready: dict[str, set[Key]] = {}
        #: pod -> the owners it is counted under in `live` and `ready`
        self._counted: dict[Key, list[str]] = {}

    def seed(self) -> None:
        for resource in OWNED:
            for _, entry in self.store.entries(resource):
                self.observe("ADDED", resource, entry.obj)

    def observe(self, event_type: str, resource: str, obj: Obj) -> None:
        if resource not in OWNED:
            return
        key = key_of(obj)
        uids = owner_uids(obj)
        for uid in uids:
            bucket = self.children.setdefault(uid, set())
            if event_type == "DELETED":
                bucket.discard(key)
            else:
                bucket.add(key)
        if resource == "pods":
            self._count(key, [] if event_type == "DELETED" or pod_terminating(obj) else uids, obj)

    def _count(self, key: Key, uids: list[str], pod: Obj) -> None:
        for uid in self._counted.pop(key, ()):
            self.live.get(uid, set()).discard(key)
            self.ready.get(uid, set()).discard(key)
        if not uids:
            return
        self._counted[key] = uids
        ready = condition(pod, "Ready") == "True"
        for uid in uids:
            self.live.setdefault(uid, set()).add(key)
            if ready:
                self.ready.setdefault(uid, set()).add(key)

    def live_count(self, owner_uid: str) -> int:
        """How many pods naming `owner_uid` are not being deleted."""
        return len(self.live.get(owner_uid, ()))

    def ready_count(self, owner_uid: str) -> int:
        """How many of those are Ready."""
        return len(self.ready.get(owner_uid, ()))

    def owned(self, resource: str, owner_uid: str) -> list[Obj]:
        """The stored objects of `resource` that name `owner_uid` as an owner."""
        found = []
        for namespace, name in list(self.children.get(owner_uid, ())):
            obj = self.store.peek(resource, namespace, name)
            if obj is not None and owner_uid in owner_uids(obj):
                found.append(obj)
        return found


class NodeIndex:
    """Node name -> the (namespace, name) of the pods bound to it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pods: dict[str, set[Key]] = {}

    def seed(self) -> None:
        for _, entry in self.store.entries("pods"):
            self.observe("ADDED", "pods", entry.obj)

    def observe(self, event_type: str, resource: str, obj: Obj) -> None:
        node = obj.get("spec", {}).get("nodeName") if resource == "pods" else None
        if not node:
            return
        if event_type == "DELETED":
            self.pods.get(node, set()).discard(key_of(obj))
        else:
            self.pods.setdefault(node, set()).add(key_of(obj))

    def pods_on(self, node: str) -> list[Obj]:
        """The pods bound to `node`, in (namespace, name) order."""
        found = []
        for key in sorted(self.pods.get(node, ())):
            pod = self.store.peek("pods", *key)
            if pod is not None and pod.get("spec", {}).get("nodeName") == node:
                found.append(pod)
        return found
