"""The `nodeAction` step: match nodes, filter them, stop/start their machines or run commands."""

from __future__ import annotations

from typing import ClassVar

from seal.frozen import frozen
from seal.policy.build import Node
from seal.policy.pipeline import (
    NODE_PROPERTIES,
    WAIT_ACTION_SCHEMA,
    FilterSpec,
    PropertyMatcher,
    RetriesSpec,
    WaitAction,
    build_pipeline,
    build_property,
    build_wait,
    filters_schema,
    pipeline_schema,
    property_schema,
)
from seal.policy.problems import Location
from seal.policy.schema import boolean, obj, one_key, string
from seal.steps.base import StepType


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


def build_matcher(node: Node) -> PropertyMatcher:
    return build_property(node.child("property"))


def build_action(node: Node) -> NodeAction:
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


def build(node: Node) -> NodeActionSpec:
    return build_pipeline(node, NodeActionSpec, build_matcher, build_action)


STEP = StepType(
    key="nodeAction",
    schema=pipeline_schema(
        MATCHERS,
        filters_schema(NODE_PROPERTIES),
        ACTIONS,
        "match nodes, filter them, act on their machines",
    ),
    build=build,
    runner="seal.steps.run_nodes",
)
