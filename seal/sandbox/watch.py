"""Watch streams: one JSON event per line, as the real API server sends them."""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web

from seal.labels import SelectorError, parse_selector
from seal.sandbox.resources import ResourceType
from seal.sandbox.store import ApiError, Obj, Store, parse_field_selector

MAX_WATCH_SECONDS = 1800


def _line(event_type: str, obj: Obj) -> bytes:
    return json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"


async def serve_watch(
    request: web.Request, store: Store, resource: ResourceType, namespace: str | None
) -> web.StreamResponse:
    query = request.query
    try:
        selector = parse_selector(query["labelSelector"]) if query.get("labelSelector") else None
    except SelectorError as exc:
        raise ApiError(400, "BadRequest", f"unable to parse requirement: {exc}") from exc
    fields = parse_field_selector(query["fieldSelector"]) if query.get("fieldSelector") else []
    timeout = min(float(query.get("timeoutSeconds", MAX_WATCH_SECONDS)), MAX_WATCH_SECONDS)
    rv_text = query.get("resourceVersion", "")

    def wanted(obj: Obj) -> bool:
        meta = obj["metadata"]
        if namespace and meta.get("namespace") != namespace:
            return False
        if selector and not selector.matches(meta.get("labels") or {}):
            return False
        return all(test(obj) for test in fields)

    queue: asyncio.Queue[tuple[str, Obj]] = asyncio.Queue()

    def listen(event_type: str, plural: str, obj: Obj) -> None:
        if plural == resource.plural and wanted(obj):
            queue.put_nowait((event_type, obj))

    backlog: list[tuple[str, Obj]] = []
    if rv_text in ("", "0"):
        backlog = [
            ("ADDED", e.obj) for _, e in store.entries(resource.plural, namespace) if wanted(e.obj)
        ]
    else:
        try:
            since = store.events_since(int(rv_text))
        except ValueError as exc:
            raise ApiError(400, "BadRequest", f"invalid resourceVersion {rv_text!r}") from exc
        if since is None:
            gone = ApiError(
                410, "Expired", f"too old resource version: {rv_text} ({store.resource_version})"
            )
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request)
            await response.write(_line("ERROR", gone.status()))
            return response
        backlog = [
            (e.type, e.obj) for e in since if e.resource == resource.plural and wanted(e.obj)
        ]
    unsubscribe = store.subscribe(listen)
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    try:
        await response.prepare(request)
        for event_type, obj in backlog:
            await response.write(_line(event_type, obj))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0 and not store.closing:
            transport = request.transport
            if transport is None or transport.is_closing():
                break
            try:
                event_type, obj = await asyncio.wait_for(queue.get(), timeout=min(left, 0.5))
            except TimeoutError:
                continue
            await response.write(_line(event_type, obj))
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        unsubscribe()
    return response
