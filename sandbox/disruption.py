"""PodDisruptionBudgets: whether evicting a pod is allowed. No I/O."""

from __future__ import annotations

import math

from sandbox.store import ApiError, Obj, Store, now_rfc3339
from seal.labels import selector_from_match


def pod_ready(pod: Obj) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    for condition in pod.get("status", {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def _amount(value: object, total: int, *, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        share = total * float(value[:-1]) / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(str(value))


def _covered(store: Store, pdb: Obj) -> list[Obj]:
    spec = pdb.get("spec", {})
    selector = selector_from_match(
        (spec.get("selector") or {}).get("matchLabels"),
        (spec.get("selector") or {}).get("matchExpressions"),
    )
    return [
        p
        for _, e in store.entries("pods", pdb["metadata"]["namespace"])
        if selector.matches((p := e.obj)["metadata"].get("labels") or {})
    ]


def budget_status(store: Store, pdb: Obj, pods: list[Obj] | None = None) -> Obj:
    """The status the disruption controller keeps on a budget (`pods`: those it covers,
    when the caller has them already)."""
    spec = pdb.get("spec", {})
    pods = _covered(store, pdb) if pods is None else pods
    expected = len(pods)
    healthy = sum(1 for p in pods if pod_ready(p))
    if "minAvailable" in spec:
        desired = _amount(spec["minAvailable"], expected, round_up=True)
    elif "maxUnavailable" in spec:
        desired = expected - _amount(spec["maxUnavailable"], expected, round_up=True)
    else:
        desired = expected
    allowed = max(0, healthy - desired)
    state = "True" if allowed else "False"
    previous: Obj = next(
        (
            c
            for c in (pdb.get("status") or {}).get("conditions") or []
            if c.get("type") == "DisruptionAllowed"
        ),
        {},
    )
    since = previous.get("lastTransitionTime") if previous.get("status") == state else None
    return {
        "observedGeneration": pdb["metadata"].get("generation", 1),
        "expectedPods": expected,
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "disruptionsAllowed": allowed,
        "conditions": [
            {
                "type": "DisruptionAllowed",
                "status": state,
                "reason": "SufficientPods" if allowed else "InsufficientPods",
                "message": "",
                "lastTransitionTime": since or now_rfc3339(),
                "observedGeneration": pdb["metadata"].get("generation", 1),
            }
        ],
    }


def disruptions_allowed(store: Store, pdb: Obj) -> tuple[int, list[str]]:
    """How many more pods may go, and which pods the budget covers."""
    pods = _covered(store, pdb)
    status = budget_status(store, pdb, pods)
    return int(status["disruptionsAllowed"]), [p["metadata"]["name"] for p in pods]


def check_eviction(store: Store, pod: Obj) -> None:
    """Raise the API's 429 when a budget covering `pod` allows no more disruption."""
    if pod["metadata"].get("deletionTimestamp") or not pod_ready(pod):
        return
    name = pod["metadata"]["name"]
    for _, entry in store.entries("poddisruptionbudgets", pod["metadata"]["namespace"]):
        allowed, covered = disruptions_allowed(store, entry.obj)
        if name in covered and allowed < 1:
            raise ApiError(
                429,
                "TooManyRequests",
                "Cannot evict pod as it would violate the pod's disruption budget.",
                {
                    "causes": [
                        {
                            "reason": "DisruptionBudget",
                            "message": f"The disruption budget {entry.obj['metadata']['name']} "
                            f"needs more healthy pods",
                        }
                    ]
                },
            )
