"""kubectl runs without a shell and with seal's cluster; probes report why they failed."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from seal.adapters.http import ProbeError, Prober, ProbeRequest
from seal.adapters.kubectl import KubectlTarget, kubectl_environment, run_kubectl
from seal.errors import ExecutionError


def fake_kubectl(tmp_path: Path, body: str) -> str:
    script = tmp_path / "kubectl"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return str(script)


def test_arguments_stdin_and_environment(tmp_path: Path) -> None:
    binary = fake_kubectl(tmp_path, 'echo "args: $*"; echo "proxy: ${HTTPS_PROXY:-none}"; cat\n')
    out = run_kubectl(
        "apply",
        "kind: List\n",
        KubectlTarget("/k/config", "ctx"),
        binary=binary,
        environ={"HTTPS_PROXY": "http://127.0.0.9:3128", "PATH": "/usr/bin"},
    )
    assert out.splitlines() == [
        "args: --kubeconfig /k/config --context ctx apply -f -",
        "proxy: none",
        "kind: List",
    ]
    env = kubectl_environment({"http_proxy": "x", "HOME": "/root"}, "http://127.0.0.1:3128")
    assert env == {
        "HOME": "/root",
        "HTTP_PROXY": "http://127.0.0.1:3128",
        "HTTPS_PROXY": "http://127.0.0.1:3128",
    }


def test_failure_carries_stderr_and_a_hung_kubectl_is_stopped(tmp_path: Path) -> None:
    failing = fake_kubectl(tmp_path, 'echo "error: the server could not find it" >&2; exit 1\n')
    with pytest.raises(ExecutionError, match=r"exit 1.*the server could not find it"):
        run_kubectl("delete", "x", KubectlTarget(), binary=failing)
    hung = fake_kubectl(tmp_path, "sleep 30\n")
    with pytest.raises(ExecutionError, match=r"did not finish within 0\.5s"):
        run_kubectl("apply", "x", KubectlTarget(), binary=hung, timeout=0.5)
    with pytest.raises(ExecutionError, match="cannot run"):
        run_kubectl("apply", "x", KubectlTarget(), binary=str(tmp_path / "absent"))


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        code = 201 if body == b"ping" and self.headers.get("X-Test") == "yes" else 400
        self.send_response(code)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_probe_sends_method_headers_and_body(server: str) -> None:
    answer = Prober().send(ProbeRequest("post", f"{server}/x", (("X-Test", "yes"),), "ping"))
    assert answer.status == 201 and answer.latency_seconds >= 0
    assert Prober().send(ProbeRequest("post", f"{server}/x")).status == 400


def test_probe_failures_say_why() -> None:
    import socket

    with socket.socket() as bound:  # bound but not listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{bound.getsockname()[1]}/"
        with pytest.raises(ProbeError, match="connection refused"):
            Prober().send(ProbeRequest("get", closed, timeout_seconds=1))
        with socket.socket() as silent:  # listening but never answering: a timeout
            silent.bind(("127.0.0.1", 0))
            silent.listen(1)
            url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
            with pytest.raises(ProbeError, match="timed out"):
                Prober().send(ProbeRequest("get", url, timeout_seconds=0.3))


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    """A forward proxy that answers for the origin itself and remembers what it was asked."""

    asked: list[str] = []

    def do_GET(self) -> None:
        ProxyHandler.asked.append(self.path)
        self.send_response(203)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


def serve(handler: type[http.server.BaseHTTPRequestHandler]) -> http.server.ThreadingHTTPServer:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def test_probe_goes_through_the_given_proxy_only(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = serve(ProxyHandler)
    try:
        # A proxy in the environment is ignored: only the step's own proxy is used.
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.server_address[1]}")
        assert (
            Prober().send(ProbeRequest("post", f"{server}/x", (("X-Test", "yes"),), "ping")).status
            == 201
        )
        assert ProxyHandler.asked == []
        through = ProbeRequest(
            "get", f"{server}/health", proxy=f"http://127.0.0.1:{proxy.server_address[1]}"
        )
        assert Prober().send(through).status == 203
        assert ProxyHandler.asked == [f"{server}/health"]
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_insecure_skips_certificate_checks_and_only_then(tmp_path: Path) -> None:
    from sandbox.tls import make_server_tls

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    tls = make_server_tls(tmp_path, "127.0.0.1")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    httpd.socket = tls.server_context().wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{httpd.server_address[1]}/healthz"
    try:
        with pytest.raises(
            ProbeError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"
        ):
            Prober().send(ProbeRequest("get", url, timeout_seconds=5))
        assert (
            Prober().send(ProbeRequest("get", url, timeout_seconds=5, insecure=True)).status == 200
        )
    finally:
        httpd.shutdown()
        httpd.server_close()
