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
        kube_api_qps: float | None,
        kube_api_burst: int | None,
        max_concurrent_requests: int,
        **kwargs: Any,
    ) -> Any:
        client = ClientLimits(
            DEFAULT_QPS if kube_api_qps is None else kube_api_qps,
            DEFAULT_BURST if kube_api_burst is None else kube_api_burst,
            max_concurrent_requests,
            auto=kube_api_qps is None and kube_api_burst is None,
        )
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
            default=None,
            help=(
                "API requests allowed at once after a quiet spell, above --kube-api-qps "
                f"[default: {DEFAULT_BURST}, lifted as --kube-api-qps is]."
            ),
        ),
        option(
            "--kube-api-qps",
            type=click.FloatRange(min=MIN_QPS),
            default=None,
            help=(
                "API requests a second on average, at most (client-side rate limit); "
                f"at least {MIN_QPS}. [default: {DEFAULT_QPS:g}, lifted when the API "
                "server applies priority and fairness, which paces its clients itself "
                "with 429s that seal retries; given, this limit always applies]"
            ),
        ),
    ):
        wrapper = decorator(wrapper)
    return wrapper
