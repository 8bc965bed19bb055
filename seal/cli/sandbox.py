"""`seal sandbox`: run the simulated cluster in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import click

from seal.cli.options import option
from seal.errors import UsageError


@click.command()
@option(
    "--preset",
    type=click.Choice(["demo", "large"]),
    default="demo",
    show_default=True,
    help="A built-in cluster.",
)
@option(
    "--cluster",
    "cluster_file",
    type=click.Path(dir_okay=False),
    help="A cluster description file (instead of --preset).",
)
@option("--nodes", type=click.IntRange(min=1), help="Nodes of the large preset.")
@option("--pods", type=click.IntRange(min=0), help="Pods of the large preset.")
@option("--port", type=click.IntRange(0, 65535), default=0, help="API port (default: a free one).")
@option(
    "--kubeconfig-out",
    type=click.Path(dir_okay=False),
    help="Where to write the kubeconfig (default: a temporary file).",
)
@option(
    "--api-error-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Share of API requests answered with 500, 429 or a dropped connection.",
)
@option(
    "--api-latency-ms",
    type=click.IntRange(min=0),
    default=0,
    help="Added latency of every API request.",
)
@option("--seed", type=int, help="Seed for the sandbox's random choices.")
@option(
    "--run-image",
    "run_images",
    multiple=True,
    metavar="IMAGE=COMMAND",
    help=(
        "Run containers whose image matches IMAGE (a glob) as real local processes of "
        "COMMAND (the image's entrypoint), with the pod's args, env, volumes, token and "
        "probes (repeatable; see docs/sandbox.md)."
    ),
)
def sandbox(
    preset: str,
    cluster_file: str | None,
    nodes: int | None,
    pods: int | None,
    port: int,
    kubeconfig_out: str | None,
    api_error_rate: float,
    api_latency_ms: int,
    seed: int | None,
    run_images: tuple[str, ...],
) -> int:
    """Run a simulated Kubernetes cluster that kubectl and seal can talk to."""
    from sandbox import cluster as clusters
    from sandbox.api import Faults
    from sandbox.cluster_file import load_file
    from sandbox.sandbox import PortInUse, Sandbox

    rules = _run_image_rules(run_images)

    if cluster_file and (nodes or pods is not None):
        raise UsageError("--nodes and --pods size the large preset; not with --cluster")
    description = (
        load_file(cluster_file) if cluster_file else clusters.preset(preset, nodes=nodes, pods=pods)
    )
    faults = None
    if api_error_rate or api_latency_ms:
        faults = Faults(error_rate=api_error_rate, latency_ms=api_latency_ms, seed=seed)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    box = Sandbox(
        description,
        port=port,
        faults=faults,
        kubeconfig_path=Path(kubeconfig_out) if kubeconfig_out else None,
        seed=seed,
        run_images=rules,
    )
    try:
        box.start()
    except PortInUse as exc:
        raise UsageError(f"--port {port}: {exc}; choose another, or 0 for a free one") from exc
    try:
        click.echo(
            f"sandbox ready: kubeconfig {box.kubeconfig_path} (API {box.url}); stop with Ctrl-C",
            err=False,
        )
        while not stop.wait(3600):
            pass
    finally:
        box.stop()
    return 0


def _run_image_rules(texts: tuple[str, ...]) -> list[Any]:
    """--run-image's rules; a usage error naming the one that is wrong."""
    from sandbox.processes import parse_run_image

    try:
        return [parse_run_image(text) for text in texts]
    except ValueError as exc:
        raise UsageError(f"--run-image {exc}") from exc
