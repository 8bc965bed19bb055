"""How seal talks to the API server: requests retried (bounded) on connection errors,
429 and 5xx when safe, paced and bounded in flight, counted by verb; answers decoded.

Requests go through seal's own keep-alive transport (seal/adapters/transport.py);
watch streams and servers behind a proxy through urllib3, imported on first need.
Every failure becomes a `seal.errors.KubeError` (or a subclass) with the server's reason.
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
from typing import TYPE_CHECKING, Any

import orjson

from seal.adapters.credentials import Credentials
from seal.adapters.kubeconfig import ClusterConnection
from seal.adapters.objects import Obj
from seal.adapters.ratelimit import STREAMS, PacedPool, TokenBucket
from seal.adapters.transport import Answer, ApiTransport, TransportError, tls_context
from seal.clock import Clock, SystemClock
from seal.errors import ConflictError, EvictionRefused, KubeError, NotFoundError

if TYPE_CHECKING:
    import urllib3

log = logging.getLogger("seal.adapters.kube")
PAGE_SIZE = 500
MAX_ATTEMPTS = 5
MAX_BACKOFF_SECONDS = 5.0
_RETRIED_STATUSES = {429, 500, 502, 503, 504}


def _status_message(status: int, body: bytes) -> tuple[str, str]:
    try:
        data = orjson.loads(body)
        return str(data.get("message") or body[:300]), str(data.get("reason") or "")
    except ValueError:
        return body[:300].decode(errors="replace") or f"HTTP {status}", ""


def _decoded(data: bytes, text: bool) -> Obj:
    if text:
        return {"text": data.decode("utf-8", errors="replace")}
    if not data:
        return {}
    try:  # about twice as fast on a page of 500 pods; numbers as the API server has them
        decoded: Obj = orjson.loads(data)
    except ValueError:  # what orjson refuses and json takes (NaN, Infinity)
        decoded = json.loads(data)
    return decoded


def _urllib3_pool(
    connection: ClusterConnection, size: int, context: ssl.SSLContext | None
) -> urllib3.PoolManager:
    """The urllib3 pool of watch streams, and of every request behind a proxy, with the
    TLS settings (`context`) that seal's own transport uses."""
    import urllib3

    tls: dict[str, Any] = {}
    if connection.insecure:
        # Said once when the client was made rather than by urllib3 on every request.
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    if context is not None:
        tls["ssl_context"] = context
        if connection.tls_server_name:
            tls["server_hostname"] = connection.tls_server_name
    if connection.proxy_url:
        return urllib3.ProxyManager(connection.proxy_url, maxsize=size, **tls)
    return urllib3.PoolManager(maxsize=size, **tls)


class ApiClient:
    """One API server's requests; safe to share between threads (pooled connections)."""

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
        context = None
        if connection.server.startswith("https"):
            context = tls_context(
                insecure=connection.insecure,
                ca_file=connection.ca_file,
                cert_file=connection.client_cert_file,
                key_file=connection.client_key_file,
            )
        self._http = PacedPool(
            functools.partial(_urllib3_pool, connection, pool_size + STREAMS, context),
            pool_size,
            rate_limiter,
        )
        self._limiter = rate_limiter
        #: requests go through the lean transport, unless a proxy is in the way
        self._transport: ApiTransport | None = None
        if not connection.proxy_url:
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
        target, headers, payload = self._prepare(path, query, body, content_type, text)
        if idempotent is None:
            idempotent = method in ("GET", "DELETE", "PUT")
        refreshed = False
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

    def _prepare(
        self, path: str, query: dict[str, Any] | None, body: Any, content_type: str, text: bool
    ) -> tuple[str, dict[str, str], bytes | None]:
        """The request target (path and query), its headers, and its body encoded."""
        target = path
        if query:
            target += "?" + urllib.parse.urlencode(
                {k: v for k, v in query.items() if v is not None}
            )
        headers = dict(self._headers, Accept="text/plain, */*") if text else dict(self._headers)
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        return target, headers, payload

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
