"""Events the simulated cluster writes about itself, as the scheduler, the kubelets and
the controllers of a real cluster do, so that `kubectl get events` and `kubectl describe`
show the consequences of chaos. No I/O."""

from __future__ import annotations

import itertools
import time

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
) -> None:
    """One core/v1 Event about `about`; a failure to write it is not the cluster's problem."""
    meta = about["metadata"]
    namespace = meta.get("namespace") or "default"
    now = now_rfc3339(store.clock)
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
        },
        "reason": reason,
        "message": message,
        "type": "Warning" if warning else "Normal",
        "source": source,
        "reportingComponent": component,
        "reportingInstance": host,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
    try:
        store.create("events", event)
    except ApiError:
        return


def containers(pod: Obj) -> list[str]:
    return [str(c.get("name", "main")) for c in pod.get("spec", {}).get("containers") or []]
