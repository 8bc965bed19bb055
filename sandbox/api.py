"""The Kubernetes REST API of the sandbox, on aiohttp. Serves HTTP on loopback.

Routing is by path shape: `/api/v1/...` and `/apis/<group>/<version>/...`, then
`[namespaces/<ns>/]<plural>[/<name>[/<subresource>]]`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
import yaml
from aiohttp import web
from aiohttp.typedefs import Middleware

from sandbox import discovery, patch, tables
from sandbox.disruption import check_eviction
from sandbox.flowcontrol import FlowControl
from sandbox.metrics import (
    NO_ANSWER,
    RequestLabels,
    RequestMetrics,
    non_resource_labels,
    resource_verb,
)
from sandbox.resources import BY_PLURAL, ResourceType, find
from sandbox.store import ApiError, Entry, Obj, Store
from sandbox.validation import validate
from sandbox.watch import serve_watch
from seal import bounded_yaml
from seal.errors import DocumentError

if TYPE_CHECKING:
    from sandbox.access import Access

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JSON = "application/json"


@dataclass(frozen=True)
class Faults:
    """Injected API faults: `error_rate` of requests fail, a quarter each as a 500, a 429,
    a connection dropped before the request is carried out, and one dropped after it was
    (the change is made, its answer lost); every request is delayed by `latency_ms`."""

    error_rate: float = 0.0
    latency_ms: int = 0
    seed: int | None = None


@dataclass(frozen=True)
class Target:
    resource: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


#: the resource a request was for, once parsed (kept for counting it)
TARGET = web.RequestKey("sandbox-target", Target)


def json_response(data: Any, status: int = 200) -> web.Response:
    try:
        body = orjson.dumps(data)
    except TypeError:  # what orjson does not encode (integers past 64 bits)
        body = json.dumps(data).encode()
    return web.Response(body=body, status=status, content_type=JSON)


def status_response(error: ApiError) -> web.Response:
    response = json_response(error.status(), error.code)
    if error.code == 429:
        response.headers["Retry-After"] = "1"
    return response


def parse_path(path: str) -> Target | None:
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace: str | None = None
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] in BY_PLURAL:
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    resource = find(group, version, rest[0])
    if resource is None:
        return None
    if namespace is not None and not resource.namespaced:
        return None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if sub is not None and sub not in resource.subresources:
        return None
    return Target(resource, namespace, name, sub)


def _json(raw: bytes) -> Any:
    """A JSON body, read by orjson (every DELETE carries one); what orjson refuses and
    json takes (NaN, integers beyond 64 bits) or refuses with its own message, by json."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


async def read_json(request: web.Request) -> Any:
    raw = await request.read()
    try:
        if "yaml" in (request.content_type or ""):
            # bounded: no alias bomb or deep nesting reaches the sandbox's memory or stack
            return bounded_yaml.load(raw.decode("utf-8"), unique_keys=False)
        return _json(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "BadRequest", f"the request body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise ApiError(400, "BadRequest", "the request body is nested too deeply") from exc
    except (yaml.YAMLError, DocumentError) as exc:
        raise ApiError(400, "BadRequest", f"the request body is not valid YAML: {exc}") from exc


def _object_body(body: Any, target: Target) -> Obj:
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "the request body must be a JSON object")
    meta = body.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise ApiError(422, "Invalid", "metadata must be an object")
    kind = body.get("kind")
    if kind and kind != target.resource.kind:
        raise ApiError(
            400, "BadRequest", f"the body is a {kind}, but the URL is for {target.resource.plural}"
        )
    if target.resource.namespaced:
        given = meta.get("namespace")
        if given and target.namespace and given != target.namespace:
            raise ApiError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the "
                "request",
            )
        meta["namespace"] = target.namespace or given or "default"
    return body


def _as_stored(changed: Obj, current: Obj) -> Obj:
    """`changed` with the fields the server keeps from `current` (for dry-run answers)."""
    meta = changed.setdefault("metadata", {})
    for key in ("uid", "creationTimestamp", "resourceVersion", "generation"):
        if key in current["metadata"]:
            meta[key] = current["metadata"][key]
    return changed


class Api:
    """Request handlers over one store."""

    def __init__(self, store: Store, log_lines: Callable[[Obj, str | None], list[str]]) -> None:
        self.store = store
        self.log_lines = log_lines

    def _page(self, target: Target, request: web.Request) -> tuple[list[Entry], str | None]:
        """The entries of one LIST answer, and the continue token when more remain."""
        query = request.query
        limit = int(query.get("limit", "0") or 0)
        start_after: tuple[str, str] | None = None
        if query.get("continue"):
            start_after, _ = Store.parse_continue(query["continue"])
        page: list[Entry] = []
        last_key: tuple[str, str] | None = None
        for key, entry in self.store.entries(
            target.resource.plural,
            target.namespace,
            query.get("labelSelector") or None,
            query.get("fieldSelector") or None,
            start_after,
        ):
            if limit and len(page) >= limit:
                assert last_key is not None
                return page, self.store.continue_token(last_key, self.store.resource_version)
            page.append(entry)
            last_key = key
        return page, None

    def _list_response(self, target: Target, request: web.Request) -> web.Response:
        page, token = self._page(target, request)
        rv = str(self.store.resource_version)
        if tables.wants_table(request.headers.get("Accept", "")):
            include = tables.include_object(request.query.get("includeObject"))
            answer = tables.table(
                target.resource.plural,
                [e.obj for e in page],
                rv,
                self.store.clock(),
                token,
                include,
            )
            return json_response(answer)
        meta: Obj = {"resourceVersion": rv}
        if token:
            meta["continue"] = token
        head = json.dumps(
            {
                "kind": f"{target.resource.kind}List",
                "apiVersion": target.resource.api_version,
                "metadata": meta,
            }
        )[:-1]
        body = (head + ',"items":[').encode() + b",".join(e.json() for e in page) + b"]}"
        return web.Response(body=body, content_type=JSON)

    async def collection(self, request: web.Request, target: Target) -> web.StreamResponse:
        plural = target.resource.plural
        if request.method == "GET":
            if request.query.get("watch") in ("1", "true"):
                return await serve_watch(request, self.store, target.resource, target.namespace)
            return self._list_response(target, request)
        if request.method == "POST":
            body = self._admitted(target, _object_body(await read_json(request), target))
            if request.query.get("dryRun") == "All":
                return json_response(body, 201)
            return json_response(self.store.create(plural, body), 201)
        if request.method == "DELETE":
            deleted = []
            for obj in self.store.list(
                plural,
                target.namespace,
                request.query.get("labelSelector") or None,
                request.query.get("fieldSelector") or None,
            ):
                meta = obj["metadata"]
                deleted.append(self.store.delete(plural, meta.get("namespace", ""), meta["name"]))
            return json_response(
                {
                    "kind": f"{target.resource.kind}List",
                    "apiVersion": target.resource.api_version,
                    "metadata": {},
                    "items": deleted,
                }
            )
        raise ApiError(405, "MethodNotAllowed", f"{request.method} is not allowed here")

    def _admitted(self, target: Target, body: Obj) -> Obj:
        """`body` as the server admits it: its namespace must exist (checked first, as the
        namespace admission does), then its fields must have the right types."""
        namespace = body["metadata"].get("namespace")
        if target.resource.namespaced and self.store.peek("namespaces", "", namespace) is None:
            raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found')
        validate(target.resource.plural, body)
        return body

    async def _patched(self, request: web.Request, current: Obj, plural: str | None) -> Obj:
        """`current` with the request's patch applied; checked as a `plural` object if given."""
        body = await read_json(request)
        kind = request.content_type
        if kind == "application/json-patch+json":
            result = patch.json_patch(current, body)
        elif kind == "application/merge-patch+json":
            result = patch.merge_patch(current, body)
        elif kind in ("application/strategic-merge-patch+json", "application/apply-patch+yaml"):
            result = patch.strategic_merge(current, body)
        else:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media "
                f"types include: application/json-patch+json, "
                f"application/merge-patch+json, application/apply-patch+yaml, "
                f"application/strategic-merge-patch+json (got {kind!r})",
            )
        if not isinstance(result, dict):
            raise ApiError(422, "Invalid", "the patched object is not an object")
        result.setdefault("metadata", {})["name"] = current["metadata"]["name"]
        if "namespace" in current["metadata"]:
            result["metadata"]["namespace"] = current["metadata"]["namespace"]
        result["metadata"].pop("resourceVersion", None)
        if plural:
            validate(plural, result)
        return result

    async def item(self, request: web.Request, target: Target) -> web.StreamResponse:
        plural, ns, name = target.resource.plural, target.namespace or "", target.name or ""
        if request.method == "GET":
            entry = self.store.entry(plural, ns, name)
            if tables.wants_table(request.headers.get("Accept", "")):
                rv = str(self.store.resource_version)
                include = tables.include_object(request.query.get("includeObject"))
                answer = tables.table(plural, [entry.obj], rv, self.store.clock(), include=include)
                return json_response(answer)
            return web.Response(body=entry.json(), content_type=JSON)
        # dryRun=All: the request is checked and answered as usual, and nothing is stored.
        dry = request.query.get("dryRun") == "All"
        if request.method == "PUT":
            body = self._admitted(target, _object_body(await read_json(request), target))
            body["metadata"]["name"] = name
            if dry:
                return json_response(_as_stored(body, self.store.get(plural, ns, name)))
            return json_response(self.store.update(plural, body))
        if request.method == "PATCH":
            try:
                current = self.store.get(plural, ns, name)
            except ApiError:
                if request.content_type != "application/apply-patch+yaml":
                    raise
                body = self._admitted(target, _object_body(await read_json(request), target))
                if dry:
                    return json_response(body, 201)
                return json_response(self.store.create(plural, body), 201)
            patched = await self._patched(request, current, plural)
            if dry:
                return json_response(_as_stored(patched, current))
            return json_response(self.store.update(plural, patched))
        if request.method == "DELETE" and dry:
            return json_response(self.store.get(plural, ns, name))
        if request.method == "DELETE":
            options = await read_json(request) if request.can_read_body else None
            options = options if isinstance(options, dict) else {}
            grace = request.query.get("gracePeriodSeconds", options.get("gracePeriodSeconds"))
            propagation = request.query.get("propagationPolicy", options.get("propagationPolicy"))
            uid = (options.get("preconditions") or {}).get("uid")
            entry = self.store.delete_entry(
                plural,
                ns,
                name,
                grace_period_seconds=None if grace is None else int(grace),
                propagation_policy=propagation,
                precondition_uid=uid,
            )
            return web.Response(body=entry.json(), content_type=JSON)
        raise ApiError(405, "MethodNotAllowed", f"{request.method} is not allowed here")

    async def subresource(self, request: web.Request, target: Target) -> web.StreamResponse:
        plural, ns, name = target.resource.plural, target.namespace or "", target.name or ""
        sub = target.subresource
        if sub == "log" and request.method == "GET":
            pod = self.store.get(plural, ns, name)
            lines = self.log_lines(pod, request.query.get("container"))
            tail = request.query.get("tailLines")
            if tail:
                lines = lines[-int(tail) :]
            text = "".join(f"{line}\n" for line in lines)
            limit = request.query.get("limitBytes")
            if limit:
                if int(limit) < 1:
                    raise ApiError(422, "Invalid", "limitBytes: must be greater than 0")
                text = text.encode()[: int(limit)].decode(errors="ignore")
            return web.Response(text=text, content_type="text/plain")
        if sub == "eviction" and request.method == "POST":
            body = await read_json(request)
            options = (body or {}).get("deleteOptions") or {}
            pod = self.store.get(plural, ns, name)
            check_eviction(self.store, pod)
            grace = options.get("gracePeriodSeconds")
            self.store.delete(
                plural, ns, name, grace_period_seconds=None if grace is None else int(grace)
            )
            return json_response(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "code": 201,
                },
                201,
            )
        if sub == "status":
            if request.method == "GET":
                return json_response(self.store.get(plural, ns, name))
            current = self.store.get(plural, ns, name)
            if request.method == "PUT":
                updated = self._admitted(target, _object_body(await read_json(request), target))
            else:
                updated = await self._patched(request, current, plural)
            updated["metadata"]["name"] = name
            return json_response(self.store.update(plural, updated, status_only=True))
        if sub == "scale":
            return await self._scale(request, target)
        raise ApiError(405, "MethodNotAllowed", f"{request.method} is not allowed on {sub}")

    async def _scale(self, request: web.Request, target: Target) -> web.StreamResponse:
        plural, ns, name = target.resource.plural, target.namespace or "", target.name or ""
        current = self.store.get(plural, ns, name)

        def scale_of(obj: Obj) -> Obj:
            return {
                "kind": "Scale",
                "apiVersion": "autoscaling/v1",
                "metadata": {
                    k: obj["metadata"][k]
                    for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                    if k in obj["metadata"]
                },
                "spec": {"replicas": obj.get("spec", {}).get("replicas", 1)},
                "status": {"replicas": obj.get("status", {}).get("replicas", 0)},
            }

        if request.method == "GET":
            return json_response(scale_of(current))
        if request.method == "PUT":
            wanted = await read_json(request)
        else:
            wanted = await self._patched(request, scale_of(current), None)
        replicas = (wanted or {}).get("spec", {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise ApiError(422, "Invalid", "spec.replicas: must be a whole number >= 0")
        current["spec"]["replicas"] = replicas
        current["metadata"].pop("resourceVersion", None)
        return json_response(scale_of(self.store.update(plural, current)))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        target = parse_path(request.path)
        if target is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        request[TARGET] = target
        if target.name is None:
            return await self.collection(request, target)
        if target.subresource is None:
            return await self.item(request, target)
        return await self.subresource(request, target)


def request_labels(request: web.Request) -> RequestLabels:
    """The labels the API server counts `request` under (verb, resource, scope...)."""
    target = request.get(TARGET) or parse_path(request.path)
    if target is None:
        parts = [p for p in request.path.split("/") if p]
        if request.method == "GET" and discovery.is_crd_list(parts):
            verb = "WATCH" if request.query.get("watch") in ("1", "true") else "LIST"
            group, version = discovery.CRD_GROUP, parts[2]
            return RequestLabels(verb, "", group, version, parts[3], "", "cluster")
        return non_resource_labels(request.method, request.path)
    query = request.query
    verb = resource_verb(
        request.method,
        target.name is not None,
        query.get("watch") in ("1", "true"),
        request.content_type == "application/apply-patch+yaml",
    )
    scope = "resource" if target.name else "namespace" if target.namespace else "cluster"
    return RequestLabels(
        verb,
        "All" if query.get("dryRun") == "All" else "",
        target.resource.group,
        target.resource.version,
        target.resource.plural,
        target.subresource or "",
        scope,
    )


def counting(metrics: RequestMetrics) -> Middleware:
    """A middleware counting every request to the Kubernetes API (not the admin API) in
    `metrics`, with its answer's code and how long the answer took."""

    @web.middleware
    async def counted(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/sandbox/"):
            return await handler(request)
        started = time.perf_counter()
        code = NO_ANSWER
        try:
            response = await handler(request)
            code = response.status
            return response
        except web.HTTPException as exc:
            code = exc.status
            raise
        finally:
            metrics.observe(request_labels(request), code, time.perf_counter() - started)

    return counted


class InjectedDrop(ConnectionResetError):
    """A connection the sandbox dropped on purpose (an injected fault, not a failure)."""


def _drop(request: web.Request, when: str) -> None:
    if request.transport is not None:
        request.transport.close()
    raise InjectedDrop(f"sandbox dropped the connection on purpose, {when}")


class _QuietDrops(logging.Filter):
    """aiohttp logs every aborted request with a traceback; injected drops are expected."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InjectedDrop))


logging.getLogger("aiohttp.server").addFilter(_QuietDrops())


def build_api_app(
    store: Store,
    *,
    token: Callable[[], str],
    faults: Faults | None = None,
    log_lines: Callable[[Obj, str | None], list[str]] | None = None,
    access: Access | None = None,
    metrics: RequestMetrics | None = None,
    flow_control: FlowControl | None = None,
) -> web.Application:
    """The aiohttp application serving the Kubernetes API over `store`.

    `token()` is the bearer token a request must carry (asked at every request, so
    that it can be rotated). Routes under `/sandbox/` are left to the caller (the
    admin API); they get the same token check but no injected faults. With `access`,
    other tokens are service accounts' and requests are authorized by RBAC; the admin
    token passes on one string comparison. With `metrics`, every request to the
    Kubernetes API is counted there (401s and injected faults included). Requests are
    classified and shed as priority and fairness does (`flow_control`, or the default).
    """
    api = Api(store, log_lines or default_log_lines)
    rng = random.Random(faults.seed if faults else None)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        open_paths = ("/healthz", "/readyz", "/livez", "/version")
        masters = request.headers.get("Authorization", "") == f"Bearer {token()}"
        if access is not None and (not masters or "Impersonate-User" in request.headers):
            refused = access.check(request)
            if refused is not None:
                return refused
        elif not masters and request.path not in open_paths:
            return status_response(ApiError(401, "Unauthorized", "Unauthorized"))
        admin = request.path.startswith("/sandbox/")
        fault = None
        if faults and not admin:
            if faults.latency_ms:
                await asyncio.sleep(faults.latency_ms / 1000)
            if faults.error_rate and rng.random() < faults.error_rate:
                fault = rng.choice(("500", "429", "drop", "lost"))
        if fault == "drop":
            _drop(request, "before carrying out the request")
        if fault in ("500", "429"):
            code = 429 if fault == "429" else 500
            reason = "TooManyRequests" if code == 429 else "InternalError"
            return status_response(ApiError(code, reason, "injected sandbox fault"))
        try:
            response = await handler(request)
        except ApiError as exc:
            response = status_response(exc)
        except web.HTTPException:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("rejected a malformed request to %s: %s", request.path, exc)
            response = status_response(ApiError(422, "Invalid", f"malformed request: {exc}"))
        if fault == "lost":
            # The request was carried out; its answer never arrives.
            _drop(request, "after carrying out the request")
        return response

    async def dispatch(request: web.Request) -> web.StreamResponse:
        answered = await access.respond(request) if access is not None else None
        if answered is not None:
            return answered
        found = discovery.respond(request) if request.method == "GET" else None
        if found is not None:
            return found
        return await api.handle(request)

    flow = (flow_control or FlowControl()).middleware(status_response)
    middlewares = [flow, guard] if metrics is None else [counting(metrics), flow, guard]
    app = web.Application(middlewares=middlewares, client_max_size=16 * 1024 * 1024)
    app.router.add_route("*", r"/{tail:(?!sandbox/).*}", dispatch)
    return app


def default_log_lines(pod: Obj, container: str | None) -> list[str]:
    containers = [c.get("name", "main") for c in pod.get("spec", {}).get("containers", [])]
    name = container or (containers[0] if containers else "main")
    if containers and name not in containers:
        raise ApiError(
            400,
            "BadRequest",
            f"container {name} is not valid for pod {pod['metadata']['name']}",
        )
    started = pod.get("status", {}).get("startTime", pod["metadata"].get("creationTimestamp"))
    return [
        f"{started} sandbox: container {name} of pod {pod['metadata']['name']} started",
        f"{started} {name}: listening",
        f"{started} {name}: ready",
    ]
