"""What every command that runs against a cluster shares: its flags (cluster, safety,
metrics, machines), the connection (a real cluster or a built-in sandbox), the services,
and the signal handlers that turn SIGTERM and SIGINT into a clean stop."""

from __future__ import annotations

import functools
import logging
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import click

from seal.cli.client_options import client_options
from seal.cli.cloud_options import CloudOptions, cloud_options, driver_from_options
from seal.cli.exec_options import ExecSettings, exec_options
from seal.cli.options import option
from seal.cli.rbac import preflight_flag
from seal.cli.state_options import state_options
from seal.errors import UsageError
from seal.frozen import frozen

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
            client_options,
            powerfulseal_flags,
            preflight_flag,
            state_options,
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


class Running:
    """The services of a run against the chosen cluster, and the signal that stopped it."""

    def __init__(self, services: Any, signal: int | None = None) -> None:
        self.services = services
        self.signal = signal


@frozen
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
    #: --kube-api-qps, --kube-api-burst, --max-concurrent-requests (a ClientLimits)
    client: Any = None
    #: --state-backend, --state-namespace and leader election (a StateOptions)
    state: Any = None

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
            **({"client": self.client} if self.client is not None else {}),
            **({"state": self.state} if self.state is not None else {}),
        )


@frozen
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
def _services(
    flags: RunFlags, machines: MachineFlags | None = None, tracer: Any = None, policy: Any = None
) -> Iterator[Running]:
    """Connect, open the services, install the signal handlers; close everything after.
    `policy` (valid, as loaded) makes /readyz ready while a standby waits for the lease."""
    from seal.runtime.services import open_services

    options = flags.options()
    with (
        _cluster(flags.sandbox, flags.kubeconfig, flags.context, flags.seed) as connection,
        open_services(
            options,
            connection,
            **_machine_services(machines, connection, bool(flags.sandbox)),
            **({"tracer": tracer} if tracer is not None else {}),
        ) as services,
    ):
        running = Running(services)

        def shutdown(signum: int) -> None:
            running.signal = signum
            services.clock.request_shutdown()

        _install_signals(shutdown)
        log.info("connected to %s (Kubernetes %s)", connection.server, services.check_cluster())
        if policy is not None and services.health is not None:
            services.health.watch(policy)  # a standby is ready: connected, its policy valid
        from seal.runtime.election import elected

        with elected(services) as leading:
            if not leading:  # stopped while a standby: nothing to undo
                raise click.exceptions.Exit(128 + (running.signal or signal.SIGTERM))
            yield running
