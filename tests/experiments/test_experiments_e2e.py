"""Chaos Toolkit experiments run by the seal command against a sandbox: the hypothesis,
the method (a pod terminated, logs read, a Deployment scaled), the rollbacks, and the
journal they leave."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sandbox.sandbox import Sandbox
from seal.policy.loader import load_policy
from seal.steps.registry import STEP_TYPES
from tests.autonomous.helpers import REPO, live_pod_names, run_seal, seal, start
from tests.conftest import wait_for

DATA = Path(__file__).parent / "data"
GREETER = DATA / "greeter.json"


def greeter_url(box: Sandbox) -> str:
    service = box.call(lambda store: store.get("services", "default", "goldpinger"))
    return f"http://{service['spec']['clusterIP']}:8080"


def replicas(box: Sandbox) -> int:
    deployment = box.call(lambda store: store.get("deployments", "default", "goldpinger"))
    return int(deployment["spec"]["replicas"])


def run_experiment(
    box: Sandbox, experiment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, dict[str, Any]]:
    monkeypatch.setenv("GREETER_URL", greeter_url(box))
    journal = tmp_path / "journal.json"
    result = run_seal(box, experiment, tmp_path / "state", "--journal-path", str(journal))
    assert journal.exists(), result.stderr
    return result, json.loads(journal.read_text())


def test_the_greeter_experiment_kills_scales_rolls_back_and_journals(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = live_pod_names(sandbox, "default", "app=goldpinger")
    assert replicas(sandbox) == 3
    result, journal = run_experiment(sandbox, GREETER, tmp_path, monkeypatch)
    assert result.returncode == 0, result.stderr
    assert journal["status"] == "completed" and journal["deviated"] is False
    assert journal["steady_states"]["before"]["steady_state_met"] is True
    assert journal["steady_states"]["after"]["steady_state_met"] is True
    assert [p["activity"]["name"] for p in journal["steady_states"]["before"]["probes"]] == [
        "the-greeter-answers",
        "the-greeter-pods-run",
    ]
    names = [r["activity"]["name"] for r in journal["run"]]
    assert names == [
        "terminate-one-greeter-pod",
        "the-greeter-logs-it-is-ready",
        "scale-the-greeter-up",
        "the-greeter-answers",
    ]
    assert all(r["status"] == "succeeded" for r in journal["run"])
    killed = journal["run"][0]["output"]
    assert killed["targets"] == 1 and killed["actions"][0]["action"] == "kill"
    assert killed["actions"][0]["target"].split("/")[1] in before
    assert "from 3 to 5 replica(s)" in journal["run"][2]["output"]["reason"]
    assert len(journal["rollbacks"]) == 1
    assert "from 5 to 3 replica(s)" in journal["rollbacks"][0]["output"]["reason"]
    for run in [*journal["run"], *journal["rollbacks"]]:
        assert run["start"] <= run["end"] and run["duration"] >= 0
    # for real: one of the pods is gone, and the greeter is back at 3 replicas
    after = live_pod_names(sandbox, "default", "app=goldpinger")
    assert len(before - after) >= 1
    assert replicas(sandbox) == 3
    assert re.search(r"keeps greeting while it loses a pod and scales\s+1\s+passed", result.stdout)


def test_a_hypothesis_not_met_means_no_chaos_a_failed_journal_and_exit_1(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment = json.loads(GREETER.read_text())
    experiment["steady-state-hypothesis"]["probes"][0]["tolerance"] = [201, 202]
    path = tmp_path / "wrong-status.json"
    path.write_text(json.dumps(experiment, indent=1))
    before = live_pod_names(sandbox, "default", "app=goldpinger")
    result, journal = run_experiment(sandbox, path, tmp_path, monkeypatch)
    assert result.returncode == 1, result.stderr
    assert journal["status"] == "failed" and journal["deviated"] is False
    before_state = journal["steady_states"]["before"]
    assert before_state["steady_state_met"] is False
    assert before_state["probes"][0]["tolerance_met"] is False
    assert (
        "answered 200, expected status one of 201, 202" in before_state["probes"][0]["exception"][0]
    )
    assert journal["run"] == [] and journal["rollbacks"] == []
    assert journal["steady_states"]["after"] is None
    assert live_pod_names(sandbox, "default", "app=goldpinger") == before
    assert replicas(sandbox) == 3
    assert "not-steady" in result.stdout


def test_a_failing_method_still_runs_the_rollbacks_then_the_undos(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment = json.loads(GREETER.read_text())
    method = experiment["method"]
    missing = {
        "type": "action",
        "name": "scale-a-deployment-that-is-not-there",
        "provider": {
            "type": "python",
            "module": "chaosk8s.deployment.actions",
            "func": "scale_deployment",
            "arguments": {"name": "nowhere", "replicas": 2},
        },
    }
    experiment["method"] = [method[2], missing, method[0]]
    experiment["rollbacks"][0]["provider"]["arguments"]["replicas"] = 4
    path = tmp_path / "fails.json"
    path.write_text(json.dumps(experiment, indent=1))
    result, journal = run_experiment(sandbox, path, tmp_path, monkeypatch)
    assert result.returncode == 1, result.stderr
    assert journal["status"] == "failed"
    assert [r["status"] for r in journal["run"]] == ["succeeded", "failed"]
    assert "Deployment default/nowhere does not exist" in journal["run"][1]["exception"][0]
    # the rollback ran (5 -> 4), then seal's own undo put back what the method changed (3)
    assert "from 5 to 4 replica(s)" in journal["rollbacks"][0]["output"]["reason"]
    assert replicas(sandbox) == 3
    assert journal["seal"]["undone"] == 1


def test_seal_convert_prints_a_policy_that_validates_and_runs(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    converted = seal("convert", str(GREETER))
    assert converted.returncode == 0, converted.stderr
    text = converted.stdout
    assert "# method[0] 'terminate-one-greeter-pod' (line 37): python chaosk8s.pod.actions" in text
    assert "# rollbacks[0] 'scale-the-greeter-back' (line 72)" in text
    assert "url: ${GREETER_URL:-http://127.0.0.1:8080}/greet" in text
    policy = tmp_path / "greeter.yml"
    policy.write_text(text)
    validated = seal("validate", str(policy))
    assert validated.returncode == 0 and validated.stdout == f"{policy}: OK\n", validated.stderr
    monkeypatch.setenv("GREETER_URL", greeter_url(sandbox))
    before = live_pod_names(sandbox, "default", "app=goldpinger")
    result = run_seal(sandbox, policy, tmp_path / "state")
    assert result.returncode == 0, result.stderr
    assert re.search(r"keeps greeting while it loses a pod and scales\s+1\s+passed", result.stdout)
    assert "scaled Deployment default/goldpinger from 3 to 5 replica(s)" in result.stderr
    assert "scaled Deployment default/goldpinger from 5 to 3 replica(s)" in result.stderr
    assert len(before - live_pod_names(sandbox, "default", "app=goldpinger")) >= 1
    assert replicas(sandbox) == 3
    assert not (tmp_path / "journal.json").exists()  # a policy run writes no journal


def test_journal_path_is_for_experiments_only(tmp_path: Path) -> None:
    policy = tmp_path / "p.yml"
    policy.write_text("scenarios: []\n")
    result = seal("autonomous", "--policy-file", str(policy), "--journal-path", "j.json")
    assert result.returncode == 2
    assert "--journal-path: " in result.stderr and "is a seal policy" in result.stderr


def test_convert_refuses_an_experiment_seal_cannot_run_with_located_problems() -> None:
    bad = DATA / "corpus" / "invalid" / "process-provider.json"
    result = seal("convert", str(bad))
    assert result.returncode == 2 and result.stdout == ""
    assert f"{bad}:8:25: method[0].provider: the provider 'process stress-ng'" in result.stderr


def test_a_signal_interrupts_the_method_the_rollbacks_still_run_and_the_journal_says_so(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    scale_up = json.loads(GREETER.read_text())["method"][2]
    scale_up["pauses"] = {"after": 60}
    experiment = {
        "title": "interrupted while scaled up",
        "method": [scale_up],
        "rollbacks": json.loads(GREETER.read_text())["rollbacks"],
        "configuration": {"namespace": "default"},
    }
    experiment["rollbacks"][0]["pauses"] = {}
    path = tmp_path / "interrupted.json"
    path.write_text(json.dumps(experiment))
    journal = tmp_path / "journal.json"
    process = start(sandbox, path, tmp_path / "state", "--journal-path", str(journal))
    try:
        wait_for(lambda: replicas(sandbox) == 5, timeout=30, what="the scale up")
        time.sleep(0.5)  # into the pause
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    written = json.loads(journal.read_text())
    assert written["status"] == "interrupted"
    assert [r["activity"]["name"] for r in written["run"]] == ["scale-the-greeter-up"]
    [rollback] = written["rollbacks"]
    assert rollback["status"] == "succeeded"
    assert "from 5 to 3 replica(s)" in rollback["output"]["reason"]
    assert replicas(sandbox) == 3


def test_convert_writes_a_literal_secret_as_an_environment_reference(tmp_path: Path) -> None:
    experiment = tmp_path / "secret.json"
    probe = {
        "type": "probe",
        "name": "call",
        "provider": {
            "type": "http",
            "url": "http://127.0.0.1:9/",
            "headers": {"Authorization": "Bearer ${token}", "X-User": "${user}"},
        },
    }
    secrets = {"k8s": {"token": "s3cr3t-literal", "user": {"type": "env", "key": "CTK_USER"}}}
    experiment.write_text(json.dumps({"title": "secrets", "secrets": secrets, "method": [probe]}))
    output = tmp_path / "policy.yml"
    output.write_text("old")
    output.chmod(0o644)
    env = {"CTK_USER": "me"}
    converted = subprocess.run(
        [sys.executable, "-m", "seal", "convert", str(experiment), "-o", str(output)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
        env={**os.environ, **env},
    )
    assert converted.returncode == 0, converted.stderr
    assert "the secret k8s.token is written as ${SEAL_SECRET_K8S_TOKEN}" in converted.stderr
    assert "s3cr3t-literal" not in converted.stderr
    text = output.read_text()
    assert "s3cr3t-literal" not in text
    assert "value: Bearer ${SEAL_SECRET_K8S_TOKEN}" in text
    assert "value: ${CTK_USER}" in text
    assert "# Reads the environment variable SEAL_SECRET_K8S_TOKEN: set it to" in text
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    policy = load_policy(str(output), STEP_TYPES, {"SEAL_SECRET_K8S_TOKEN": "t0k", **env})
    headers = policy.scenarios[0].steps[0].headers  # type: ignore[attr-defined]
    assert headers == (("Authorization", "Bearer t0k"), ("X-User", "me"))


@pytest.mark.parametrize("where", ["nodir/j.json", "adir"])
def test_an_unusable_journal_path_is_refused_before_anything_runs(
    tmp_path: Path, where: str
) -> None:
    (tmp_path / "adir").mkdir()
    path = tmp_path / where
    result = seal("autonomous", "--policy-file", str(GREETER), "--journal-path", str(path))
    assert result.returncode == 2, result.stderr  # not 3: no cluster was reached for
    expected = (
        f"the directory {tmp_path / 'nodir'} does not exist"
        if where.startswith("nodir")
        else f"{path} is a directory; give a file in it"
    )
    assert f"--journal-path: {path}" in result.stderr and expected in result.stderr
    assert "Traceback" not in result.stderr


def test_a_journal_that_cannot_be_written_at_the_end_makes_the_exit_status_1(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    scale_up = json.loads(GREETER.read_text())["method"][2]
    scale_up["pauses"] = {"after": 3}
    experiment = {
        "title": "journal lost",
        "method": [scale_up],
        "rollbacks": json.loads(GREETER.read_text())["rollbacks"],
        "configuration": {"namespace": "default"},
    }
    experiment["rollbacks"][0]["pauses"] = {}
    path = tmp_path / "lost.json"
    path.write_text(json.dumps(experiment))
    directory = tmp_path / "journals"
    directory.mkdir()
    process = start(sandbox, path, tmp_path / "state", "--journal-path", str(directory / "j.json"))
    try:
        wait_for(lambda: replicas(sandbox) == 5, timeout=30, what="the scale up")
        directory.rmdir()  # gone while the experiment runs
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    assert process.returncode == 1, stderr
    assert f"cannot write the journal {directory / 'j.json'}: No such file" in stderr
    assert replicas(sandbox) == 3
