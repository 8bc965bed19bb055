"""podAction's specs, schema fragment and builder. No I/O."""

from __future__ import annotations

from typing import ClassVar

from seal.errors import SelectorError
from seal.frozen import frozen
from seal.labels import parse_selector
from seal.policy.docnode import DocNode
from seal.policy.problems import Location
from seal.policy.schema import boolean, number, obj, one_key, string
from seal.steps.base import RetriesSpec
from seal.steps.pipeline import (
    POD_PROPERTIES,
    WAIT_ACTION_SCHEMA,
    FilterSpec,
    WaitAction,
    build_each,
    build_filter,
    build_retries,
    build_wait,
    check_regex,
    filters_schema,
    pipeline_schema,
)
from seal.steps.recovery import RECOVERED_WITHIN, recovered_within

POD_STATES = ("Pending", "Running", "Succeeded", "Failed", "Unknown", "Terminating")


@frozen
class NamespaceMatcher:
    """All pods of one namespace, a comma list of namespaces, `*`, or a pattern with `*`."""

    namespace: str
    location: Location

    @property
    def is_pattern(self) -> bool:
        return "*" in self.namespace and self.namespace != "*"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n.strip() for n in self.namespace.split(",") if n.strip())


@frozen
class DeploymentMatcher:
    """Matcher: the pods selected by a Deployment's selector."""

    name: str
    namespace: str
    location: Location


@frozen
class LabelsMatcher:
    """Matcher: the pods of a namespace that match a label selector."""

    selector: str
    namespace: str
    location: Location


PodMatcher = NamespaceMatcher | DeploymentMatcher | LabelsMatcher


@frozen
class KillAction:
    """Delete each pod with this probability. force: grace period 0; else the pod's own."""

    probability: float
    force: bool
    location: Location
    grace_period_seconds: int | None = None
    evict: bool = False
    #: seconds the pods' workloads and Services may take to be whole again (None: not measured)
    recovered_within: float | None = None


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
    recovered_within: float | None = None


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
                "recoveredWithin": RECOVERED_WITHIN,
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
            {
                "autoRestart": boolean("start the machine again at cleanup", default=True),
                "recoveredWithin": RECOVERED_WITHIN,
            },
            nullable=True,
            description="stop the machine each pod runs on",
        ),
    },
)


def build_namespace_matcher(node: DocNode) -> NamespaceMatcher:
    matcher = NamespaceMatcher(str(node.scalar("")), node.location)
    if matcher.is_pattern:
        check_regex(node, matcher.namespace)
    elif not matcher.names:
        node.problem("must name a namespace, a comma-separated list, or '*'")
    return matcher


def build_labels_matcher(node: DocNode) -> LabelsMatcher:
    selector = str(node.get("selector", ""))
    try:
        parse_selector(selector)
    except SelectorError as exc:
        node.child("selector").problem(f"not a valid label selector: {exc}")
    return LabelsMatcher(selector, str(node.get("namespace")), node.location)


def build_matcher(node: DocNode) -> PodMatcher:
    key, body = node.only_key()
    if key == "namespace":
        return build_namespace_matcher(body)
    if key == "labels":
        return build_labels_matcher(body)
    return DeploymentMatcher(str(body.get("name")), str(body.get("namespace")), body.location)


def build_action(node: DocNode) -> PodAction:
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
            recovered_within=recovered_within(body),
        )
    if key == "wait":
        return build_wait(body)
    if key == "checkPodState":
        return CheckPodStateAction(str(body.get("state")), body.location)
    if key == "checkPodCount":
        return CheckPodCountAction(int(body.get("count", 0)), body.location)
    return StopHostAction(
        bool(body.get("autoRestart", True)), body.location, recovered_within(body)
    )


def build(node: DocNode) -> PodActionSpec:
    return PodActionSpec(
        matches=build_each(node.children("matches"), build_matcher),
        filters=build_each(node.children("filters"), build_filter),
        actions=build_each(node.children("actions"), build_action),
        retries=build_retries(node.child("retries")),
        location=node.location,
    )


SCHEMA = pipeline_schema(
    MATCHERS, filters_schema(POD_PROPERTIES), ACTIONS, "match pods, filter them, act on them"
)
