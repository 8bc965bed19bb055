"""The watch cache: pods listed once, then kept current by a watch; what changes between
loops is seen, a 410 Gone lists again, and a policy of many loops lists pods once."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from seal.adapters import watch_cache
from seal.adapters.kube import KubeClient
from seal.adapters.kubeconfig import resolve
from seal.adapters.watch_cache import CachedPods, WatchCache
from seal.runtime.autonomous import read_policy, run_policy
from seal.runtime.services import RunOptions, open_services
from tests.adapters.loopback_api import slow_api
from tests.autonomous.helpers import scale
from tests.conftest import SandboxFactory, wait_for


def _names(cache: WatchCache, namespace: str, selector: str | None) -> set[str]:
    pods = cache.pods(namespace, selector)
    assert pods is not None
    return {p.name for p in pods}


def test_pods_created_and_deleted_between_loops_are_seen(sandbox_factory: SandboxFactory) -> None:
    box = sandbox_factory()
    kube = KubeClient(resolve(str(box.kubeconfig_path)))
    cache = WatchCache(kube)
    assert cache.pods("default", "app=goldpinger") is None  # off until enabled
    cache.enabled = True
    try:
        before = _names(cache, "default", "app=goldpinger")
        assert before == {
            p.name for p in kube.list_pods("default", label_selector="app=goldpinger")
        }
        lists = kube.request_counts["LIST"]
        scale(box, "default", "goldpinger", len(before) + 2)
        grown = wait_for(
            lambda: (names := _names(cache, "default", "app=goldpinger")) - before and names,
            what="the new pods in the cache",
        )
        assert len(grown) == len(before) + 2
        victim = sorted(before)[0]
        kube.delete_pod("default", victim, grace_period_seconds=0)
        wait_for(
            lambda: victim not in _names(cache, "default", "app=goldpinger"),
            what="the deleted pod gone from the cache",
        )
        # served from the watch: no LIST since the cache's first (and the test's own)
        assert kube.request_counts["LIST"] == lists == 2
        assert kube.request_counts["WATCH"] == 1
    finally:
        cache.close()


def test_a_read_after_a_kill_never_sees_the_pod_as_it_was(
    sandbox_factory: SandboxFactory,
) -> None:
    box = sandbox_factory()
    kube = KubeClient(resolve(str(box.kubeconfig_path)))
    cache = WatchCache(kube)
    cache.enabled = True
    cached = CachedPods(kube, cache)
    try:
        first, second = sorted(cached.list_pods("default"), key=lambda p: p.name)[:2]
        cached.delete_pod("default", first.name, grace_period_seconds=0, uid=first.uid)
        cached.delete_pod("default", second.name, uid=second.uid)
        # at once, whether or not the watch has told yet
        now = {p.name: p for p in cached.list_pods("default")}
        assert first.name not in now
        assert second.name not in now or now[second.name].terminating
        wait_for(
            lambda: second.name not in {p.name for p in cached.list_pods("default")},
            what="the gracefully deleted pod gone when the watch says so",
        )
    finally:
        cache.close()


def test_a_410_gone_lists_again(
    sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_cache, "WATCH_SECONDS", 1)  # each watch request ends after 1 s
    box = sandbox_factory()
    kube = KubeClient(resolve(str(box.kubeconfig_path)))
    cache = WatchCache(kube)
    cache.enabled = True
    try:
        assert _names(cache, "default", None)
        informer = next(iter(cache._informers.values()))
        assert informer.lists == 1
        informer._version = "1"  # the next watch asks for history the server no longer has
        wait_for(lambda: informer.lists >= 2, what="a LIST after the 410")
        scale(box, "default", "goldpinger", 5)
        wait_for(
            lambda: sum(n.startswith("goldpinger") for n in _names(cache, "default", None)) == 5,
            what="the cache current again after the relist",
        )
    finally:
        cache.close()


def test_a_broken_watch_falls_back_to_listing(sandbox_factory: SandboxFactory) -> None:
    box = sandbox_factory()
    kube = KubeClient(resolve(str(box.kubeconfig_path)))
    cache = WatchCache(kube, sync_seconds=5.0)
    cache.enabled = True
    cached = CachedPods(kube, cache)
    try:
        assert {p.name for p in cached.list_pods("default")}
        box.stop()  # the API server goes away: the watch breaks, the cache stops answering
        wait_for(lambda: cache.pods("default", None) is None, what="the cache to give up")
        with pytest.raises(Exception, match="cannot reach the API server"):
            cached.list_pods("default")  # listed for real, and failing as a LIST fails
    finally:
        cache.close()


MANY_LOOPS = """\
config:
  runStrategy: {runs: 3, minSecondsBetweenRuns: 0.5, maxSecondsBetweenRuns: 0.5}
scenarios:
- name: kill one goldpinger
  steps:
  - podAction:
      matches: [{labels: {namespace: default, selector: app=goldpinger}}]
      filters: [{randomSample: {size: 1}}]
      actions: [{kill: {force: true}}]
"""


def test_a_policy_of_many_loops_lists_pods_once(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    box = sandbox_factory()
    policy = tmp_path / "policy.yml"
    policy.write_text(MANY_LOOPS)
    options = RunOptions(state_dir=str(tmp_path / "state"), seed=3)
    served = box.request_metrics
    before = served.total("LIST", "pods")
    with open_services(options, resolve(str(box.kubeconfig_path))) as services:
        summary = run_policy(services, str(policy), read_policy(str(policy)))
        watches = services.kube.request_counts["WATCH"]
        assert services.watch_cache is not None
        caches = len(services.watch_cache)
    assert summary.passed == 3
    assert served.total("DELETE", "pods") == 3  # one goldpinger killed each loop
    assert watches >= caches >= 1
    # three loops: each cache (the matcher's, and any other read of pods) listed once
    assert served.total("LIST", "pods") - before == caches < 3


def test_a_single_run_lists_and_never_watches(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    box = sandbox_factory()
    policy = tmp_path / "policy.yml"
    policy.write_text(MANY_LOOPS.replace("runs: 3", "runs: 1"))
    served = box.request_metrics
    before = served.total("LIST", "pods")
    with open_services(
        RunOptions(state_dir=str(tmp_path / "state")), resolve(str(box.kubeconfig_path))
    ) as services:
        assert run_policy(services, str(policy), read_policy(str(policy))).passed == 1
        assert services.watch_cache is not None and len(services.watch_cache) == 0
    # every read of pods is a LIST of its own (the matcher's first), none a watch
    assert served.total("LIST", "pods") - before >= 1
    assert "WATCH" not in services.kube.request_counts


def test_a_forbidden_watch_lists_every_time_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pod = {"metadata": {"name": "web-1", "namespace": "shop", "uid": "u1"}}

    def answer(method: str, path: str) -> tuple[int, bytes]:
        if "watch=1" in path:
            return 403, json.dumps({"reason": "Forbidden", "message": "no watch"}).encode()
        return 200, json.dumps({"metadata": {"resourceVersion": "7"}, "items": [pod]}).encode()

    with slow_api(0.0, answer) as (connection, seen):
        kube = KubeClient(connection)
        cache = WatchCache(kube, sync_seconds=5.0)
        cache.enabled = True
        cached = CachedPods(kube, cache)
        try:
            with caplog.at_level(logging.WARNING, logger="seal.adapters.watch_cache"):
                for _ in range(3):
                    assert [p.name for p in cached.list_pods("shop")] == ["web-1"]
                    time.sleep(0.3)
        finally:
            cache.close()
    watches = [path for _, _, path in seen.arrivals if "watch=1" in path]
    assert len(watches) == 1  # asked once, refused, never again
    assert kube.request_counts["LIST"] >= 3  # the cache's first LIST, then one per call
    assert caplog.text.count("give seal's role `watch` on pods") == 1


def test_stopping_a_cache_as_its_watch_connection_ends_does_not_raise(
    sandbox_factory: SandboxFactory,
) -> None:
    """CI once saw `close` raise EBADF: the watch connection ended and was closed by the
    thread while `stop` was shutting it down. Here the connection is ended (as a server
    or a proxy ends it) just as the cache is closed, many times over."""
    box = sandbox_factory()
    for _ in range(20):
        cache = WatchCache(KubeClient(resolve(str(box.kubeconfig_path))))
        cache.enabled = True
        assert cache.pods("default", "app=goldpinger") is not None
        (informer,) = cache._informers.values()
        answer = wait_for(lambda i=informer: i._answer, what="the watch request open")
        answer.shutdown()
        cache.close()
        assert not informer._thread.is_alive()
