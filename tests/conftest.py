"""Shared fixtures: a running sandbox cluster, and bounded waiting."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sandbox.api import Faults
from sandbox.cluster import ClusterDescription
from sandbox.sandbox import Sandbox
from sandbox.timing import SandboxTiming


def wait_for(
    condition: Callable[[], Any], *, timeout: float = 15.0, interval: float = 0.05, what: str = ""
) -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(interval)


SandboxFactory = Callable[..., Sandbox]


@pytest.fixture
def sandbox_factory() -> Iterator[SandboxFactory]:
    started: list[Sandbox] = []

    def make(
        cluster: ClusterDescription | None = None,
        *,
        timing: SandboxTiming | None = None,
        faults: Faults | None = None,
        seed: int | None = 1,
    ) -> Sandbox:
        box = Sandbox(cluster, timing=timing or SandboxTiming.fast(), faults=faults, seed=seed)
        box.start()
        started.append(box)
        return box

    yield make
    for box in started:
        box.stop()


@pytest.fixture
def sandbox(sandbox_factory: SandboxFactory) -> Sandbox:
    """A running demo cluster with fast timings."""
    return sandbox_factory()
