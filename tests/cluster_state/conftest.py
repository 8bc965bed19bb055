"""Fixtures of the in-cluster state tests: a sandbox with seal's namespace, and an API
client on it."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import subprocess
import threading
import urllib.parse
from collections.abc import Iterator
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


class Proxy:
    """A TCP forwarder on loopback in front of the sandbox's API server; `block()` cuts
    every connection and refuses new ones (a seal cut off from the API server)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = int(self.listener.getsockname()[1])
        self.blocked = threading.Event()
        self.closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.blocked.is_set():
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def block(self) -> None:
        self.blocked.set()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self._sockets.clear()

    def close(self) -> None:
        self.closed.set()
        self.block()
        self.listener.close()

    def client(self, box: Sandbox, timeout: float = 5.0) -> KubeClient:
        connection = resolve(str(box.kubeconfig_path))
        port = urllib.parse.urlsplit(connection.server).port
        assert port == self.target_port
        moved = dataclasses.replace(connection, server=f"https://127.0.0.1:{self.port}")
        return KubeClient(moved, timeout=timeout)


@pytest.fixture
def proxy(cluster: Cluster) -> Iterator[Proxy]:
    port = urllib.parse.urlsplit(cluster.kube.connection.server).port
    assert port is not None
    forwarder = Proxy(port)
    yield forwarder
    forwarder.close()
