"""Watch streams: one JSON event per line, as the real API server sends them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping

import orjson
from aiohttp import web

from sandbox import tables
from sandbox.resources import ResourceType
from sandbox.store import ApiError, Obj, Store, parse_field_selector
from seal.errors import SelectorError
from seal.labels import parse_selector

MAX_WATCH_SECONDS = 1800
#: how often a watch that asked for them (allowWatchBookmarks) gets a BOOKMARK
BOOKMARK_SECONDS = 60.0
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def _line(event_type: str, obj: Obj) -> bytes:
    event = {"type": event_type, "object": obj}
    try:
        return orjson.dumps(event) + b"\n"
    except TypeError:  # what orjson does not encode (integers past 64 bits)
        return json.dumps(event, separators=(",", ":")).encode() + b"\n"


def _bookmark(resource: ResourceType, store: Store, *, initial_end: bool = False) -> bytes:
    """A BOOKMARK: an object of the kind with only the current resourceVersion."""
    meta: Obj = {"resourceVersion": str(store.resource_version)}
    if initial_end:
        meta["annotations"] = {INITIAL_EVENTS_END: "true"}
    return _line(
        "BOOKMARK", {"kind": resource.kind, "apiVersion": resource.api_version, "metadata": meta}
    )


def _matcher(query: Mapping[str, str], namespace: str | None) -> Callable[[Obj], bool]:
    """Whether an object is one the watch asked for (namespace, label and field selectors)."""
    try:
        selector = parse_selector(query["labelSelector"]) if query.get("labelSelector") else None
    except SelectorError as exc:
        raise ApiError(400, "BadRequest", f"unable to parse requirement: {exc}") from exc
    fields = parse_field_selector(query["fieldSelector"]) if query.get("fieldSelector") else []

    def wanted(obj: Obj) -> bool:
        meta = obj["metadata"]
        if namespace and meta.get("namespace") != namespace:
            return False
        if selector and not selector.matches(meta.get("labels") or {}):
            return False
        return all(test(obj) for test in fields)

    return wanted


def _backlog(
    query: Mapping[str, str],
    store: Store,
    resource: ResourceType,
    namespace: str | None,
    wanted: Callable[[Obj], bool],
) -> list[tuple[str, Obj]] | None:
    """The events owed before live ones: every current object when the watch starts from
    nothing (or asked for initial events), else what happened since its resourceVersion;
    None when that version is too old to replay."""
    rv_text = query.get("resourceVersion", "")
    if query.get("sendInitialEvents") in ("true", "1") or rv_text in ("", "0"):
        return [
            ("ADDED", e.obj) for _, e in store.entries(resource.plural, namespace) if wanted(e.obj)
        ]
    try:
        since = store.events_since(int(rv_text))
    except ValueError as exc:
        raise ApiError(400, "BadRequest", f"invalid resourceVersion {rv_text!r}") from exc
    if since is None:
        return None
    return [(e.type, e.obj) for e in since if e.resource == resource.plural and wanted(e.obj)]


async def serve_watch(
    request: web.Request, store: Store, resource: ResourceType, namespace: str | None
) -> web.StreamResponse:
    query = request.query
    timeout = min(float(query.get("timeoutSeconds", MAX_WATCH_SECONDS)), MAX_WATCH_SECONDS)
    bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
    # WatchList: the current objects as ADDED events, then a BOOKMARK marking their end.
    initial = query.get("sendInitialEvents") in ("true", "1")
    if initial and (not bookmarks or query.get("resourceVersionMatch") != "NotOlderThan"):
        raise ApiError(
            422,
            "Invalid",
            "sendInitialEvents needs allowWatchBookmarks=true and "
            "resourceVersionMatch=NotOlderThan",
        )
    as_table = tables.wants_table(request.headers.get("Accept", ""))
    include = tables.include_object(query.get("includeObject")) if as_table else ""
    wanted = _matcher(query, namespace)
    backlog = _backlog(query, store, resource, namespace, wanted)
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    if backlog is None:
        gone = ApiError(
            410,
            "Expired",
            f"too old resource version: {query.get('resourceVersion')} ({store.resource_version})",
        )
        await response.prepare(request)
        await response.write(_line("ERROR", gone.status()))
        return response
    queue: asyncio.Queue[tuple[str, Obj]] = asyncio.Queue()

    def listen(event_type: str, plural: str, obj: Obj) -> None:
        if plural == resource.plural and wanted(obj):
            queue.put_nowait((event_type, obj))

    def line(event_type: str, obj: Obj) -> bytes:
        # kubectl get --watch asks for each object as a one-row Table, to print its columns.
        if as_table:
            rv = str(obj["metadata"].get("resourceVersion", ""))
            obj = tables.table(resource.plural, [obj], rv, store.clock(), include=include)
        return _line(event_type, obj)

    unsubscribe = store.subscribe(listen)
    try:
        await response.prepare(request)
        for event_type, obj in backlog:
            await response.write(line(event_type, obj))
        if initial:
            await response.write(_bookmark(resource, store, initial_end=True))
        deadline = time.monotonic() + timeout
        next_bookmark = time.monotonic() + BOOKMARK_SECONDS
        while (left := deadline - time.monotonic()) > 0 and not store.closing:
            transport = request.transport
            if transport is None or transport.is_closing():
                break
            if bookmarks and time.monotonic() >= next_bookmark:
                await response.write(_bookmark(resource, store))
                next_bookmark = time.monotonic() + BOOKMARK_SECONDS
            try:
                event_type, obj = await asyncio.wait_for(
                    queue.get(), timeout=min(left, 0.5, BOOKMARK_SECONDS)
                )
            except TimeoutError:
                continue
            await response.write(line(event_type, obj))
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        unsubscribe()
    return response
