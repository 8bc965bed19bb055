"""Filters and safety rules over model objects."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from seal.errors import SafetyError
from seal.model import Node, NodeState, Pod
from seal.selection.filters import (
    day_time_allows,
    filter_by_property,
    probability_passes,
    property_matches,
    random_sample,
)
from seal.selection.safety import SafetyRules, screen_nodes, screen_pods

PODS = [Pod("default", f"web-{i}", state="Running" if i % 2 else "Pending") for i in range(6)]


def test_property_is_anchored_at_the_start() -> None:
    pod = Pod("default", "my-web-1")
    assert not property_matches(pod, "name", "web")
    assert property_matches(pod, "name", "my-w")
    assert property_matches(pod, "name", "web", negative=True)


def test_property_filter_on_state() -> None:
    running = filter_by_property(PODS, "state", "Running", negative=False)
    assert [p.name for p in running] == ["web-1", "web-3", "web-5"]


def test_node_group_matches_any_label_value() -> None:
    node = Node("n1", ip="127.0.5.1", zone="WEST-1", state=NodeState.UP, groups=("a", "minion"))
    assert property_matches(node, "group", "minion")
    assert property_matches(node, "az", "WEST|EAST")
    assert property_matches(node, "state", "UP")
    assert not property_matches(node, "ip", "10\\.")


def test_random_sample_ratio_is_floor_and_seeded() -> None:
    first = random_sample(PODS, random.Random(7), ratio=0.5)
    again = random_sample(PODS, random.Random(7), ratio=0.5)
    assert len(first) == 3
    assert first == again
    assert len(random_sample(PODS[:5], random.Random(1), ratio=0.5)) == 2
    assert len(random_sample(PODS, random.Random(1), size=100)) == 6


def test_day_time_window() -> None:
    monday_noon = dt.datetime(2026, 11, 23, 12, 0, 0)
    assert monday_noon.weekday() == 0
    start, end = dt.time(10, 0), dt.time(17, 30)
    assert day_time_allows(monday_noon, ["monday"], start, end)
    assert not day_time_allows(monday_noon, ["tuesday"], start, end)
    assert not day_time_allows(monday_noon.replace(hour=17, minute=30), ["monday"], start, end)


def test_probability_extremes() -> None:
    rng = random.Random(3)
    assert all(probability_passes(rng, 1) for _ in range(50))
    assert not any(probability_passes(rng, 0) for _ in range(50))


def test_safety_rules_remove_own_pod_protected_labels_and_namespaces() -> None:
    rules = SafetyRules.from_environment(
        {"POD_NAME": "seal-abc", "NODE_NAME": "worker-1"}, protected_namespaces=["kube-system"]
    )
    pods = [
        Pod("chaos", "seal-abc"),
        Pod("kube-system", "dns"),
        Pod("shop", "cart", labels={"seal/protected": "true"}),
        Pod("vault", "v-0"),
        Pod("shop", "front"),
    ]
    kept, removed = screen_pods(pods, rules, frozenset({"vault"}))
    assert [p.name for p in kept] == ["front"]
    assert len(removed) == 4
    nodes = [Node("worker-1"), Node("worker-2"), Node("w3", labels={"seal/protected": "TRUE"})]
    kept_nodes, _ = screen_nodes(nodes, rules)
    assert [n.name for n in kept_nodes] == ["worker-2"]


def test_max_targets_refuses_before_acting() -> None:
    rules = SafetyRules(max_targets_per_step=2)
    rules.check_target_count(2, "pods")
    with pytest.raises(SafetyError, match="maxTargetsPerStep=2"):
        rules.check_target_count(3, "pods")
