"""Autonomous mode put together: cluster, journal, metrics, policy loop, cleanup.

Talks to the cluster, writes the state directory, serves metrics when asked.
"""

from __future__ import annotations

import logging
import os
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from seal.adapters.http import Prober
from seal.adapters.kube import KubeClient
from seal.adapters.kubeconfig import ClusterConnection
from seal.adapters.kubectl import KubectlTarget
from seal.errors import KubeError
from seal.metrics import Metrics
from seal.policy.model import Policy, Safety
from seal.runtime.clock import SystemClock
from seal.runtime.journal import UndoJournal, journal_name
from seal.runtime.runner import PolicyRunner, RunSummary
from seal.runtime.scenario import (
    ScenarioExecutor,
    ScenarioUndo,
    all_undo_handlers,
    replay_undos,
)
from seal.selection.safety import SafetyRules
from seal.steps.context import StepContext
from seal.steps.registry import load_policy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SafetyOverrides:
    """Safety flags from the command line; they add to what the policy says."""

    dry_run: bool = False
    protected_namespaces: tuple[str, ...] = ()
    max_targets_per_step: int | None = None


@dataclass
class Session:
    """The long-lived services of one seal process against one cluster."""

    connection: ClusterConnection
    state_dir: Path
    metrics: Metrics
    clock: SystemClock = field(default_factory=SystemClock)
    rng: random.Random = field(default_factory=random.Random)
    overrides: SafetyOverrides = field(default_factory=SafetyOverrides)

    def __post_init__(self) -> None:
        self.kube = KubeClient(self.connection)
        self.prober = Prober()
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="seal-action")
        self.journal = UndoJournal(self.state_dir / journal_name(self.connection.server))
        self.kubectl = KubectlTarget(self.connection.kubeconfig, self.connection.context)
        self.metrics.pending_undos(len(self.journal))
        self.metrics.undo_kinds_known(sorted(all_undo_handlers()))

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.journal.close()

    def check_cluster(self) -> str:
        try:
            version = self.kube.version()
        except KubeError as exc:
            raise KubeError(
                f"cannot talk to the cluster at {self.connection.server}: {exc}", status=exc.status
            ) from exc
        return str(version.get("gitVersion", "?"))

    def safety(self, policy: Policy | None) -> SafetyRules:
        """The policy's safety rules (the defaults without a policy) plus the flags'."""
        rules = policy.safety if policy else Safety()
        protected = set(self.overrides.protected_namespaces) | set(rules.protected_namespaces)
        return SafetyRules.from_environment(
            os.environ,
            protected_namespaces=sorted(protected),
            max_targets_per_step=self.overrides.max_targets_per_step or rules.max_targets_per_step,
            dry_run=self.overrides.dry_run or rules.dry_run,
        )

    def context(self, scenario: str, undo: ScenarioUndo, policy: Policy | None) -> StepContext:
        return StepContext(
            scenario=scenario,
            kube=self.kube,
            kubectl=self.kubectl,
            prober=self.prober,
            metrics=self.metrics,
            clock=self.clock,
            rng=self.rng,
            undo=undo,
            safety=self.safety(policy),
            pool=self.pool,
        )

    def clean_leftovers(self) -> bool:
        """Undo what an earlier, crashed run left in the journal. True when nothing failed."""
        pending = self.journal.pending()
        if not pending:
            return True
        log.warning("an earlier run left %d undo(s) pending; carrying them out now", len(pending))
        undo = ScenarioUndo(self.journal, "cleanup", self.metrics)
        return replay_undos(self.journal, self.context("cleanup", undo, None), self.metrics)


def run_policy(session: Session, policy_file: str, first: Policy) -> RunSummary:
    """Loop over the policy (re-read every loop) until it is done or shutdown is asked."""
    current: dict[str, Policy] = {"policy": first}

    def load() -> Policy:
        current["policy"] = load_policy(policy_file)
        for warning in current["policy"].warnings:
            log.warning("%s", warning)
        return current["policy"]

    def make_context(scenario: str, undo: ScenarioUndo) -> StepContext:
        return session.context(scenario, undo, current["policy"])

    executor = ScenarioExecutor(make_context, session.journal, session.metrics, session.clock)
    runner = PolicyRunner(
        load,
        executor,
        clock=session.clock,
        rng=session.rng,
        metrics=session.metrics,
        initial_policy=first,
    )
    return runner.run()
