"""`seal rbac --state-namespace`: the journal's ConfigMap and the leader Lease are granted
by a Role of seal's namespace, with or without --namespaced, never by the ClusterRole."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.autonomous.helpers import seal

POLICY = "policies/kill-one-pod-and-probe.yml"
STATE_RULES = [
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "get", "update"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
     "verbs": ["create", "get", "update"]},
]  # fmt: skip


def printed(*flags: str) -> list[dict[str, Any]]:
    result = seal("rbac", "--policy-file", POLICY, "--service-account", "chaos/seal", *flags)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


@pytest.mark.parametrize("namespaced", [False, True])
def test_the_state_role_is_in_seals_namespace_only(namespaced: bool) -> None:
    flags = ["--state-namespace", "chaos"] + (["--namespaced"] if namespaced else [])
    documents = printed(*flags)
    roles = {d["metadata"].get("namespace"): d for d in documents if d["kind"] == "Role"}
    assert roles["chaos"]["rules"] == STATE_RULES
    for document in documents:
        if document["kind"] in ("ClusterRole", "Role") and document is not roles["chaos"]:
            for rule in document["rules"]:
                assert not {"configmaps", "leases"} & set(rule.get("resources", [])), rule
    bindings = [d for d in documents if d["kind"] == "RoleBinding"]
    assert {b["metadata"]["namespace"] for b in bindings} == set(roles)
    without = printed(*flags[2:])
    assert "chaos" not in {d["metadata"].get("namespace") for d in without if d["kind"] == "Role"}


def test_the_header_says_what_needs_them() -> None:
    result = seal("rbac", "--policy-file", POLICY, "--state-namespace", "chaos")
    assert "<- the undo journal in the cluster (a ConfigMap)" in result.stdout
    assert "<- leader election (a Lease)" in result.stdout
