"""The `http` provider as a `probeHTTP` step, its tolerance as seal's. No I/O.

Chaos Toolkit sends one request (no retries) and waits as long as it takes unless
`timeout` (seconds) is given; in the hypothesis an integer tolerance or a list is
the status, `{type: range, target: status}` a range of statuses, and
`{type: regex, pattern, target: body}` a pattern searched in the body. Outside the
hypothesis the answer is not checked, only that one came (`expected_status`, when
given, must match).
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from seal.policy.experiments.activity import MISSING, Activity, query_url, tolerance_path
from seal.policy.experiments.values import EnvRef, Values

_METHODS = ("get", "post", "patch", "put", "head", "delete")
#: Chaos Toolkit waits for as long as the answer takes; seal needs a bound
DEFAULT_TIMEOUT_MS = 30_000
_ANY_STATUS = {"from": 100, "to": 599}
_KEYS = (
    "type", "url", "method", "headers", "arguments", "timeout", "expected_status", "verify_tls",
    "max_retries", "secrets", "configuration",
)  # fmt: skip


def _timeout_ms(values: Values, activity: Activity) -> int:
    timeout = activity.provider.get("timeout")
    path = (*activity.provider_path, "timeout")
    if timeout is None:
        return DEFAULT_TIMEOUT_MS
    if isinstance(timeout, list) and all(isinstance(t, int | float) for t in timeout):
        timeout = sum(timeout)  # [connect, read]
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        values.sink.problem(path, "timeout must be a number of seconds above 0")
        return DEFAULT_TIMEOUT_MS
    return max(1, round(float(timeout) * 1000))


def _body(arguments: dict[str, Any], headers: dict[str, Any]) -> str:
    kind = next((str(v) for k, v in headers.items() if k.lower() == "content-type"), "")
    if "json" in kind.lower():
        return json.dumps(arguments)
    return urllib.parse.urlencode({k: str(v) for k, v in arguments.items()})


def _status_tolerance(values: Values, activity: Activity) -> dict[str, Any] | None:
    """The tolerance of a hypothesis probe, as probeHTTP's."""
    tolerance, path = activity.tolerance, tolerance_path(activity)
    if isinstance(tolerance, bool | str):
        values.sink.problem(path, _UNSUPPORTED)
        return None
    if isinstance(tolerance, int):
        return {"status": tolerance}
    if isinstance(tolerance, list) and tolerance:
        return {"status": values.substitute(tolerance, path)}
    if isinstance(tolerance, dict):
        kind, target = tolerance.get("type"), tolerance.get("target", "")
        part = "body" if target == "body" else "status"
        if target not in ("", "body", "status"):
            values.sink.problem((*path, "target"), "the target is status or body")
        elif kind == "regex" and isinstance(tolerance.get("pattern"), str):
            pattern = values.substitute(tolerance["pattern"], (*path, "pattern"))
            return {"body" if target != "status" else "status": {"regex": pattern}}
        elif kind == "range" and _is_range(tolerance.get("range")):
            low, high = tolerance["range"]
            return {part: {"from": low, "to": high}}
    values.sink.problem(path, _UNSUPPORTED)
    return None


def _is_range(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )


_UNSUPPORTED = (
    "seal checks an http answer with a status (200), a list of statuses, "
    "{type: range, range: [LOW, HIGH], target: status} or "
    "{type: regex, pattern: ..., target: body}"
)


def http(values: Values, activity: Activity) -> dict[str, Any]:
    provider, path = activity.provider, activity.provider_path
    for key in provider:
        if key not in _KEYS:
            values.sink.problem((*path, key), f"the http provider has no '{key}'", warning=True)
    url = values.substitute(provider.get("url"), (*path, "url"))
    if not isinstance(url, str) or not url:
        values.sink.problem(path, "the http provider needs a 'url'")
        url = ""
    method = str(provider.get("method", "GET")).lower()
    if method not in _METHODS:
        values.sink.problem((*path, "method"), f"seal sends {', '.join(_METHODS)}, not {method}")
    headers = values.substitute(provider.get("headers") or {}, (*path, "headers"))
    arguments = values.substitute(provider.get("arguments") or {}, (*path, "arguments"))
    if not isinstance(headers, dict) or not isinstance(arguments, dict):
        values.sink.problem(path, "headers and arguments are mappings of names to values")
        headers, arguments = {}, {}
    body: dict[str, Any] = {
        "target": {"url": query_url(url, arguments) if method == "get" else url},
        "method": method,
        "retries": 1 + _retries(provider),
        "timeout": _timeout_ms(values, activity),
    }
    if headers:
        body["headers"] = [{"name": str(k), "value": _text(v)} for k, v in headers.items()]
    if arguments and method != "get":
        body["body"] = _body(arguments, headers)
    if provider.get("verify_tls") is False:
        body["insecure"] = True
    tolerance = _checked(values, activity)
    if tolerance is not None:
        body["tolerance"] = tolerance
    return {"probeHTTP": body}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _retries(provider: Any) -> int:
    retries = provider.get("max_retries", 0)
    return retries if isinstance(retries, int) and not isinstance(retries, bool) else 0


def _checked(values: Values, activity: Activity) -> dict[str, Any] | None:
    expected = activity.provider.get("expected_status")
    if activity.phase == "hypothesis":
        if activity.tolerance is MISSING:
            return None  # reported by the converter: a hypothesis probe needs one
        return _status_tolerance(values, activity)
    if activity.tolerance is not MISSING:
        values.sink.problem(
            tolerance_path(activity),
            "a tolerance is checked only in the steady-state hypothesis (as Chaos Toolkit "
            "does); this one is ignored",
            warning=True,
        )
    if isinstance(expected, int | EnvRef) and not isinstance(expected, bool):
        return {"status": expected}
    return {"status": dict(_ANY_STATUS)}
