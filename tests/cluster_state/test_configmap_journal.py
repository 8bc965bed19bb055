"""The undo journal in a ConfigMap of the sandbox: record, replay (LIFO), compaction,
optimistic concurrency (a 409 read again, nothing lost), and the size bound, which refuses
a record before its change is made."""

from __future__ import annotations

import shutil
import threading
from typing import Any

import pytest

from seal.adapters.identity import identify
from seal.errors import NotFoundError, UndoError
from seal.runtime.journal import UndoEntry, UndoJournal
from seal.runtime.journal_configmap import DATA_KEY, ConfigMapStore, configmap_name
from seal.runtime.scenario import ScenarioUndo
from seal.steps.kubectl import STEP
from tests.cluster_state.conftest import NAMESPACE, Cluster
from tests.steps.conftest import HarnessFactory, harness_factory  # noqa: F401 (a fixture)


def store(cluster: Cluster, **kwargs: Any) -> ConfigMapStore:
    name = configmap_name(identify(cluster.kube).uid)
    return ConfigMapStore(cluster.client(), NAMESPACE, name, **kwargs)


def journal(cluster: Cluster, **kwargs: Any) -> UndoJournal:
    return UndoJournal(store(cluster, **kwargs), identity=identify(cluster.kube))


def data(cluster: Cluster) -> str:
    name = configmap_name(identify(cluster.kube).uid)
    found = cluster.kube.request("GET", f"/api/v1/namespaces/{NAMESPACE}/configmaps/{name}")
    return str(found["data"][DATA_KEY])


def test_records_survive_the_process_and_replay_last_in_first_out(cluster: Cluster) -> None:
    first = journal(cluster)
    assert first.where.startswith(f"ConfigMap {NAMESPACE}/seal-journal-")
    for n in range(3):
        first.record("note", {"n": n}, scenario="s#1", description=f"undo {n}", policy="p.yml")
    first.close()  # the pod is gone; its journal is not
    assert len(data(cluster).splitlines()) == 3
    # the listing a user sees with kubectl
    listed = cluster.kubectl("get", "configmap", "-n", NAMESPACE, "-o", "name")
    assert f"configmap/{configmap_name(identify(cluster.kube).uid)}" in listed

    second = journal(cluster)
    assert [e.payload["n"] for e in second.pending()] == [0, 1, 2]
    assert second.pending()[0].policy == "p.yml"
    done: list[int] = []

    def handler(entry: UndoEntry) -> None:
        done.append(entry.payload["n"])

    report = second.replay({"note": handler})
    assert (report.undone, report.failed) == (3, ())
    assert done == [2, 1, 0]
    assert data(cluster) == ""
    assert len(journal(cluster)) == 0


def test_done_undos_are_compacted_away(cluster: Cluster) -> None:
    j = journal(cluster)
    entries = [j.record("note", {"n": n}, scenario="s#1", description="d") for n in range(4)]
    for entry in entries[:3]:
        j.discard(entry)
    lines = data(cluster).splitlines()
    assert len(lines) == 1 and entries[3].id in lines[0]
    j.discard(entries[3])
    assert data(cluster) == ""


def test_a_writer_that_meets_a_conflict_reads_again_and_nothing_is_lost(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = store(cluster), store(cluster)
    a.append({"op": "record", "id": "a0", "kind": "note"})
    reads = {"n": 0}
    real_get = a._get

    def get_then_b_writes() -> Any:
        found = real_get()
        reads["n"] += 1
        if reads["n"] == 1:  # B writes between A's read and A's write: A's PUT is a 409
            b.append({"op": "record", "id": "b1", "kind": "note"})
        return found

    monkeypatch.setattr(a, "_get", get_then_b_writes)
    a.append({"op": "record", "id": "a1", "kind": "note"})
    assert a.conflicts == 1 and reads["n"] == 2
    assert [r["id"] for r in store(cluster).load()] == ["a0", "b1", "a1"]


def test_two_writers_at_once_lose_nothing(cluster: Cluster) -> None:
    writers = [store(cluster), store(cluster)]

    def write(index: int) -> None:
        for n in range(15):
            writers[index].append({"op": "record", "id": f"w{index}-{n}", "kind": "note"})

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    ids = {r["id"] for r in store(cluster).load()}
    assert ids == {f"w{i}-{n}" for i in range(2) for n in range(15)}


def test_over_the_bound_a_record_is_refused_and_earlier_ones_kept(cluster: Cluster) -> None:
    j = journal(cluster, limit=2000)
    kept = j.record("note", {"blob": "x" * 1200}, scenario="s#1", description="big")
    with pytest.raises(UndoError) as refused:
        j.record("note", {"blob": "y" * 1200}, scenario="s#1", description="bigger")
    message = str(refused.value)
    assert "refused to record this undo, so the change is not made" in message
    assert "over the journal's bound of 2000 bytes" in message
    assert [e.id for e in journal(cluster).pending()] == [kept.id]
    j.discard(kept)  # a done always goes through, and makes room
    j.record("note", {"blob": "y" * 1200}, scenario="s#1", description="fits now")


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")
def test_a_kubectl_apply_over_the_bound_is_not_made(
    harness_factory: HarnessFactory,  # noqa: F811
) -> None:
    harness = harness_factory()
    kube = harness.kube
    kube.request(
        "POST",
        "/api/v1/namespaces",
        body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
    )
    name = configmap_name(identify(kube).uid)
    small = UndoJournal(ConfigMapStore(kube, NAMESPACE, name, limit=300), identity=identify(kube))
    undo = ScenarioUndo(small, harness.run_id, harness.metrics)
    with pytest.raises(UndoError, match="refused to record this undo"):
        harness.run(
            STEP,
            """\
            - kubectl:
                action: apply
                payload: |
                  apiVersion: v1
                  kind: ConfigMap
                  metadata: {name: never-made, namespace: default}
                  data: {size: large}
            """,
            undo=undo,
        )
    with pytest.raises(NotFoundError):
        kube.request("GET", "/api/v1/namespaces/default/configmaps/never-made")
    assert len(small) == 0
