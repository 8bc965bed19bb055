"""The least privilege a policy (or label mode) needs: the requests seal makes, as each step
type declares them, merged into the fewest exact RBAC rules, and the ServiceAccount,
Roles, ClusterRole and bindings that grant them. No I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from seal.frozen import frozen
from seal.policy.model import Policy
from seal.runtime.background import background_calls
from seal.runtime.label import api_calls as label_api_calls
from seal.steps.base import CONTEXT_NAMESPACE, EXEC_NAMESPACE, ApiCall
from seal.steps.registry import STEPS_BY_KEY

RBAC_GROUP = "rbac.authorization.k8s.io"
#: non-resource URLs every user, signed in or not, may read on a cluster with the default
#: roles (system:public-info-viewer, system:discovery): checked, never put in a role
GRANTED_TO_EVERYONE = frozenset({"/version", "/healthz", "/livez", "/readyz"})
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


@frozen
class Need:
    """One request seal makes, as authorization sees it: a resource request (verb, group,
    resource, subresource, namespace, name) or a non-resource one (verb, path)."""

    verb: str
    resource: str = ""
    group: str = ""
    subresource: str = ""
    #: None: in every namespace, or a resource that lives in none
    namespace: str | None = None
    #: "" for any object
    name: str = ""
    path: str = ""

    @property
    def resource_path(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    def describe(self) -> str:
        """The need as the RBAC rule that grants it, and where."""
        if self.path:
            return f"nonResourceURLs: [{self.path}], verbs: [{self.verb}]"
        text = (
            f'apiGroups: ["{self.group}"], resources: [{self.resource_path}], '
            f"verbs: [{self.verb}]"
        )
        if self.name:
            text += f", resourceNames: [{self.name}]"
        where = f"namespace {self.namespace}" if self.namespace else "every namespace"
        return text + f" (in {where})" if self.namespace or not self.cluster_scoped else text

    @property
    def cluster_scoped(self) -> bool:
        return self.resource in CLUSTER_SCOPED_RESOURCES

    def attributes(self) -> dict[str, Any]:
        """The `spec` of a SelfSubjectAccessReview asking whether seal may make it."""
        if self.path:
            return {"nonResourceAttributes": {"path": self.path, "verb": self.verb}}
        attributes = {
            "verb": self.verb,
            "group": self.group,
            "resource": self.resource,
            "subresource": self.subresource,
            "namespace": self.namespace or "",
            "name": self.name,
        }
        return {"resourceAttributes": {k: v for k, v in attributes.items() if v}}


#: the resources of the core and common groups that live in no namespace
CLUSTER_SCOPED_RESOURCES = frozenset(
    {
        "namespaces",
        "nodes",
        "persistentvolumes",
        "storageclasses",
        "clusterroles",
        "clusterrolebindings",
        "customresourcedefinitions",
        "priorityclasses",
        "ingressclasses",
        "runtimeclasses",
        "csidrivers",
        "apiservices",
        "validatingwebhookconfigurations",
        "mutatingwebhookconfigurations",
    }
)

#: what seal itself asks at every start: the server's version, and namespace kube-system,
#: whose uid tells which cluster this is (the undo journal is kept per cluster)
STARTUP: tuple[tuple[Need, str], ...] = (
    (Need("get", path="/version"), "seal at start: the cluster's version"),
    (
        Need("get", "namespaces", name="kube-system"),
        "seal at start: which cluster this is (namespace kube-system's uid)",
    ),
)


@dataclass(frozen=True)
class Scope:
    """What the API calls' stand-ins mean for one run: the exec pods' namespace (None:
    commands reach nodes over SSH, no exec pod is made) and kubectl's default namespace."""

    exec_namespace: str | None = "default"
    default_namespace: str = "default"

    def need(self, call: ApiCall) -> Need | None:
        namespace = call.namespace
        if namespace == EXEC_NAMESPACE:
            if self.exec_namespace is None:
                return None
            namespace = self.exec_namespace
        elif namespace == CONTEXT_NAMESPACE:
            namespace = self.default_namespace
        return Need(call.verb, call.resource, call.group, call.subresource, namespace, call.name)


#: each need, with who needs it (in words), in the order first met
Needs = dict[Need, list[str]]


def _add(needs: Needs, calls: Iterable[ApiCall], scope: Scope, why: str) -> None:
    for call in calls:
        need = scope.need(call)
        if need is not None:
            needs.setdefault(need, []).append(why)


def _startup() -> Needs:
    return {need: [why] for need, why in STARTUP}


def policy_needs(policy: Policy, scope: Scope = Scope()) -> Needs:
    """Every request a run of `policy` may make, with the steps that make it."""
    needs = _startup()
    for scenario in policy.scenarios:
        probes = scenario.steady_state.probes if scenario.steady_state else ()
        steps = [(f"steady-state probe {i}", p) for i, p in enumerate(probes, 1)]
        steps += [(f"abortWhen probe {i}", p) for i, p in enumerate(scenario.abort_when, 1)]
        steps += [(f"step {i}", step) for i, step in enumerate(scenario.steps, 1)]
        steps += [(f"rollback {i}", step) for i, step in enumerate(scenario.rollbacks, 1)]
        for which, step in steps:
            line = getattr(getattr(step, "location", None), "line", None)
            why = f"scenario {scenario.name!r}, {which} ({step.key}" + (
                f", line {line})" if line else ")"
            )
            _add(needs, STEPS_BY_KEY[step.key].calls(step), scope, why)
        _add(needs, background_calls(scenario), scope, f"scenario {scenario.name!r}, background")
    if policy.run_strategy.runs != 1:
        _add_watches(needs)
    return needs


def _add_watches(needs: Needs) -> None:
    """A policy of many loops reads pods from watches, as informers do (a pod created
    between two loops is seen without listing again): where it lists pods, it watches them.
    Without the permission seal says so once and lists at every loop."""
    for need in [n for n in needs if n.verb == "list" and n.resource == "pods" and not n.name]:
        watch = Need("watch", need.resource, need.group, need.subresource, need.namespace)
        needs.setdefault(watch, []).append(
            "the pod cache of a policy of many loops (runStrategy.runs is not 1)"
        )


def state_needs(namespace: str, *, lease: bool = True) -> Needs:
    """What seal asks of its own namespace in a pod: the undo journal's ConfigMap, and the
    Lease of leader election (`lease`)."""
    kinds = [("", "configmaps", "the undo journal in the cluster (a ConfigMap)")]
    if lease:
        kinds.append(("coordination.k8s.io", "leases", "leader election (a Lease)"))
    return {
        Need(verb, resource, group, namespace=namespace): [why]
        for group, resource, why in kinds
        for verb in ("create", "get", "update")
    }


def label_needs(namespaces: list[str] | None, scope: Scope = Scope()) -> Needs:
    """Every request label mode over `namespaces` (None: all) may make."""
    needs = _startup()
    _add(needs, label_api_calls(namespaces), scope, "label mode")
    return needs


# ---------------------------------------------------------------- rules


@frozen
class Rule:
    """One PolicyRule."""

    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    def as_yaml(self) -> dict[str, Any]:
        if self.non_resource_urls:
            return {"nonResourceURLs": list(self.non_resource_urls), "verbs": list(self.verbs)}
        rule: dict[str, Any] = {
            "apiGroups": list(self.api_groups),
            "resources": list(self.resources),
            "verbs": list(self.verbs),
        }
        if self.resource_names:
            rule["resourceNames"] = list(self.resource_names)
        return rule

    def grants(self, need: Need) -> bool:
        if need.path:
            return need.path in self.non_resource_urls and need.verb in self.verbs
        return (
            need.group in self.api_groups
            and need.resource_path in self.resources
            and need.verb in self.verbs
            and (not self.resource_names or need.name in self.resource_names)
        )


def _names_by_verb(needs: Iterable[Need]) -> dict[tuple[str, str], dict[str, frozenset[str]]]:
    """(group, resource) -> verb -> the object names (empty: any object)."""
    table: dict[tuple[str, str], dict[str, frozenset[str]]] = {}
    for need in needs:
        verbs = table.setdefault((need.group, need.resource_path), {})
        known = verbs.get(need.verb)
        if known is None:
            verbs[need.verb] = frozenset({need.name}) if need.name else frozenset()
        elif known and need.name:
            verbs[need.verb] = known | {need.name}
        else:
            verbs[need.verb] = frozenset()
    return table


def rules(needs: Iterable[Need]) -> list[Rule]:
    """The fewest rules that grant exactly `needs` (their namespaces aside): resources of
    one API group that need the same verbs on the same objects share a rule."""
    needs = list(needs)
    merged: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for (group, resource), verbs in _names_by_verb(n for n in needs if not n.path).items():
        by_names: dict[frozenset[str], list[str]] = {}
        for verb, names in verbs.items():
            by_names.setdefault(names, []).append(verb)
        for names, same in by_names.items():
            merged.setdefault((group, tuple(sorted(same)), tuple(sorted(names))), []).append(
                resource
            )
    found = [
        Rule(verbs, (group,), tuple(sorted(resources)), names)
        for (group, verbs, names), resources in merged.items()
    ]
    paths: dict[str, set[str]] = {}
    for need in needs:
        if need.path and need.path not in GRANTED_TO_EVERYONE:
            paths.setdefault(need.path, set()).add(need.verb)
    by_verbs: dict[tuple[str, ...], list[str]] = {}
    for path, path_verbs in paths.items():
        by_verbs.setdefault(tuple(sorted(path_verbs)), []).append(path)
    found += [Rule(verbs, non_resource_urls=tuple(sorted(p))) for verbs, p in by_verbs.items()]
    return sorted(found, key=lambda r: (r.non_resource_urls, r.api_groups, r.resources, r.verbs))


def split_by_namespace(needs: Iterable[Need]) -> tuple[list[Need], dict[str, list[Need]]]:
    """The needs a ClusterRole must grant (every namespace, or none), and the others by
    namespace, less those the ClusterRole grants already."""
    needs = list(needs)
    cluster = [n for n in needs if n.path or n.namespace is None or n.cluster_scoped]
    cluster_rules = rules(cluster)
    namespaced: dict[str, list[Need]] = {}
    for need in needs:
        if need in cluster or any(rule.grants(need) for rule in cluster_rules):
            continue
        namespaced.setdefault(str(need.namespace), []).append(need)
    return cluster, dict(sorted(namespaced.items()))


# ---------------------------------------------------------------- manifests


@dataclass(frozen=True)
class Account:
    """The ServiceAccount seal runs as, and the name of its roles and bindings."""

    namespace: str = "default"
    name: str = "seal"
    role: str = "seal"

    @classmethod
    def parse(cls, text: str, role: str) -> Account:
        """`NAMESPACE/NAME`; `ValueError` saying what is wrong."""
        namespace, slash, name = text.partition("/")
        if not slash or not namespace or not name:
            raise ValueError(f"--service-account {text!r}: expected NAMESPACE/NAME")
        for what, value in (("namespace", namespace), ("name", name), ("role name", role)):
            if len(value) > 253 or not _NAME.match(value):
                raise ValueError(
                    f"{what} {value!r}: not a valid Kubernetes name (lower-case letters, "
                    "digits, '-' and '.', starting and ending with a letter or digit)"
                )
        return cls(namespace, name, role)


def _meta(name: str, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = {"app.kubernetes.io/managed-by": "seal"}
    return meta


def _role(kind: str, account: Account, found: list[Rule], namespace: str | None) -> list[Any]:
    role = {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": kind,
        "metadata": _meta(account.role, namespace),
        "rules": [rule.as_yaml() for rule in found],
    }
    binding = {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": f"{kind}Binding",
        "metadata": _meta(account.role, namespace),
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": kind, "name": account.role},
        "subjects": [
            {"kind": "ServiceAccount", "name": account.name, "namespace": account.namespace}
        ],
    }
    return [role, binding]


def manifests(
    needs: Mapping[Need, Any] | Iterable[Need],
    account: Account,
    *,
    namespaced: bool = False,
    state: Iterable[Need] = (),
) -> list[dict[str, Any]]:
    """The ServiceAccount, and the roles and bindings granting exactly `needs`: one
    ClusterRole, or with `namespaced` one Role per namespace plus a ClusterRole for what
    no Role can grant (nodes, namespaces, requests across every namespace). The `state`
    needs (seal's own namespace: its journal and lease) always go in a Role."""
    own = list(state)
    if own and not namespaced:
        made = manifests(needs, account)
        for namespace in sorted({str(n.namespace) for n in own}):
            found = [n for n in own if n.namespace == namespace]
            made += _role("Role", account, rules(found), namespace)
        return made
    wanted = list(needs) + own
    documents: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(account.name, account.namespace),
        }
    ]
    if not namespaced:
        return documents + _role("ClusterRole", account, rules(wanted), None)
    cluster, by_namespace = split_by_namespace(wanted)
    documents += _role("ClusterRole", account, rules(cluster), None)
    for namespace, found in by_namespace.items():
        documents += _role("Role", account, rules(found), namespace)
    return documents
