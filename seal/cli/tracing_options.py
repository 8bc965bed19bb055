"""`--otlp-endpoint`: OpenTelemetry traces of a run, exported over OTLP/HTTP.

The flag (or the standard OTEL_EXPORTER_OTLP_* variables) opens the tracer around the
command, which receives it as `tracer`; what is left is exported when the command ends,
however it ends (SIGTERM included, as it ends the run through its undos).
"""

from __future__ import annotations

import functools
import os
from typing import Any

from seal.cli.options import option


def tracing_options(function: Any) -> Any:
    """The `--otlp-endpoint` flag; the command is called with `tracer=`."""

    @functools.wraps(function)
    def wrapper(*args: Any, otlp_endpoint: str | None, **kwargs: Any) -> Any:
        from seal.tracing import open_tracer, settings_from

        settings = settings_from(otlp_endpoint, os.environ)
        with open_tracer(settings) as tracer:
            return function(*args, tracer=tracer, **kwargs)

    return option(
        "--otlp-endpoint",
        metavar="URL",
        help=(
            "Export traces (a span per loop, scenario, step and action) to this OTLP/HTTP "
            "collector, e.g. http://127.0.0.1:4318 (else OTEL_EXPORTER_OTLP_ENDPOINT); "
            "needs seal-chaos[tracing]."
        ),
    )(wrapper)
