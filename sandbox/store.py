"""The sandbox's in-memory object store, with resource versions, watches and selectors.

No I/O. Everything runs on the sandbox's event loop thread, so there are no locks.
"""

from __future__ import annotations

import base64
import bisect
import collections
import copy
import datetime as dt
import json
import marshal
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

import orjson

from sandbox.resources import BY_PLURAL
from seal.errors import SelectorError
from seal.labels import parse_selector

Obj = dict[str, Any]
_J = TypeVar("_J")
Listener = Callable[[str, str, Obj], None]
HISTORY = 20_000
_GENERATION_KINDS = {"deployments", "replicasets", "poddisruptionbudgets"}


#: the finalizer an owner carries while its dependents are deleted first
FOREGROUND = "foregroundDeletion"
#: the finalizer a Terminating namespace carries until it is empty
NAMESPACE_FINALIZER = "kubernetes"


class ApiError(Exception):
    """An error the API answers as a Kubernetes `Status` object."""

    def __init__(
        self, code: int, reason: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details or {}

    def status(self) -> Obj:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


def clone(obj: _J) -> _J:
    """A deep copy of a JSON value; marshal is many times faster than copy.deepcopy."""
    try:
        copied: _J = marshal.loads(marshal.dumps(obj))  # type: ignore[arg-type]
    except ValueError:
        return copy.deepcopy(obj)
    return copied


_last_stamp: list[tuple[int, str]] = [(0, "")]
#: random hex digits drawn ahead (one read of the system's source for many uids), and
#: where the next uid's 32 start
_uid_digits: list[str] = [""]
_uid_at = [0]
_uid_lock = threading.Lock()
_UID_BATCH = 4096


def new_uid() -> str:
    """A random (version 4) UUID as text, as `str(uuid.uuid4())` gives, drawn cheaply."""
    with _uid_lock:  # sandboxes in one process draw from the same digits
        at = _uid_at[0]
        if at + 32 > len(_uid_digits[0]):
            _uid_digits[0], at = os.urandom(_UID_BATCH).hex(), 0
        h = _uid_digits[0][at : at + 32]
        _uid_at[0] = at + 32
    variant = "89ab"[int(h[16], 16) & 3]
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"


def rfc3339(seconds: float) -> str:
    """A Kubernetes timestamp: UTC, to the second."""
    return dt.datetime.fromtimestamp(int(seconds), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_rfc3339(clock: Callable[[], float] = time.time) -> str:
    second = int(clock())
    cached_second, text = _last_stamp[0]
    if second != cached_second:
        text = rfc3339(second)
        _last_stamp[0] = (second, text)
    return text


def not_found(resource: str, name: str) -> ApiError:
    kind = resource
    return ApiError(404, "NotFound", f'{kind} "{name}" not found', {"name": name, "kind": resource})


@dataclass(slots=True)
class Entry:
    obj: Obj
    _json: bytes | None = None

    def json(self) -> bytes:
        if self._json is None:
            self._json = orjson.dumps(self.obj)
        return self._json


class WatchEvent(NamedTuple):
    """One change, as the watch history keeps it (a tuple: cheap to make, and one object
    for the garbage collector to look at)."""

    rv: int
    type: str
    resource: str
    obj: Obj


FieldTest = Callable[[Obj], bool]


def _field_value(obj: Obj, field: str) -> str:
    value: Any = obj
    for part in field.split("."):
        value = value.get(part, "") if isinstance(value, dict) else ""
    return "" if value is None else str(value)


def parse_field_selector(text: str) -> list[FieldTest]:
    tests: list[FieldTest] = []
    supported = {
        "metadata.name",
        "metadata.namespace",
        "spec.nodeName",
        "status.phase",
        "involvedObject.name",
        "involvedObject.namespace",
        "involvedObject.kind",
        "involvedObject.uid",
        "reason",
        "type",
        "spec.unschedulable",
    }
    for part in filter(None, (p.strip() for p in text.split(","))):
        for op in ("!=", "==", "="):
            if op in part:
                field, value = (s.strip() for s in part.split(op, 1))
                break
        else:
            raise ApiError(400, "BadRequest", f"invalid field selector {part!r}")
        if field not in supported:
            raise ApiError(400, "BadRequest", f'field label not supported: "{field}"')
        negate = op == "!="

        def test(obj: Obj, field: str = field, value: str = value, negate: bool = negate) -> bool:
            return (_field_value(obj, field) == value) != negate

        tests.append(test)
    return tests


def _set_owner_refs(refs: list[Obj]) -> Callable[[Obj], None]:
    def apply(obj: Obj) -> None:
        obj["metadata"]["ownerReferences"] = refs

    return apply


class Store:
    """Objects by resource, namespace and name; every change gets a resourceVersion."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.resource_version = 1
        self._objects: dict[str, dict[tuple[str, str], Entry]] = {r: {} for r in BY_PLURAL}
        #: resource -> namespace -> names, so that a namespace is listed without a full scan
        self._names: dict[str, dict[str, set[str]]] = {r: {} for r in BY_PLURAL}
        self._history: collections.deque[WatchEvent] = collections.deque(maxlen=HISTORY)
        self._listeners: list[Listener] = []
        #: set when the sandbox shuts down, so that open watches end
        self.closing = False

    # ------------------------------------------------------------ listeners
    def subscribe(self, callback: Listener) -> Callable[[], None]:
        self._listeners.append(callback)

        def unsubscribe() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return unsubscribe

    def _emit(self, event_type: str, resource: str, obj: Obj) -> None:
        self._history.append(WatchEvent(self.resource_version, event_type, resource, obj))
        for listener in list(self._listeners):
            listener(event_type, resource, obj)

    def events_since(self, rv: int) -> list[WatchEvent] | None:
        """Changes after `rv`, or None when they are no longer kept (410 Gone)."""
        if rv >= self.resource_version:
            return []
        if not self._history or self._history[0].rv > rv + 1:
            return None
        return [e for e in self._history if e.rv > rv]

    # ------------------------------------------------------------ helpers
    def _table(self, resource: str) -> dict[tuple[str, str], Entry]:
        try:
            return self._objects[resource]
        except KeyError:
            raise ApiError(
                404, "NotFound", f"the server could not find resource {resource}"
            ) from None

    def _key(self, resource: str, namespace: str, name: str) -> tuple[str, str]:
        return (namespace if BY_PLURAL[resource].namespaced else "", name)

    def _bump(self, obj: Obj) -> None:
        self.resource_version += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.resource_version)

    def entry(self, resource: str, namespace: str, name: str) -> Entry:
        found = self._table(resource).get(self._key(resource, namespace, name))
        if found is None:
            raise not_found(resource, name)
        return found

    # ------------------------------------------------------------ reads
    def get(self, resource: str, namespace: str, name: str) -> Obj:
        return clone(self.entry(resource, namespace, name).obj)

    def peek(self, resource: str, namespace: str, name: str) -> Obj | None:
        """The stored object itself (do not change it), or None."""
        found = self._table(resource).get(self._key(resource, namespace, name))
        return None if found is None else found.obj

    def entries(
        self,
        resource: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        start_after: tuple[str, str] | None = None,
    ) -> Iterator[tuple[tuple[str, str], Entry]]:
        """Matching entries in (namespace, name) order; with `start_after`, those after
        that key only (a LIST's next page: the pages before it are not matched again)."""
        try:
            selector = parse_selector(label_selector) if label_selector else None
        except SelectorError as exc:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {exc}") from exc
        fields = parse_field_selector(field_selector) if field_selector else []
        table = self._table(resource)
        if namespace and BY_PLURAL[resource].namespaced:
            keys = [(namespace, n) for n in sorted(self._names[resource].get(namespace, ()))]
        else:
            keys = sorted(table)
        if start_after is not None:
            keys = keys[bisect.bisect_right(keys, start_after) :]
        for key in keys:
            entry = table[key]
            obj = entry.obj
            if selector and not selector.matches(obj["metadata"].get("labels") or {}):
                continue
            if fields and not all(test(obj) for test in fields):
                continue
            yield key, entry

    def list(
        self,
        resource: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Obj]:
        return [
            clone(e.obj)
            for _, e in self.entries(resource, namespace, label_selector, field_selector)
        ]

    def count(self, resource: str) -> int:
        return len(self._table(resource))

    # ------------------------------------------------------------ writes
    def create(
        self, resource: str, obj: Obj, *, emit: bool = True, handover: bool = False
    ) -> Obj:
        """Store a new object and return it as stored. With `handover` (or `emit=False`,
        seeding, where no event is sent) `obj` itself is stored (the caller hands it over,
        and keeps no other reference it may change) and returned: read it, never change
        it. Otherwise `obj` is copied in and a copy is returned."""
        handover = handover or not emit
        if not handover:
            obj = clone(obj)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise ApiError(422, "Invalid", "metadata must be an object")
        rtype = BY_PLURAL[resource]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{new_uid()[:5]}"
        name = meta.get("name")
        if not isinstance(name, str) or not name:
            raise ApiError(422, "Invalid", f"{rtype.kind}: metadata.name: Required value")
        namespace = meta.get("namespace", "") if rtype.namespaced else ""
        if rtype.namespaced:
            if not namespace:
                raise ApiError(422, "Invalid", "metadata.namespace: Required value")
            home = self._table("namespaces").get(("", namespace))
            if home is None:
                raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found')
            if "deletionTimestamp" in home.obj["metadata"] and resource != "events":
                raise ApiError(
                    403,
                    "Forbidden",
                    f'{resource} "{name}" is forbidden: unable to create new content in '
                    f"namespace {namespace} because it is being terminated",
                )
        else:
            meta.pop("namespace", None)
        key = (namespace, name)
        table = self._table(resource)
        if key in table:
            raise ApiError(
                409,
                "AlreadyExists",
                f'{resource} "{name}" already exists',
                {"name": name, "kind": resource},
            )
        meta["uid"] = new_uid()
        meta["creationTimestamp"] = now_rfc3339(self.clock)
        meta.pop("deletionTimestamp", None)
        if resource in _GENERATION_KINDS:
            meta["generation"] = 1
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        self._bump(obj)
        table[key] = Entry(obj)
        self._names[resource].setdefault(namespace, set()).add(name)
        if emit:
            self._emit("ADDED", resource, obj)
        return obj if handover else clone(obj)

    def update(
        self, resource: str, obj: Obj, *, status_only: bool = False, handover: bool = False
    ) -> Obj:
        """Store `obj` in place of the object of its name; `handover` as for `create`."""
        if not handover:
            obj = clone(obj)
        meta = obj.get("metadata")
        if not isinstance(meta, dict) or not meta.get("name"):
            raise ApiError(422, "Invalid", "metadata.name: Required value")
        entry = self.entry(resource, meta.get("namespace", ""), meta["name"])
        current = entry.obj
        given_rv = meta.get("resourceVersion")
        if given_rv and str(given_rv) != current["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {resource} "{meta["name"]}": the object has '
                "been modified; please apply your changes to the latest version and try again",
            )
        for immutable in ("uid", "creationTimestamp", "deletionTimestamp", "namespace"):
            if immutable in current["metadata"]:
                meta[immutable] = current["metadata"][immutable]
        if "deletionGracePeriodSeconds" in current["metadata"]:
            meta["deletionGracePeriodSeconds"] = current["metadata"]["deletionGracePeriodSeconds"]
        if status_only:
            merged = clone(current)
            merged["status"] = obj.get("status", {})
            obj = merged
        elif "status" in current and "status" not in obj:
            obj["status"] = current["status"]
        if "generation" in current["metadata"]:
            changed = obj.get("spec") != current.get("spec")
            meta_gen = current["metadata"]["generation"] + (1 if changed else 0)
            obj["metadata"]["generation"] = meta_gen
        deleting = "deletionTimestamp" in current["metadata"]
        if deleting and not status_only:
            added = set(meta.get("finalizers") or []) - set(
                current["metadata"].get("finalizers") or []
            )
            if added:
                raise ApiError(
                    422,
                    "Invalid",
                    f"metadata.finalizers: Forbidden: no new finalizers can be added if the "
                    f"object is being deleted, found new finalizers {sorted(added)}",
                )
        rtype = BY_PLURAL[resource]
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        self._bump(obj)
        entry.obj, entry._json = obj, None
        self._emit("MODIFIED", resource, obj)
        if deleting and not meta.get("finalizers") and self._may_go(resource, obj):
            self.remove(resource, meta.get("namespace", ""), meta["name"])
        return obj if handover else clone(obj)

    @staticmethod
    def _may_go(resource: str, obj: Obj) -> bool:
        """Whether an object being deleted can vanish now that nothing holds it."""
        if resource != "pods":
            return True
        # A pod still within its grace period goes when its containers stop.
        return not obj["metadata"].get("deletionGracePeriodSeconds")

    def mutate(self, resource: str, namespace: str, name: str, fn: Callable[[Obj], None]) -> Obj:
        """Change the stored object with `fn` (on a copy) and store it; the object as stored
        is returned: read it, never change it."""
        obj = self.get(resource, namespace, name)
        fn(obj)
        obj["metadata"].pop("resourceVersion", None)
        return self.update(resource, obj, handover=True)

    def delete(
        self,
        resource: str,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        precondition_uid: str | None = None,
    ) -> Obj:
        """Delete (or begin deleting) an object; a copy of it as it is after the request."""
        entry = self.delete_entry(
            resource,
            namespace,
            name,
            grace_period_seconds=grace_period_seconds,
            propagation_policy=propagation_policy,
            precondition_uid=precondition_uid,
        )
        return clone(entry.obj)

    def delete_entry(
        self,
        resource: str,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        precondition_uid: str | None = None,
    ) -> Entry:
        """As `delete`, but the entry itself (its JSON cached): read it, never change it."""
        entry = self.entry(resource, namespace, name)
        meta = entry.obj["metadata"]
        if precondition_uid and meta.get("uid") != precondition_uid:
            raise ApiError(
                409,
                "Conflict",
                f"Precondition failed: UID in precondition: {precondition_uid}, "
                f"UID in object meta: {meta.get('uid')}",
            )
        if propagation_policy == "Orphan":
            self._orphan_dependents(meta.get("uid", ""))
        if resource == "namespaces":
            return self._terminate_namespace(entry)
        finalizers = list(meta.get("finalizers") or [])
        if propagation_policy == "Foreground" and FOREGROUND not in finalizers:
            finalizers.append(FOREGROUND)
        if finalizers and resource != "pods":
            return self._hold_for_finalizers(resource, entry, finalizers)
        if resource == "pods":
            spec_grace = entry.obj.get("spec", {}).get("terminationGracePeriodSeconds", 30)
            grace = spec_grace if grace_period_seconds is None else grace_period_seconds
            unscheduled = not entry.obj.get("spec", {}).get("nodeName")
            if grace > 0 and not unscheduled:
                return self._start_graceful_deletion(resource, entry, int(grace))
            if finalizers:
                return self._hold_for_finalizers(resource, entry, finalizers)
        self.remove(resource, namespace, name)
        return entry

    def _terminate_namespace(self, entry: Entry) -> Entry:
        """A deleted namespace is Terminating until the namespace controller has deleted
        what is in it and removed its `kubernetes` finalizer."""
        if "deletionTimestamp" in entry.obj["metadata"]:
            return entry
        obj = clone(entry.obj)
        obj["metadata"]["deletionTimestamp"] = now_rfc3339(self.clock)
        obj.setdefault("spec", {})["finalizers"] = [NAMESPACE_FINALIZER]
        obj.setdefault("status", {})["phase"] = "Terminating"
        return self._replace("namespaces", entry, obj)

    def finish_namespace(self, name: str) -> bool:
        """Remove a Terminating namespace once nothing is left in it; whether it went."""
        entry = self._table("namespaces").get(("", name))
        if entry is None or "deletionTimestamp" not in entry.obj["metadata"]:
            return False
        if any(
            self._names[plural].get(name)
            for plural in self._objects
            if BY_PLURAL[plural].namespaced and plural != "events"
        ):
            return False
        self.remove("namespaces", "", name)
        return True

    def _hold_for_finalizers(
        self, resource: str, entry: Entry, finalizers: Sequence[str]
    ) -> Entry:
        """Deletion begins: the object stays, marked, until its finalizers are removed."""
        meta = entry.obj["metadata"]
        if "deletionTimestamp" in meta and meta.get("finalizers") == list(finalizers):
            return entry
        obj = clone(entry.obj)
        obj["metadata"].setdefault("deletionTimestamp", now_rfc3339(self.clock))
        obj["metadata"]["deletionGracePeriodSeconds"] = 0
        obj["metadata"]["finalizers"] = list(finalizers)
        return self._replace(resource, entry, obj)

    def _replace(self, resource: str, entry: Entry, obj: Obj) -> Entry:
        """Store `obj` in place of `entry`'s object, as the server itself changed it."""
        self._bump(obj)
        entry.obj, entry._json = obj, None
        self._emit("MODIFIED", resource, obj)
        return entry

    def _start_graceful_deletion(self, resource: str, entry: Entry, grace: int) -> Entry:
        meta = entry.obj["metadata"]
        current = meta.get("deletionGracePeriodSeconds")
        if current is not None and current <= grace:
            return entry
        obj = clone(entry.obj)
        obj["metadata"]["deletionGracePeriodSeconds"] = grace
        deadline = self.clock() + grace
        if "deletionTimestamp" not in obj["metadata"] or current is not None:
            obj["metadata"]["deletionTimestamp"] = rfc3339(deadline)
        return self._replace(resource, entry, obj)

    def finish_graceful_deletion(self, resource: str, namespace: str, name: str) -> None:
        """The grace period is over: the object goes, unless finalizers still hold it."""
        entry = self._table(resource).get(self._key(resource, namespace, name))
        if entry is None:
            return
        if not entry.obj["metadata"].get("finalizers"):
            self.remove(resource, namespace, name)
            return
        if entry.obj["metadata"].get("deletionGracePeriodSeconds") == 0:
            return
        obj = clone(entry.obj)
        obj["metadata"]["deletionGracePeriodSeconds"] = 0
        self._replace(resource, entry, obj)

    def remove(self, resource: str, namespace: str, name: str) -> None:
        """Really delete (a DELETED event); graceful deletion ends here."""
        key = self._key(resource, namespace, name)
        entry = self._table(resource).pop(key, None)
        if entry is None:
            return
        self._names[resource].get(key[0], set()).discard(key[1])
        # Stored objects are never changed in place, so the last state shares their parts.
        obj = {**entry.obj, "metadata": dict(entry.obj["metadata"])}
        self._bump(obj)
        self._emit("DELETED", resource, obj)
        if resource == "namespaces":
            for plural, table in self._objects.items():
                if BY_PLURAL[plural].namespaced:
                    for key2 in [k for k in table if k[0] == name]:
                        self.remove(plural, key2[0], key2[1])

    def _orphan_dependents(self, uid: str) -> None:
        if not uid:
            return
        for plural, table in self._objects.items():
            for key, entry in list(table.items()):
                refs = entry.obj["metadata"].get("ownerReferences") or []
                if any(r.get("uid") == uid for r in refs):
                    kept = [r for r in refs if r.get("uid") != uid]
                    self.mutate(plural, key[0], key[1], _set_owner_refs(kept))

    def continue_token(self, key: tuple[str, str], rv: int) -> str:
        raw = json.dumps({"rv": rv, "after": list(key)}).encode()
        return base64.urlsafe_b64encode(raw).decode()

    @staticmethod
    def parse_continue(token: str) -> tuple[tuple[str, str], int]:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            return (str(data["after"][0]), str(data["after"][1])), int(data["rv"])
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ApiError(400, "BadRequest", "continue key is not valid") from exc
