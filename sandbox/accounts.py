"""Service accounts for tests and demos, set up on a running sandbox in one call each:
create an account, grant it rules (a Role and RoleBinding, or a ClusterRole and
ClusterRoleBinding), mint its token, write a kubeconfig that uses it.

    account = create_service_account(box, "default", "chaos")
    grant(box, "default", "chaos", [{"apiGroups": [""], "resources": ["pods"],
                                     "verbs": ["get", "list"]}], namespace="default")
    token = mint_token(box, "default", "chaos")
    path = write_kubeconfig(box, token, tmp_path / "chaos.kubeconfig")

Everything goes to the store on the sandbox's own loop, as API writes would; the
objects are the ones `kubectl get sa,roles,rolebindings` then shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sandbox.store import ApiError, Obj, Store

if TYPE_CHECKING:
    from sandbox.sandbox import Sandbox

RBAC_V1 = "rbac.authorization.k8s.io/v1"


def create_service_account(box: Sandbox, namespace: str, name: str) -> Obj:
    """Create the ServiceAccount `namespace/name` (kept as it is if it exists)."""

    def create(store: Store) -> Obj:
        found = store.peek("serviceaccounts", namespace, name)
        if found is not None:
            return dict(found)
        body = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace},
        }
        return store.create("serviceaccounts", body)

    return box.call(create)


def grant(
    box: Sandbox,
    account_namespace: str,
    account: str,
    rules: list[Obj],
    *,
    namespace: str | None = None,
    name: str | None = None,
) -> str:
    """Grant `rules` to the service account: as a Role and RoleBinding in `namespace`, or
    as a ClusterRole and ClusterRoleBinding when `namespace` is None. Both objects are
    called `name` (default: `<account>-<namespace or cluster>`); an existing pair of
    that name is replaced. Returns the name."""
    name = name or f"{account}-{namespace or 'cluster'}"
    role_plural, binding_plural = (
        ("roles", "rolebindings")
        if namespace
        else (
            "clusterroles",
            "clusterrolebindings",
        )
    )
    role_kind = "Role" if namespace else "ClusterRole"
    meta: Obj = {"name": name, **({"namespace": namespace} if namespace else {})}
    role = {"apiVersion": RBAC_V1, "kind": role_kind, "metadata": meta, "rules": rules}
    binding = {
        "apiVersion": RBAC_V1,
        "kind": f"{role_kind}Binding",
        "metadata": dict(meta),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": account_namespace}],
    }

    def store_both(store: Store) -> None:
        for plural, obj in ((role_plural, role), (binding_plural, binding)):
            if store.peek(plural, namespace or "", name) is not None:
                store.remove(plural, namespace or "", name)
            store.create(plural, obj)

    box.call(store_both)
    return name


def revoke(box: Sandbox, name: str, *, namespace: str | None = None) -> None:
    """Delete the role and binding `grant` made under `name` (what is missing is skipped)."""
    plurals = ("roles", "rolebindings") if namespace else ("clusterroles", "clusterrolebindings")

    def delete(store: Store) -> None:
        for plural in plurals:
            try:
                store.delete(plural, namespace or "", name)
            except ApiError:
                continue

    box.call(delete)


def mint_token(box: Sandbox, namespace: str, name: str, seconds: int = 3600) -> str:
    """A token for the service account, as `kubectl create token` gets one."""
    return box.call(lambda store: box.access.tokens.mint(namespace, name, seconds)[0])


def write_kubeconfig(box: Sandbox, token: str, path: Path) -> Path:
    """A kubeconfig for the sandbox that authenticates with `token` (created 0600)."""
    from sandbox.sandbox import kubeconfig_text, write_private

    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, kubeconfig_text(box.url, token, box.tls.ca_pem))
    return path
