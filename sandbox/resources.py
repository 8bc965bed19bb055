"""The kinds the sandbox serves: group, version, kind, plural, scope, verbs. No I/O."""

from __future__ import annotations

from dataclasses import dataclass

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()


_RBAC = "rbac.authorization.k8s.io"
_CREATE = ("create",)
#: RBAC and the review kinds (answered by sandbox.reviews, never stored)
RBAC_RESOURCES: tuple[ResourceType, ...] = (
    ResourceType(_RBAC, "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    ResourceType(_RBAC, "v1", "ClusterRole", "clusterroles", False),
    ResourceType(_RBAC, "v1", "RoleBinding", "rolebindings", True),
    ResourceType(_RBAC, "v1", "Role", "roles", True),
    *(
        ResourceType(group, "v1", kind, f"{kind.lower()}s", kind.startswith("Local"), verbs=_CREATE)
        for group, kind in (
            ("authorization.k8s.io", "LocalSubjectAccessReview"),
            ("authorization.k8s.io", "SelfSubjectAccessReview"),
            ("authorization.k8s.io", "SelfSubjectRulesReview"),
            ("authorization.k8s.io", "SubjectAccessReview"),
            ("authentication.k8s.io", "SelfSubjectReview"),
        )
    ),
)

RESOURCES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "Namespace", "namespaces", False, ("ns",), ("status",)),
    ResourceType("", "v1", "Node", "nodes", False, ("no",), ("status",)),
    ResourceType("", "v1", "Pod", "pods", True, ("po",), ("status", "log", "eviction")),
    ResourceType("", "v1", "Service", "services", True, ("svc",), ("status",)),
    ResourceType("", "v1", "Endpoints", "endpoints", True, ("ep",)),
    ResourceType("", "v1", "Event", "events", True, ("ev",)),
    ResourceType("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    ResourceType("", "v1", "Secret", "secrets", True),
    ResourceType("apps", "v1", "Deployment", "deployments", True, ("deploy",), ("status", "scale")),
    ResourceType("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",), ("status", "scale")),
    ResourceType("coordination.k8s.io", "v1", "Lease", "leases", True),
    ResourceType(
        "policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, ("pdb",), ("status",)
    ),
    ResourceType("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",), ("token",)),
    *RBAC_RESOURCES,
)

BY_PLURAL = {r.plural: r for r in RESOURCES}
BY_KIND = {r.kind: r for r in RESOURCES}


def group_versions() -> dict[str, list[ResourceType]]:
    """`api_version` -> the resources of that group/version."""
    result: dict[str, list[ResourceType]] = {}
    for resource in RESOURCES:
        result.setdefault(resource.api_version, []).append(resource)
    return result


def find(group: str, version: str, plural: str) -> ResourceType | None:
    resource = BY_PLURAL.get(plural)
    if resource is None or resource.group != group or resource.version != version:
        return None
    return resource
