"""RBAC in the sandbox through the machine's kubectl, as a user sets it up: a service
account, a Role and a RoleBinding made with kubectl, a token from `kubectl create token`,
then what that token may and may not do, in the real server's words."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from sandbox.accounts import create_service_account, grant, mint_token, write_kubeconfig
from sandbox.sandbox import Sandbox

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

SA_USER = "system:serviceaccount:default:chaos"


def kubectl(
    box: Sandbox, *args: str, token: str | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    command = ["kubectl", "--kubeconfig", str(box.kubeconfig_path)]
    if token is not None:
        command += ["--token", token]
    return subprocess.run(
        [*command, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def pod_reader_token(box: Sandbox) -> str:
    """SA default/chaos allowed get and list on pods in default, set up with kubectl."""
    ok(kubectl(box, "create", "serviceaccount", "chaos", "-n", "default"))
    ok(
        kubectl(
            box,
            "create",
            "role",
            "pod-reader",
            "--verb=get,list",
            "--resource=pods",
            "-n",
            "default",
        )
    )
    ok(
        kubectl(
            box,
            "create",
            "rolebinding",
            "chaos-reads-pods",
            "--role=pod-reader",
            "--serviceaccount=default:chaos",
            "-n",
            "default",
        )
    )
    token = ok(kubectl(box, "create", "token", "chaos", "-n", "default")).strip()
    assert token.count(".") == 2  # a JSON Web Token
    return token


def test_a_role_allows_what_it_grants_and_nothing_else(sandbox: Sandbox) -> None:
    token = pod_reader_token(sandbox)
    pods = ok(kubectl(sandbox, "get", "pods", "-n", "default", "-o", "name", token=token))
    assert pods.split() and all(p.startswith("pod/") for p in pods.split())
    name = pods.split()[0].removeprefix("pod/")
    assert ok(kubectl(sandbox, "get", "pod", name, "-n", "default", "-o", "name", token=token))

    other = kubectl(sandbox, "get", "pods", "-n", "myapp", token=token)
    assert other.returncode == 1
    assert other.stderr.strip() == (
        f'Error from server (Forbidden): pods is forbidden: User "{SA_USER}" cannot list '
        'resource "pods" in API group "" in the namespace "myapp"'
    )
    delete = kubectl(sandbox, "delete", "pod", name, "-n", "default", token=token)
    assert delete.stderr.strip() == (
        f'Error from server (Forbidden): pods "{name}" is forbidden: User "{SA_USER}" cannot '
        'delete resource "pods" in API group "" in the namespace "default"'
    )
    nodes = kubectl(sandbox, "get", "nodes", token=token)
    assert nodes.stderr.strip() == (
        f'Error from server (Forbidden): nodes is forbidden: User "{SA_USER}" cannot list '
        'resource "nodes" in API group "" at the cluster scope'
    )
    deployments = kubectl(sandbox, "get", "deployments", "-n", "default", token=token)
    assert (
        f'deployments.apps is forbidden: User "{SA_USER}" cannot list resource "deployments" '
        'in API group "apps" in the namespace "default"'
    ) in deployments.stderr
    # The pod is still there: the refused delete changed nothing.
    assert ok(kubectl(sandbox, "get", "pod", name, "-n", "default", "-o", "name"))


def test_an_unknown_token_is_unauthorized(sandbox: Sandbox) -> None:
    refused = kubectl(sandbox, "get", "pods", token="not-a-token")
    assert refused.returncode == 1
    assert "error: You must be logged in to the server" in refused.stderr


def test_can_i_answers_from_the_bindings(sandbox: Sandbox) -> None:
    token = pod_reader_token(sandbox)
    listing = kubectl(sandbox, "auth", "can-i", "list", "pods", "-n", "default", token=token)
    assert (listing.returncode, listing.stdout.strip()) == (0, "yes")
    deleting = kubectl(sandbox, "auth", "can-i", "delete", "pods", "-n", "default", token=token)
    assert (deleting.returncode, deleting.stdout.strip()) == (1, "no")
    watching = kubectl(sandbox, "auth", "can-i", "watch", "pods", "-n", "default", token=token)
    assert watching.stdout.strip() == "no"
    evicting = kubectl(
        sandbox,
        "auth",
        "can-i",
        "create",
        "pods",
        "--subresource=eviction",
        "-n",
        "default",
        token=token,
    )
    assert evicting.stdout.strip() == "no"
    healthz = kubectl(sandbox, "auth", "can-i", "get", "/healthz", token=token)
    assert healthz.stdout.strip() == "yes"
    metrics = kubectl(sandbox, "auth", "can-i", "get", "/metrics", token=token)
    assert metrics.stdout.strip() == "no"
    # The admin is cluster-admin, and asking as the account gives the account's answer.
    admin = kubectl(sandbox, "auth", "can-i", "delete", "nodes")
    assert admin.stdout.strip() == "yes"
    acting = kubectl(sandbox, "auth", "can-i", "delete", "pods", f"--as={SA_USER}")
    assert acting.stdout.strip() == "no"


def test_can_i_list_shows_the_rules(sandbox: Sandbox) -> None:
    token = pod_reader_token(sandbox)
    rows = ok(kubectl(sandbox, "auth", "can-i", "--list", "-n", "default", token=token))
    lines = [line.split() for line in rows.splitlines()]
    assert lines[0] == ["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"]
    assert ["pods", "[]", "[]", "[get", "list]"] in lines
    assert ["selfsubjectaccessreviews.authorization.k8s.io", "[]", "[]", "[create]"] in lines
    assert ["[/version]", "[]", "[get]"] in lines
    assert ["[/api/*]", "[]", "[get]"] in lines
    elsewhere = ok(kubectl(sandbox, "auth", "can-i", "--list", "-n", "myapp", token=token))
    assert "pods " not in elsewhere
    admin = ok(kubectl(sandbox, "auth", "can-i", "--list"))
    assert ["*.*", "[]", "[]", "[*]"] in [line.split() for line in admin.splitlines()]


def test_whoami_names_the_account(sandbox: Sandbox, tmp_path: Path) -> None:
    create_service_account(sandbox, "default", "chaos")
    grant(
        sandbox,
        "default",
        "chaos",
        [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}],
        namespace="default",
    )
    path = write_kubeconfig(sandbox, mint_token(sandbox, "default", "chaos"), tmp_path / "kc")
    assert path.stat().st_mode & 0o777 == 0o600
    run = ["kubectl", "--kubeconfig", str(path)]
    who = subprocess.run(
        [*run, "auth", "whoami", "-o", "jsonpath={.status.userInfo}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert SA_USER in who
    assert "system:serviceaccounts:default" in who
    pods = subprocess.run(
        [*run, "get", "pods", "-n", "default", "-o", "name"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert pods.startswith("pod/")


def test_deleting_the_binding_takes_the_access_away(sandbox: Sandbox) -> None:
    token = pod_reader_token(sandbox)
    ok(kubectl(sandbox, "get", "pods", "-n", "default", token=token))
    ok(kubectl(sandbox, "delete", "rolebinding", "chaos-reads-pods", "-n", "default"))
    refused = kubectl(sandbox, "get", "pods", "-n", "default", token=token)
    assert "pods is forbidden" in refused.stderr
    ok(kubectl(sandbox, "delete", "serviceaccount", "chaos", "-n", "default"))
    gone = kubectl(sandbox, "get", "pods", "-n", "default", token=token)
    assert "(Unauthorized)" in gone.stderr


def test_cluster_scoped_access_through_a_cluster_role_binding(sandbox: Sandbox) -> None:
    ok(kubectl(sandbox, "create", "serviceaccount", "chaos", "-n", "default"))
    ok(
        kubectl(
            sandbox, "create", "clusterrole", "node-lister", "--verb=list,get", "--resource=nodes"
        )
    )
    ok(
        kubectl(
            sandbox,
            "create",
            "clusterrolebinding",
            "chaos-lists-nodes",
            "--clusterrole=node-lister",
            "--serviceaccount=default:chaos",
        )
    )
    token = ok(kubectl(sandbox, "create", "token", "chaos", "-n", "default")).strip()
    nodes = ok(kubectl(sandbox, "get", "nodes", "-o", "name", token=token)).split()
    assert len(nodes) == 8
    cordon = kubectl(sandbox, "cordon", nodes[0].removeprefix("node/"), token=token)
    assert (
        f'nodes "{nodes[0].removeprefix("node/")}" is forbidden: User "{SA_USER}" cannot patch '
        'resource "nodes" in API group "" at the cluster scope'
    ) in cordon.stderr


def test_tables_of_the_rbac_kinds(sandbox: Sandbox) -> None:
    pod_reader_token(sandbox)
    accounts = ok(kubectl(sandbox, "get", "serviceaccounts", "-n", "default")).splitlines()
    assert accounts[0].split() == ["NAME", "SECRETS", "AGE"]
    assert sorted(line.split()[0] for line in accounts[1:]) == ["chaos", "default"]
    roles = ok(kubectl(sandbox, "get", "roles", "-n", "default")).splitlines()
    assert roles[0].split() == ["NAME", "CREATED", "AT"]
    assert roles[1].split()[0] == "pod-reader"
    assert roles[1].split()[1].endswith("Z")
    bindings = ok(kubectl(sandbox, "get", "rolebindings", "-n", "default", "-o", "wide"))
    header, row = bindings.splitlines()
    assert header.split() == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert row.split()[:2] == ["chaos-reads-pods", "Role/pod-reader"]
    assert row.split()[-1] == "default/chaos"
    cluster = ok(kubectl(sandbox, "get", "clusterrolebindings", "-o", "wide"))
    assert any(
        line.split()[:2] == ["cluster-admin", "ClusterRole/cluster-admin"]
        and "system:masters" in line
        for line in cluster.splitlines()
    )
    roles_wide = ok(kubectl(sandbox, "get", "clusterroles", "-o", "name")).split()
    for name in (
        "cluster-admin",
        "system:discovery",
        "system:basic-user",
        "system:public-info-viewer",
    ):
        assert f"clusterrole.rbac.authorization.k8s.io/{name}" in roles_wide


def test_apply_of_rbac_manifests(sandbox: Sandbox) -> None:
    manifest = """\
apiVersion: v1
kind: ServiceAccount
metadata: {name: scaler, namespace: myapp}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: scaler, namespace: myapp}
rules:
- apiGroups: [apps]
  resources: [deployments/scale]
  verbs: [get, update, patch]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: scaler, namespace: myapp}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: scaler}
subjects:
- {kind: ServiceAccount, name: scaler, namespace: myapp}
"""
    ok(kubectl(sandbox, "apply", "-f", "-", stdin=manifest))
    token = ok(kubectl(sandbox, "create", "token", "scaler", "-n", "myapp")).strip()
    deployment = ok(kubectl(sandbox, "get", "deployments", "-n", "myapp", "-o", "name")).split()[0]
    ok(kubectl(sandbox, "scale", deployment, "--replicas=4", "-n", "myapp", token=token))
    replicas = ok(
        kubectl(sandbox, "get", deployment, "-n", "myapp", "-o", "jsonpath={.spec.replicas}")
    )
    assert replicas == "4"
    edit = kubectl(sandbox, "label", deployment, "chaos=yes", "-n", "myapp", token=token)
    assert (
        f'deployments.apps "{deployment.split("/")[1]}" is forbidden: User '
        '"system:serviceaccount:myapp:scaler" cannot patch resource "deployments" in API '
        'group "apps" in the namespace "myapp"'
    ) in edit.stderr
