"""The Deployment and ReplicaSet controllers: ReplicaSets and Pods follow the replicas and
templates of their owners; a changed template rolls out. No I/O."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import random
import string

from sandbox.controllers import events
from sandbox.controllers.base import Context, Controller, Key, key_of
from sandbox.controllers.index import OwnerIndex
from sandbox.podutil import condition, pod_terminating
from sandbox.store import ApiError, Obj, clone


def template_hash(template: Obj) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
    return digest[:10]


def owner_ref(owner: Obj) -> Obj:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


_ALPHABET = string.ascii_lowercase + string.digits


def random_suffix(rng: random.Random, size: int = 5) -> str:
    number = rng.getrandbits(6 * size)
    return "".join(_ALPHABET[(number >> (6 * i)) % 36] for i in range(size))


def _replicaset_owners(pod: Obj) -> tuple[str, ...]:
    return tuple(
        str(owner.get("name", ""))
        for owner in pod["metadata"].get("ownerReferences") or []
        if owner.get("kind") == "ReplicaSet"
    )


class WorkloadController(Controller):
    """Keeps ReplicaSets and Pods in line with Deployments and ReplicaSets."""

    def __init__(self, context: Context, owners: OwnerIndex) -> None:
        super().__init__(context)
        self.owners = owners
        self.rng = context.rng
        self.dirty_deployments: set[Key] = set()
        self.dirty_replicasets: set[Key] = set()
        #: pod -> the names of the ReplicaSets it belongs to
        self._pod_owners: dict[Key, tuple[str, ...]] = {}

    def seed(self) -> None:
        for key, entry in self.store.entries("pods"):
            owners = _replicaset_owners(entry.obj)
            if owners:
                self._pod_owners[key] = owners

    RESOURCES = frozenset({"pods", "replicasets", "deployments"})

    def observe(self, event_type: str, resource: str, obj: Obj) -> None:
        key = key_of(obj)
        if resource == "pods":
            owners = _replicaset_owners(obj)
            # A pod released by its ReplicaSet (owner reference removed) changes it too.
            before = self._pod_owners.pop(key, ())
            if owners and event_type != "DELETED":
                self._pod_owners[key] = owners
            for owner in (*before, *owners):
                self.dirty_replicasets.add((key[0], owner))
        elif resource == "replicasets":
            self.dirty_replicasets.add(key)
            for owner in obj["metadata"].get("ownerReferences") or []:
                self.dirty_deployments.add((key[0], owner.get("name", "")))
        elif resource == "deployments":
            self.dirty_deployments.add(key)

    def reconcile(self) -> None:
        while self.dirty_deployments:
            self.sync_deployment(*self.dirty_deployments.pop())
        while self.dirty_replicasets:
            self.sync_replicaset(*self.dirty_replicasets.pop())

    # ---------------------------------------------------------------- replicasets
    def sync_replicaset(self, namespace: str, name: str) -> None:
        rs = self.store.peek("replicasets", namespace, name)
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            return
        wanted = int(rs.get("spec", {}).get("replicas", 1))
        live = self.owners.live_count(rs["metadata"]["uid"])
        if live < wanted:
            for _ in range(wanted - live):
                self._create_pod(rs)
        elif live > wanted:
            pods = self._live_pods(rs)
            pods.sort(
                key=lambda p: (condition(p, "Ready") == "True", p["metadata"]["creationTimestamp"])
            )
            for pod in pods[: len(pods) - wanted]:
                with contextlib.suppress(ApiError):
                    self.store.delete("pods", namespace, pod["metadata"]["name"])
        self._replicaset_status(rs)

    def _live_pods(self, rs: Obj) -> list[Obj]:
        return [
            p for p in self.owners.owned("pods", rs["metadata"]["uid"]) if not pod_terminating(p)
        ]

    def _create_pod(self, rs: Obj) -> None:
        template = clone(rs["spec"].get("template") or {})
        meta = template.setdefault("metadata", {})
        meta["namespace"] = rs["metadata"]["namespace"]
        meta["name"] = f"{rs['metadata']['name']}-{random_suffix(self.rng)}"
        meta["ownerReferences"] = [owner_ref(rs)]
        template.setdefault("spec", {})
        template["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        try:
            self.store.create("pods", template, handover=True)
        except ApiError:
            return
        events.record(
            self.store,
            rs,
            "SuccessfulCreate",
            f"Created pod: {meta['name']}",
            component="replicaset-controller",
        )

    def _replicaset_status(self, rs: Obj) -> None:
        uid = rs["metadata"]["uid"]
        live, ready = self.owners.live_count(uid), self.owners.ready_count(uid)
        status = {
            "replicas": live,
            "fullyLabeledReplicas": live,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        if rs.get("status") != status:
            self._set_status("replicasets", rs, status)

    # ---------------------------------------------------------------- deployments
    def sync_deployment(self, namespace: str, name: str) -> None:
        deployment = self.store.peek("deployments", namespace, name)
        if deployment is None or deployment["metadata"].get("deletionTimestamp"):
            return
        spec = deployment.get("spec", {})
        wanted = int(spec.get("replicas", 1))
        template = spec.get("template") or {}
        pod_hash = template_hash(template)
        replicasets = self.owners.owned("replicasets", deployment["metadata"]["uid"])
        current = next(
            (
                rs
                for rs in replicasets
                if rs["metadata"].get("labels", {}).get("pod-template-hash") == pod_hash
            ),
            None,
        )
        if current is None:
            current = self._create_replicaset(deployment, template, pod_hash, wanted)
            if current is None:
                return
        elif current["spec"].get("replicas") != wanted:
            current = self._scale("replicasets", current, wanted)
        new_ready = int(current.get("status", {}).get("readyReplicas", 0))
        for old in replicasets:
            if old["metadata"]["uid"] == current["metadata"]["uid"]:
                continue
            allowed = max(0, wanted - new_ready)
            if old["spec"].get("replicas", 0) > allowed:
                self._scale("replicasets", old, allowed)
        self._deployment_status(deployment, current)

    def _create_replicaset(
        self, deployment: Obj, template: Obj, pod_hash: str, replicas: int
    ) -> Obj | None:
        template = copy.deepcopy(template)
        labels = template.setdefault("metadata", {}).setdefault("labels", {})
        labels["pod-template-hash"] = pod_hash
        selector = copy.deepcopy(deployment["spec"].get("selector") or {"matchLabels": {}})
        selector.setdefault("matchLabels", {})["pod-template-hash"] = pod_hash
        rs = {
            "metadata": {
                "name": f"{deployment['metadata']['name']}-{pod_hash}",
                "namespace": deployment["metadata"]["namespace"],
                "labels": dict(labels),
                "ownerReferences": [owner_ref(deployment)],
                "annotations": {"deployment.kubernetes.io/revision": "1"},
            },
            "spec": {"replicas": replicas, "selector": selector, "template": template},
        }
        try:
            return self.store.create("replicasets", rs)
        except ApiError:
            return None

    def _scale(self, resource: str, obj: Obj, replicas: int) -> Obj:
        updated = copy.deepcopy(obj)
        updated["spec"]["replicas"] = replicas
        updated["metadata"].pop("resourceVersion", None)
        return self.store.update(resource, updated)

    def _deployment_status(self, deployment: Obj, current: Obj) -> None:
        replicasets = self.owners.owned("replicasets", deployment["metadata"]["uid"])
        wanted = int(deployment.get("spec", {}).get("replicas", 1))
        total = sum(int(rs.get("status", {}).get("replicas", 0)) for rs in replicasets)
        ready = sum(int(rs.get("status", {}).get("readyReplicas", 0)) for rs in replicasets)
        updated_count = int(current.get("status", {}).get("replicas", 0))
        available = ready >= wanted
        status = {
            "observedGeneration": deployment["metadata"].get("generation", 1),
            "replicas": total,
            "updatedReplicas": updated_count,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": max(0, wanted - ready),
            "conditions": [
                {
                    "type": "Available",
                    "status": "True" if available else "False",
                    "reason": "MinimumReplicasAvailable"
                    if available
                    else "MinimumReplicasUnavailable",
                    "message": "Deployment has minimum availability."
                    if available
                    else "Deployment does not have minimum availability.",
                },
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "NewReplicaSetAvailable" if available else "ReplicaSetUpdated",
                    "message": f'ReplicaSet "{current["metadata"]["name"]}" is progressing.',
                },
            ],
        }
        if deployment.get("status") != status:
            self._set_status("deployments", deployment, status)

    def _set_status(self, resource: str, obj: Obj, status: Obj) -> None:
        """Write the status of the stored `obj` (its other parts stay as stored)."""
        meta = obj["metadata"]
        changed = {"metadata": {"name": meta["name"], "namespace": meta["namespace"]}}
        changed["status"] = status
        self.store.update(resource, changed, status_only=True, handover=True)
