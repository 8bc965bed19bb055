"""Where traces go, from `--otlp-endpoint` or the standard `OTEL_*` environment variables.

No I/O: reads the mapping it is given.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from seal.errors import UsageError

#: the path of the traces signal under an OTLP/HTTP base URL
TRACES_PATH = "/v1/traces"
DEFAULT_SERVICE_NAME = "seal"


@dataclass(frozen=True)
class TracingSettings:
    """Tracing is on when `endpoint` (the full URL spans are posted to) is set."""

    endpoint: str | None = None
    service_name: str = DEFAULT_SERVICE_NAME
    #: extra headers of every export request (authentication, tenancy)
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def shown_endpoint(self) -> str:
        """The endpoint as messages show it: without a user or password in it."""
        parts = urllib.parse.urlsplit(self.endpoint or "")
        if parts.username is None and parts.password is None:
            return self.endpoint or ""
        netloc = parts.netloc.rpartition("@")[2]
        return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def settings_from(flag: str | None, environ: Mapping[str, str]) -> TracingSettings:
    """The settings from `--otlp-endpoint` (a base URL; `/v1/traces` is added) or, without
    it, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as it is) or `OTEL_EXPORTER_OTLP_ENDPOINT`
    (a base URL); `OTEL_SDK_DISABLED=true` turns the variables off. `UsageError` naming
    the flag or variable when a URL or a header list is malformed."""
    endpoint = _endpoint(flag, environ)
    if endpoint is None:
        return TracingSettings()
    return TracingSettings(
        endpoint=endpoint,
        service_name=environ.get("OTEL_SERVICE_NAME", "").strip() or DEFAULT_SERVICE_NAME,
        headers=_headers(environ),
    )


def _endpoint(flag: str | None, environ: Mapping[str, str]) -> str | None:
    if flag:
        return _url(flag, "--otlp-endpoint", base=True)
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    traces = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if traces:
        return _url(traces, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", base=False)
    base = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    return _url(base, "OTEL_EXPORTER_OTLP_ENDPOINT", base=True) if base else None


def _url(text: str, source: str, *, base: bool) -> str:
    shown = f"{source} {redacted(text)[:200]!r}"
    try:
        parts = urllib.parse.urlsplit(text.strip())
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError as exc:  # an unclosed [IPv6 address, a port out of range
        # a port that is no number is not echoed: it may be part of a mistyped password
        said = "the port is not a number" if "cast to integer" in str(exc) else str(exc)
        raise UsageError(f"{shown}: {said}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"{shown}: expected an http:// or https:// URL of an OTLP/HTTP "
            "collector, such as http://127.0.0.1:4318"
        )
    path = parts.path.rstrip("/")
    if base and not path.endswith(TRACES_PATH):
        path += TRACES_PATH
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def redacted(text: str) -> str:
    """`text` with the password of its user info masked (`user:***@`; `***@` when there is
    no colon: the whole user info may be a token), even when `text` is no valid URL:
    everything between `://` (or the start) and the last `@` is taken for user info (a
    password may hold a `/`; masking too much is the safe mistake)."""
    start = text.find("://")
    start = 0 if start < 0 else start + 3
    at = text.rfind("@", start)
    if at < 0:
        return text
    user, colon, _ = text[start:at].partition(":")
    masked = f"{user}:***" if colon else "***"
    return f"{text[:start]}{masked}{text[at:]}"


def _headers(environ: Mapping[str, str]) -> dict[str, str]:
    """`key=value,key2=value2` (values percent-encoded) from the traces variable, else the
    general one."""
    for name in ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"):
        text = environ.get(name, "").strip()
        if text:
            return _parse_headers(text, name)
    return {}


def _parse_headers(text: str, source: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for index, item in enumerate(text.split(","), 1):
        key, sep, value = item.partition("=")
        key = urllib.parse.unquote(key).strip()
        if not sep or not key or not all(33 <= ord(c) < 127 and c != ":" for c in key):
            raise UsageError(
                f"{source}: entry {index} is not key=value (values are not shown: they may "
                "be secrets); expected a comma-separated list such as 'api-key=KEY,tenant=ops'"
            )
        headers[key] = urllib.parse.unquote(value).strip()
    return headers
