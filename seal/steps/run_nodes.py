"""Running `nodeAction`: match nodes through the API and filter them. Acting on machines
needs a cloud driver, which this version of seal does not have yet."""

from __future__ import annotations

import logging

from seal.errors import StepFailed
from seal.policy.pipeline import WaitAction
from seal.selection.filters import property_matches
from seal.selection.safety import log_left_alone, screen_nodes
from seal.steps.context import StepContext, UndoHandler
from seal.steps.node_action import NodeActionSpec
from seal.steps.pipeline_run import apply_filters, describe

log = logging.getLogger(__name__)
UNDO_HANDLERS: dict[str, UndoHandler] = {}


def run(spec: NodeActionSpec, ctx: StepContext) -> None:
    nodes = ctx.kube.list_nodes()
    matched = [
        n
        for n in nodes
        if any(property_matches(n, m.name, m.value, m.negative) for m in spec.matches)
    ]
    if not matched:
        ctx.metrics.empty_match("node")
        log.info("no nodes matched; nothing to do", extra={"outcome": "empty-match"})
        return
    kept, removed = screen_nodes(matched, ctx.safety)
    log_left_alone(log, removed)
    targets = apply_filters(kept, spec.filters, ctx)
    if not targets:
        return
    ctx.safety.check_target_count(len(targets), "nodes")
    log.info("%d node(s) selected: %s", len(targets), describe(targets))
    for action in spec.actions:
        if isinstance(action, WaitAction):
            ctx.clock.sleep(action.seconds)
            continue
        if ctx.dry_run:
            log.info("dry run: would %s %s", type(action).__name__, describe(targets))
            continue
        raise StepFailed(
            f"line {action.location.line}: acting on machines needs a cloud driver; this "
            "version of seal has none yet, so no machine was touched"
        )
