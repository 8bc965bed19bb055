"""Fixtures of the in-cluster state tests: a sandbox with seal's namespace, and an API
client on it."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

import pytest

from sandbox.sandbox import Sandbox
from seal.adapters.kube import KubeClient
from seal.adapters.kubeconfig import resolve
from tests.conftest import SandboxFactory

NAMESPACE = "seal"


@dataclass
class Cluster:
    box: Sandbox
    kube: KubeClient

    def client(self, timeout: float = 30.0) -> KubeClient:
        """Another client of the same cluster (another seal process would have its own)."""
        return KubeClient(resolve(str(self.box.kubeconfig_path)), timeout=timeout)

    def kubectl(self, *args: str) -> str:
        result = subprocess.run(
            ["kubectl", "--kubeconfig", str(self.box.kubeconfig_path), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout


@pytest.fixture
def cluster(sandbox_factory: SandboxFactory) -> Cluster:
    box = sandbox_factory()
    kube = KubeClient(resolve(str(box.kubeconfig_path)))
    kube.request(
        "POST",
        "/api/v1/namespaces",
        body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
    )
    return Cluster(box, kube)
