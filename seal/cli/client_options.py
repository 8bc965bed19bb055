"""How hard seal presses on the API server: `--kube-api-qps`, `--kube-api-burst` and
`--max-concurrent-requests`, handed to the command as one `client: ClientLimits`."""

from __future__ import annotations

import functools
from typing import Any

import click

from seal.adapters.ratelimit import (
    DEFAULT_BURST,
    DEFAULT_MAX_CONCURRENT,
    DEFAULT_QPS,
    MIN_QPS,
    ClientLimits,
)
from seal.cli.options import option

#: more threads than this would only wait on each other (and on the API server)
MAX_CONCURRENT_REQUESTS = 512


def client_options(function: Any) -> Any:
    """Add the three flags; the command receives them as `client`."""

    @functools.wraps(function)
    def wrapper(
        *args: Any,
        kube_api_qps: float,
        kube_api_burst: int,
        max_concurrent_requests: int,
        **kwargs: Any,
    ) -> Any:
        client = ClientLimits(kube_api_qps, kube_api_burst, max_concurrent_requests)
        return function(*args, client=client, **kwargs)

    for decorator in (
        option(
            "--max-concurrent-requests",
            type=click.IntRange(1, MAX_CONCURRENT_REQUESTS),
            default=DEFAULT_MAX_CONCURRENT,
            show_default=True,
            help=(
                "API requests in flight at once (the kills of a step run this many at a "
                "time; the connection pool is this size)."
            ),
        ),
        option(
            "--kube-api-burst",
            type=click.IntRange(min=1),
            default=DEFAULT_BURST,
            show_default=True,
            help="API requests allowed at once after a quiet spell, above --kube-api-qps.",
        ),
        option(
            "--kube-api-qps",
            type=click.FloatRange(min=MIN_QPS),
            default=DEFAULT_QPS,
            show_default=True,
            help=(
                "API requests a second on average, at most (client-side rate limit); "
                f"at least {MIN_QPS}."
            ),
        ),
    ):
        wrapper = decorator(wrapper)
    return wrapper
