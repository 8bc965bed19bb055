"""RBAC in the sandbox through the official Kubernetes client and plain HTTP: request
verbs (list, watch, get, deletecollection), resourceNames, subresources, non-resource
URLs, the bootstrapped grants, tokens, access reviews and impersonation."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from sandbox.accounts import create_service_account, grant, mint_token, revoke
from sandbox.sandbox import Sandbox

USER = "system:serviceaccount:default:chaos"


def call(box: Sandbox, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    """(status, decoded JSON or text) of one request with `token`."""
    context = ssl.create_default_context(cafile=str(box.ca_path))
    request = urllib.request.Request(
        f"{box.url}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


def message(answer: tuple[int, Any]) -> str:
    status, body = answer
    assert status == 403, body
    assert body["kind"] == "Status" and body["reason"] == "Forbidden" and body["code"] == 403
    return str(body["message"])


def client_for(box: Sandbox, token: str) -> client.ApiClient:
    configuration = client.Configuration()
    configuration.host = box.url
    configuration.ssl_ca_cert = str(box.ca_path)
    configuration.api_key = {"authorization": token}
    configuration.api_key_prefix = {"authorization": "Bearer"}
    return client.ApiClient(configuration)


@pytest.fixture
def account(sandbox: Sandbox) -> str:
    """default/chaos, granted nothing yet; its token."""
    create_service_account(sandbox, "default", "chaos")
    return mint_token(sandbox, "default", "chaos")


@pytest.fixture
def admin(sandbox: Sandbox) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=str(sandbox.kubeconfig_path))
    yield api
    api.close()


def a_pod(box: Sandbox, namespace: str = "default") -> str:
    return str(box.call(lambda s: s.list("pods", namespace))[0]["metadata"]["name"])


def test_list_and_watch_are_different_verbs(sandbox: Sandbox, account: str) -> None:
    grant(
        sandbox,
        "default",
        "chaos",
        [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}],
        namespace="default",
    )
    status, pods = call(sandbox, "GET", "/api/v1/namespaces/default/pods", account)
    assert status == 200 and pods["items"]
    refused = message(
        call(sandbox, "GET", "/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1", account)
    )
    assert refused == (
        f'pods is forbidden: User "{USER}" cannot watch resource "pods" in API group "" in '
        'the namespace "default"'
    )
    name = a_pod(sandbox)
    getting = message(call(sandbox, "GET", f"/api/v1/namespaces/default/pods/{name}", account))
    assert getting.startswith(f'pods "{name}" is forbidden: User "{USER}" cannot get resource')
    grant(
        sandbox,
        "default",
        "chaos",
        [{"apiGroups": [""], "resources": ["pods"], "verbs": ["watch"]}],
        namespace="default",
        name="watcher",
    )
    status, stream = call(
        sandbox, "GET", "/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1", account
    )
    assert status == 200 and '"ADDED"' in str(stream)


def test_delete_of_a_collection_is_deletecollection(sandbox: Sandbox, account: str) -> None:
    grant(
        sandbox,
        "default",
        "chaos",
        [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["delete", "create"]}],
        namespace="default",
    )
    body = {"metadata": {"name": "one"}, "data": {"a": "b"}}
    assert call(sandbox, "POST", "/api/v1/namespaces/default/configmaps", account, body)[0] == 201
    refused = message(call(sandbox, "DELETE", "/api/v1/namespaces/default/configmaps", account))
    assert refused == (
        f'configmaps is forbidden: User "{USER}" cannot deletecollection resource '
        '"configmaps" in API group "" in the namespace "default"'
    )
    assert call(sandbox, "DELETE", "/api/v1/namespaces/default/configmaps/one", account)[0] == 200


def test_resource_names_limit_a_rule_to_named_objects(sandbox: Sandbox, account: str) -> None:
    name = a_pod(sandbox)
    grant(
        sandbox,
        "default",
        "chaos",
        [
            {
                "apiGroups": [""],
                "resources": ["pods"],
                "resourceNames": [name],
                "verbs": ["get", "list"],
            }
        ],
        namespace="default",
    )
    assert call(sandbox, "GET", f"/api/v1/namespaces/default/pods/{name}", account)[0] == 200
    other = message(call(sandbox, "GET", "/api/v1/namespaces/default/pods/other", account))
    assert other.startswith(f'pods "other" is forbidden: User "{USER}" cannot get')
    assert message(call(sandbox, "GET", "/api/v1/namespaces/default/pods", account)).startswith(
        "pods is forbidden"
    )
    # A list narrowed to that name by a field selector is a list of that name.
    status, listed = call(
        sandbox,
        "GET",
        f"/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3D{name}",
        account,
    )
    assert status == 200 and [p["metadata"]["name"] for p in listed["items"]] == [name]


def test_subresources_are_granted_apart(sandbox: Sandbox, account: str) -> None:
    name = a_pod(sandbox)
    grant(
        sandbox,
        "default",
        "chaos",
        [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
        ],
        namespace="default",
    )
    status, log = call(sandbox, "GET", f"/api/v1/namespaces/default/pods/{name}/log", account)
    assert status == 200 and "started" in log
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}}
    refused = message(
        call(sandbox, "POST", f"/api/v1/namespaces/default/pods/{name}/eviction", account, eviction)
    )
    assert refused == (
        f'pods "{name}" is forbidden: User "{USER}" cannot create resource "pods/eviction" in '
        'API group "" in the namespace "default"'
    )
    status_refused = message(
        call(sandbox, "GET", f"/api/v1/namespaces/default/pods/{name}/status", account)
    )
    assert 'cannot get resource "pods/status"' in status_refused
    grant(
        sandbox,
        "default",
        "chaos",
        [{"apiGroups": [""], "resources": ["*/eviction"], "verbs": ["create"]}],
        namespace="default",
        name="evicter",
    )
    evicted = call(
        sandbox, "POST", f"/api/v1/namespaces/default/pods/{name}/eviction", account, eviction
    )
    assert evicted[0] == 201, evicted
    scale = message(
        call(sandbox, "GET", "/apis/apps/v1/namespaces/default/deployments/x/scale", account)
    )
    assert scale == (
        f'deployments.apps "x" is forbidden: User "{USER}" cannot get resource '
        '"deployments/scale" in API group "apps" in the namespace "default"'
    )


def test_wildcards(sandbox: Sandbox, account: str) -> None:
    grant(
        sandbox,
        "default",
        "chaos",
        [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["list"]}],
        namespace="myapp",
    )
    for path in ("/api/v1/namespaces/myapp/pods", "/apis/apps/v1/namespaces/myapp/deployments"):
        assert call(sandbox, "GET", path, account)[0] == 200, path
    assert "cannot list" in message(
        call(sandbox, "GET", "/api/v1/namespaces/default/pods", account)
    )
    assert "at the cluster scope" in message(call(sandbox, "GET", "/api/v1/pods", account))


def test_non_resource_urls_and_the_default_grants(sandbox: Sandbox, account: str) -> None:
    for path in (
        "/version",
        "/healthz",
        "/api",
        "/apis",
        "/api/v1",
        "/apis/apps/v1",
        "/openapi/v2",
    ):
        assert call(sandbox, "GET", path, account)[0] == 200, path
    assert message(call(sandbox, "GET", "/metrics", account)) == (
        f'forbidden: User "{USER}" cannot get path "/metrics"'
    )
    assert message(call(sandbox, "POST", "/sandbox/v1/machines/x/stop", account)) == (
        f'forbidden: User "{USER}" cannot post path "/sandbox/v1/machines/x/stop"'
    )
    status, machines = call(sandbox, "GET", "/sandbox/v1/machines", sandbox.token)
    assert status == 200 and machines["machines"]
    # The grants are ordinary objects: without system:discovery's binding, no discovery.
    status, role = call(
        sandbox,
        "GET",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:discovery",
        sandbox.token,
    )
    assert status == 200 and {"/api", "/apis/*", "/version"} <= set(
        role["rules"][0]["nonResourceURLs"]
    )
    revoke(sandbox, "system:discovery")
    assert message(call(sandbox, "GET", "/apis", account)) == (
        f'forbidden: User "{USER}" cannot get path "/apis"'
    )
    assert call(sandbox, "GET", "/version", account)[0] == 200  # system:public-info-viewer


def test_cluster_scoped_rules(sandbox: Sandbox, account: str) -> None:
    grant(
        sandbox,
        "default",
        "chaos",
        [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "patch"]}],
    )
    api = client_for(sandbox, account)
    try:
        nodes = client.CoreV1Api(api).list_node().items
        assert len(nodes) == 8
        with pytest.raises(ApiException) as refused:
            client.CoreV1Api(api).delete_node(nodes[0].metadata.name)
        assert refused.value.status == 403
        assert json.loads(refused.value.body)["message"] == (
            f'nodes "{nodes[0].metadata.name}" is forbidden: User "{USER}" cannot delete '
            'resource "nodes" in API group "" at the cluster scope'
        )
        # A namespace's rules do not reach cluster-scoped kinds, nor other namespaces.
        with pytest.raises(ApiException) as pods:
            client.CoreV1Api(api).list_namespaced_pod("default")
        assert pods.value.status == 403
    finally:
        api.close()


def test_a_binding_to_a_missing_role_says_so(sandbox: Sandbox, account: str) -> None:
    def bind(store: Any) -> None:
        store.create(
            "rolebindings",
            {
                "metadata": {"name": "dangling", "namespace": "default"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "missing",
                },
                "subjects": [{"kind": "ServiceAccount", "name": "chaos", "namespace": "default"}],
            },
        )

    sandbox.call(bind)
    assert message(call(sandbox, "GET", "/api/v1/namespaces/default/pods", account)) == (
        f'pods is forbidden: User "{USER}" cannot list resource "pods" in API group "" in the '
        'namespace "default": RBAC: role.rbac.authorization.k8s.io "missing" not found'
    )
    status, rules = call(
        sandbox,
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
        account,
        {"spec": {"namespace": "default"}},
    )
    assert status == 201
    assert rules["status"]["evaluationError"] == (
        'role.rbac.authorization.k8s.io "missing" not found'
    )


def test_self_subject_access_review_with_the_official_client(
    sandbox: Sandbox, account: str, admin: client.ApiClient
) -> None:
    grant(
        sandbox,
        "default",
        "chaos",
        [{"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]}],
        namespace="default",
        name="killer",
    )
    api = client_for(sandbox, account)
    try:
        reviews = client.AuthorizationV1Api(api)

        def ask(verb: str, resource: str, namespace: str = "default", **more: str) -> Any:
            body = client.V1SelfSubjectAccessReview(
                spec=client.V1SelfSubjectAccessReviewSpec(
                    resource_attributes=client.V1ResourceAttributes(
                        verb=verb, resource=resource, namespace=namespace, **more
                    )
                )
            )
            return reviews.create_self_subject_access_review(body).status

        allowed = ask("delete", "pods")
        assert allowed.allowed is True
        assert allowed.reason == (
            'RBAC: allowed by RoleBinding "killer/default" of Role "killer" to '
            'ServiceAccount "chaos/default"'
        )
        assert ask("delete", "pods", "myapp").allowed is False
        assert ask("create", "pods", subresource="eviction").allowed is False
        rules = reviews.create_self_subject_rules_review(
            client.V1SelfSubjectRulesReview(
                spec=client.V1SelfSubjectRulesReviewSpec(namespace="default")
            )
        ).status
        assert {"verbs": ["delete"], "api_groups": [""], "resources": ["pods"]} in [
            {k: v for k, v in r.to_dict().items() if v is not None} for r in rules.resource_rules
        ]
        assert rules.incomplete is False
    finally:
        api.close()
    # The admin asks about the account with a SubjectAccessReview.
    about = (
        client.AuthorizationV1Api(admin)
        .create_subject_access_review(
            client.V1SubjectAccessReview(
                spec=client.V1SubjectAccessReviewSpec(
                    user=USER,
                    groups=["system:serviceaccounts", "system:authenticated"],
                    resource_attributes=client.V1ResourceAttributes(
                        verb="delete", resource="pods", namespace="default"
                    ),
                )
            )
        )
        .status
    )
    assert about.allowed is True
    mine = (
        client.AuthorizationV1Api(admin)
        .create_self_subject_access_review(
            client.V1SelfSubjectAccessReview(
                spec=client.V1SelfSubjectAccessReviewSpec(
                    non_resource_attributes=client.V1NonResourceAttributes(
                        verb="get", path="/anything"
                    )
                )
            )
        )
        .status
    )
    assert mine.allowed is True


def test_a_review_without_attributes_is_invalid(sandbox: Sandbox, account: str) -> None:
    status, body = call(
        sandbox,
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        account,
        {"spec": {}},
    )
    assert status == 422
    assert body["message"] == (
        'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: '
        "Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must "
        "be specified"
    )
    # Listing reviews is refused first (no one granted it), and has no meaning anyway.
    listing = call(
        sandbox, "GET", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", account
    )
    assert 'cannot list resource "selfsubjectaccessreviews"' in message(listing)
    status, body = call(
        sandbox, "GET", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", sandbox.token
    )
    assert status == 405
    status, body = call(
        sandbox,
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
        account,
        {"spec": {}},
    )
    assert (status, body["message"]) == (400, "no namespace on request")


def test_token_requests(sandbox: Sandbox, account: str, admin: client.ApiClient) -> None:
    core = client.CoreV1Api(admin)
    answer = core.create_namespaced_service_account_token(
        "chaos",
        "default",
        client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=1200)
        ),
    )
    assert answer.spec.expiration_seconds == 1200
    assert answer.status.expiration_timestamp is not None
    assert call(sandbox, "GET", "/version", answer.status.token)[0] == 200
    with pytest.raises(ApiException) as short:
        core.create_namespaced_service_account_token(
            "chaos",
            "default",
            client.AuthenticationV1TokenRequest(
                spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=60)
            ),
        )
    assert short.value.status == 422
    assert "may not specify a duration less than 10 minutes" in short.value.body
    with pytest.raises(ApiException) as missing:
        core.create_namespaced_service_account_token(
            "nobody",
            "default",
            client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])),
        )
    assert missing.value.status == 404
    # A token for another audience is not accepted by the API server.
    elsewhere = core.create_namespaced_service_account_token(
        "chaos",
        "default",
        client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=["vault"])),
    )
    assert call(sandbox, "GET", "/version", elsewhere.status.token)[0] == 401
    # Minting a token is itself authorized: serviceaccounts/token, create.
    refused = message(
        call(
            sandbox,
            "POST",
            "/api/v1/namespaces/default/serviceaccounts/chaos/token",
            account,
            {"spec": {}},
        )
    )
    assert refused == (
        f'serviceaccounts "chaos" is forbidden: User "{USER}" cannot create resource '
        '"serviceaccounts/token" in API group "" in the namespace "default"'
    )
    # A token dies with its account, even if an account of the same name comes back.
    core.delete_namespaced_service_account("chaos", "default")
    assert call(sandbox, "GET", "/version", account)[0] == 401
    create_service_account(sandbox, "default", "chaos")
    assert call(sandbox, "GET", "/version", account)[0] == 401


def test_expired_tokens_are_refused(sandbox: Sandbox, account: str) -> None:
    short = mint_token(sandbox, "default", "chaos", seconds=-1)
    assert call(sandbox, "GET", "/version", short)[0] == 401
    forged = account[:-4] + ("AAAA" if not account.endswith("AAAA") else "BBBB")
    assert call(sandbox, "GET", "/version", forged)[0] == 401


def test_impersonation_needs_the_impersonate_verb(sandbox: Sandbox, account: str) -> None:
    context = ssl.create_default_context(cafile=str(sandbox.ca_path))

    def as_other(token: str) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"{sandbox.url}/api/v1/namespaces/default/pods",
            headers={"Authorization": f"Bearer {token}", "Impersonate-User": "jane"},
        )
        try:
            with urllib.request.urlopen(request, context=context, timeout=10) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    assert message(as_other(account)) == (
        f'users "jane" is forbidden: User "{USER}" cannot impersonate resource "users" in API '
        'group "" at the cluster scope'
    )
    assert message(as_other(sandbox.token)) == (
        'pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the '
        'namespace "default"'
    )


def test_namespace_deletion_takes_its_accounts_and_roles(sandbox: Sandbox) -> None:
    create_service_account(sandbox, "myapp", "chaos")
    grant(
        sandbox,
        "myapp",
        "chaos",
        [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
        namespace="myapp",
    )
    status, _ = call(sandbox, "DELETE", "/api/v1/namespaces/myapp", sandbox.token)
    assert status == 200
    from tests.conftest import wait_for

    wait_for(
        lambda: sandbox.call(lambda s: s.peek("namespaces", "", "myapp") is None),
        what="namespace myapp gone",
    )
    assert sandbox.call(lambda s: s.list("serviceaccounts", "myapp")) == []
    assert sandbox.call(lambda s: s.list("roles", "myapp")) == []


def test_a_new_namespace_gets_a_default_account(sandbox: Sandbox) -> None:
    status, _ = call(
        sandbox, "POST", "/api/v1/namespaces", sandbox.token, {"metadata": {"name": "fresh"}}
    )
    assert status == 201
    from tests.conftest import wait_for

    wait_for(
        lambda: sandbox.call(lambda s: s.peek("serviceaccounts", "fresh", "default")),
        what="default account in fresh",
    )


def test_rbac_objects_are_validated(sandbox: Sandbox) -> None:
    roles = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles"
    status, body = call(
        sandbox,
        "POST",
        roles,
        sandbox.token,
        {
            "metadata": {"name": "bad"},
            "rules": [
                {"apiGroups": [""], "resources": ["pods"]},
                {"nonResourceURLs": ["/x"], "verbs": ["get"]},
            ],
        },
    )
    assert status == 422
    assert body["message"] == (
        'Role.rbac.authorization.k8s.io "bad" is invalid: [rules[0].verbs: Required value: '
        "verbs must contain at least one value, rules[1].nonResourceURLs: Invalid value: "
        '[]string{"/x"}: namespaced rules cannot apply to non-resource URLs]'
    )
    assert [c["field"] for c in body["details"]["causes"]] == [
        "rules[0].verbs",
        "rules[1].nonResourceURLs",
    ]
    bindings = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
    status, body = call(
        sandbox,
        "POST",
        bindings,
        sandbox.token,
        {
            "metadata": {"name": "bad"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
            "subjects": [{"kind": "ServiceAccount", "name": "chaos"}],
        },
    )
    assert status == 422
    assert body["message"] == (
        'ClusterRoleBinding.rbac.authorization.k8s.io "bad" is invalid: [roleRef.kind: '
        'Unsupported value: "Role": supported values: "ClusterRole", '
        "subjects[0].namespace: Required value]"
    )
    status, body = call(
        sandbox,
        "POST",
        bindings,
        sandbox.token,
        {
            "metadata": {"name": "good"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "view",
            },
            "subjects": [{"kind": "User", "name": "jane"}],
        },
    )
    assert status == 201
    assert body["subjects"] == [
        {"kind": "User", "name": "jane", "apiGroup": "rbac.authorization.k8s.io"}
    ]


def test_a_changed_role_applies_at_once(sandbox: Sandbox, account: str) -> None:
    grant(
        sandbox,
        "default",
        "chaos",
        [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}],
        namespace="default",
        name="cm",
    )
    path = "/api/v1/namespaces/default/configmaps"
    assert call(sandbox, "GET", path, account)[0] == 200
    assert "cannot create" in message(
        call(sandbox, "POST", path, account, {"metadata": {"name": "a"}})
    )
    role = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles/cm"
    _, current = call(sandbox, "GET", role, sandbox.token)
    current["rules"][0]["verbs"] = ["create"]
    assert call(sandbox, "PUT", role, sandbox.token, current)[0] == 200
    assert call(sandbox, "POST", path, account, {"metadata": {"name": "a"}})[0] == 201
    assert "cannot list" in message(call(sandbox, "GET", path, account))
