"""The `nodeAction` step: match nodes, filter them, stop/start their machines or run commands."""

from __future__ import annotations

import logging
from typing import Any, ClassVar, assert_never

from seal.adapters.node_exec import EXEC_POD_UNDO, undo_delete_exec_pod
from seal.frozen import frozen
from seal.model import Node
from seal.outcomes import ActionRecord, StepOutcome
from seal.policy.docnode import DocNode
from seal.policy.problems import Location
from seal.policy.schema import boolean, number, obj, one_key, string
from seal.selection.filters import property_matches
from seal.selection.safety import log_left_alone, screen_nodes
from seal.steps import machines, recovery
from seal.steps.base import (
    EVENT_VERBS,
    EXEC_NAMESPACE,
    ApiCall,
    RetriesSpec,
    StepContext,
    StepType,
)
from seal.steps.machines import EXECUTE_TIMEOUT, STATE_TIMEOUT
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
from seal.steps.recovery import RECOVERED_WITHIN, baseline, pods_on, recovered_within, settle
from seal.steps.verdicts import StepReport

log = logging.getLogger(__name__)


@frozen
class StartAction:
    """Action: start the node's machine and wait until the cloud says it is up."""

    timeout: float
    location: Location


@frozen
class StopAction:
    """Action: stop the node's machine, optionally starting it again at cleanup."""

    force: bool
    auto_restart: bool
    timeout: float
    location: Location
    #: seconds the workloads and Services of the node's pods may take to be whole again
    recovered_within: float | None = None


@frozen
class ExecuteAction:
    """Action: run a command on the node (a privileged pod on it, or SSH)."""

    cmd: str
    timeout: float
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


def _timeout(what: str, default: float) -> dict[str, Any]:
    return number(f"{what}, in seconds (default {default:g})", exclusiveMinimum=0)


ACTIONS = one_key(
    "action",
    {
        "start": obj(
            {"timeout": _timeout("how long the machine may take to be up", STATE_TIMEOUT)},
            nullable=True,
            description="start the machine",
        ),
        "stop": obj(
            {
                "force": boolean("stop without a clean shutdown", default=False),
                "autoRestart": boolean("start the machine again at cleanup", default=True),
                "timeout": _timeout("how long the machine may take to be down", STATE_TIMEOUT),
                "recoveredWithin": RECOVERED_WITHIN,
            },
            nullable=True,
            description="stop the machine",
        ),
        "execute": obj(
            {
                "cmd": string("the command to run on the node", minLength=1),
                "timeout": _timeout("how long the command may run", EXECUTE_TIMEOUT),
            },
            required=["cmd"],
        ),
        "wait": WAIT_ACTION_SCHEMA,
    },
)


def build_matcher(node: DocNode) -> PropertyMatcher:
    return build_property(node.child("property"))


def build_action(node: DocNode) -> NodeAction:
    key, body = node.only_key()
    if key == "start":
        return StartAction(float(body.get("timeout", STATE_TIMEOUT)), body.location)
    if key == "stop":
        return StopAction(
            bool(body.get("force", False)),
            bool(body.get("autoRestart", True)),
            float(body.get("timeout", STATE_TIMEOUT)),
            body.location,
            recovered_within(body),
        )
    if key == "execute":
        return ExecuteAction(
            str(body.get("cmd")), float(body.get("timeout", EXECUTE_TIMEOUT)), body.location
        )
    return build_wait(body)


def build(node: DocNode) -> NodeActionSpec:
    return NodeActionSpec(
        matches=build_each(node.children("matches"), build_matcher),
        filters=build_each(node.children("filters"), build_filter),
        actions=build_each(node.children("actions"), build_action),
        retries=build_retries(node.child("retries")),
        location=node.location,
    )


def select(spec: NodeActionSpec, ctx: StepContext) -> tuple[list[Node], str]:
    """The nodes of the inventory (read now) that match, pass the safety rules and the
    filters, or none and why; a warning (or failure) for each matcher that matched nothing."""
    nodes = machines.inventory(ctx)
    where = "in the inventory file" if ctx.nodes is not None else "in the cluster"
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
                f"'{matcher.value}' ({len(nodes)} node(s) {where})",
            )
    if not matched:
        return [], "no nodes matched"
    kept, removed = screen_nodes(matched, ctx.safety)
    log_left_alone(log, removed)
    targets = apply_filters(kept, spec.filters, ctx)
    return targets, "" if targets else "no nodes left after the safety rules and filters"


def run(spec: NodeActionSpec, ctx: StepContext) -> StepOutcome:
    """Select nodes, then act on them in order: stop and start their machines through the
    cloud driver (waiting for the change), run commands on them, wait."""
    targets, why_none = select(spec, ctx)
    if not targets:
        log.info("%s; nothing to do", why_none, extra={"outcome": "empty-match"})
        return StepOutcome.skipped(why_none)
    ctx.safety.check_target_count(len(targets), "nodes")
    log.info("%d node(s) selected: %s", len(targets), describe(targets))
    done: list[str] = []
    acted = 0
    report = StepReport()
    for action in spec.actions:
        if isinstance(action, WaitAction):
            ctx.clock.sleep(action.seconds)
            continue
        records: list[ActionRecord] = []
        try:
            count, what = _act(action, targets, ctx, records, report)
        finally:
            report.add(ctx, records)
        done.append(what)
        acted = max(acted, count)
        if report.failure:  # a recovery too slow: the later actions are not carried out
            break
    summary = f"{len(targets)} node(s) selected"
    return report.outcome(summary + (": " + ", ".join(done) if done else ""), acted)


def _act(
    action: StopAction | StartAction | ExecuteAction,
    targets: list[Node],
    ctx: StepContext,
    records: list[ActionRecord],
    report: StepReport,
) -> tuple[int, str]:
    """Carry out one action on the nodes: how many it changed, and what it did."""
    if isinstance(action, StopAction):
        names = [n.name for n in targets]
        within = None if ctx.dry_run else action.recovered_within
        base = None if within is None else baseline(ctx, pods_on(ctx, names), frozenset(names))
        started = ctx.clock.monotonic()
        count = machines.stop_machines(
            ctx,
            targets,
            force=action.force,
            auto_restart=action.auto_restart,
            location=action.location,
            timeout=action.timeout,
            records=records,
        )
        if base is not None and within is not None:
            settle(ctx, base, within, started, ("nodeAction", "stop", action.location), report)
        return count, f"{count} machine(s) stopped"
    if isinstance(action, StartAction):
        count = machines.start_machines(
            ctx, targets, location=action.location, timeout=action.timeout, records=records
        )
        return count, f"{count} machine(s) started"
    if isinstance(action, ExecuteAction):
        count = machines.execute(
            ctx,
            targets,
            action.cmd,
            location=action.location,
            timeout=action.timeout,
            records=records,
        )
        return count, f"ran {action.cmd!r} on {count} node(s)"
    assert_never(action)


def api_calls(spec: NodeActionSpec) -> tuple[ApiCall, ...]:
    calls = [ApiCall("list", "nodes")]
    for action in spec.actions:
        if isinstance(action, StopAction | StartAction):
            # node Events are recorded in namespace default
            calls += [ApiCall(v, "events", namespace="default") for v in EVENT_VERBS]
        if isinstance(action, StopAction) and action.recovered_within is not None:
            calls += recovery.api_calls([None])  # the pods of the nodes, anywhere
        elif isinstance(action, ExecuteAction):
            # the exec pod (Kubernetes execution mode): made, watched, read, deleted
            calls += [
                ApiCall("create", "pods", namespace=EXEC_NAMESPACE),
                ApiCall("get", "pods", namespace=EXEC_NAMESPACE),
                ApiCall("get", "pods", subresource="log", namespace=EXEC_NAMESPACE),
                ApiCall("delete", "pods", namespace=EXEC_NAMESPACE),
            ]
    return tuple(dict.fromkeys(calls))


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
    undo_handlers={
        machines.MACHINE_START: machines.undo_machine_start,
        EXEC_POD_UNDO: undo_delete_exec_pod,
    },
    api_calls=api_calls,
    retries_of=lambda spec: spec.retries,
)
