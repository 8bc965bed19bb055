"""The RBAC objects a real cluster bootstraps, and the `default` ServiceAccount every
namespace gets. No I/O.

cluster-admin bound to the group system:masters; system:discovery, system:basic-user and
system:public-info-viewer bound to every authenticated user (the last one to
unauthenticated requests too); system:service-account-issuer-discovery bound to every
service account. All are ordinary objects, visible and editable through the API.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sandbox.store import ApiError, Obj, Store

_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
_ANNOTATIONS = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
_PUBLIC = ["/healthz", "/livez", "/readyz", "/version", "/version/"]

ROLES: dict[str, list[Obj]] = {
    "cluster-admin": [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        {"nonResourceURLs": ["*"], "verbs": ["*"]},
    ],
    "system:discovery": [
        {
            "nonResourceURLs": sorted(
                ["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", *_PUBLIC]
            ),
            "verbs": ["get"],
        }
    ],
    "system:basic-user": [
        {
            "apiGroups": ["authorization.k8s.io"],
            "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
            "verbs": ["create"],
        },
        {
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["selfsubjectreviews"],
            "verbs": ["create"],
        },
    ],
    "system:public-info-viewer": [{"nonResourceURLs": _PUBLIC, "verbs": ["get"]}],
    "system:service-account-issuer-discovery": [
        {
            "nonResourceURLs": [
                "/.well-known/openid-configuration",
                "/.well-known/openid-configuration/",
                "/openid/v1/jwks",
                "/openid/v1/jwks/",
            ],
            "verbs": ["get"],
        }
    ],
}

#: binding name (the role's name) -> the groups bound
BINDINGS: dict[str, list[str]] = {
    "cluster-admin": ["system:masters"],
    "system:discovery": ["system:authenticated"],
    "system:basic-user": ["system:authenticated"],
    "system:public-info-viewer": ["system:authenticated", "system:unauthenticated"],
    "system:service-account-issuer-discovery": ["system:serviceaccounts"],
}


def _meta(name: str) -> Obj:
    return {"name": name, "labels": dict(_LABELS), "annotations": dict(_ANNOTATIONS)}


def default_objects() -> list[tuple[str, Obj]]:
    """(plural, object) for every bootstrapped ClusterRole and ClusterRoleBinding."""
    found: list[tuple[str, Obj]] = []
    for name, rules in ROLES.items():
        found.append(
            (
                "clusterroles",
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRole",
                    "metadata": _meta(name),
                    "rules": [dict(rule) for rule in rules],
                },
            )
        )
    for name, groups in BINDINGS.items():
        found.append(
            (
                "clusterrolebindings",
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRoleBinding",
                    "metadata": _meta(name),
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": name,
                    },
                    "subjects": [
                        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}
                        for group in groups
                    ],
                },
            )
        )
    return found


def default_service_account(namespace: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": namespace},
    }


def _ensure_default_account(store: Store, namespace: str) -> None:
    home = store.peek("namespaces", "", namespace)
    if home is None or home["metadata"].get("deletionTimestamp"):
        return
    if store.peek("serviceaccounts", namespace, "default") is None:
        try:
            store.create("serviceaccounts", default_service_account(namespace))
        except ApiError:
            return  # the namespace went meanwhile


def install(store: Store) -> None:
    """Store the bootstrapped RBAC objects and a `default` ServiceAccount in each
    namespace; from then on every new namespace gets its `default` ServiceAccount."""
    for plural, obj in default_objects():
        if store.peek(plural, "", obj["metadata"]["name"]) is None:
            store.create(plural, obj)
    for _, entry in list(store.entries("namespaces")):
        _ensure_default_account(store, entry.obj["metadata"]["name"])
    loop = asyncio.get_running_loop()

    def observe(event_type: str, resource: str, obj: Any) -> None:
        if resource == "namespaces" and event_type == "ADDED":
            loop.call_soon(_ensure_default_account, store, obj["metadata"]["name"])

    store.subscribe(observe)
