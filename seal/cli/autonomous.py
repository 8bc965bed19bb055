"""`seal autonomous` runs a policy; `seal cleanup` undoes what a crashed run left behind."""

from __future__ import annotations

import logging
import os
import random
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import click

from seal.cli.options import option
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
    """Flags of PowerfulSeal command lines that describe what seal always does.

    seal reads its node inventory from Kubernetes and has no cloud driver selected
    unless a policy needs one, so these change nothing; they are accepted so that
    existing command lines keep working.
    """
    for flag, env in (
        ("--inventory-kubernetes", "INVENTORY_KUBERNETES"),
        ("--no-cloud", "NO_CLOUD"),
    ):
        function = option(flag, is_flag=True, expose_value=False, hidden=True, legacy_env=[env])(
            function
        )
    return function


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
        ]
    ):
        function = decorator(function)
    return function


def _metrics(
    metrics_address: str | None, prometheus: bool, host: str, port: int, stdout: bool
) -> Any:
    from seal.metrics import FanOut, NullMetrics, PrometheusMetrics, StdoutCollector

    collectors: list[Any] = []
    address = metrics_address or (f"{host}:{port}" if prometheus else None)
    if address:
        bind, _, port_text = address.rpartition(":")
        if not port_text.isdigit():
            raise UsageError(f"--metrics-address {address!r}: expected HOST:PORT")
        prom = PrometheusMetrics()
        try:
            prom.serve(bind or "127.0.0.1", int(port_text))
        except OSError as exc:
            raise UsageError(f"cannot serve metrics on {address}: {exc.strerror}") from exc
        log.info("metrics served on http://%s/metrics", address)
        collectors.append(prom)
    if stdout:
        collectors.append(StdoutCollector())
    if not collectors:
        return NullMetrics()
    return collectors[0] if len(collectors) == 1 else FanOut(collectors)


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
    """A session against the chosen cluster, and the signal that stopped it, if any."""

    session: Any
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


@contextmanager
def _session(flags: RunFlags) -> Iterator[Running]:
    """Connect, install the signal handlers, and close everything afterwards."""
    from seal.runtime.autonomous import SafetyOverrides, Session
    from seal.runtime.journal import default_state_dir

    metrics = _metrics(
        flags.metrics_address,
        flags.prometheus_collector,
        flags.prometheus_host,
        flags.prometheus_port,
        flags.stdout_collector,
    )
    overrides = SafetyOverrides(
        flags.dry_run, flags.protected_namespaces, flags.max_targets_per_step
    )
    state = Path(flags.state_dir) if flags.state_dir else default_state_dir()
    with _cluster(flags.sandbox, flags.kubeconfig, flags.context, flags.seed) as connection:
        session = Session(
            connection, state, metrics, rng=random.Random(flags.seed), overrides=overrides
        )
        running = Running(session)

        def shutdown(signum: int) -> None:
            running.signal = signum
            session.clock.request_shutdown()

        _install_signals(shutdown)
        try:
            log.info("connected to %s (Kubernetes %s)", connection.server, session.check_cluster())
            yield running
        finally:
            session.close()


@click.command()
@option(
    "--policy-file",
    required=True,
    type=click.Path(dir_okay=False),
    legacy_env=["POLICY_FILE"],
    help="The policy to run (re-read at every loop).",
)
@run_options
@option("--headless", is_flag=True, expose_value=False, hidden=True)
def autonomous(policy_file: str, **flags: Any) -> int:
    """Run the scenarios of a policy against the cluster, undoing every change they make.

    Exit status: 0 when every scenario passed, 1 when one failed, 2 for a bad policy or usage.
    """
    from seal.runtime.autonomous import run_policy
    from seal.steps.registry import load_policy

    try:
        policy = load_policy(policy_file)
    except PolicyError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        click.echo(f"{policy_file}: the policy is invalid; nothing was run", err=True)
        return 2
    for warning in policy.warnings:
        click.echo(warning, err=True)
    with _session(RunFlags(**flags)) as running:
        running.session.clean_leftovers()
        summary = run_policy(running.session, policy_file, policy)
    if running.signal is not None:
        return 128 + running.signal
    log.info(
        "done: %d loop(s), %d scenario run(s) passed, %d failed",
        summary.loops,
        summary.passed,
        summary.failed,
    )
    return summary.exit_code


@click.command()
@cluster_options
def cleanup(context: str | None, kubeconfig: str | None, state_dir: str | None) -> int:
    """Undo what a crashed seal run left behind on this cluster (from its journal)."""
    from seal.adapters.kubeconfig import resolve
    from seal.metrics import NullMetrics
    from seal.runtime.autonomous import Session
    from seal.runtime.journal import default_state_dir

    connection = resolve(kubeconfig, context)
    session = Session(
        connection, Path(state_dir) if state_dir else default_state_dir(), NullMetrics()
    )
    try:
        pending = len(session.journal)
        ok = session.clean_leftovers()
        left = len(session.journal)
    finally:
        session.close()
    click.echo(
        f"{pending - left} undo(s) carried out, {left} left"
        + ("" if ok else " (see the errors above; run seal cleanup again)")
    )
    return 0 if ok else 1


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
def label(
    namespaces: str,
    min_seconds_between_runs: float,
    max_seconds_between_runs: float,
    runs: int | None,
    **flags: Any,
) -> int:
    """Label mode: kill pods that opted in with seal/enabled=true (label or annotation)."""
    from seal.runtime.label import parse_namespaces, run_label_mode

    if min_seconds_between_runs > max_seconds_between_runs:
        raise UsageError("--min-seconds-between-runs is more than --max-seconds-between-runs")
    with _session(RunFlags(**flags)) as running:
        run_label_mode(
            running.session,
            parse_namespaces(namespaces),
            runs=runs,
            min_seconds=min_seconds_between_runs,
            max_seconds=max_seconds_between_runs,
        )
    return 0 if running.signal is None else 128 + running.signal
