"""Endpoints name each pod's container port: a Service's named targetPort is resolved per
pod, as the endpoints controller of Kubernetes does."""

from __future__ import annotations

from typing import Any

from sandbox.sandbox import Sandbox
from tests.conftest import wait_for


def pod(name: str, port_name: str, number: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "named"}},
        "spec": {
            "containers": [
                {"name": "c", "image": "x", "ports": [{"name": port_name, "containerPort": number}]}
            ]
        },
    }


def test_a_named_target_port_becomes_each_pods_number(sandbox: Sandbox) -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "named", "namespace": "default"},
        "spec": {
            "selector": {"app": "named"},
            "ports": [{"name": "metrics", "port": 80, "targetPort": "metrics"}],
        },
    }
    sandbox.call(lambda s: s.create("services", service))
    for created in (pod("a", "metrics", 9090), pod("b", "metrics", 9191), pod("c", "web", 80)):
        sandbox.call(lambda s, created=created: s.create("pods", created))

    def subsets() -> list[Any] | None:
        found = sandbox.call(lambda s: s.peek("endpoints", "default", "named")) or {}
        subsets: list[Any] = found.get("subsets") or []
        return subsets if sum(len(x["addresses"]) for x in subsets) == 2 else None

    found = wait_for(subsets, timeout=30, what="the Endpoints of two pods")
    by_port = {
        x["ports"][0]["port"]: [a["targetRef"]["name"] for a in x["addresses"]] for x in found
    }
    assert by_port == {9090: ["a"], 9191: ["b"]}  # c has no port named metrics
    assert all(x["ports"][0]["name"] == "metrics" for x in found)
