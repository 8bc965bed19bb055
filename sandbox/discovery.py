"""Discovery, health and OpenAPI answers, generated from the resource list. No I/O."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aiohttp import web

from sandbox.resources import RESOURCES, ResourceType, group_versions

Obj = dict[str, Any]
SERVER_VERSION = {
    "major": "1",
    "minor": "30",
    "gitVersion": "v1.30.0",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.22.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def _resource_entries(resource: ResourceType) -> list[Obj]:
    entries: list[Obj] = [
        {
            "name": resource.plural,
            "singularName": resource.singular,
            "namespaced": resource.namespaced,
            "kind": resource.kind,
            "verbs": list(resource.verbs),
            "shortNames": list(resource.short_names),
            "storageVersionHash": hashlib.sha1(resource.kind.encode()).hexdigest()[:12],
        }
    ]
    sub_kinds = {
        "status": resource.kind,
        "scale": "Scale",
        "log": "Pod",
        "eviction": "Eviction",
        "token": "TokenRequest",
    }
    sub_verbs = {
        "status": ["get", "patch", "update"],
        "scale": ["get", "patch", "update"],
        "log": ["get"],
        "eviction": ["create"],
        "token": ["create"],
    }
    for sub in resource.subresources:
        entry: Obj = {
            "name": f"{resource.plural}/{sub}",
            "singularName": "",
            "namespaced": resource.namespaced,
            "kind": sub_kinds[sub],
            "verbs": sub_verbs[sub],
        }
        if sub == "scale":
            entry.update({"group": "autoscaling", "version": "v1"})
        if sub == "eviction":
            entry.update({"group": "policy", "version": "v1"})
        if sub == "token":
            entry.update({"group": "authentication.k8s.io", "version": "v1"})
        entries.append(entry)
    return entries


def api_versions() -> Obj:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    }


def resource_list(api_version: str) -> Obj | None:
    resources = group_versions().get(api_version)
    if resources is None:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": api_version,
        "resources": [e for r in resources for e in _resource_entries(r)],
    }


def api_groups() -> Obj:
    groups: dict[str, list[str]] = {}
    for resource in RESOURCES:
        if resource.group:
            versions = groups.setdefault(resource.group, [])
            if resource.version not in versions:
                versions.append(resource.version)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": name,
                "versions": [{"groupVersion": f"{name}/{v}", "version": v} for v in versions],
                "preferredVersion": {
                    "groupVersion": f"{name}/{versions[0]}",
                    "version": versions[0],
                },
            }
            for name, versions in groups.items()
        ],
    }


def api_group(name: str) -> Obj | None:
    for group in api_groups()["groups"]:
        if group["name"] == name:
            return {"kind": "APIGroup", "apiVersion": "v1", **group}
    return None


# ---------------------------------------------------------------- OpenAPI


def _schema_name(resource: ResourceType) -> str:
    group = resource.group or "core"
    prefix = "io.k8s.api." + group.split(".")[0]
    return f"{prefix}.{resource.version}.{resource.kind}"


def _gvk(resource: ResourceType) -> list[Obj]:
    return [{"group": resource.group, "version": resource.version, "kind": resource.kind}]


def _kind_schema(resource: ResourceType) -> Obj:
    """Open schemas: every field is accepted, so validation checks only the envelope."""
    return {
        "type": "object",
        "description": f"{resource.kind} (sandbox)",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "data": {"type": "object", "additionalProperties": {"type": "string"}},
            "subsets": {"type": "array", "items": {"type": "object"}},
        },
        "x-kubernetes-preserve-unknown-fields": True,
        "x-kubernetes-group-version-kind": _gvk(resource),
    }


_FIELD_VALIDATION = {
    "name": "fieldValidation",
    "in": "query",
    "description": "Ignore, Warn or Strict",
    "schema": {"type": "string", "uniqueItems": True},
}


def _operations(resource: ResourceType, ref: str) -> Obj:
    body = {"content": {"application/json": {"schema": {"$ref": ref}}}}
    answer = {
        "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": ref}}}}
    }
    gvk = _gvk(resource)[0]
    return {
        "get": {
            "operationId": f"read{resource.kind}",
            "responses": answer,
            "x-kubernetes-action": "get",
            "x-kubernetes-group-version-kind": gvk,
        },
        "put": {
            "operationId": f"replace{resource.kind}",
            "requestBody": body,
            "responses": answer,
            "parameters": [_FIELD_VALIDATION],
            "x-kubernetes-action": "put",
            "x-kubernetes-group-version-kind": gvk,
        },
        "patch": {
            "operationId": f"patch{resource.kind}",
            "responses": answer,
            "parameters": [_FIELD_VALIDATION],
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk,
            "requestBody": {"content": {"application/merge-patch+json": {"schema": {}}}},
        },
        "delete": {
            "operationId": f"delete{resource.kind}",
            "responses": answer,
            "x-kubernetes-action": "delete",
            "x-kubernetes-group-version-kind": gvk,
        },
    }


def _base_path(resource: ResourceType) -> str:
    root = f"/apis/{resource.group}/{resource.version}" if resource.group else "/api/v1"
    scope = "/namespaces/{namespace}" if resource.namespaced else ""
    return f"{root}{scope}/{resource.plural}"


def openapi_v3_document(api_version: str) -> Obj | None:
    resources = group_versions().get(api_version)
    if resources is None:
        return None
    paths: Obj = {}
    schemas: Obj = {}
    for resource in resources:
        name = _schema_name(resource)
        ref = f"#/components/schemas/{name}"
        schemas[name] = _kind_schema(resource)
        base = _base_path(resource)
        paths[base] = {
            "post": {
                "operationId": f"create{resource.kind}",
                "parameters": [_FIELD_VALIDATION],
                "requestBody": {"content": {"application/json": {"schema": {"$ref": ref}}}},
                "responses": {"201": {"description": "Created"}},
                "x-kubernetes-action": "post",
                "x-kubernetes-group-version-kind": _gvk(resource)[0],
            },
        }
        paths[base + "/{name}"] = _operations(resource, ref)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def openapi_v3_index() -> Obj:
    paths: Obj = {}
    for api_version in group_versions():
        key = f"apis/{api_version}" if "/" in api_version else f"api/{api_version}"
        doc = json.dumps(openapi_v3_document(api_version), sort_keys=True).encode()
        digest = hashlib.sha512(doc).hexdigest().upper()[:32]
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": paths}


def openapi_v2_document() -> Obj:
    definitions: Obj = {}
    paths: Obj = {}
    for resource in RESOURCES:
        name = _schema_name(resource)
        schema = _kind_schema(resource)
        definitions[name] = schema
        base = _base_path(resource)
        paths[base + "/{name}"] = {
            "patch": {
                "parameters": [{"name": "fieldValidation", "in": "query", "type": "string"}],
                "x-kubernetes-group-version-kind": _gvk(resource)[0],
            }
        }
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
        "paths": paths,
        "definitions": definitions,
    }


# ---------------------------------------------------------------- custom resources

CRD_GROUP = "apiextensions.k8s.io"
#: v1beta1 left the API server in Kubernetes 1.22; clients built before still list it
CRD_VERSIONS = ("v1", "v1beta1")
_CRDS = "customresourcedefinitions"


def crd_version(parts: list[str]) -> str | None:
    """The version of `parts` (a path split at slashes) if it is in the CRD group."""
    if len(parts) < 3 or parts[:2] != ["apis", CRD_GROUP] or parts[2] not in CRD_VERSIONS:
        return None
    return parts[2]


def is_crd_list(parts: list[str]) -> bool:
    return len(parts) == 4 and parts[3] == _CRDS and crd_version(parts) is not None


def crd_answer(parts: list[str], watch: bool) -> Obj | None:
    """The sandbox defines no custom resources: the resource list of the CRD group/version,
    and its CustomResourceDefinition LIST, which is empty; None for other paths."""
    if crd_version(parts) is None:
        return None
    group_version = f"{CRD_GROUP}/{parts[2]}"
    if len(parts) == 3:
        entry = {
            "name": _CRDS,
            "singularName": "customresourcedefinition",
            "namespaced": False,
            "kind": "CustomResourceDefinition",
            "verbs": ["list"],
            "shortNames": ["crd", "crds"],
        }
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": [entry],
        }
    if is_crd_list(parts) and not watch:
        return {
            "kind": "CustomResourceDefinitionList",
            "apiVersion": group_version,
            "metadata": {"resourceVersion": "1"},
            "items": [],
        }
    return None


def _json(data: Obj) -> web.Response:
    return web.Response(body=json.dumps(data).encode(), content_type="application/json")


def respond(request: web.Request) -> web.Response | None:
    """The answer to a discovery, health or OpenAPI request; None for other paths."""
    path = request.path.rstrip("/")
    if path == "/version":
        return _json(SERVER_VERSION)
    if path in ("/healthz", "/readyz", "/livez"):
        return web.Response(text="ok")
    if path == "/api":
        return _json(api_versions())
    if path == "/apis":
        return _json(api_groups())
    if path == "/openapi/v2":
        if "protobuf" in request.headers.get(
            "Accept", ""
        ) and "application/json" not in request.headers.get("Accept", ""):
            return web.Response(status=406)
        return _json(openapi_v2_document())
    if path == "/openapi/v3":
        return _json(openapi_v3_index())
    parts = [p for p in path.split("/") if p]
    crds = crd_answer(parts, request.query.get("watch") in ("1", "true"))
    if crds is not None:
        return _json(crds)
    if parts[:2] == ["openapi", "v3"] and len(parts) >= 4:
        doc = openapi_v3_document("/".join(parts[3:]) if parts[2] == "apis" else parts[3])
        return None if doc is None else _json(doc)
    if parts[:1] == ["api"] and len(parts) == 2:
        found = resource_list(parts[1])
        return None if found is None else _json(found)
    if parts[:1] == ["apis"] and len(parts) == 2:
        group = api_group(parts[1])
        return None if group is None else _json(group)
    if parts[:1] == ["apis"] and len(parts) == 3:
        found = resource_list(f"{parts[1]}/{parts[2]}")
        return None if found is None else _json(found)
    return None
