"""The kubectl step in process: real kubectl against the sandbox, undos in a real journal."""

from __future__ import annotations

import base64
import shutil

import pytest

from seal.errors import ExecutionError, NotFoundError, SafetyError, StepFailed
from seal.runtime.scenario import replay_undos
from seal.steps.kubectl import KUBECTL_DELETE, STEP
from tests.steps.conftest import ObservingUndo, StepHarness

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")

CONFIGMAP = "/api/v1/namespaces/default/configmaps/chaos-settings"
SERVICE = "/api/v1/namespaces/default/services/chaos-echo"
PAYLOAD = """\
- kubectl:
    action: %s
    payload: |
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: chaos-settings, namespace: default}
      data: {latency: 200ms}
      ---
      apiVersion: v1
      kind: Service
      metadata: {name: chaos-echo, namespace: default}
      spec:
        selector: {app: goldpinger}
        ports: [{port: %s, targetPort: 8080}]
"""


def exists(h: StepHarness, path: str) -> bool:
    try:
        h.kube.request("GET", path)
    except NotFoundError:
        return False
    return True


def test_apply_records_its_undo_before_acting_and_the_undo_deletes_it(
    harness: StepHarness,
) -> None:
    observer = ObservingUndo(
        harness.undo, lambda: (exists(harness, CONFIGMAP), exists(harness, SERVICE))
    )
    outcome = harness.run(STEP, PAYLOAD % ("apply", 8081), undo=observer)
    assert observer.seen == [(False, False)]  # written down while nothing existed yet
    assert outcome.result == "passed"
    assert outcome.reason == "kubectl apply"
    assert outcome.targets == 2
    assert exists(harness, CONFIGMAP) and exists(harness, SERVICE)
    [entry] = harness.journal.pending(harness.run_id)
    assert entry.kind == KUBECTL_DELETE
    # the undo names what it deletes, and holds nothing of its contents
    assert "name: chaos-settings" in entry.payload["manifest"]
    assert "latency" not in entry.payload["manifest"]
    assert f'"kind":"{KUBECTL_DELETE}"' in harness.journal.path.read_text()
    report = replay_undos(harness.journal, harness.context(), harness.metrics, harness.run_id)
    assert report.undone == 1 and report.failed == ()
    assert not exists(harness, CONFIGMAP) and not exists(harness, SERVICE)
    assert len(harness.journal) == 0
    assert harness.metrics.named("pending_undos")[-1] == (0,)


def test_a_failed_apply_fails_the_step_and_what_it_applied_is_still_undone(
    harness: StepHarness,
) -> None:
    with pytest.raises(ExecutionError) as failure:
        harness.run(STEP, PAYLOAD % ("apply", 99999))
    assert "spec.ports[0].port: Invalid value: 99999" in str(failure.value)
    assert exists(harness, CONFIGMAP)  # the first document went in
    assert [e.kind for e in harness.journal.pending(harness.run_id)] == [KUBECTL_DELETE]
    report = replay_undos(harness.journal, harness.context(), harness.metrics, harness.run_id)
    assert report.undone == 1
    assert not exists(harness, CONFIGMAP)


def test_auto_delete_false_records_no_undo(harness: StepHarness) -> None:
    steps = (PAYLOAD % ("apply", 8081)).replace(
        "action: apply", "action: apply\n    autoDelete: false"
    )
    outcome = harness.run(STEP, steps)
    assert outcome.result == "passed"
    assert len(harness.journal) == 0
    assert exists(harness, CONFIGMAP)


def test_delete_action_deletes_and_records_no_undo(harness: StepHarness) -> None:
    harness.store(
        lambda store: store.create(
            "configmaps",
            {"metadata": {"name": "chaos-settings", "namespace": "default"}, "data": {"a": "b"}},
        )
    )
    outcome = harness.run(
        STEP,
        """\
        - kubectl:
            action: delete
            payload: |
              apiVersion: v1
              kind: ConfigMap
              metadata: {name: chaos-settings, namespace: default}
        """,
    )
    assert outcome.result == "passed" and outcome.targets == 1
    assert not exists(harness, CONFIGMAP)
    assert len(harness.journal) == 0


def test_dry_run_asks_the_server_and_changes_nothing(harness: StepHarness) -> None:
    outcome = harness.run(STEP, PAYLOAD % ("apply", 8081), config="safety: {dryRun: true}")
    assert outcome.result == "passed" and outcome.targets == 0
    assert not exists(harness, CONFIGMAP) and not exists(harness, SERVICE)
    assert len(harness.journal) == 0
    # Only the API server knows this port is out of range...
    with pytest.raises(StepFailed) as invalid:
        harness.run(STEP, PAYLOAD % ("apply", 99999), config="safety: {dryRun: true}")
    line = harness.line("- kubectl:") + 1
    assert f"kubectl apply of the payload at line {line} would fail (server dry run)" in str(
        invalid.value
    )
    assert "spec.ports[0].port: Invalid value: 99999" in str(invalid.value)
    # ...and that this namespace does not exist: a client-side dry run would pass both.
    with pytest.raises(StepFailed, match='namespaces "nowhere" not found'):
        harness.run(
            STEP,
            """\
            - kubectl:
                action: apply
                payload: |
                  apiVersion: v1
                  kind: ConfigMap
                  metadata: {name: chaos-settings, namespace: nowhere}
            """,
            config="safety: {dryRun: true}",
        )
    assert not exists(harness, CONFIGMAP) and len(harness.journal) == 0
    assert harness.clock.slept == []


def test_a_refused_apply_changes_nothing_and_leaves_no_undo(harness: StepHarness) -> None:
    steps = (PAYLOAD % ("apply", 8081)).replace("namespace: default}", "namespace: kube-system}")
    with pytest.raises(SafetyError, match="kube-system is a protected namespace"):
        harness.run(STEP, steps)
    # no pending delete of what the rules protect
    assert len(harness.journal) == 0


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ("'{not: [closed'", "its payload is not readable YAML"),
        ("'just words'", "its payload holds something other than objects with a kind"),
        ("'{kind: List, items: [3]}'", "its payload holds something other than objects with a"),
    ],
)
def test_a_payload_seal_cannot_read_is_refused_before_kubectl_sees_it(
    harness: StepHarness, payload: str, why: str
) -> None:
    with pytest.raises(SafetyError) as refused:
        harness.run(STEP, f"- kubectl:\n    action: apply\n    payload: {payload}\n")
    line = harness.line("action: apply")
    assert str(refused.value).startswith(f"kubectl apply at line {line} refused, nothing was ")
    assert why in str(refused.value)
    assert "cannot check it against the safety rules" in str(refused.value)
    assert len(harness.journal) == 0


@pytest.mark.parametrize(
    ("message", "transient"),
    [
        (
            'error validating "STDIN": error validating data: failed to download openapi: '
            "unknown; if you choose to ignore these errors, turn validation off with "
            "--validate=false",
            True,
        ),
        ("Error from server (InternalError): an error on the server (\"boom\") has "
         "prevented the request from succeeding", True),
        ('Get "https://127.0.0.1:6443/api?timeout=32s": EOF', True),
        ("Error from server (TooManyRequests): the server has received too many requests",
         True),
        ('error validating data: ValidationError(ConfigMap): unknown field "dat"', False),
        ('Error from server (Forbidden): configmaps "x" is forbidden', False),
    ],
)
def test_what_counts_as_a_transient_kubectl_failure(message: str, transient: bool) -> None:
    from seal.steps.kubectl import TRANSIENT

    assert bool(TRANSIENT.search(message)) is transient


SECRET = """\
- kubectl:
    action: apply
    payload: |
      apiVersion: v1
      kind: Secret
      metadata: {name: chaos-credentials, namespace: default, labels: {team: sre}}
      stringData: {password: hunter2-in-the-policy}
"""


def test_the_journal_holds_no_secret_of_an_applied_manifest(harness: StepHarness) -> None:
    secret = "/api/v1/namespaces/default/secrets/chaos-credentials"
    outcome = harness.run(STEP, SECRET)
    assert outcome.result == "passed" and exists(harness, secret)
    stored = harness.kube.request("GET", secret)
    assert stored["type"] == "Opaque" and "stringData" not in stored  # as a server keeps it
    assert base64.b64decode(stored["data"]["password"]) == b"hunter2-in-the-policy"
    [entry] = harness.journal.pending(harness.run_id)
    assert "hunter2" not in harness.journal.path.read_text()
    assert "team" not in entry.payload["manifest"]
    report = replay_undos(harness.journal, harness.context(), harness.metrics, harness.run_id)
    assert report.undone == 1 and report.failed == ()
    assert not exists(harness, secret)  # the identity alone was enough to delete it

