"""The undo journal kept in the cluster: a ConfigMap in seal's namespace, so that what a
seal pod changed outlives the pod and the next leader carries out its undos.

Every write is a read-modify-write with optimistic concurrency: the ConfigMap is read,
the record added (a `done` removes its undo: only pending undos are kept, so the journal
compacts itself), and written back with the `resourceVersion` read; a 409 Conflict (another
writer came between) reads again and retries, a bounded number of times. ConfigMaps hold at
most 1 MiB: a record that would take the pending undos over `limit` bytes is refused with
an `UndoError` before the change it undoes is made, so nothing unjournaled happens.

Talks to the API server through the client it is given.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Mapping
from typing import Any

from seal.adapters.kube import KubeClient
from seal.errors import (
    ConflictError,
    KubeError,
    NotFoundError,
    PermissionsMissing,
    UndoError,
    UsageError,
)
from seal.runtime.journal_store import Record, dump_line, parse_lines

log = logging.getLogger(__name__)
#: the data key holding the journal's JSON lines
DATA_KEY = "journal.jsonl"
#: the pending undos a journal ConfigMap may hold, in bytes (ConfigMaps hold at most 1 MiB)
LIMIT_BYTES = 900 * 1024
#: writes tried in a row when another writer keeps changing the ConfigMap first
ATTEMPTS = 10
#: the first pause after a 409 Conflict (seconds); it doubles, with jitter, up to 1 s,
#: so that two writers that keep meeting fall out of step instead of one starving
CONFLICT_PAUSE = 0.01
LABELS = {"app.kubernetes.io/managed-by": "seal", "app.kubernetes.io/component": "undo-journal"}


def configmap_name(cluster_uid: str) -> str:
    """`seal-journal-<hash of the cluster's uid>`: one journal per cluster, as on disk."""
    return "seal-journal-" + hashlib.sha256(cluster_uid.encode()).hexdigest()[:16]


def compacted(records: list[Record]) -> list[Record]:
    """The `record`s still pending, in the order written (a record written twice, after
    an answer that was lost, is kept once; a `done` removes its record and goes)."""
    pending: dict[str, Record] = {}
    for record in records:
        key = str(record.get("id"))
        if record.get("op") == "record":
            pending[key] = record
        elif record.get("op") == "done":
            pending.pop(key, None)
    return list(pending.values())


class ConfigMapStore:
    """The journal's records in ConfigMap `namespace/name`."""

    def __init__(
        self,
        kube: KubeClient,
        namespace: str,
        name: str,
        *,
        limit: int = LIMIT_BYTES,
        attempts: int = ATTEMPTS,
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.limit = limit
        self.attempts = attempts
        self.where = f"ConfigMap {namespace}/{name}"
        #: 409 Conflicts met (another writer came between a read and a write)
        self.conflicts = 0

    @property
    def _path(self) -> str:
        return f"/api/v1/namespaces/{self.namespace}/configmaps/{self.name}"

    def _get(self) -> dict[str, Any] | None:
        try:
            return self.kube.request("GET", self._path)
        except NotFoundError:
            return None

    def _records(self, current: Mapping[str, Any] | None) -> list[Record]:
        if current is None:
            return []
        text = str((current.get("data") or {}).get(DATA_KEY) or "")
        return parse_lines(text.splitlines(), self.where)

    def load(self) -> list[Record]:
        try:
            return self._records(self._get())
        except KubeError as exc:
            if exc.status == 403:
                raise PermissionsMissing(
                    f"{self.where}: the cluster denies seal its undo journal ({exc}); nothing "
                    f"was changed. Grant seal, in namespace {self.namespace}: "
                    'apiGroups: [""], resources: [configmaps], verbs: [create, get, update], '
                    "and for leader election apiGroups: [coordination.k8s.io], resources: "
                    "[leases], verbs: [create, get, update] (`seal rbac --state-namespace "
                    f"{self.namespace}` prints them as a Role)"
                ) from exc
            raise UsageError(
                f"{self.where}: cannot read the undo journal: {exc}; seal changes nothing "
                "without it (it needs get, create and update on configmaps in namespace "
                f"{self.namespace})"
            ) from exc

    def append(self, record: Mapping[str, Any]) -> None:
        for attempt in range(self.attempts):
            try:
                if self._write_once(record):
                    return
            except KubeError as exc:
                raise UndoError(f"{self.where}: cannot write the undo journal: {exc}") from exc
            pause = min(1.0, CONFLICT_PAUSE * 2**attempt) * random.uniform(0.5, 1.5)
            self.conflicts += 1
            log.debug("%s changed since it was read; reading it again", self.where)
            if attempt + 1 < self.attempts:
                time.sleep(pause)
        raise UndoError(
            f"{self.where}: cannot write the undo journal: it changed under seal "
            f"{self.attempts} times in a row (409 Conflict); another writer keeps changing it"
        )

    def _write_once(self, record: Mapping[str, Any]) -> bool:
        """Read, add `record`, write back; False on a 409 Conflict."""
        current = self._get()
        records = compacted([*self._records(current), dict(record)])
        text = "".join(dump_line(r) for r in records)
        size = len(text.encode())
        if record.get("op") == "record" and size > self.limit:
            raise UndoError(
                f"{self.where}: refused to record this undo, so the change is not made: the "
                f"pending undos would take {size} bytes, over the journal's bound of "
                f"{self.limit} bytes (a ConfigMap holds at most 1 MiB); let the pending "
                "undos be carried out first (`seal cleanup`), or keep the journal on disk "
                "(--state-backend file)"
            )
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        metadata["labels"] = dict(LABELS)
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}
        body["data"] = {DATA_KEY: text}
        try:
            if current is None:
                collection = f"/api/v1/namespaces/{self.namespace}/configmaps"
                self.kube.request("POST", collection, body=body, idempotent=True)
            else:
                metadata["resourceVersion"] = current["metadata"]["resourceVersion"]
                self.kube.request("PUT", self._path, body=body)
        except ConflictError:
            return False
        return True

    def compact(self) -> None:
        """Nothing to do: every write keeps only the pending undos."""

    def close(self) -> None:
        """Nothing to release: the ConfigMap is not locked."""
