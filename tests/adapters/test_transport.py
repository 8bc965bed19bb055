"""seal's keep-alive transport to the API server: connections reused, answers read by
Content-Length, chunks or to the end, a connection the server dropped noticed, bad
answers reported, and all of it through the KubeClient against the sandbox too."""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from seal.adapters.kube import KubeClient
from seal.adapters.kubeconfig import ClusterConnection, resolve
from seal.adapters.transport import ApiTransport, TransportError
from seal.errors import KubeError, NotFoundError
from tests.conftest import SandboxFactory

#: what a scripted server does with one accepted connection
Script = Callable[[socket.socket, list[bytes]], None]


def read_request(conn: socket.socket) -> bytes:
    """One request's head and body (by Content-Length), or b"" at the end."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            wanted = int(line.split(b":")[1])
            while len(body) < wanted:
                body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


@contextmanager
def scripted(script: Script) -> Iterator[tuple[str, list[bytes], list[int]]]:
    """A loopback server running `script` on each connection; yields its URL, the requests
    it read and a one-item list counting the connections it accepted."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    requests: list[bytes] = []
    accepted = [0]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted[0] += 1
            conn.settimeout(10)
            threading.Thread(target=_run, args=(script, conn, requests), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", requests, accepted
    finally:
        stop.set()
        listener.close()


def _run(script: Script, conn: socket.socket, requests: list[bytes]) -> None:
    try:
        script(conn, requests)
    except OSError:
        pass
    finally:
        conn.close()


def answering(*answers: bytes) -> Script:
    """Reads a request and sends the next answer, for each answer in turn."""

    def script(conn: socket.socket, requests: list[bytes]) -> None:
        for answer in answers:
            request = read_request(conn)
            if not request:
                return
            requests.append(request)
            conn.sendall(answer)

    return script


OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"a": "ok"}'


def client(url: str, **kwargs: float) -> ApiTransport:
    return ApiTransport(url, context=None, read_timeout=kwargs.get("read_timeout", 5.0))


def test_a_keep_alive_connection_carries_many_requests() -> None:
    with scripted(answering(*[OK] * 5)) as (url, requests, accepted):
        transport = client(url)
        answers = [transport.request("GET", f"/x/{i}", {"Accept": "a/b"}) for i in range(5)]
    assert [a.data for a in answers] == [b'{"a": "ok"}'] * 5
    assert answers[0].headers.get("CONTENT-TYPE") == "application/json"
    assert accepted[0] == transport.connections_made == 1
    assert requests[3].startswith(b"GET /x/3 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\nAccept: a/b\r\n" in requests[3]


def test_a_chunked_answer_is_read_whole_and_the_connection_reused() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\n{\"a\"\r\n6;ext=1\r\n: [1, \r\n3\r\n2]}\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    with scripted(answering(chunked, OK)) as (url, _, accepted):
        transport = client(url)
        first = transport.request("GET", "/chunked", {})
        second = transport.request("GET", "/after", {})
    assert first.data == b'{"a": [1, 2]}'
    assert second.status == 200 and accepted[0] == 1


def test_an_answer_without_length_is_read_to_the_end_and_its_connection_not_reused() -> None:
    to_close = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nthe whole body"
    with scripted(answering(to_close)) as (url, _, accepted):
        transport = client(url)
        assert transport.request("GET", "/a", {}).data == b"the whole body"
        assert transport.request("GET", "/b", {}).data == b"the whole body"
    assert accepted[0] == transport.connections_made == 2


def test_an_interim_100_continue_is_skipped_and_204_has_no_body() -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}"
    with scripted(answering(interim, b"HTTP/1.1 204 No Content\r\n\r\n", OK)) as (url, reqs, _):
        transport = client(url)
        created = transport.request("POST", "/make", {"Content-Type": "x"}, b'{"k": 1}')
        empty = transport.request("DELETE", "/gone", {})
        last = transport.request("GET", "/last", {})
    assert (created.status, created.data) == (201, b"{}")
    assert (empty.status, empty.data) == (204, b"")
    assert last.data == b'{"a": "ok"}'
    assert reqs[0].endswith(b'Content-Length: 8\r\n\r\n{"k": 1}')


def test_a_connection_the_server_dropped_while_idle_is_not_reused() -> None:
    # The server answers once and closes: the next request, not idempotent, must not
    # be sent on the dead connection.
    with scripted(answering(OK)) as (url, _, accepted):
        transport = client(url)
        transport.request("POST", "/one", {}, b"{}")
        (idle,) = transport._idle
        readable, _, _ = select.select([idle.sock], [], [], 5)
        assert readable  # the server's close has arrived
        assert transport.request("POST", "/two", {}, b"{}").status == 200
    assert accepted[0] == transport.connections_made == 2


def closing_after_reading_the_second() -> Script:
    """Answers the first request, reads the second and closes without answering it."""

    def script(conn: socket.socket, requests: list[bytes]) -> None:
        if len(requests) == 0:
            requests.append(read_request(conn))
            conn.sendall(OK)
            requests.append(read_request(conn))
            return  # closed, unanswered
        while request := read_request(conn):
            requests.append(request)
            conn.sendall(OK)

    return script


def test_an_idempotent_request_on_a_dropped_connection_is_sent_once_more() -> None:
    with scripted(closing_after_reading_the_second()) as (url, requests, accepted):
        transport = client(url)
        transport.request("GET", "/first", {})
        answer = transport.request("GET", "/second", {}, idempotent=True)
    assert answer.status == 200 and accepted[0] == 2
    assert [r.split(b" ")[1] for r in requests] == [b"/first", b"/second", b"/second"]


def test_a_request_that_is_not_idempotent_is_not_sent_twice() -> None:
    with scripted(closing_after_reading_the_second()) as (url, requests, _):
        transport = client(url)
        transport.request("POST", "/first", {}, b"{}")
        with pytest.raises(TransportError, match="closed the connection without answering"):
            transport.request("POST", "/second", {}, b"{}")
    assert [r.split(b" ")[1] for r in requests] == [b"/first", b"/second"]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.x answer"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "a malformed header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", "a malformed Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort", "in the middle of the answer"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70_000, "headers are too long"),
    ],
)
def test_a_broken_answer_is_an_error_that_says_what_was_wrong(answer: bytes, message: str) -> None:
    with scripted(answering(answer)) as (url, _, _), pytest.raises(TransportError, match=message):
        client(url).request("GET", "/x", {})


def test_a_server_that_does_not_answer_in_time_is_an_error() -> None:
    def silent(conn: socket.socket, requests: list[bytes]) -> None:
        requests.append(read_request(conn))
        conn.recv(1)  # holds the connection until the client gives up

    with scripted(silent) as (url, _, _), pytest.raises(TransportError, match="timed out"):
        client(url, read_timeout=0.3).request("GET", "/slow", {})


def test_a_header_value_with_a_line_break_is_refused_before_anything_is_sent() -> None:
    with (
        scripted(answering(OK)) as (url, requests, accepted),
        pytest.raises(TransportError, match="line break"),
    ):
        client(url).request("GET", "/x", {"X-Evil": "a\r\nInjected: 1"})
    assert requests == [] and accepted[0] == 0


def test_a_server_under_a_path_gets_requests_under_that_path() -> None:
    body = b'{"kind": "Status", "reason": "NotFound", "message": "pods \\"p\\" not found"}'
    missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    with scripted(answering(missing)) as (url, requests, _):
        kube = KubeClient(ClusterConnection(server=url + "/k8s/clusters/c-1/"))
        with pytest.raises(NotFoundError, match='pods "p" not found'):
            kube.get_pod("default", "p")
    assert requests[0].startswith(b"GET /k8s/clusters/c-1/api/v1/namespaces/default/pods/p ")


def test_a_kube_client_that_cannot_connect_says_where_it_tried() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    kube = KubeClient(ClusterConnection(server=f"http://127.0.0.1:{port}"))
    with pytest.raises(KubeError, match=rf"POST /x: cannot reach the API server .*{port}"):
        kube.request("POST", "/x", body={})


def test_against_the_sandbox_tls_connections_are_reused_and_bounded(
    sandbox_factory: SandboxFactory,
) -> None:
    box = sandbox_factory()
    kube = KubeClient(resolve(str(box.kubeconfig_path)), pool_size=4)
    transport = kube._transport
    assert transport is not None and transport.endpoint.tls
    pods = kube.list_pods("default")
    for pod in pods:
        assert kube.get_pod(pod.namespace, pod.name).uid == pod.uid
    assert transport.connections_made == 1

    def missing(index: int) -> bool:
        try:
            kube.get_pod("default", f"no-such-pod-{index}")
        except NotFoundError:
            return True
        return False

    with ThreadPoolExecutor(max_workers=12) as pool:
        assert all(pool.map(missing, range(200)))
    assert transport.connections_made <= 4
    kube.close()
    assert kube.get_pod(pods[0].namespace, pods[0].name).name == pods[0].name


def test_a_server_behind_a_proxy_is_reached_through_the_proxy() -> None:
    with scripted(answering(OK, OK)) as (proxy, requests, accepted):
        kube = KubeClient(
            ClusterConnection(server="http://cluster.invalid:6443", proxy_url=proxy)
        )
        assert kube._transport is None
        assert kube.request("GET", "/version") == {"a": "ok"}
        assert kube.request("DELETE", "/api/v1/namespaces/a/pods/b") == {"a": "ok"}
    # absolute-form requests, as a proxy is sent them; no connection to the cluster itself
    assert requests[0].startswith(b"GET http://cluster.invalid:6443/version HTTP/1.1\r\n")
    assert requests[1].startswith(b"DELETE http://cluster.invalid:6443/api/v1/namespaces/a/")
    assert accepted[0] == 1
