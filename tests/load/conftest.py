"""Running one scenario in process with the real services against a sandbox."""

from __future__ import annotations

import textwrap
from pathlib import Path

from sandbox.sandbox import Sandbox
from seal.adapters.kubeconfig import resolve
from seal.outcomes import ScenarioOutcome
from seal.policy.loader import load_policy_text
from seal.policy.model import Policy
from seal.runtime.scenario import ScenarioExecutor
from seal.runtime.services import RunOptions, open_services
from seal.steps.registry import STEP_TYPES
from tests.steps.conftest import RecordingMetrics


def policy(text: str) -> Policy:
    return load_policy_text(textwrap.dedent(text), STEP_TYPES, "load.yml", {})


def run_one(box: Sandbox, tmp_path: Path, text: str) -> tuple[ScenarioOutcome, RecordingMetrics]:
    """Run the one scenario of the policy `text` against `box`."""
    metrics = RecordingMetrics()
    loaded = policy(text)
    options = RunOptions(
        kubeconfig=str(box.kubeconfig_path), state_dir=str(tmp_path), seed=7, environ={}
    )
    with open_services(options, resolve(str(box.kubeconfig_path)), metrics=metrics) as services:
        [scenario] = loaded.scenarios
        return ScenarioExecutor(services).run(scenario, loaded), metrics


def load_counts(metrics: RecordingMetrics, scenario: str) -> tuple[int, int]:
    """The successes and errors the metrics were told of, added up."""
    batches = [args[1:] for args in metrics.named("load_requests") if args[0] == scenario]
    return sum(b[0] for b in batches), sum(b[1] for b in batches)
