"""The `kubectl get` columns of ServiceAccounts and the RBAC kinds, as the real server
prints them. No I/O."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
Column = tuple[str, str, int]  # name, type, priority (1: only with -o wide)


def _subjects(obj: Obj) -> tuple[str, str, str]:
    users: list[str] = []
    groups: list[str] = []
    accounts: list[str] = []
    for subject in obj.get("subjects") or []:
        kind = subject.get("kind")
        if kind == "ServiceAccount":
            accounts.append(f"{subject.get('namespace', '')}/{subject.get('name', '')}")
        elif kind == "User":
            users.append(str(subject.get("name", "")))
        elif kind == "Group":
            groups.append(str(subject.get("name", "")))
    return ", ".join(users), ", ".join(groups), ", ".join(accounts)


def _binding(obj: Obj) -> list[Any]:
    ref = obj.get("roleRef") or {}
    return [f"{ref.get('kind', '')}/{ref.get('name', '')}", *_subjects(obj)]


def _service_account(obj: Obj) -> list[Any]:
    return [len(obj.get("secrets") or [])]


_BINDING_WIDE: list[Column] = [
    ("Users", "string", 1),
    ("Groups", "string", 1),
    ("ServiceAccounts", "string", 1),
]

#: plural -> (columns between Name and Age, extra wide columns, cell function)
LAYOUTS: dict[str, tuple[list[Column], list[Column], Callable[[Obj], list[Any]]]] = {
    "rolebindings": ([("Role", "string", 0)], _BINDING_WIDE, _binding),
    "clusterrolebindings": ([("Role", "string", 0)], _BINDING_WIDE, _binding),
    "serviceaccounts": ([("Secrets", "string", 0)], [], _service_account),
}

#: Roles and ClusterRoles show when they were created rather than their age
CREATED_AT: tuple[str, ...] = ("roles", "clusterroles")
CREATED_AT_COLUMNS: list[Column] = [("Name", "string", 0), ("Created At", "date", 0)]


def created_at_row(obj: Obj) -> list[Any]:
    return [obj["metadata"]["name"], obj["metadata"].get("creationTimestamp") or ""]
