"""One HTTP request for probes, with an explicit proxy only (environment proxies ignored).

Opens HTTP(S) connections to the URL it is given.
"""

from __future__ import annotations

import ssl
import time
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from seal.errors import ProbeError
from seal.model import ProbeAnswer, ProbeRequest

if TYPE_CHECKING:  # urllib3 only once a probe is sent
    import urllib3


class Prober:
    """Sends probe requests; keeps pooled connections per proxy and TLS setting.

    `context_headers` gives headers to add to every request, such as the trace context
    (`traceparent`) of the span the request is made in; the request's own headers win."""

    def __init__(self, context_headers: Callable[[], Mapping[str, str]] | None = None) -> None:
        self._managers: dict[tuple[str | None, bool], urllib3.PoolManager] = {}
        self._context_headers = context_headers

    def _manager(self, proxy: str | None, insecure: bool) -> urllib3.PoolManager:
        key = (proxy, insecure)
        if key not in self._managers:
            import urllib3

            mode = ssl.CERT_NONE if insecure else ssl.CERT_REQUIRED
            self._managers[key] = (
                urllib3.ProxyManager(proxy, cert_reqs=mode)
                if proxy
                else urllib3.PoolManager(cert_reqs=mode)
            )
        return self._managers[key]

    def send(self, request: ProbeRequest) -> ProbeAnswer:
        import urllib3

        manager = self._manager(request.proxy, request.insecure)
        started = time.monotonic()
        try:
            with warnings.catch_warnings():
                # The policy asked for no certificate checks: no warning on every request.
                warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
                answer = manager.request(
                    request.method.upper(),
                    request.url,
                    headers=self._headers(request),
                    body=request.body.encode() if request.body is not None else None,
                    timeout=urllib3.Timeout(total=request.timeout_seconds),
                    retries=False,
                    redirect=False,
                    preload_content=True,
                )
        except urllib3.exceptions.HTTPError as exc:
            raise ProbeError(f"{request.method.upper()} {request.url}: {_reason(exc)}") from exc
        return ProbeAnswer(answer.status, time.monotonic() - started, answer.data or b"")

    def _headers(self, request: ProbeRequest) -> dict[str, str]:
        headers = dict(request.headers)
        if self._context_headers is not None:
            own = {name.lower() for name in headers}
            for name, value in self._context_headers().items():
                if name.lower() not in own:
                    headers[name] = value
        return headers


def _reason(exc: Exception) -> str:
    import urllib3

    text = str(getattr(exc, "reason", None) or exc)
    # urllib3 files a refused connection under its timeout errors: look at the text first.
    if "refused" in text.lower():
        return "connection refused"
    if isinstance(exc, urllib3.exceptions.TimeoutError) or "timed out" in text:
        return f"timed out ({text})"
    return text
