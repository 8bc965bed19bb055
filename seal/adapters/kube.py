"""A thin, thread-safe Kubernetes API client (JSON, paginated, retried).

Talks HTTP(S) to the API server of a `ClusterConnection`: requests through seal's own
keep-alive transport (seal/adapters/transport.py), watch streams and servers behind a
proxy through urllib3. Every failure becomes a `seal.errors.KubeError` (or a subclass)
with the server's reason.
"""

from __future__ import annotations

import base64
import collections
import functools
import json
import logging
import random
import ssl
import threading
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from seal.adapters.credentials import Credentials
from seal.adapters.event_objects import involved, send_event
from seal.adapters.kubeconfig import ClusterConnection
from seal.adapters.objects import Obj, node_from_api, pod_from_api
from seal.adapters.ratelimit import STREAMS, PacedPool, TokenBucket
from seal.adapters.transport import Answer, ApiTransport, TransportError, tls_context
from seal.clock import Clock, SystemClock
from seal.errors import ConflictError, EvictionRefused, KubeError, NotFoundError
from seal.labels import selector_from_match
from seal.model import Node, Pod, ServiceInfo

if TYPE_CHECKING:
    import urllib3

log = logging.getLogger(__name__)
PAGE_SIZE = 500
MAX_ATTEMPTS = 5
MAX_BACKOFF_SECONDS = 5.0
_RETRIED_STATUSES = {429, 500, 502, 503, 504}


def _status_message(status: int, body: bytes) -> tuple[str, str]:
    try:
        data = json.loads(body)
        return str(data.get("message") or body[:300]), str(data.get("reason") or "")
    except ValueError:
        return body[:300].decode(errors="replace") or f"HTTP {status}", ""


def _decoded(data: bytes, text: bool) -> Obj:
    if text:
        return {"text": data.decode("utf-8", errors="replace")}
    return json.loads(data) if data else {}


def _urllib3_pool(connection: ClusterConnection, size: int) -> urllib3.PoolManager:
    """The urllib3 pool of watch streams, and of every request behind a proxy."""
    import urllib3

    tls: dict[str, Any] = {}
    if connection.insecure:
        # Said once when the client was made rather than by urllib3 on every request.
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    if connection.server.startswith("https"):
        tls = {
            "cert_reqs": ssl.CERT_NONE if connection.insecure else ssl.CERT_REQUIRED,
            "ca_certs": connection.ca_file,
            "cert_file": connection.client_cert_file,
            "key_file": connection.client_key_file,
        }
        if connection.tls_server_name:
            tls["server_hostname"] = connection.tls_server_name
    if connection.proxy_url:
        return urllib3.ProxyManager(connection.proxy_url, maxsize=size, **tls)
    return urllib3.PoolManager(maxsize=size, **tls)


class KubeClient:
    """One API server; safe to share between threads (pooled connections)."""

    def __init__(
        self,
        connection: ClusterConnection,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        pool_size: int = 32,
        timeout: float = 30.0,
        rate_limiter: TokenBucket | None = None,
    ) -> None:
        """`pool_size` bounds the requests in flight (and the pooled connections);
        `rate_limiter` paces them (every attempt takes a token)."""
        self.connection = connection
        self._clock: Clock = clock or SystemClock()
        # Backoff jitter and Event names only: never the random source of a run's choices,
        # so that retries do not change which pods a seeded run picks.
        self._rng = rng or random.Random()
        self._timeouts = (min(10.0, timeout), timeout)
        self._headers = {"Accept": "application/json", "User-Agent": "seal"}
        self._credentials = Credentials(connection, self._clock)
        if not connection.token and connection.username is not None:
            basic = f"{connection.username}:{connection.password or ''}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(basic).decode()
        if connection.insecure:
            log.warning(
                "TLS certificate checks are off for %s (insecure-skip-tls-verify)",
                connection.server,
            )
        self._http = PacedPool(
            functools.partial(_urllib3_pool, connection, pool_size + STREAMS),
            pool_size,
            rate_limiter,
        )
        self._limiter = rate_limiter
        #: requests go through the lean transport, unless a proxy is in the way
        self._transport: ApiTransport | None = None
        if not connection.proxy_url:
            context = None
            if connection.server.startswith("https"):
                context = tls_context(
                    insecure=connection.insecure,
                    ca_file=connection.ca_file,
                    cert_file=connection.client_cert_file,
                    key_file=connection.client_key_file,
                )
            self._transport = ApiTransport(
                connection.server,
                context=context,
                server_hostname=connection.tls_server_name,
                connect_timeout=min(10.0, timeout),
                read_timeout=timeout,
            )
        self._lock = threading.Lock()
        self._counts: collections.Counter[str] = collections.Counter()

    # ---------------------------------------------------------------- plumbing
    @property
    def request_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def _count(self, verb: str) -> None:
        with self._lock:
            self._counts[verb] += 1

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        verb: str | None = None,
        idempotent: bool | None = None,
        text: bool = False,
    ) -> Obj:
        """One API call, retried (bounded) on connection errors, 429 and 5xx when safe.

        GET, PUT and DELETE are safe to repeat; other methods only when the caller says
        so (`idempotent=True`), for instance a create whose name the caller chose.
        `text=True` is for answers that are not JSON (a pod's log): `{"text": ...}`.
        """
        target = path
        if query:
            target += "?" + urllib.parse.urlencode(
                {k: v for k, v in query.items() if v is not None}
            )
        headers = dict(self._headers, Accept="text/plain, */*") if text else dict(self._headers)
        refreshed = False
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        if idempotent is None:
            idempotent = method in ("GET", "DELETE", "PUT")
        for attempt in range(1, MAX_ATTEMPTS + 1):
            self._count(verb or method)
            bearer = self._credentials.header()
            if bearer:
                headers["Authorization"] = bearer
            try:
                answer = self._send(method, target, headers, payload, idempotent)
            except TransportError as exc:
                if attempt == MAX_ATTEMPTS or not idempotent:
                    raise KubeError(
                        f"{method} {path}: cannot reach the API server "
                        f"{self.connection.server}: {exc}"
                    ) from exc
                self._backoff(attempt, None)
                continue
            if self._limiter is not None:
                self._limiter.saw_answer(answer.headers)
            if answer.status < 400:
                return _decoded(answer.data, text)
            if answer.status == 401 and self._credentials.refreshable and not refreshed:
                # The token was rotated or expired early: fetch it again, once.
                refreshed = True
                self._credentials.refresh()
                continue
            message, reason = _status_message(answer.status, answer.data)
            retry = answer.status in _RETRIED_STATUSES and (idempotent or answer.status == 429)
            if retry and attempt < MAX_ATTEMPTS and not path.endswith("/eviction"):
                self._backoff(attempt, answer.headers.get("Retry-After"))
                continue
            raise self._error(method, path, answer.status, message, reason)
        raise KubeError(f"{method} {path}: gave up after {MAX_ATTEMPTS} attempts")

    def _send(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        payload: bytes | None,
        idempotent: bool,
    ) -> Answer | urllib3.BaseHTTPResponse:
        transport = self._transport
        if transport is not None:
            return self._http.paced(
                lambda: transport.request(method, target, headers, payload, idempotent=idempotent)
            )
        import urllib3

        try:
            return self._http.request(
                method,
                self.connection.server + target,
                body=payload,
                headers=headers,
                timeout=self._timeout(),
                retries=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise TransportError(str(exc)) from exc

    def _timeout(self) -> urllib3.Timeout:
        import urllib3

        connect, read = self._timeouts
        return urllib3.Timeout(connect=connect, read=read)

    def close(self) -> None:
        """Close the pooled connections (the client stays usable: it connects again)."""
        if self._transport is not None:
            self._transport.close()
        self._http.close()

    def _backoff(self, attempt: int, retry_after: str | None) -> None:
        delay = min(MAX_BACKOFF_SECONDS, 0.1 * 2**attempt) * (0.5 + self._rng.random() / 2)
        if retry_after and retry_after.isdigit():
            delay = min(MAX_BACKOFF_SECONDS, float(retry_after))
        # Not cut short by a shutdown: the undos that a shutdown runs need these retries.
        self._clock.sleep(delay, interruptible=False)

    @staticmethod
    def _error(method: str, path: str, status: int, message: str, reason: str) -> KubeError:
        text = f"{method} {path}: {status} {reason}: {message}".replace(": :", ":")
        if status == 404:
            return NotFoundError(text, status=status, reason=reason)
        if status == 409:
            return ConflictError(text, status=status, reason=reason)
        if status == 429 and path.endswith("/eviction"):
            return EvictionRefused(message, status=status, reason=reason)
        return KubeError(text, status=status, reason=reason)

    def list_all(
        self, path: str, *, label_selector: str | None = None, field_selector: str | None = None
    ) -> list[Obj]:
        """Every item of a collection: one logical LIST, fetched in pages."""
        items: list[Obj] = []
        token: str | None = None
        for _ in range(100_000):
            page = self.request(
                "GET",
                path,
                verb="LIST",
                query={
                    "labelSelector": label_selector or None,
                    "fieldSelector": field_selector or None,
                    "limit": PAGE_SIZE,
                    "continue": token,
                },
            )
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue") or None
            if not token:
                break
        return items

    # ---------------------------------------------------------------- reads
    def version(self) -> Obj:
        return self.request("GET", "/version")

    def list_pods(
        self,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Pod]:
        path = f"/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods"
        return [
            pod_from_api(o)
            for o in self.list_all(
                path, label_selector=label_selector, field_selector=field_selector
            )
        ]

    def list_pod_objects(self, namespace: str, *, label_selector: str | None = None) -> list[Obj]:
        return self.list_all(f"/api/v1/namespaces/{namespace}/pods", label_selector=label_selector)

    def read_pod_log(
        self, namespace: str, name: str, *, container: str | None = None, tail_lines: int = 100
    ) -> str:
        answer = self.request(
            "GET",
            f"/api/v1/namespaces/{namespace}/pods/{name}/log",
            query={"container": container, "tailLines": tail_lines},
            text=True,
        )
        return str(answer.get("text", ""))

    def get_pod(self, namespace: str, name: str) -> Pod:
        return pod_from_api(self.request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}"))

    def list_namespaces(self, *, label_selector: str | None = None) -> list[str]:
        return [
            o["metadata"]["name"]
            for o in self.list_all("/api/v1/namespaces", label_selector=label_selector)
        ]

    def list_nodes(self) -> list[Node]:
        return [node_from_api(o) for o in self.list_all("/api/v1/nodes")]

    def deployment_selector(self, namespace: str, name: str) -> str:
        """The label selector of a Deployment, as selector text."""
        obj = self.request("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
        selector = (obj.get("spec") or {}).get("selector") or {}
        return str(
            selector_from_match(selector.get("matchLabels"), selector.get("matchExpressions"))
        )

    def get_service(self, namespace: str, name: str) -> ServiceInfo:
        obj = self.request("GET", f"/api/v1/namespaces/{namespace}/services/{name}")
        spec = obj.get("spec") or {}
        selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
        return ServiceInfo(
            namespace,
            name,
            str(spec.get("clusterIP") or ""),
            tuple(int(p.get("port", 0)) for p in spec.get("ports") or []),
            selector,
        )

    # ---------------------------------------------------------------- writes
    def delete_pod(
        self,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        uid: str | None = None,
    ) -> None:
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_seconds is not None:
            body["gracePeriodSeconds"] = grace_period_seconds
        if uid:
            body["preconditions"] = {"uid": uid}
        self.request("DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}", body=body)

    def evict_pod(
        self, namespace: str, name: str, *, grace_period_seconds: int | None = None
    ) -> None:
        body: Obj = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": namespace},
        }
        if grace_period_seconds is not None:
            body["deleteOptions"] = {"gracePeriodSeconds": grace_period_seconds}
        self.request("POST", f"/api/v1/namespaces/{namespace}/pods/{name}/eviction", body=body)

    def create_event(
        self, target: Pod | Node, *, reason: str, message: str, event_type: str = "Normal"
    ) -> None:
        """An Event on a pod, or on a node (recorded in `default`, as the kubelet does)."""
        about = involved(target)
        stamp = self._clock.now()
        send_event(self, about, reason=reason, message=message, kind=event_type, stamp=stamp)

    def stream(self, path: str, query: dict[str, Any]) -> urllib3.BaseHTTPResponse:
        """A streamed GET (a watch), paced but not counted in flight: read it line by line,
        then `release_conn()`. `KubeError` when the server refuses it."""
        url = f"{self.connection.server}{path}?{urllib.parse.urlencode(query)}"
        headers = dict(self._headers)
        bearer = self._credentials.header()
        if bearer:
            headers["Authorization"] = bearer
        self._count("WATCH")
        import urllib3

        try:
            answer = self._http.stream(url, headers, self._timeout())
        except urllib3.exceptions.HTTPError as exc:
            raise KubeError(f"WATCH {path}: cannot reach the API server: {exc}") from exc
        if answer.status >= 400:
            message, reason = _status_message(answer.status, answer.read())
            answer.release_conn()
            raise self._error("WATCH", path, answer.status, message, reason)
        return answer

    def patch_labels(self, resource_path: str, labels: dict[str, str | None]) -> None:
        self.request(
            "PATCH",
            resource_path,
            body={"metadata": {"labels": labels}},
            content_type="application/merge-patch+json",
        )

    # ---------------------------------------------------------------- workloads
    def get_deployment(self, namespace: str, name: str) -> Obj:
        return self.request("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")

    def create_deployment(
        self, namespace: str, body: Mapping[str, Any], *, dry_run: bool = False
    ) -> Obj:
        # The name is the caller's: a create repeated after a lost answer is a 409.
        return self.request(
            "POST",
            f"/apis/apps/v1/namespaces/{namespace}/deployments",
            query={"dryRun": "All" if dry_run else None},
            body=body,
            idempotent=True,
        )

    def replace_deployment(self, namespace: str, name: str, body: Mapping[str, Any]) -> Obj:
        path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"
        return self.request("PUT", path, body=body)

    def delete_deployment(self, namespace: str, name: str, *, uid: str | None = None) -> None:
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if uid:
            body["preconditions"] = {"uid": uid}
        self.request(
            "DELETE", f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}", body=body
        )

    def get_service_object(self, namespace: str, name: str) -> Obj:
        return self.request("GET", f"/api/v1/namespaces/{namespace}/services/{name}")

    def get_apps_object(self, namespace: str, resource: str, name: str) -> Obj:
        return self.request("GET", f"/apis/apps/v1/namespaces/{namespace}/{resource}/{name}")

    def list_service_objects(self, namespace: str) -> list[Obj]:
        return self.list_all(f"/api/v1/namespaces/{namespace}/services")

    def list_endpoints(self, namespace: str) -> list[Obj]:
        return self.list_all(f"/api/v1/namespaces/{namespace}/endpoints")

    def patch_service(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        self.request(
            "PATCH",
            f"/api/v1/namespaces/{namespace}/services/{name}",
            body=patch,
            content_type="application/merge-patch+json",
            idempotent=True,
        )
