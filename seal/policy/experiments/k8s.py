"""The chaosk8s providers seal runs, each turned into the seal step that does the same.

No I/O.
"""

from __future__ import annotations

import json
from typing import Any

from seal.policy.experiments.activity import MISSING, Activity, Args, tolerance_path
from seal.policy.experiments.values import EnvRef, Values

_PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")


def _only_true(values: Values, activity: Activity, what: str) -> None:
    """Probes that pass or raise (pods_in_phase...): `true` is the only tolerance."""
    if activity.tolerance is not MISSING and activity.tolerance is not True:
        values.sink.problem(
            tolerance_path(activity),
            f"{what} passes or fails; its only tolerance is true, "
            f"not {json.dumps(activity.tolerance)[:40]}",
        )


def terminate_pods(values: Values, activity: Activity) -> dict[str, Any]:
    func = "terminate_pods"
    known = ("label_selector", "name_pattern", "all", "rand", "mode", "qty", "grace_period")
    args = Args(values, activity, func, (*known, "ns", "order"))
    selector, namespace = args.text("label_selector"), args.text("ns", "default")
    match: dict[str, Any] = (
        {"labels": {"selector": selector, "namespace": namespace}}
        if selector
        else {"namespace": namespace}
    )
    filters: list[dict[str, Any]] = []
    pattern = args.text("name_pattern")
    if pattern:  # searched anywhere in the name; seal's property filter is anchored
        filters.append({"property": {"name": "name", "value": f".*(?:{pattern})"}})
    mode, qty = args.text("mode", "fixed"), args.integer("qty", 1)
    if mode not in ("fixed", "percentage"):
        values.sink.problem((*args.path, "mode"), f"mode must be fixed or percentage, not {mode!r}")
    if not args.boolean("all"):
        if mode == "percentage" and isinstance(qty, int):
            filters.append({"randomSample": {"ratio": min(max(qty, 0), 100) / 100}})
        else:
            filters.append({"randomSample": {"size": qty}})
    grace = args.integer("grace_period", -1)
    kill: dict[str, Any] = {"force": False}
    if grace == 0:
        kill = {"force": True}
    elif grace is not None and not (isinstance(grace, int) and grace < 0):
        kill = {"force": False, "gracePeriodSeconds": grace}
    args.text("order", "alphabetic")
    pipeline: dict[str, Any] = {"matches": [match]}
    if filters:
        pipeline["filters"] = filters
    pipeline["actions"] = [{"kill": kill}]
    return {"podAction": pipeline}


def pods_in_phase(values: Values, activity: Activity) -> dict[str, Any]:
    known = ("label_selector", "phase", "ns", "raise_on_invalid_phase")
    args = Args(values, activity, "pods_in_phase", known)
    phase = args.text("phase", "Running")
    if isinstance(phase, str) and not isinstance(phase, EnvRef) and phase not in _PHASES:
        values.sink.problem((*args.path, "phase"), f"phase must be one of {', '.join(_PHASES)}")
    args.boolean("raise_on_invalid_phase", True)
    _only_true(values, activity, "pods_in_phase")
    body = {"namespace": args.text("ns", "default"), "condition": phase}
    selector = args.text("label_selector", required=True)
    if selector:
        body["selector"] = selector
    return {"probePods": body}


def all_microservices_healthy(values: Values, activity: Activity) -> dict[str, Any]:
    args = Args(values, activity, "all_microservices_healthy", ("ns", "raise_on_any_unhealthy"))
    args.boolean("raise_on_any_unhealthy", True)
    _only_true(values, activity, "all_microservices_healthy")
    return {"probePods": {"namespace": args.text("ns", "default"), "condition": "Ready"}}


def read_pod_logs(values: Values, activity: Activity) -> dict[str, Any]:
    known = ("name", "last", "ns", "from_previous", "label_selector", "container_name")
    args = Args(values, activity, "read_pod_logs", known)
    name, selector = args.text("name"), args.text("label_selector")
    body: dict[str, Any] = {"namespace": args.text("ns", "default")}
    if selector or name:
        body["selector"] = selector.replace("{name}", str(name)) if selector else f"name={name}"
    container = args.text("container_name")
    if container:
        body["container"] = container
    if args.get("last") is not None:
        values.sink.problem(
            (*args.path, "last"),
            "seal reads each pod's last 100 lines (probeLogs tailLines), not a time window: "
            "'last' is not kept",
            warning=True,
        )
    if args.boolean("from_previous"):
        values.sink.problem(
            (*args.path, "from_previous"), "seal reads the running containers' logs only"
        )
    tolerance = activity.tolerance
    if activity.phase != "hypothesis" or tolerance is MISSING:
        body.update(pattern=".", count={"from": 0})
    elif isinstance(tolerance, dict) and tolerance.get("type") == "regex":
        pattern = values.substitute(tolerance.get("pattern"), (*tolerance_path(activity),))
        body.update(pattern=pattern, count={"from": 1})
    else:
        values.sink.problem(
            tolerance_path(activity),
            "seal checks pod logs with a regex tolerance ({type: regex, pattern: ...}): a line "
            "of some pod's log must match it",
        )
    return {"probeLogs": body}


def scale_deployment(values: Values, activity: Activity) -> dict[str, Any]:
    args = Args(values, activity, "scale_deployment", ("name", "replicas", "ns"))
    body = {
        "name": args.text("name", required=True),
        "namespace": args.text("ns", "default"),
        "replicas": args.integer("replicas", required=True),
    }
    # a rollback is itself the way back: it is not undone
    body["restore"] = activity.phase != "rollbacks"
    return {"scaleDeployment": body}
