"""The `podAction` step: match pods, filter them, act on them (kill, check, stop their host)."""

from __future__ import annotations

from typing import ClassVar

from seal.frozen import frozen
from seal.policy.build import Node
from seal.policy.pipeline import (
    POD_PROPERTIES,
    WAIT_ACTION_SCHEMA,
    DeploymentMatcher,
    FilterSpec,
    PodMatcher,
    RetriesSpec,
    WaitAction,
    build_labels_matcher,
    build_namespace_matcher,
    build_pipeline,
    build_wait,
    filters_schema,
    pipeline_schema,
)
from seal.policy.problems import Location
from seal.policy.schema import boolean, number, obj, one_key, string
from seal.steps.base import StepType

POD_STATES = ("Pending", "Running", "Succeeded", "Failed", "Unknown", "Terminating")


@frozen
class KillAction:
    """Delete each pod with this probability. force: grace period 0; else the pod's own."""

    probability: float
    force: bool
    location: Location
    grace_period_seconds: int | None = None
    evict: bool = False


@frozen
class CheckPodStateAction:
    """Action: fail unless every pod is in the given state."""

    state: str
    location: Location


@frozen
class CheckPodCountAction:
    """Action: fail unless exactly this many pods were selected."""

    count: int
    location: Location


@frozen
class StopHostAction:
    """Action: stop the machine a pod runs on."""

    auto_restart: bool
    location: Location


PodAction = KillAction | WaitAction | CheckPodStateAction | CheckPodCountAction | StopHostAction


@frozen
class PodActionSpec:
    """The podAction step: match pods, filter them, act on what is left."""

    key: ClassVar[str] = "podAction"
    matches: tuple[PodMatcher, ...]
    filters: tuple[FilterSpec, ...]
    actions: tuple[PodAction, ...]
    retries: RetriesSpec | None
    location: Location


_NAMESPACED = obj(
    {"name": string(minLength=1), "namespace": string(minLength=1)},
    required=["name", "namespace"],
)

MATCHERS = one_key(
    "matcher",
    {
        "namespace": string(
            "a namespace; '*' for all; a pattern with '*'; or a comma-separated list", minLength=1
        ),
        "deployment": _NAMESPACED,
        "labels": obj(
            {
                "selector": string("a Kubernetes label selector", minLength=1),
                "namespace": string("the namespace to look in", minLength=1),
            },
            required=["selector", "namespace"],
        ),
    },
)

ACTIONS = one_key(
    "action",
    {
        "kill": obj(
            {
                "probability": number("chance each pod is killed", minimum=0, maximum=1),
                "force": boolean("kill at once (grace period 0)", default=True),
                "gracePeriodSeconds": number(
                    "grace period to give the pods (with force: false)", integer=True, minimum=0
                ),
                "evict": boolean(
                    "go through the Eviction API so PodDisruptionBudgets are respected",
                    default=False,
                ),
            },
            nullable=True,
            description="delete the pods",
        ),
        "wait": WAIT_ACTION_SCHEMA,
        "checkPodState": obj(
            {"state": string("the state every pod must be in", enum=list(POD_STATES))},
            required=["state"],
        ),
        "checkPodCount": obj(
            {"count": number("the number of pods there must be", integer=True, minimum=0)},
            required=["count"],
        ),
        "stopHost": obj(
            {"autoRestart": boolean("start the machine again at cleanup", default=True)},
            nullable=True,
            description="stop the machine each pod runs on",
        ),
    },
)


def build_matcher(node: Node) -> PodMatcher:
    key, body = node.only_key()
    if key == "namespace":
        return build_namespace_matcher(body)
    if key == "labels":
        return build_labels_matcher(body)
    return DeploymentMatcher(str(body.get("name")), str(body.get("namespace")), body.location)


def build_action(node: Node) -> PodAction:
    key, body = node.only_key()
    if key == "kill":
        force = bool(body.get("force", True))
        grace = body.get("gracePeriodSeconds")
        if grace is not None and body.get("force") is True:
            body.problem("gracePeriodSeconds needs force: false; force: true kills at once")
        if grace is not None:
            force = False
        return KillAction(
            probability=float(body.get("probability", 1)),
            force=force,
            location=body.location,
            grace_period_seconds=None if grace is None else int(grace),
            evict=bool(body.get("evict", False)),
        )
    if key == "wait":
        return build_wait(body)
    if key == "checkPodState":
        return CheckPodStateAction(str(body.get("state")), body.location)
    if key == "checkPodCount":
        return CheckPodCountAction(int(body.get("count")), body.location)
    return StopHostAction(bool(body.get("autoRestart", True)), body.location)


def build(node: Node) -> PodActionSpec:
    return build_pipeline(node, PodActionSpec, build_matcher, build_action)


STEP = StepType(
    key="podAction",
    schema=pipeline_schema(
        MATCHERS, filters_schema(POD_PROPERTIES), ACTIONS, "match pods, filter them, act on them"
    ),
    build=build,
    runner="seal.steps.run_pods",
)
