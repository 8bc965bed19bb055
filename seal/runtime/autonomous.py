"""Autonomous mode: the policy loop over a policy file, with the services of a run.

Talks to the cluster through the services; re-reads the policy file every loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from seal.outcomes import ScenarioOutcome
from seal.policy.loader import PolicyFile, load_policy
from seal.policy.model import Policy, ScenarioSpec
from seal.runtime.runner import PolicyRunner, RunSummary
from seal.runtime.scenario import ScenarioExecutor
from seal.runtime.services import Services
from seal.steps.registry import STEP_TYPES

log = logging.getLogger(__name__)


def read_policy(policy_file: str) -> Policy:
    """The policy in the file, its warnings logged; `PolicyError` when it is invalid."""
    return _warned(load_policy(policy_file, STEP_TYPES))


def _warned(policy: Policy) -> Policy:
    """`policy`, its warnings logged."""
    for warning in policy.warnings:
        log.warning("%s", warning)
    return policy


def _reader(source: PolicyFile) -> Callable[[], Policy]:
    """Reads the policy at every loop; checks it again, and logs its warnings, only when
    the file changed."""

    def read() -> Policy:
        policy, fresh = source.load()
        return _warned(policy) if fresh else policy

    return read


def run_policy(
    services: Services,
    policy_file: str | PolicyFile,
    first: Policy,
    on_outcome: Callable[[ScenarioOutcome], None] | None = None,
) -> RunSummary:
    """Loop over the policy (re-read every loop) until it is done or shutdown is asked;
    `on_outcome` hears of every scenario run as soon as it ends (the reports do).
    Given the `PolicyFile` `first` came from, a loop checks the policy again only when
    the file changed."""
    if not isinstance(policy_file, PolicyFile):
        policy_file = PolicyFile(policy_file, STEP_TYPES)
    read = _reader(policy_file)
    executor = ScenarioExecutor(services)
    if services.watch_cache is not None:  # many loops: pods from watches, as informers do
        services.watch_cache.enabled = first.config.run_strategy.runs != 1

    def run_scenario(scenario: ScenarioSpec, policy: Policy) -> ScenarioOutcome:
        outcome = executor.run(scenario, policy)
        if on_outcome is not None:
            on_outcome(outcome)
        return outcome

    health = services.health
    if health is not None:  # /readyz needs a valid policy; its waits bound /healthz
        health.watch(first)
    runner = PolicyRunner(
        lambda: health.watch(read()) if health else read(),
        run_scenario,
        clock=services.clock,
        rng=services.rng,
        metrics=services.metrics,
        initial_policy=first,
        tracer=services.tracer,
    )
    return runner.run()
