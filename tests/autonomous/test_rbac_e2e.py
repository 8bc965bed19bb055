"""Least privilege, proven on a sandbox that enforces RBAC: each example policy runs with a
service account given exactly what `seal rbac` prints, and without any one rule of it
preflight names that rule's permissions, while with --skip-preflight the step that needs
it fails with the API server's 403 and nothing seal changed is left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox import accounts
from sandbox.cluster import preset
from sandbox.sandbox import Sandbox
from sandbox.timing import SandboxTiming
from tests.autonomous.helpers import REPO
from tests.load.prometheus import prometheus_scraping_seal

ACCOUNT = "default/chaos"
USER = 'User "system:serviceaccount:default:chaos"'
#: the sandbox's machines are its cloud: their API is not Kubernetes RBAC that `seal rbac`
#: prints, so the account gets it apart, as it would get cloud credentials
CLOUD_RULES = [
    {
        "nonResourceURLs": ["/sandbox/v1/machines", "/sandbox/v1/machines/*"],
        "verbs": ["get", "post"],
    }
]
POLICIES = sorted(p.stem for p in (REPO / "policies").glob("*.yml"))


@pytest.fixture
def box(request: pytest.FixtureRequest) -> Any:
    with Sandbox(preset("demo"), timing=SandboxTiming.fast(), seed=1) as running:
        yield running


def _seal(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "seal", *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=REPO,
        env=env,
    )


def _kubectl(box: Sandbox, manifest: str, *args: str) -> str:
    result = subprocess.run(
        ["kubectl", "--kubeconfig", str(box.kubeconfig_path), *args, "-f", "-"],
        input=manifest,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _environ(request: pytest.FixtureRequest, name: str) -> dict[str, str]:
    environ = dict(os.environ)
    if name == "silence-alerts-during-chaos":
        environ["ALERTMANAGER_URL"] = request.getfixturevalue("alertmanager")
    if name == "rollout-under-load":  # its SLO is read from a Prometheus scraping seal
        environ |= prometheus_scraping_seal(
            request.getfixturevalue("tmp_path"), request.addfinalizer
        )
    return environ


def _grant(box: Sandbox, tmp_path: Path, policy: str, *flags: str) -> tuple[str, Path]:
    """`seal rbac` applied with kubectl; the kubeconfig of the account's token."""
    printed = _seal("rbac", "--policy-file", policy, "--service-account", ACCOUNT, *flags)
    assert printed.returncode == 0, printed.stderr
    _kubectl(box, printed.stdout, "apply")
    accounts.grant(box, "default", "chaos", CLOUD_RULES, name="sandbox-cloud")
    token = accounts.mint_token(box, "default", "chaos")
    return printed.stdout, accounts.write_kubeconfig(box, token, tmp_path / "chaos.kubeconfig")


def _run(kubeconfig: Path, policy: str, state: Path, env: dict[str, str], *extra: str) -> Any:
    return _seal(
        "autonomous",
        "--kubeconfig",
        str(kubeconfig),
        "--policy-file",
        policy,
        "--state-dir",
        str(state),
        "--seed",
        "1",
        *extra,
        env=env,
    )


def _pending(state: Path) -> bool:
    """Whether the journal keeps an undo."""
    return any(p.read_text().strip() for p in state.glob("*.jsonl"))


def _leftovers(box: Sandbox) -> list[str]:
    """What a chaos run may leave behind: clones, retargeted services, applied objects,
    stopped machines."""

    def look(store: Any) -> list[str]:
        found = [
            f"deployment {d['metadata']['namespace']}/{d['metadata']['name']}"
            for d in store.list("deployments")
            if d["metadata"]["name"].endswith("-chaos")
        ]
        found += [
            f"service {s['metadata']['namespace']}/{s['metadata']['name']} selects chaos"
            for s in store.list("services")
            if "chaos" in ((s.get("spec") or {}).get("selector") or {})
        ]
        found += [
            f"{kind} slo-probe"
            for kind in ("pods", "services")
            if any(
                o["metadata"]["name"] == "slo-probe" and not o["metadata"].get("deletionTimestamp")
                for o in store.list(kind, "default")
            )
        ]
        return found

    found: list[str] = box.call(look)
    down = box.call(lambda store: [m.id for m in box.machines.by_id.values() if not m.running])
    return found + [f"machine {machine} is down" for machine in down]


@pytest.mark.parametrize("namespaced", [False, True], ids=["clusterrole", "namespaced"])
@pytest.mark.parametrize("name", POLICIES)
def test_policy_runs_with_exactly_the_printed_role(
    name: str, namespaced: bool, box: Sandbox, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    policy = f"policies/{name}.yml"
    _, kubeconfig = _grant(box, tmp_path, policy, *(["--namespaced"] if namespaced else []))
    result = _run(kubeconfig, policy, tmp_path / "state", _environ(request, name))
    assert result.returncode == 0, result.stderr
    assert "preflight: the cluster allows all" in result.stderr
    assert "forbidden" not in result.stderr
    assert not _pending(tmp_path / "state")
    assert _leftovers(box) == []


def _pairs(rule: dict[str, Any]) -> set[str]:
    """`verbs: [v], ... resources: [r]` as preflight writes each (resource, verb) pair."""
    return {
        f"resources: [{resource}], verbs: [{verb}]"
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def _without(printed: str, index: int) -> tuple[str, dict[str, Any]]:
    """The printed YAML with rule `index` of its ClusterRole taken out, and that rule."""
    documents = list(yaml.safe_load_all(printed))
    role = next(d for d in documents if d["kind"] == "ClusterRole")
    removed = role["rules"].pop(index)
    return yaml.safe_dump_all(documents), removed


def _missing_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("  - ")]


@pytest.mark.parametrize("name", POLICIES)
def test_without_any_one_rule_preflight_names_it_and_the_step_fails_clean(
    name: str, box: Sandbox, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    policy = f"policies/{name}.yml"
    env = _environ(request, name)
    printed, kubeconfig = _grant(box, tmp_path, policy)
    full = next(d for d in yaml.safe_load_all(printed) if d["kind"] == "ClusterRole")["rules"]
    assert full
    for index in range(len(full)):
        reduced, rule = _without(printed, index)
        _kubectl(box, reduced, "apply")
        state = tmp_path / f"state-{index}"
        checked = _run(kubeconfig, policy, state, env)
        forbidden = [f'cannot {v} resource "{r}"' for r in rule["resources"] for v in rule["verbs"]]
        if rule.get("resourceNames") == ["kube-system"]:
            # which cluster this is comes first: seal says what it needs and stops
            assert checked.returncode == 3, checked.stderr
            assert "needs `get` on namespace kube-system" in checked.stderr
            continue
        assert checked.returncode == 4, checked.stderr
        listed = _missing_lines(checked.stderr)
        assert listed, checked.stderr
        assert all(any(pair in line for pair in _pairs(rule)) for line in listed), listed
        assert {p for p in _pairs(rule) if any(p in line for line in listed)} == _pairs(rule)
        assert f"would deny {len(listed)} request(s)" in checked.stderr
        assert not _pending(state) and _leftovers(box) == []

        skipped = _run(kubeconfig, policy, state, env, "--skip-preflight")
        assert "preflight" not in skipped.stderr.replace("--skip-preflight", "")
        assert USER in skipped.stderr, skipped.stderr
        assert any(text in skipped.stderr for text in forbidden), (forbidden, skipped.stderr)
        if _pending(state):
            # the permission was the undo's own: the journal keeps it for a user who has it
            admin = _seal(
                "cleanup", "--kubeconfig", str(box.kubeconfig_path), "--state-dir", str(state)
            )
            assert admin.returncode == 0, admin.stderr
        assert not _pending(state)
        assert _leftovers(box) == [], skipped.stderr
    _kubectl(box, printed, "apply")
    assert _run(kubeconfig, policy, tmp_path / "state-after", env).returncode == 0
