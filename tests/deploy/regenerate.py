"""Re-make deploy/'s generated files from their one source: `python -m tests.deploy.regenerate`.

- deploy/rbac.yml: `seal rbac` for deploy/policy.yml (ServiceAccount seal/seal, ClusterRole
  and ClusterRoleBinding `seal`, and a Role `seal` in namespace seal for the undo journal's
  ConfigMap and the leader Lease);
- deploy/components/prometheus-operator/prometheusrule.yml: the groups of
  docs/seal-alerts.yml in a PrometheusRule.

tests/deploy/test_manifests.py checks that the committed files are what this makes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
POLICY = DEPLOY / "policy.yml"
RBAC = DEPLOY / "rbac.yml"
ALERTS = ROOT / "docs/seal-alerts.yml"
PROMETHEUS_RULE = DEPLOY / "components/prometheus-operator/prometheusrule.yml"
SERVICE_ACCOUNT = "seal/seal"
ROLE_NAME = "seal"
#: seal's own namespace: its journal (a ConfigMap) and leader Lease live there
STATE_NAMESPACE = "seal"


def rbac_text() -> str:
    """What `seal rbac` prints for the shipped policy."""
    result = subprocess.run(
        [sys.executable, "-m", "seal", "rbac", "--policy-file", str(POLICY.relative_to(ROOT)),
         "--service-account", SERVICE_ACCOUNT, "--role-name", ROLE_NAME,
         "--state-namespace", STATE_NAMESPACE],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"seal rbac failed: {result.stderr}")
    return result.stdout


def prometheus_rule() -> dict[str, Any]:
    """docs/seal-alerts.yml's groups as a PrometheusRule."""
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "seal",
            "namespace": "seal",
            "labels": {"app.kubernetes.io/name": "seal"},
        },
        "spec": {"groups": groups},
    }


def prometheus_rule_text() -> str:
    header = (
        "# Made from docs/seal-alerts.yml by `python -m tests.deploy.regenerate`: edit that\n"
        "# file, not this one (tests/deploy checks that they match).\n"
    )
    return header + yaml.safe_dump(prometheus_rule(), sort_keys=False, width=100)


def main() -> None:
    RBAC.write_text(rbac_text())
    PROMETHEUS_RULE.write_text(prometheus_rule_text())
    print(f"wrote {RBAC.relative_to(ROOT)} and {PROMETHEUS_RULE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
