"""Events the simulated cluster writes about itself, as the scheduler, the kubelets and the
controllers of a real cluster do, so that `kubectl get events` and `kubectl describe` show
the consequences of chaos; and their expiry after the API server's --event-ttl. No I/O."""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import itertools
import time

from sandbox.controllers.base import Context, Controller, Key, key_of
from sandbox.store import ApiError, Obj, Store, now_rfc3339

#: makes event names unique even within one clock tick (names are not drawn from the
#: sandbox's seeded generator, so that events leave seeded pod names as they were)
_SERIAL = itertools.count()


def record(
    store: Store,
    about: Obj,
    reason: str,
    message: str,
    *,
    component: str,
    host: str = "",
    warning: bool = False,
    when: str = "",
    field_path: str = "",
    emit: bool = True,
) -> None:
    """One core/v1 Event about `about` (at `when`, default now; `field_path` names a part
    of it, such as one container); a failure to write it is not the cluster's problem.
    `emit=False` stores it without telling watchers, as when a cluster is seeded."""
    meta = about["metadata"]
    namespace = meta.get("namespace") or "default"
    stamp = when or now_rfc3339(store.clock)
    source = {"component": component, **({"host": host} if host else {})}
    event: Obj = {
        "metadata": {
            "name": f"{meta['name']}.{time.time_ns():x}{next(_SERIAL) % 4096:03x}",
            "namespace": namespace,
        },
        "involvedObject": {
            "kind": about.get("kind", ""),
            "apiVersion": about.get("apiVersion", ""),
            "namespace": meta.get("namespace", ""),
            "name": meta["name"],
            "uid": meta.get("uid", ""),
            **({"fieldPath": field_path} if field_path else {}),
        },
        "reason": reason,
        "message": message,
        "type": "Warning" if warning else "Normal",
        "source": source,
        "reportingComponent": component,
        "reportingInstance": host,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }
    try:
        store.create("events", event, emit=emit, handover=True)
    except ApiError:
        return


def containers(pod: Obj) -> list[str]:
    return [str(c.get("name", "main")) for c in pod.get("spec", {}).get("containers") or []]


def container_started(store: Store, pod: Obj, *, when: str = "", emit: bool = True) -> None:
    """What a kubelet tells when it starts a pod's containers: Pulled, Created and Started,
    for each container."""
    host = pod.get("spec", {}).get("nodeName", "")
    for container in pod.get("spec", {}).get("containers") or []:
        name = str(container.get("name", "main"))
        image = container.get("image", "")
        told = (
            ("Pulled", f'Container image "{image}" already present on machine'),
            ("Created", f"Created container {name}"),
            ("Started", f"Started container {name}"),
        )
        for reason, message in told:
            record(
                store,
                pod,
                reason,
                message,
                component="kubelet",
                host=host,
                when=when,
                field_path=f"spec.containers{{{name}}}",
                emit=emit,
            )


def _stamp(text: object) -> float:
    """Seconds since the epoch of an RFC 3339 time; 0 when there is none or it is bad."""
    if not isinstance(text, str):
        return 0.0
    return _parsed_stamp(text)


@functools.lru_cache(maxsize=1024)
def _parsed_stamp(text: str) -> float:
    """Events come in bursts stamped with the same second: each text is parsed once."""
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _last_seen(event: Obj) -> float:
    return max(
        _stamp(event.get("lastTimestamp")),
        _stamp(event.get("eventTime")),
        _stamp(event["metadata"].get("creationTimestamp")),
    )


class EventExpiry(Controller):
    """Events older than the TTL go, as the API server drops them; checked every tenth of
    the TTL (at most every minute). Events are kept in a heap by when they were last seen,
    so a check looks only at those that expired (an event seen again has a newer entry;
    its older ones are dropped when they come up)."""

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self._heap: list[tuple[float, Key]] = []

    def seed(self) -> None:
        for key, entry in self.store.entries("events"):
            self._heap.append((_last_seen(entry.obj), key))
        heapq.heapify(self._heap)
        self.expire()

    RESOURCES = frozenset({"events"})

    def observe(self, event_type: str, resource: str, obj: Obj) -> None:
        if resource == "events" and event_type != "DELETED":
            heapq.heappush(self._heap, (_last_seen(obj), key_of(obj)))

    def expire(self) -> None:
        cutoff = self.store.clock() - self.context.timing.event_ttl_seconds
        while self._heap and self._heap[0][0] < cutoff:
            _, key = heapq.heappop(self._heap)
            event = self.store.peek("events", *key)
            if event is not None and _last_seen(event) < cutoff:
                self.store.remove("events", *key)
        self.context.later(min(60.0, self.context.timing.event_ttl_seconds / 10), self.expire)
