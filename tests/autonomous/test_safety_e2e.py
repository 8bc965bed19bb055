"""Safety rules end to end: seal's own pod, protected namespaces, pods already terminating."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sandbox.sandbox import Sandbox
from sandbox.timing import SandboxTiming
from tests.autonomous.helpers import (
    REPO,
    live_pod_names,
    run_seal,
    seal_command,
    seal_events,
    write_policy,
)
from tests.conftest import SandboxFactory

KILL_ALL = """\
scenarios:
- name: kill every pod of two namespaces
  steps:
  - podAction:
      matches: [{namespace: "default,myapp"}]
      actions: [{kill: {force: true}}]
"""


def test_seals_own_pod_and_protected_namespaces_are_left_alone(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    box = sandbox_factory()
    own = sorted(live_pod_names(box, "default", "app=goldpinger"))[0]
    policy = write_policy(
        tmp_path,
        KILL_ALL.replace("scenarios:", "  safety: {protectedNamespaces: [myapp]}\nscenarios:"),
    )
    env = {**os.environ, "POD_NAME": own, "POD_NAMESPACE": "default"}
    result = subprocess.run(
        seal_command(box, policy, tmp_path / "state"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    killed = {
        (e["involvedObject"]["namespace"], e["involvedObject"]["name"]) for e in seal_events(box)
    }
    assert len(killed) == 2
    assert ("default", own) not in killed
    assert not [k for k in killed if k[0] == "myapp"]
    assert f"leaving default/{own} alone: it is seal's own pod" in result.stderr
    assert "namespace myapp is in protectedNamespaces" in result.stderr


def test_a_pod_already_terminating_is_not_killed_twice(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    slow_stop = SandboxTiming(pod_start_seconds=0.1, pod_stop_seconds=60, tick_seconds=0.02)
    box = sandbox_factory(timing=slow_stop)
    dying = sorted(live_pod_names(box, "default", "app=goldpinger"))[0]
    box.call(lambda store: store.delete("pods", "default", dying, grace_period_seconds=30))
    policy = write_policy(tmp_path, KILL_ALL.replace('"default,myapp"', "default"))
    result = run_seal(box, policy, tmp_path / "state")
    assert result.returncode == 0, result.stderr
    assert f"default/{dying} is already terminating; not killing it twice" in result.stderr
    assert dying not in {e["involvedObject"]["name"] for e in seal_events(box)}


def test_json_logs_name_the_scenario_and_step(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    box = sandbox_factory()
    protected = sorted(live_pod_names(box, "myapp", "app=my-service"))[0]
    box.call(
        lambda store: store.mutate(
            "pods",
            "myapp",
            protected,
            lambda p: p["metadata"]["labels"].__setitem__("seal/protected", "true"),
        )
    )
    policy = write_policy(tmp_path, KILL_ALL.replace('"default,myapp"', "myapp"))
    command = seal_command(box, policy, tmp_path / "state")
    command[3:3] = ["--log-format", "json"]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    kills = [line for line in lines if line.get("action") == "kill"]
    assert len(kills) == 2
    assert all(k["scenario"] == "kill every pod of two namespaces" for k in kills)
    assert all(k["step"] == "1:podAction" and k["outcome"] == "success" for k in kills)
    assert all(k["target"].startswith("myapp/my-service-") for k in kills)
    [skip] = [line for line in lines if line.get("action") == "skip"]
    assert skip["target"] == f"myapp/{protected}" and skip["outcome"] == "protected"
    assert "seal/protected=true" in skip["reason"]


def test_sandbox_and_kubeconfig_together_are_a_usage_error(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, "scenarios: []\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "seal",
            "autonomous",
            "--sandbox",
            "--kubeconfig",
            "x",
            "--policy-file",
            str(policy),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 2
    assert "leave out --kubeconfig" in result.stderr


def test_no_usable_journal_means_nothing_is_touched(sandbox: Sandbox, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    before = live_pod_names(sandbox, "default", "app=goldpinger")
    policy = write_policy(
        tmp_path,
        """\
        scenarios:
        - name: kill everything
          steps:
          - podAction:
              matches: [{namespace: default}]
              actions: [{kill: {force: true}}]
        """,
    )
    result = run_seal(sandbox, policy, blocker / "state")
    assert result.returncode == 2
    assert "cannot keep the undo journal there" in result.stderr
    assert "Traceback" not in result.stderr
    assert live_pod_names(sandbox, "default", "app=goldpinger") == before
    assert seal_events(sandbox) == []


def _kubectl_policy(tmp_path: Path, action: str, payload: str, name: str) -> Path:
    indented = "\n".join("                " + line for line in payload.strip().splitlines())
    return write_policy(
        tmp_path,
        f"""\
        scenarios:
        - name: kubectl {action}
          steps:
          - kubectl:
              action: {action}
              payload: |
{indented}
        """,
        name=name,
    )


def test_kubectl_steps_leave_protected_namespaces_and_objects_alone(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    def configmap(namespace: str, name: str, labels: dict[str, str]) -> None:
        sandbox.call(
            lambda store: store.create(
                "configmaps",
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": name, "namespace": namespace, "labels": labels},
                    "data": {"a": "1"},
                },
            )
        )

    def exists(namespace: str, name: str) -> bool:
        return bool(sandbox.call(lambda store: store.peek("configmaps", namespace, name)))

    configmap("kube-system", "cluster-settings", {})
    configmap("default", "precious", {"seal/protected": "true"})
    in_kube_system = _kubectl_policy(
        tmp_path,
        "delete",
        "apiVersion: v1\nkind: ConfigMap\n"
        "metadata: {name: cluster-settings, namespace: kube-system}",
        "system.yml",
    )
    result = run_seal(sandbox, in_kube_system, tmp_path / "state")
    assert result.returncode == 1
    assert "ConfigMap kube-system/cluster-settings: kube-system is a protected namespace" in (
        result.stderr
    )
    assert exists("kube-system", "cluster-settings")
    labelled = _kubectl_policy(
        tmp_path,
        "apply",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: precious}\ndata: {a: changed}",
        "labelled.yml",
    )
    result = run_seal(sandbox, labelled, tmp_path / "state", "--dry-run")
    assert result.returncode == 1
    assert "ConfigMap default/precious is labelled seal/protected=true" in result.stderr
    stored = sandbox.call(lambda store: store.get("configmaps", "default", "precious"))
    assert stored["data"] == {"a": "1"}
    fine = _kubectl_policy(
        tmp_path,
        "apply",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ordinary}\ndata: {a: b}",
        "fine.yml",
    )
    assert run_seal(sandbox, fine, tmp_path / "state").returncode == 0
