"""Acting on machines: the node inventory of a run, stopping and starting machines through
the cloud driver (waiting for the change), and running commands on nodes.

Shared by nodeAction and podAction's stopHost. The undo of a stop (start the machine
again) is written to the journal before the machine is stopped, and only for machines
this step stopped: a machine that was already down is left down.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from seal.errors import CloudError, ExecutionError, StepFailed
from seal.model import Machine, Node, NodeState
from seal.outcomes import ActionRecord, Verdict
from seal.policy.problems import Location
from seal.selection.inventory import join_machines
from seal.steps import verdicts
from seal.steps.base import StepContext
from seal.steps.ports import CloudDriver

log = logging.getLogger("seal.steps.machines")

#: the undo kind of a stop: start the machine again
MACHINE_START = "machine-start"
#: how long a stop or start may take to show in the cloud, by default
STATE_TIMEOUT = 600.0
#: how long a command on a node may run, by default
EXECUTE_TIMEOUT = 300.0
#: seconds between two looks at a machine's state
POLL_SECONDS = 5.0
EVENT_REASON = "SealChaos"

T = TypeVar("T")


def inventory(ctx: StepContext) -> list[Node]:
    """The nodes as they are now (read at every run), each with its machine when a cloud
    driver is in use; the state comes from the cloud then, else from readiness."""
    nodes = ctx.nodes.nodes() if ctx.nodes is not None else ctx.kube.list_nodes()
    if ctx.cloud is None:
        return nodes
    return [node for node, _ in join_machines(nodes, ctx.cloud.list_machines())]


def cloud_of(ctx: StepContext, what: str, location: Location) -> CloudDriver:
    if ctx.cloud is None:
        raise StepFailed(
            f"line {location.line}: {what} needs a cloud driver; run seal with --cloud "
            "aws|gcp|azure|openstack (or --sandbox), so no machine was touched"
        )
    return ctx.cloud


def _machines(
    nodes: Sequence[Node], cloud: CloudDriver, location: Location
) -> list[tuple[Node, Machine]]:
    """Every node with its machine as the cloud sees it now, or a failure naming the nodes
    that have none."""
    targets = join_machines(nodes, cloud.list_machines())
    missing = [node for node, machine in targets if machine is None]
    if missing:
        names = ", ".join(
            f"{n.name} ({n.provider_id or n.ip or 'no provider ID'})" for n in missing
        )
        raise StepFailed(
            f"line {location.line}: the cloud driver {cloud.name!r} has no machine for "
            f"node(s) {names}; no machine was touched"
        )
    return [(node, machine) for node, machine in targets if machine is not None]


def stop_machines(
    ctx: StepContext,
    nodes: Sequence[Node],
    *,
    force: bool,
    auto_restart: bool,
    location: Location,
    timeout: float = STATE_TIMEOUT,
    records: list[ActionRecord] | None = None,
) -> int:
    """Stop the targets' machines and wait until the cloud says they are down; the number
    stopped. Machines already down are left alone (and never started at cleanup). Each stop
    goes to `records`: verified once the cloud reports the machine down."""
    cloud = cloud_of(ctx, "stopping a machine", location)
    records = [] if records is None else records
    work: list[tuple[Node, Machine]] = []
    for node, machine in _machines(nodes, cloud, location):
        if machine.state is NodeState.DOWN:
            log.info(
                "machine %s of node %s is already down: not stopped, and it will not be "
                "started at cleanup",
                machine.id,
                node.name,
            )
        elif ctx.dry_run:
            log.info("dry run: would stop machine %s of node %s", machine.id, node.name)
            records += verdicts.dry_run(ctx, "stop", [node.name])
        else:
            work.append((node, machine))

    def stop(item: tuple[Node, Machine]) -> None:
        node, machine = item
        if auto_restart:
            ctx.undo.record(
                MACHINE_START,
                {
                    "driver": cloud.name,
                    "providerID": machine.provider_id,
                    "machine": machine.id,
                    "node": node.name,
                },
                f"start machine {machine.id} (node {node.name}) again",
            )
        node_event(ctx, node, f"stopping its machine {machine.id}" + (" (forced)" if force else ""))
        at = ctx.clock.now()
        try:
            cloud.stop(machine, force=force)
            took = wait_for_state(ctx, cloud, machine, NodeState.DOWN, timeout)
        except (CloudError, StepFailed) as exc:
            ctx.metrics.node_stopped(node.name, "failed")
            records.append(_failed("stop", node, exc, at))
            raise
        ctx.metrics.node_stopped(node.name, "stopped")
        seen = f"the cloud reports machine {machine.id} down after {took:.1f} s"
        records.append(ActionRecord("stop", node.name, "ok", seen, "verified", at))
        log.info("machine %s of node %s is down (%.1f s)", machine.id, node.name, took)

    each(ctx, work, stop)
    return len(work)


def start_machines(
    ctx: StepContext,
    nodes: Sequence[Node],
    *,
    location: Location,
    timeout: float = STATE_TIMEOUT,
    records: list[ActionRecord] | None = None,
) -> int:
    """Start the nodes' machines that are not up and wait until they are; the number started
    (each added to `records`: verified once the cloud reports it up)."""
    cloud = cloud_of(ctx, "starting a machine", location)
    records = [] if records is None else records
    work = [
        (node, machine)
        for node, machine in _machines(nodes, cloud, location)
        if machine.state is not NodeState.UP
    ]
    for node, machine in work:
        if ctx.dry_run:
            log.info("dry run: would start machine %s of node %s", machine.id, node.name)
    if ctx.dry_run:
        records += verdicts.dry_run(ctx, "start", [node.name for node, _ in work])
        return 0

    def start(item: tuple[Node, Machine]) -> None:
        node, machine = item
        at = ctx.clock.now()
        try:
            cloud.start(machine)
            took = wait_for_state(ctx, cloud, machine, NodeState.UP, timeout)
        except (CloudError, StepFailed) as exc:
            records.append(_failed("start", node, exc, at))
            raise
        seen = f"the cloud reports machine {machine.id} up after {took:.1f} s"
        records.append(ActionRecord("start", node.name, "ok", seen, "verified", at))
        node_event(ctx, node, f"started its machine {machine.id}")
        log.info("machine %s of node %s is up (%.1f s)", machine.id, node.name, took)

    each(ctx, work, start)
    return len(work)


def wait_for_state(
    ctx: StepContext, cloud: CloudDriver, machine: Machine, state: NodeState, timeout: float
) -> float:
    """Seconds until the cloud reports `machine` in `state`; `StepFailed` after `timeout`."""
    started = ctx.clock.monotonic()
    while True:
        now = cloud.get_machine(machine.provider_id)
        waited = ctx.clock.monotonic() - started
        if now.state is state:
            return waited
        if waited >= timeout:
            seen = now.cloud_state or now.state.value
            raise StepFailed(
                f"machine {machine.describe()} was not {state.value} within {timeout:g} s "
                f"(it is {seen})"
            )
        ctx.clock.sleep(min(POLL_SECONDS, max(timeout - waited, 0.1)))


def _failed(action: str, node: Node, error: Exception, at: float) -> ActionRecord:
    """A stop or start that failed: not-verified when the cloud was seen not to change the
    machine in time, unverified when the cloud could not be asked."""
    verdict: Verdict = "not-verified" if isinstance(error, StepFailed) else "unverified"
    return ActionRecord(action, node.name, "failed", str(error), verdict, at)


def execute(
    ctx: StepContext,
    nodes: Sequence[Node],
    command: str,
    *,
    location: Location,
    timeout: float,
    records: list[ActionRecord] | None = None,
) -> int:
    """Run `command` on every node (the number it ran on); the step fails naming each node
    where it failed. Each run is added to `records`: verified by an exit status of 0,
    not-verified by another, unverified when the command could not be run or timed out."""
    if ctx.executor is None:
        raise StepFailed(f"line {location.line}: execute needs an executor; nothing was run")
    executor = ctx.executor
    records = [] if records is None else records
    if ctx.dry_run:
        for node in nodes:
            log.info("dry run: would run %r on node %s", command, node.name)
        records += verdicts.dry_run(ctx, "execute", [node.name for node in nodes])
        return 0
    failures: list[str] = []

    def run(node: Node) -> None:
        at = ctx.clock.now()
        try:
            result = executor.run(node, command, timeout=timeout, undo=ctx.undo)
        except ExecutionError as exc:
            ctx.metrics.execute_failed(node.name)
            failures.append(f"{node.name}: {exc}")
            records.append(ActionRecord("execute", node.name, "failed", str(exc), "unverified", at))
            return
        tail = (result.stdout.strip().splitlines() + result.stderr.strip().splitlines())[-5:]
        verdict: Verdict = "verified" if result.exit_code == 0 else "not-verified"
        outcome = "ok" if result.exit_code == 0 else "failed"
        exited = f"exit {result.exit_code}"
        records.append(ActionRecord("execute", node.name, outcome, exited, verdict, at))
        if result.exit_code == 0:
            log.info("ran %r on node %s: exit 0", command, node.name, extra={"output": tail})
            return
        ctx.metrics.execute_failed(node.name)
        failures.append(
            f"{node.name}: exit {result.exit_code}" + (f" ({' | '.join(tail)})" if tail else "")
        )

    each(ctx, list(nodes), run)
    if failures:
        raise StepFailed(
            f"line {location.line}: {command!r} failed on " + "; ".join(sorted(failures))
        )
    return len(nodes)


def node_event(ctx: StepContext, node: Node, what: str) -> None:
    """A Kubernetes Event on the node, so that `kubectl describe node` shows what seal did."""
    if not node.in_cluster:
        return
    ctx.events.record(node, reason=EVENT_REASON, message=f"seal scenario {ctx.scenario!r}: {what}")


def each(ctx: StepContext, items: Sequence[T], act: Callable[[T], None]) -> None:
    """`act` on every item in parallel; every one runs, then the first error is raised."""
    # each task runs in a copy of this context, so its log lines name the scenario and step
    futures = [ctx.pool.submit(contextvars.copy_context().run, act, item) for item in items]
    concurrent.futures.wait(futures)
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error


def undo_machine_start(payload: Mapping[str, Any], ctx: StepContext) -> None:
    """Start a machine seal stopped, unless it is up already."""
    cloud = ctx.cloud
    if cloud is None:
        raise CloudError(
            f"starting machine {payload.get('machine')} again needs the cloud driver "
            f"{payload.get('driver')!r}; run seal cleanup with --cloud {payload.get('driver')}"
        )
    if cloud.name != payload.get("driver"):
        raise CloudError(
            f"machine {payload.get('machine')} was stopped through the cloud driver "
            f"{payload.get('driver')!r}, not {cloud.name!r}; run seal cleanup with "
            f"--cloud {payload.get('driver')}"
        )
    machine = cloud.get_machine(str(payload.get("providerID", "")))
    if machine.state is not NodeState.UP:
        cloud.start(machine)
        wait_for_state(ctx, cloud, machine, NodeState.UP, STATE_TIMEOUT)
    log.info("machine %s (node %s) is up", machine.id, payload.get("node", "?"))
