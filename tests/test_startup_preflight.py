"""Preflight sends its access reviews together, through the run's KubeClient and pool.

Asserted without timing: a local API endpoint holds every SelfSubjectAccessReview until
all of them are in flight at once (a barrier); sent one after another, the first would
wait alone and the barrier would break. The answers keep their needs' order.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from seal.adapters.kube import KubeClient
from seal.adapters.kubeconfig import ClusterConnection
from seal.errors import PermissionsMissing
from seal.runtime import preflight
from seal.runtime.rbac import Need

NEEDS = {
    Need("list", "pods", namespace="default"): ["a podAction"],
    Need("delete", "pods", namespace="default"): ["a podAction"],
    Need("create", "events", namespace="default"): ["events"],
    Need("list", "nodes"): ["a nodeAction"],
    Need("get", "deployments", "apps", namespace="default"): ["a probe"],
}
DENIED = {"delete", "get"}  # verbs the endpoint refuses


class _Reviews(BaseHTTPRequestHandler):
    barrier: threading.Barrier
    in_flight = 0
    most = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        cls = type(self)
        with cls.lock:
            cls.in_flight += 1
            cls.most = max(cls.most, cls.in_flight)
        try:
            cls.barrier.wait()  # every review of the run is in flight, or it breaks
            allowed = body["spec"]["resourceAttributes"]["verb"] not in DENIED
        except threading.BrokenBarrierError:
            allowed = False
        finally:
            with cls.lock:
                cls.in_flight -= 1
        answer = json.dumps({"status": {"allowed": allowed}}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class _Services:
    kube: KubeClient


@pytest.fixture
def api() -> Iterator[tuple[type[_Reviews], str]]:
    handler = type("Reviews", (_Reviews,), {"barrier": threading.Barrier(len(NEEDS), timeout=20)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(10)


def test_the_reviews_are_in_flight_together(api: tuple[type[_Reviews], str]) -> None:
    handler, url = api
    client = KubeClient(ClusterConnection(url, token="t"), pool_size=8)
    with ThreadPoolExecutor(max_workers=8) as pool:
        ask = preflight.asker(_Services(client))  # type: ignore[arg-type]
        with pytest.raises(PermissionsMissing) as refused:
            preflight.preflight(NEEDS, ask, pool)
    assert handler.most == len(NEEDS)
    assert not handler.barrier.broken
    denied = [line for line in str(refused.value).splitlines() if line.startswith("  - ")]
    assert [line.split("verbs: [")[1].split("]")[0] for line in denied] == ["delete", "get"]


def test_without_a_pool_they_go_one_by_one(api: tuple[type[_Reviews], str]) -> None:
    handler, url = api
    handler.barrier = threading.Barrier(1)  # each review passes alone
    client = KubeClient(ClusterConnection(url, token="t"), pool_size=8)
    ask = preflight.asker(_Services(client))  # type: ignore[arg-type]
    denied = preflight.missing(NEEDS, ask)
    assert handler.most == 1
    assert [need.verb for need in denied] == ["delete", "get"]
