"""The `nodeAction` step: match nodes, filter them, stop/start their machines or run commands."""

from __future__ import annotations

import logging
from typing import ClassVar, assert_never

from seal.errors import StepFailed
from seal.frozen import frozen
from seal.outcomes import StepOutcome
from seal.policy.docnode import DocNode
from seal.policy.problems import Location
from seal.policy.schema import boolean, obj, one_key, string
from seal.selection.filters import property_matches
from seal.selection.safety import log_left_alone, screen_nodes
from seal.steps.base import ApiCall, RetriesSpec, StepContext, StepType
from seal.steps.pipeline import (
    NODE_PROPERTIES,
    WAIT_ACTION_SCHEMA,
    FilterSpec,
    PropertyMatcher,
    WaitAction,
    apply_filters,
    build_each,
    build_filter,
    build_property,
    build_retries,
    build_wait,
    describe,
    filters_schema,
    pipeline_schema,
    property_schema,
)

log = logging.getLogger(__name__)


@frozen
class StartAction:
    """Action: start the node's machine."""

    location: Location


@frozen
class StopAction:
    """Action: stop the node's machine, optionally starting it again at cleanup."""

    force: bool
    auto_restart: bool
    location: Location


@frozen
class ExecuteAction:
    """Action: run a command on the node over SSH."""

    cmd: str
    location: Location


NodeAction = StartAction | StopAction | ExecuteAction | WaitAction


@frozen
class NodeActionSpec:
    """The nodeAction step: match nodes, filter them, act on what is left."""

    key: ClassVar[str] = "nodeAction"
    matches: tuple[PropertyMatcher, ...]
    filters: tuple[FilterSpec, ...]
    actions: tuple[NodeAction, ...]
    retries: RetriesSpec | None
    location: Location


MATCHERS = one_key("matcher", {"property": property_schema(NODE_PROPERTIES)})

ACTIONS = one_key(
    "action",
    {
        "start": obj({}, nullable=True, description="start the machine"),
        "stop": obj(
            {
                "force": boolean("stop without a clean shutdown", default=False),
                "autoRestart": boolean("start the machine again at cleanup", default=True),
            },
            nullable=True,
            description="stop the machine",
        ),
        "execute": obj(
            {"cmd": string("the command to run on the node", minLength=1)}, required=["cmd"]
        ),
        "wait": WAIT_ACTION_SCHEMA,
    },
)


def build_matcher(node: DocNode) -> PropertyMatcher:
    return build_property(node.child("property"))


def build_action(node: DocNode) -> NodeAction:
    key, body = node.only_key()
    if key == "start":
        return StartAction(body.location)
    if key == "stop":
        return StopAction(
            bool(body.get("force", False)), bool(body.get("autoRestart", True)), body.location
        )
    if key == "execute":
        return ExecuteAction(str(body.get("cmd")), body.location)
    return build_wait(body)


def build(node: DocNode) -> NodeActionSpec:
    return NodeActionSpec(
        matches=build_each(node.children("matches"), build_matcher),
        filters=build_each(node.children("filters"), build_filter),
        actions=build_each(node.children("actions"), build_action),
        retries=build_retries(node.child("retries")),
        location=node.location,
    )


def run(spec: NodeActionSpec, ctx: StepContext) -> StepOutcome:
    """Match nodes through the API and filter them. Acting on machines needs a cloud
    driver or an executor, which this version of seal does not have yet: such an
    action fails the step before anything is touched."""
    nodes = ctx.kube.list_nodes()
    matched = [
        n
        for n in nodes
        if any(property_matches(n, m.name, m.value, m.negative) for m in spec.matches)
    ]
    for matcher in spec.matches:
        if not any(
            property_matches(n, matcher.name, matcher.value, matcher.negative) for n in nodes
        ):
            ctx.metrics.empty_match("node")
            ctx.safety.empty_match(
                log,
                f"the matcher at line {matcher.location.line} found no nodes: no node's "
                f"{matcher.name} {'fails to match' if matcher.negative else 'matches'} "
                f"'{matcher.value}' ({len(nodes)} node(s) in the cluster)",
            )
    if not matched:
        log.info("no nodes matched; nothing to do", extra={"outcome": "empty-match"})
        return StepOutcome.skipped("no nodes matched")
    kept, removed = screen_nodes(matched, ctx.safety)
    log_left_alone(log, removed)
    targets = apply_filters(kept, spec.filters, ctx)
    if not targets:
        return StepOutcome.skipped("no nodes left after the safety rules and filters")
    ctx.safety.check_target_count(len(targets), "nodes")
    log.info("%d node(s) selected: %s", len(targets), describe(targets))
    for action in spec.actions:
        if isinstance(action, WaitAction):
            ctx.clock.sleep(action.seconds)
        elif isinstance(action, StartAction | StopAction | ExecuteAction):
            if ctx.dry_run:
                log.info("dry run: would %s %s", type(action).__name__, describe(targets))
                continue
            raise StepFailed(
                f"line {action.location.line}: acting on machines needs a cloud driver; this "
                "version of seal has none yet, so no machine was touched"
            )
        else:
            assert_never(action)
    return StepOutcome.passed(f"{len(targets)} node(s) selected")


STEP = StepType(
    key="nodeAction",
    spec=NodeActionSpec,
    schema=pipeline_schema(
        MATCHERS,
        filters_schema(NODE_PROPERTIES),
        ACTIONS,
        "match nodes, filter them, act on their machines",
    ),
    builder=build,
    runner=run,
    description="match nodes, filter them, act on their machines",
    api_calls=lambda spec: (ApiCall("list", "nodes"),),
    retries_of=lambda spec: spec.retries,
)
