"""Least privilege for the journal in the cluster and leader election, on a sandbox that
enforces RBAC: what `seal rbac --state-namespace` prints is enough (a Role in seal's
namespace), and without it preflight names the ConfigMap and Lease rules."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from sandbox import accounts
from seal.adapters.kube import KubeClient
from seal.adapters.kubeconfig import resolve
from seal.errors import KubeError
from tests.autonomous.helpers import seal, write_policy
from tests.cluster_state.conftest import NAMESPACE, Cluster

POLICY = """\
scenarios:
- name: pause
  steps:
  - wait: {seconds: 0}
"""
SHORT = ("--leader-elect-lease-duration", "3", "--leader-elect-renew-deadline", "2",
         "--leader-elect-retry-period", "0.5")  # fmt: skip


def grant(cluster: Cluster, tmp_path: Path, *flags: str) -> Path:
    """`seal rbac` for the policy applied with kubectl; the account's kubeconfig."""
    policy = write_policy(tmp_path, POLICY)
    printed = seal(
        "rbac", "--policy-file", str(policy), "--service-account", f"{NAMESPACE}/seal", *flags
    )
    assert printed.returncode == 0, printed.stderr
    applied = subprocess.run(
        ["kubectl", "--kubeconfig", str(cluster.box.kubeconfig_path), "apply", "-f", "-"],
        input=printed.stdout, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    token = accounts.mint_token(cluster.box, NAMESPACE, "seal")
    return accounts.write_kubeconfig(cluster.box, token, tmp_path / "seal.kubeconfig")


def run(kubeconfig: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return seal(
        "autonomous", "--kubeconfig", str(kubeconfig),
        "--policy-file", str(tmp_path / "policy.yml"),
        "--state-backend", "kubernetes", "--state-namespace", NAMESPACE, *SHORT,
    )  # fmt: skip


def test_the_printed_role_is_enough(cluster: Cluster, tmp_path: Path) -> None:
    kubeconfig = grant(cluster, tmp_path, "--state-namespace", NAMESPACE)
    result = run(kubeconfig, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "became the leader" in result.stderr
    assert "released the leadership" in result.stderr
    lease = yaml.safe_load(cluster.kubectl("get", "lease", "seal-leader", "-n", NAMESPACE,
                                           "-o", "yaml"))  # fmt: skip
    assert lease["spec"]["holderIdentity"] == ""
    # the Role cannot grant reading the namespace itself: seal went on without that check
    with pytest.raises(KubeError) as denied:
        KubeClient(resolve(str(kubeconfig))).request("GET", f"/api/v1/namespaces/{NAMESPACE}")
    assert denied.value.status == 403


def test_without_it_preflight_names_the_configmap_and_lease_rules(
    cluster: Cluster, tmp_path: Path
) -> None:
    kubeconfig = grant(cluster, tmp_path)
    result = run(kubeconfig, tmp_path)
    assert result.returncode == 4, result.stderr
    assert "the cluster denies seal its undo journal" in result.stderr
    for resource in ("[configmaps]", "[leases]"):
        assert f"resources: {resource}, verbs: [create, get, update]" in result.stderr
    assert f"seal rbac --state-namespace {NAMESPACE}" in result.stderr
    assert "Traceback" not in result.stderr
