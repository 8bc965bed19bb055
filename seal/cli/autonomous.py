"""`seal autonomous` runs a policy; `seal label` runs label mode."""

from __future__ import annotations

import functools
import logging
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import click

from seal.cli.cloud_options import CloudOptions, cloud_options, driver_from_options
from seal.cli.exec_options import ExecSettings, exec_options
from seal.cli.options import option
from seal.cli.rbac import preflight, preflight_flag
from seal.errors import PolicyError, UsageError

log = logging.getLogger("seal.cli")


def cluster_options(function: Any) -> Any:
    function = option("--context", help="The kubeconfig context to use.")(function)
    function = option(
        "--kubeconfig",
        type=click.Path(dir_okay=False),
        help="Kubeconfig file (else KUBECONFIG, ~/.kube/config, in-cluster).",
    )(function)
    return option(
        "--state-dir",
        type=click.Path(file_okay=False),
        help="Where the undo journal is kept (default: $XDG_STATE_HOME/seal).",
    )(function)


def metrics_options(function: Any) -> Any:
    """Where metrics go: Prometheus (seal's flag or PowerfulSeal's three) and standard output."""
    for decorator in reversed(
        [
            option("--metrics-address", help="Serve Prometheus metrics on HOST:PORT."),
            option(
                "--prometheus-collector",
                is_flag=True,
                legacy_env=["PROMETHEUS_COLLECTOR"],
                help="Serve Prometheus metrics on --prometheus-host:--prometheus-port.",
            ),
            option("--prometheus-host", default="127.0.0.1", show_default=True),
            option(
                "--prometheus-port", type=click.IntRange(0, 65535), default=8000, show_default=True
            ),
            option(
                "--stdout-collector",
                is_flag=True,
                legacy_env=["STDOUT_COLLECTOR"],
                help="Print every metric event as it happens.",
            ),
        ]
    ):
        function = decorator(function)
    return function


def powerfulseal_flags(function: Any) -> Any:
    """Flags of PowerfulSeal command lines that describe what seal always does (it reads
    its nodes from Kubernetes unless given an inventory file): they change nothing and are
    accepted so that existing command lines keep working."""
    hidden = {"is_flag": True, "expose_value": False, "hidden": True}
    return option("--inventory-kubernetes", legacy_env=["INVENTORY_KUBERNETES"], **hidden)(function)


def run_options(function: Any) -> Any:
    """The flags of `RunFlags`, which autonomous and label mode share."""
    for decorator in reversed(
        [
            cluster_options,
            option(
                "--sandbox",
                is_flag=False,
                flag_value="demo",
                default=None,
                type=click.Choice(["demo", "large"]),
                help="Run against a built-in simulated cluster (default preset: demo).",
            ),
            option("--seed", type=int, help="Seed every random choice, so a run can be replayed."),
            option("--dry-run", is_flag=True, help="Match and filter for real; change nothing."),
            option(
                "--protected-namespace",
                "protected_namespaces",
                multiple=True,
                help=(
                    "A namespace seal must not touch (repeatable); adds to the policy's, "
                    "or to the default kube-system."
                ),
            ),
            option(
                "--max-targets-per-step",
                type=click.IntRange(min=1),
                help="Refuse a step (in label mode, a pass) left with more targets than this.",
            ),
            metrics_options,
            powerfulseal_flags,
            preflight_flag,
        ]
    ):
        function = decorator(function)
    return function


@contextmanager
def _cluster(
    sandbox: str | None, kubeconfig: str | None, context: str | None, seed: int | None
) -> Iterator[Any]:
    from seal.adapters.kubeconfig import resolve

    if not sandbox:
        yield resolve(kubeconfig, context)
        return
    if kubeconfig or context:
        raise UsageError(
            "--sandbox runs against a simulated cluster; leave out --kubeconfig and --context"
        )
    from sandbox.cluster import preset
    from sandbox.sandbox import Sandbox

    with Sandbox(preset(sandbox), seed=seed) as box:
        log.info("sandbox %r is up; its kubeconfig: %s", sandbox, box.kubeconfig_path)
        yield resolve(str(box.kubeconfig_path))


def _install_signals(on_first: Any) -> None:
    count = {"n": 0}

    def handler(signum: int, frame: FrameType | None) -> None:
        count["n"] += 1
        if count["n"] == 1:
            log.warning(
                "%s: finishing up and undoing every change; send it again to exit at "
                "once (the journal keeps what is left)",
                signal.Signals(signum).name,
            )
            on_first(signum)
        else:
            os._exit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@dataclass
class Running:
    """The services of a run against the chosen cluster, and the signal that stopped it."""

    services: Any
    signal: int | None = None


@dataclass(frozen=True)
class RunFlags:
    """The flags autonomous and label mode share: cluster, journal, safety and metrics."""

    context: str | None
    kubeconfig: str | None
    state_dir: str | None
    sandbox: str | None
    seed: int | None
    dry_run: bool
    protected_namespaces: tuple[str, ...]
    max_targets_per_step: int | None
    metrics_address: str | None
    prometheus_collector: bool
    prometheus_host: str
    prometheus_port: int
    stdout_collector: bool
    fail_on_empty_match: bool = False

    def options(self) -> Any:
        """The flags as the runtime's `RunOptions`."""
        from seal.runtime.services import MetricsOptions, RunOptions, SafetyFlags

        address = self.metrics_address or (
            f"{self.prometheus_host}:{self.prometheus_port}" if self.prometheus_collector else None
        )
        return RunOptions(
            kubeconfig=self.kubeconfig,
            context=self.context,
            state_dir=self.state_dir,
            seed=self.seed,
            safety=SafetyFlags(
                self.dry_run,
                self.protected_namespaces,
                self.max_targets_per_step,
                self.fail_on_empty_match,
            ),
            metrics=MetricsOptions(address, self.stdout_collector),
        )


@dataclass(frozen=True)
class MachineFlags:
    """How seal reaches machines and nodes: the cloud, the executor, an inventory file."""

    cloud: CloudOptions
    execution: ExecSettings
    inventory_file: str | None = None


def machine_options(function: Any) -> Any:
    """The cloud, execution and inventory flags, handed over as one `machines` argument."""

    @functools.wraps(function)
    def wrapper(
        *args: Any,
        cloud_options: CloudOptions,
        execution: ExecSettings,
        inventory_file: str | None,
        **kwargs: Any,
    ) -> Any:
        machines = MachineFlags(cloud_options, execution, inventory_file)
        return function(*args, machines=machines, **kwargs)

    decorated = option(
        "-i",
        "--inventory-file",
        type=click.Path(dir_okay=False),
        legacy_env=["INVENTORY_FILE"],
        help="Take nodes from this INI inventory (sections are groups) instead of the cluster.",
    )(wrapper)
    return cloud_options(exec_options(decorated))


def _machine_services(
    machines: MachineFlags | None, connection: Any, sandbox: bool
) -> dict[str, Any]:
    """The cloud driver, executor and node source `open_services` takes."""
    if machines is None:
        return {}
    from seal.cli.exec_options import executor_factory
    from seal.runtime.nodes import InventoryFile

    driver = driver_from_options(machines.cloud, connection=connection, sandbox=sandbox)
    if driver.name == "none":
        log.info("no cloud driver: steps that stop or start machines will fail (see --cloud)")
    else:
        log.info("cloud driver: %s", driver.name)
    nodes = InventoryFile(Path(machines.inventory_file)) if machines.inventory_file else None
    return {
        "cloud": None if driver.name == "none" else driver,
        "executor": executor_factory(machines.execution),
        "nodes": nodes,
    }


@contextmanager
def _services(flags: RunFlags, machines: MachineFlags | None = None) -> Iterator[Running]:
    """Connect, open the services, install the signal handlers; close everything after."""
    from seal.runtime.services import open_services

    options = flags.options()
    with (
        _cluster(flags.sandbox, flags.kubeconfig, flags.context, flags.seed) as connection,
        open_services(
            options, connection, **_machine_services(machines, connection, bool(flags.sandbox))
        ) as services,
    ):
        running = Running(services)

        def shutdown(signum: int) -> None:
            running.signal = signum
            services.clock.request_shutdown()

        _install_signals(shutdown)
        log.info("connected to %s (Kubernetes %s)", connection.server, services.check_cluster())
        yield running


@click.command()
@option(
    "--policy-file",
    required=True,
    type=click.Path(dir_okay=False),
    legacy_env=["POLICY_FILE"],
    help="The policy to run (re-read at every loop).",
)
@run_options
@option(
    "--fail-on-empty-match",
    is_flag=True,
    help="A matcher that matches nothing fails its step (as config.safety.failOnEmptyMatch).",
)
@machine_options
@option("--headless", is_flag=True, expose_value=False, hidden=True)
def autonomous(policy_file: str, machines: MachineFlags, **flags: Any) -> int:
    """Run the scenarios of a policy against the cluster, undoing every change they make.

    Exit status: 0 when every scenario passed, 1 when one failed, 2 for a bad policy or
    usage, 3 when the cluster cannot be reached, 4 when it would deny a request the policy
    needs (preflight); 128+N (130 for SIGINT) when signal N stopped it, after every undo.
    """
    from seal.policy.loader import load_policy
    from seal.runtime.autonomous import run_policy
    from seal.runtime.scenario import clean_leftovers
    from seal.steps.registry import STEP_TYPES

    try:
        policy = load_policy(policy_file, STEP_TYPES)
    except PolicyError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        click.echo(f"{policy_file}: the policy is invalid; nothing was run", err=True)
        return 2
    for warning in policy.warnings:
        click.echo(warning, err=True)
    with _services(RunFlags(**flags), machines) as running:
        preflight(running.services, policy)
        clean_leftovers(running.services)
        summary = run_policy(running.services, policy_file, policy)
    _report(summary)
    if running.signal is not None:
        return 128 + running.signal
    return int(summary.exit_code)


def _report(summary: Any) -> None:
    """The run summary: a table on standard output, or one JSON log line with
    --log-format json."""
    from seal import log as seal_log
    from seal.runtime import summary as run_summary

    log.info(
        "done: %d loop(s), %d scenario run(s) passed, %d failed%s",
        summary.loops,
        summary.passed,
        summary.failed,
        ", interrupted" if summary.interrupted else "",
        extra={"summary": run_summary.record(summary)} if seal_log.log_format() == "json" else {},
    )
    if seal_log.log_format() != "json" and log.isEnabledFor(logging.INFO):
        for line in run_summary.table(summary):
            click.echo(line)


@click.command()
@option(
    "--namespace",
    "--kubernetes-namespace",
    "namespaces",
    default="",
    help="A namespace, a comma-separated list, or empty for every namespace.",
)
@option("--min-seconds-between-runs", type=click.FloatRange(min=0), default=0.0, show_default=True)
@option(
    "--max-seconds-between-runs", type=click.FloatRange(min=0), default=300.0, show_default=True
)
@option("--runs", type=click.IntRange(min=1), help="Stop after this many passes.")
@run_options
@option("--no-cloud", is_flag=True, expose_value=False, hidden=True, legacy_env=["NO_CLOUD"])
def label(
    namespaces: str,
    min_seconds_between_runs: float,
    max_seconds_between_runs: float,
    runs: int | None,
    **flags: Any,
) -> int:
    """Label mode: kill pods that opted in with seal/enabled=true (label or annotation).

    \b
    Each pod says how through labels or annotations (a label wins over an
    annotation of the same key):
      seal/enabled           "true" makes the pod a candidate (default "false")
      seal/force-kill        "true" kills at once, grace period 0 (default "false")
      seal/kill-probability  chance of being killed in a pass, 0 to 1 (default "1")
      seal/days              days a kill may happen, e.g. "mon,tue" (default
                             "mon,tue,wed,thu,fri"; commas only fit in annotations)
      seal/start-time        local time from which kills may happen, HH-MM-SS
                             (default "10-00-00", inclusive)
      seal/end-time          local time until which kills may happen, HH-MM-SS
                             (default "17-30-00", exclusive)
    Pods labelled seal/protected=true, in protected namespaces, or seal's own
    pod are never killed.
    """
    from seal.runtime.label import parse_namespaces, run_label_mode

    if min_seconds_between_runs > max_seconds_between_runs:
        raise UsageError("--min-seconds-between-runs is more than --max-seconds-between-runs")
    with _services(RunFlags(**flags)) as running:
        preflight(running.services, namespaces)
        run_label_mode(
            running.services,
            parse_namespaces(namespaces),
            runs=runs,
            min_seconds=min_seconds_between_runs,
            max_seconds=max_seconds_between_runs,
        )
    return 0 if running.signal is None else 128 + running.signal
