"""What the store's cheaper paths keep as it was: objects handed over, a removed object's
last state, DELETE answers, uids; and the collector's full passes kept short."""

from __future__ import annotations

import gc
import json
import re
import uuid

import pytest

from sandbox import collection
from sandbox.store import Store, new_uid
from tests.conftest import SandboxFactory

UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def _store_with_pod() -> Store:
    store = Store()
    store.create("namespaces", {"metadata": {"name": "default"}})
    store.create(
        "pods",
        {
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "main", "image": "x"}]},
        },
    )
    return store


def test_a_deleted_pod_is_answered_as_it_was_stored_and_watchers_see_it_gone_later() -> None:
    store = _store_with_pod()
    stored = store.get("pods", "default", "web")
    entry = store.delete_entry("pods", "default", "web", grace_period_seconds=0)
    assert json.loads(entry.json()) == stored
    assert store.peek("pods", "default", "web") is None
    added, deleted = [e for e in store.events_since(1) or [] if e.resource == "pods"]
    assert (added.type, deleted.type) == ("ADDED", "DELETED")
    # the DELETED event carries a newer resourceVersion; the ADDED one is left as it was
    assert int(deleted.obj["metadata"]["resourceVersion"]) == store.resource_version
    assert added.obj["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
    assert deleted.obj["spec"] == stored["spec"]


def test_mutate_returns_the_object_as_stored_and_get_a_copy_of_it() -> None:
    store = _store_with_pod()
    before = store.get("pods", "default", "web")
    changed = store.mutate("pods", "default", "web", lambda p: p["metadata"].update(x="1"))
    assert changed is store.peek("pods", "default", "web")
    assert changed["metadata"]["x"] == "1"
    assert int(changed["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    copy = store.get("pods", "default", "web")
    copy["metadata"]["x"] = "2"
    assert store.peek("pods", "default", "web")["metadata"]["x"] == "1"  # type: ignore[index]


def test_an_object_handed_over_is_stored_itself_and_one_given_is_copied() -> None:
    store = _store_with_pod()
    handed = {"metadata": {"name": "a", "namespace": "default"}}
    given = {"metadata": {"name": "b", "namespace": "default"}}
    assert store.create("configmaps", handed, handover=True) is handed
    assert store.peek("configmaps", "default", "a") is handed
    returned = store.create("configmaps", given)
    assert returned is not given and store.peek("configmaps", "default", "b") is not given
    assert "uid" not in given["metadata"]


def test_uids_are_random_version_4_uuids() -> None:
    drawn = {new_uid() for _ in range(5000)}
    assert len(drawn) == 5000
    for text in list(drawn)[:500]:
        assert re.fullmatch(UUID4, text)
        assert str(uuid.UUID(text)) == text


def test_a_running_sandbox_freezes_what_survives_a_large_full_pass_and_collects_young_less_often(
    sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(collection, "FREEZE_AFTER", 1000)
    thresholds = gc.get_threshold()
    box = sandbox_factory()
    assert gc.get_threshold()[0] >= collection.YOUNG_THRESHOLD
    kept = [[i] for i in range(5000)]
    try:
        gc.collect()
        # what survived is out of the collector's passes: no longer in its oldest generation
        assert gc.get_freeze_count() >= len(kept)
        assert not _in_oldest_generation(kept[0])
        box.stop()
        assert collection._after_collection not in gc.callbacks
        assert gc.get_threshold() == thresholds
        more = [[i] for i in range(5000)]
        gc.collect()
        assert _in_oldest_generation(more[0])
        del more
    finally:
        gc.unfreeze()
    assert kept[4999] == [4999]


def _in_oldest_generation(obj: object) -> bool:
    return any(found is obj for found in gc.get_objects(generation=2))


def test_answers_and_watch_lines_carry_integers_orjson_cannot_encode() -> None:
    from sandbox.api import json_response
    from sandbox.watch import _line

    huge = 2**70
    assert json.loads(json_response({"n": huge, "s": "é"}).body) == {"n": huge, "s": "é"}  # type: ignore[arg-type]
    assert json.loads(_line("ADDED", {"n": huge})) == {"type": "ADDED", "object": {"n": huge}}
    assert _line("ADDED", {"s": "é"}).endswith(b"\n")
