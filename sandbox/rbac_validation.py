"""Roles, ClusterRoles and their bindings checked as the real server validates them, with
its messages (`Role.rbac.authorization.k8s.io "x" is invalid: rules[0].verbs: Required
value: verbs must contain at least one value`). User and Group subjects without an
apiGroup get rbac.authorization.k8s.io, as the real server defaults them. No I/O."""

from __future__ import annotations

import json

from sandbox.store import ApiError, Obj

GROUP = "rbac.authorization.k8s.io"
_KINDS = {
    "roles": "Role",
    "clusterroles": "ClusterRole",
    "rolebindings": "RoleBinding",
    "clusterrolebindings": "ClusterRoleBinding",
}
#: one problem: field path, reason, the message after the path
Problem = tuple[str, str, str]


def _required(path: str, detail: str = "") -> Problem:
    return path, "FieldValueRequired", "Required value" + (f": {detail}" if detail else "")


def _unsupported(path: str, value: object, supported: list[str]) -> Problem:
    shown = ", ".join(json.dumps(s) for s in supported)
    return (
        path,
        "FieldValueNotSupported",
        (f"Unsupported value: {json.dumps(value)}: supported values: {shown}"),
    )


def _go_strings(values: list[str]) -> str:
    return "[]string{" + ", ".join(json.dumps(v) for v in values) + "}"


def _rule_problems(rule: Obj, namespaced: bool, path: str) -> list[Problem]:
    problems: list[Problem] = []
    if not rule.get("verbs"):
        problems.append(_required(f"{path}.verbs", "verbs must contain at least one value"))
    urls = rule.get("nonResourceURLs") or []
    if urls:
        shown = f"Invalid value: {_go_strings([str(u) for u in urls])}"
        if namespaced:
            problems.append(
                (
                    f"{path}.nonResourceURLs",
                    "FieldValueInvalid",
                    f"{shown}: namespaced rules cannot apply to non-resource URLs",
                )
            )
        if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
            problems.append(
                (
                    f"{path}.nonResourceURLs",
                    "FieldValueInvalid",
                    f"{shown}: rules cannot apply to both regular resources and non-resource URLs",
                )
            )
        return problems
    if not rule.get("apiGroups"):
        problems.append(
            _required(f"{path}.apiGroups", "resource rules must supply at least one api group")
        )
    if not rule.get("resources"):
        problems.append(
            _required(f"{path}.resources", "resource rules must supply at least one resource")
        )
    return problems


def _subject_problems(subject: Obj, namespaced: bool, path: str) -> list[Problem]:
    problems: list[Problem] = []
    if not subject.get("name"):
        problems.append(_required(f"{path}.name"))
    kind = subject.get("kind")
    group = subject.get("apiGroup") or ""
    if kind == "ServiceAccount":
        if group:
            problems.append(_unsupported(f"{path}.apiGroup", group, [""]))
        if not namespaced and not subject.get("namespace"):
            problems.append(_required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        if not group:
            subject["apiGroup"] = GROUP
        elif group != GROUP:
            problems.append(_unsupported(f"{path}.apiGroup", group, [GROUP]))
    else:
        problems.append(
            _unsupported(f"{path}.kind", kind or "", ["ServiceAccount", "User", "Group"])
        )
    return problems


def _binding_problems(obj: Obj, namespaced: bool) -> list[Problem]:
    ref = obj.get("roleRef")
    ref = ref if isinstance(ref, dict) else {}
    problems: list[Problem] = []
    if ref.get("apiGroup") != GROUP:
        problems.append(_unsupported("roleRef.apiGroup", ref.get("apiGroup") or "", [GROUP]))
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if ref.get("kind") not in kinds:
        problems.append(_unsupported("roleRef.kind", ref.get("kind") or "", kinds))
    if not ref.get("name"):
        problems.append(_required("roleRef.name"))
    for index, subject in enumerate(obj.get("subjects") or []):
        if isinstance(subject, dict):
            problems += _subject_problems(subject, namespaced, f"subjects[{index}]")
    return problems


def check(resource: str, obj: Obj) -> None:
    """Raise the real server's 422 when an RBAC object is invalid; other kinds pass."""
    kind = _KINDS.get(resource)
    if kind is None:
        return
    namespaced = resource in ("roles", "rolebindings")
    if resource.endswith("bindings"):
        problems = _binding_problems(obj, namespaced)
    else:
        problems = [
            problem
            for index, rule in enumerate(obj.get("rules") or [])
            if isinstance(rule, dict)
            for problem in _rule_problems(rule, namespaced, f"rules[{index}]")
        ]
    if not problems:
        return
    name = (obj.get("metadata") or {}).get("name", "")
    texts = [f"{path}: {what}" for path, _, what in problems]
    shown = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    raise ApiError(
        422,
        "Invalid",
        f'{kind}.{GROUP} "{name}" is invalid: {shown}',
        {
            "name": name,
            "group": GROUP,
            "kind": kind,
            "causes": [
                {"reason": reason, "message": what, "field": path}
                for path, reason, what in problems
            ],
        },
    )
