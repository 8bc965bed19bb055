"""The official Kubernetes Python client against the sandbox: the real wire protocol."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from sandbox.sandbox import Sandbox
from tests.conftest import wait_for


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=str(sandbox.kubeconfig_path))
    yield api_client
    api_client.close()


def test_list_nodes_and_pods(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    nodes = core.list_node().items
    assert len(nodes) == 8
    assert sum("master" in n.metadata.name for n in nodes) == 3
    assert {n.metadata.labels["topology.kubernetes.io/zone"] for n in nodes} == {
        "WEST-1",
        "WEST-2",
        "EAST-1",
    }
    assert all(n.spec.provider_id.startswith("sandbox://") for n in nodes)
    pods = core.list_namespaced_pod("default", label_selector="app=goldpinger").items
    assert len(pods) == 3
    assert all(p.status.phase == "Running" for p in pods)
    assert all("master" not in p.spec.node_name for p in pods)


def test_selectors_and_pagination(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    page = core.list_pod_for_all_namespaces(limit=4)
    assert len(page.items) == 4 and page.metadata._continue
    rest = core.list_pod_for_all_namespaces(limit=4, _continue=page.metadata._continue)
    names = [p.metadata.name for p in page.items + rest.items]
    assert len(names) == len(set(names)) == 6
    assert rest.metadata._continue is None
    assert core.list_pod_for_all_namespaces(label_selector="app in (my-service)").items
    assert not core.list_pod_for_all_namespaces(
        label_selector="app notin (my-service,goldpinger)"
    ).items
    by_node = core.list_pod_for_all_namespaces(field_selector="spec.nodeName=master-0").items
    assert by_node == []
    running = core.list_pod_for_all_namespaces(field_selector="status.phase=Running").items
    assert len(running) == 6


def test_pages_of_a_selector_in_a_namespace_cover_its_pods_once(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="paged")))
    for index in range(23):
        labels = {"app": "odd" if index % 2 else "even"}
        pod = client.V1Pod(
            metadata=client.V1ObjectMeta(name=f"p{index:02d}", labels=labels),
            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]),
        )
        core.create_namespaced_pod("paged", pod)
    seen: list[str] = []
    token = None
    for _ in range(20):
        page = core.list_namespaced_pod("paged", label_selector="app=odd", limit=5, _continue=token)
        seen += [p.metadata.name for p in page.items]
        if len(seen) == 5:  # a pod gone and one added between pages: later pages see that
            core.delete_namespaced_pod("p11", "paged", grace_period_seconds=0)
            extra = client.V1Pod(
                metadata=client.V1ObjectMeta(name="p99", labels={"app": "odd"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]),
            )
            core.create_namespaced_pod("paged", extra)
        token = page.metadata._continue
        if not token:
            break
    odd = [f"p{i:02d}" for i in range(1, 23, 2)]
    assert seen == [*[n for n in odd if n != "p11"], "p99"]


def test_create_patch_delete_and_errors(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    body = {"metadata": {"name": "cfg", "labels": {"a": "1"}}, "data": {"k": "v"}}
    created = core.create_namespaced_config_map("default", body)
    assert created.metadata.uid and created.metadata.resource_version
    with pytest.raises(ApiException) as conflict:
        core.create_namespaced_config_map("default", body)
    assert conflict.value.status == 409
    patched = core.patch_namespaced_config_map(
        "cfg", "default", {"metadata": {"labels": {"b": "2"}}}
    )
    assert patched.metadata.labels == {"a": "1", "b": "2"}
    assert int(patched.metadata.resource_version) > int(created.metadata.resource_version)
    stale = created
    stale.data = {"k": "other"}
    with pytest.raises(ApiException) as stale_error:
        core.replace_namespaced_config_map("cfg", "default", stale)
    assert stale_error.value.status == 409
    core.delete_namespaced_config_map("cfg", "default")
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("cfg", "default")
    assert missing.value.status == 404
    with pytest.raises(ApiException) as invalid:
        core.create_namespaced_config_map("default", {"metadata": {}})
    assert invalid.value.status == 422


def test_deployment_scale_and_recovery(api: client.ApiClient) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    apps.patch_namespaced_deployment_scale("goldpinger", "default", {"spec": {"replicas": 5}})

    def ready_count() -> int:
        return apps.read_namespaced_deployment("goldpinger", "default").status.ready_replicas or 0

    wait_for(lambda: ready_count() == 5, what="5 ready replicas")
    victim = core.list_namespaced_pod("default", label_selector="app=goldpinger").items[0]
    core.delete_namespaced_pod(victim.metadata.name, "default", grace_period_seconds=0)

    def replaced() -> bool:
        pods = core.list_namespaced_pod("default", label_selector="app=goldpinger").items
        names = {p.metadata.name for p in pods if p.status.phase == "Running"}
        return len(names) == 5 and victim.metadata.name not in names

    wait_for(replaced, what="the killed pod to be replaced")


def test_graceful_deletion_shows_terminating(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    pod = core.list_namespaced_pod("default").items[0]
    core.delete_namespaced_pod(pod.metadata.name, "default", grace_period_seconds=30)
    current = core.read_namespaced_pod(pod.metadata.name, "default")
    assert current.metadata.deletion_timestamp is not None
    assert current.metadata.deletion_grace_period_seconds == 30

    def gone() -> bool:
        names = [p.metadata.name for p in core.list_namespaced_pod("default").items]
        return pod.metadata.name not in names

    wait_for(gone, what="the terminating pod to go")


def test_eviction_respects_disruption_budgets(api: client.ApiClient) -> None:
    core, policy = client.CoreV1Api(api), client.PolicyV1Api(api)
    policy.create_namespaced_pod_disruption_budget(
        "default",
        {
            "metadata": {"name": "gp"},
            "spec": {"minAvailable": 3, "selector": {"matchLabels": {"app": "goldpinger"}}},
        },
    )
    pod = core.list_namespaced_pod("default", label_selector="app=goldpinger").items[0]
    eviction = client.V1Eviction(
        metadata=client.V1ObjectMeta(name=pod.metadata.name, namespace="default")
    )

    def status() -> tuple[int, int, int, int]:
        s = policy.read_namespaced_pod_disruption_budget("gp", "default").status
        if s is None:
            return (-1, -1, -1, -1)
        return (s.expected_pods, s.current_healthy, s.desired_healthy, s.disruptions_allowed)

    wait_for(lambda: status() == (3, 3, 3, 0), what="the budget's status")
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod_eviction(pod.metadata.name, "default", eviction)
    assert refused.value.status == 429
    assert "disruption budget" in refused.value.body
    policy.patch_namespaced_pod_disruption_budget("gp", "default", {"spec": {"minAvailable": 2}})
    wait_for(lambda: status() == (3, 3, 2, 1), what="the budget to allow one disruption")
    core.create_namespaced_pod_eviction(pod.metadata.name, "default", eviction)
    assert core.read_namespaced_pod(pod.metadata.name, "default").metadata.deletion_timestamp
    wait_for(lambda: status()[1:] == (2, 2, 0), what="the budget to count the evicted pod")


def test_watch_streams_changes_and_resumes(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    start_rv = core.list_namespaced_config_map("default").metadata.resource_version
    seen: list[tuple[str, str]] = []

    def run() -> None:
        stream = watch.Watch()
        for event in stream.stream(
            core.list_namespaced_config_map, "default", resource_version=start_rv, timeout_seconds=5
        ):
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 3:
                stream.stop()

    watcher = threading.Thread(target=run)
    watcher.start()
    core.create_namespaced_config_map("default", {"metadata": {"name": "w"}})
    core.patch_namespaced_config_map("w", "default", {"data": {"x": "y"}})
    core.delete_namespaced_config_map("w", "default")
    watcher.join(timeout=10)
    assert seen == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


def test_watch_from_a_forgotten_version_is_gone(sandbox: Sandbox) -> None:
    import json
    import ssl
    import urllib.request

    from sandbox import store as store_module

    def churn(store: store_module.Store) -> None:
        store.create("configmaps", {"metadata": {"name": "churn", "namespace": "default"}})
        for i in range(store_module.HISTORY + 5):
            store.mutate(
                "configmaps",
                "default",
                "churn",
                lambda o, i=i: o.__setitem__("data", {"i": str(i)}),
            )

    sandbox.call(churn)
    request = urllib.request.Request(
        f"{sandbox.url}/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=2",
        headers={"Authorization": f"Bearer {sandbox.token}"},
    )
    context = ssl.create_default_context(cafile=str(sandbox.ca_path))
    with urllib.request.urlopen(request, context=context, timeout=10) as answer:
        event = json.loads(answer.readline())
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410


def test_requests_without_the_token_are_refused(sandbox: Sandbox) -> None:
    import ssl
    import urllib.error
    import urllib.request

    context = ssl.create_default_context(cafile=str(sandbox.ca_path))
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{sandbox.url}/api/v1/pods", context=context, timeout=5)
    assert refused.value.code == 401


def test_malformed_requests_get_status_answers_never_a_crash(sandbox: Sandbox) -> None:
    import json
    import ssl
    import urllib.error
    import urllib.request

    context = ssl.create_default_context(cafile=str(sandbox.ca_path))

    def send(
        method: str, path: str, body: bytes, content_type: str
    ) -> tuple[int, dict[str, object]]:
        request = urllib.request.Request(
            f"{sandbox.url}{path}",
            data=body,
            method=method,
            headers={"Authorization": f"Bearer {sandbox.token}", "Content-Type": content_type},
        )
        try:
            with urllib.request.urlopen(request, context=context, timeout=5) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    pods = "/api/v1/namespaces/default/pods"
    code, status = send("POST", pods, b"{not json", "application/json")
    assert (code, status["kind"], status["reason"]) == (400, "Status", "BadRequest")
    code, status = send("POST", pods, b"[1, 2]", "application/json")
    assert code == 400
    code, status = send("POST", pods, b'{"metadata": "x"}', "application/json")
    assert code == 422
    code, status = send(
        "POST", "/api/v1/namespaces/nope/pods", b'{"metadata": {"name": "p"}}', "application/json"
    )
    assert code == 404
    code, status = send(
        "PATCH", "/api/v1/namespaces/default/configmaps/x", b"{}", "application/merge-patch+json"
    )
    assert code == 404
    code, status = send(
        "GET", "/api/v1/namespaces/default/pods?labelSelector=a%20in%20(", b"", "application/json"
    )
    assert code == 400 and "unable to parse requirement" in str(status["message"])


def test_patch_flavours_on_a_deployment(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    before = apps.read_namespaced_deployment("goldpinger", "default")
    # A dict body goes as a strategic merge patch: containers merge by name.
    apps.patch_namespaced_deployment(
        "goldpinger",
        "default",
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": before.spec.template.spec.containers[0].name,
                                "env": [{"name": "MODE", "value": "chaos"}],
                            }
                        ]
                    }
                }
            }
        },
    )
    after = apps.read_namespaced_deployment("goldpinger", "default")
    container = after.spec.template.spec.containers[0]
    assert len(after.spec.template.spec.containers) == 1
    assert container.image == before.spec.template.spec.containers[0].image
    assert [(e.name, e.value) for e in container.env or []][-1] == ("MODE", "chaos")
    assert after.metadata.generation == before.metadata.generation + 1
    # A list body goes as a JSON patch.
    apps.patch_namespaced_deployment(
        "goldpinger",
        "default",
        [
            {"op": "test", "path": "/spec/replicas", "value": 3},
            {"op": "replace", "path": "/spec/replicas", "value": 4},
            {"op": "add", "path": "/metadata/labels/tier", "value": "web"},
        ],
    )
    patched = apps.read_namespaced_deployment("goldpinger", "default")
    assert patched.spec.replicas == 4 and patched.metadata.labels["tier"] == "web"
    with pytest.raises(ApiException) as failed_test:
        apps.patch_namespaced_deployment(
            "goldpinger", "default", [{"op": "test", "path": "/spec/replicas", "value": 9}]
        )
    assert failed_test.value.status == 422
    assert apps.read_namespaced_deployment("goldpinger", "default").spec.replicas == 4


def test_endpoints_events_and_leases(api: client.ApiClient) -> None:
    core, coordination = client.CoreV1Api(api), client.CoordinationV1Api(api)
    pods = core.list_namespaced_pod("default", label_selector="app=goldpinger").items
    endpoints = core.read_namespaced_endpoints("goldpinger", "default")
    addresses = {a.ip for s in endpoints.subsets for a in s.addresses}
    assert addresses == {p.status.pod_ip for p in pods}
    assert endpoints.subsets[0].ports[0].port == 8080
    event = core.create_namespaced_event(
        "default",
        {
            "metadata": {"generateName": "note-"},
            "involvedObject": {
                "kind": "Pod",
                "namespace": "default",
                "name": pods[0].metadata.name,
            },
            "reason": "Testing",
            "message": "hello",
            "type": "Normal",
        },
    )
    assert event.metadata.name.startswith("note-")
    listed = core.list_namespaced_event(
        "default", field_selector=f"metadata.name={event.metadata.name}"
    ).items
    assert [e.message for e in listed] == ["hello"]
    lease = coordination.create_namespaced_lease(
        "default",
        {
            "metadata": {"name": "leader"},
            "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15},
        },
    )
    lease.spec.holder_identity = "b"
    renewed = coordination.replace_namespaced_lease("leader", "default", lease)
    assert renewed.spec.holder_identity == "b"
    assert int(renewed.metadata.resource_version) > int(lease.metadata.resource_version)
    coordination.delete_namespaced_lease("leader", "default")
    assert coordination.list_namespaced_lease("default").items == []


def test_delete_propagation_orphans_or_cascades(api: client.ApiClient) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)

    def replicasets(app: str) -> list[client.V1ReplicaSet]:
        namespace = "myapp" if app == "my-service" else "default"
        return list(apps.list_namespaced_replica_set(namespace, label_selector=f"app={app}").items)

    def live_pods(namespace: str, app: str) -> list[client.V1Pod]:
        pods = core.list_namespaced_pod(namespace, label_selector=f"app={app}").items
        return [p for p in pods if p.metadata.deletion_timestamp is None]

    [owned] = replicasets("goldpinger")
    assert owned.metadata.owner_references[0].kind == "Deployment"
    apps.delete_namespaced_deployment(
        "goldpinger", "default", body=client.V1DeleteOptions(propagation_policy="Orphan")
    )
    wait_for(
        lambda: not apps.list_namespaced_deployment("default").items, what="the deployment to go"
    )
    [orphan] = replicasets("goldpinger")
    assert orphan.metadata.uid == owned.metadata.uid
    assert not orphan.metadata.owner_references
    assert len(live_pods("default", "goldpinger")) == 3

    apps.delete_namespaced_deployment(
        "my-service", "myapp", body=client.V1DeleteOptions(propagation_policy="Background")
    )
    wait_for(
        lambda: not replicasets("my-service") and not live_pods("myapp", "my-service"),
        what="the replica set and pods of a cascading delete to go",
    )
    # The orphaned replica set still keeps its pods.
    assert len(live_pods("default", "goldpinger")) == 3


def test_finalizers_hold_an_object_until_they_are_removed(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
    )
    core.delete_namespaced_config_map("held", "default")
    held = core.read_namespaced_config_map("held", "default")
    assert held.metadata.deletion_timestamp is not None
    assert held.metadata.finalizers == ["example.com/hold"]
    with pytest.raises(ApiException) as refused:
        core.patch_namespaced_config_map(
            "held", "default", {"metadata": {"finalizers": ["example.com/hold", "x.io/more"]}}
        )
    assert refused.value.status == 422 and "no new finalizers" in refused.value.body
    core.patch_namespaced_config_map("held", "default", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as gone:
        core.read_namespaced_config_map("held", "default")
    assert gone.value.status == 404

    pod = core.list_namespaced_pod("default", label_selector="app=goldpinger").items[0]
    name = pod.metadata.name
    core.patch_namespaced_pod(name, "default", {"metadata": {"finalizers": ["example.com/hold"]}})
    core.delete_namespaced_pod(name, "default", grace_period_seconds=0)
    terminating = core.read_namespaced_pod(name, "default")
    assert terminating.metadata.deletion_timestamp is not None
    core.patch_namespaced_pod(name, "default", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as pod_gone:
        core.read_namespaced_pod(name, "default")
    assert pod_gone.value.status == 404


def test_foreground_deletion_removes_dependents_first(api: client.ApiClient) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    apps.delete_namespaced_deployment(
        "goldpinger", "default", body=client.V1DeleteOptions(propagation_policy="Foreground")
    )
    owner = apps.read_namespaced_deployment("goldpinger", "default")
    assert owner.metadata.deletion_timestamp is not None
    assert "foregroundDeletion" in owner.metadata.finalizers

    def everything_gone() -> bool:
        deployments = apps.list_namespaced_deployment("default").items
        replicasets = apps.list_namespaced_replica_set("default").items
        pods = core.list_namespaced_pod("default", label_selector="app=goldpinger").items
        # Never the owner gone while a dependent remains.
        assert deployments or not (replicasets or pods)
        return not (deployments or replicasets or pods)

    wait_for(everything_gone, what="the deployment, its replica set and its pods to go")


def test_dry_run_writes_answer_and_change_nothing(api: client.ApiClient) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    before = apps.read_namespaced_deployment("goldpinger", "default")
    answer = apps.patch_namespaced_deployment(
        "goldpinger", "default", {"spec": {"replicas": 9}}, dry_run="All"
    )
    assert answer.spec.replicas == 9
    after = apps.read_namespaced_deployment("goldpinger", "default")
    assert after.spec.replicas == before.spec.replicas
    assert after.metadata.resource_version == before.metadata.resource_version
    with pytest.raises(ApiException) as invalid:
        apps.patch_namespaced_deployment(
            "goldpinger", "default", {"spec": {"replicas": -1}}, dry_run="All"
        )
    assert invalid.value.status == 422
    pod = core.list_namespaced_pod("default").items[0]
    core.delete_namespaced_pod(pod.metadata.name, "default", dry_run="All")
    assert (
        core.read_namespaced_pod(pod.metadata.name, "default").metadata.deletion_timestamp is None
    )
    replaced = before
    replaced.spec.replicas = 4
    replaced.metadata.managed_fields = None
    apps.replace_namespaced_deployment("goldpinger", "default", replaced, dry_run="All")
    assert apps.read_namespaced_deployment("goldpinger", "default").spec.replicas == 3


def _watch_lines(sandbox: Sandbox, path: str) -> list[dict[str, Any]]:
    import json
    import ssl
    import urllib.request

    request = urllib.request.Request(
        f"{sandbox.url}{path}", headers={"Authorization": f"Bearer {sandbox.token}"}
    )
    context = ssl.create_default_context(cafile=str(sandbox.ca_path))
    with urllib.request.urlopen(request, context=context, timeout=20) as answer:
        return [json.loads(line) for line in answer.read().splitlines() if line.strip()]


def test_watch_list_sends_initial_events_then_a_bookmark(sandbox: Sandbox) -> None:
    import urllib.error

    events = _watch_lines(
        sandbox,
        "/api/v1/namespaces/default/pods?watch=1&sendInitialEvents=true"
        "&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1",
    )
    assert [e["type"] for e in events] == ["ADDED"] * 3 + ["BOOKMARK"]
    bookmark = events[-1]["object"]
    assert bookmark["kind"] == "Pod"
    assert bookmark["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert int(bookmark["metadata"]["resourceVersion"]) >= max(
        int(e["object"]["metadata"]["resourceVersion"]) for e in events[:-1]
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        _watch_lines(sandbox, "/api/v1/namespaces/default/pods?watch=1&sendInitialEvents=true")
    assert refused.value.code == 422


def test_watches_that_ask_get_bookmarks(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from sandbox import watch as watch_module

    monkeypatch.setattr(watch_module, "BOOKMARK_SECONDS", 0.2)
    rv = sandbox.call(lambda store: store.resource_version)
    asked = _watch_lines(
        sandbox,
        f"/api/v1/namespaces/default/configmaps?watch=1&allowWatchBookmarks=true"
        f"&resourceVersion={rv}&timeoutSeconds=1",
    )
    assert asked and {e["type"] for e in asked} == {"BOOKMARK"}
    assert all(int(e["object"]["metadata"]["resourceVersion"]) >= rv for e in asked)
    not_asked = _watch_lines(
        sandbox,
        f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=1",
    )
    assert not_asked == []


def test_a_deleted_namespace_terminates_then_goes(api: client.ApiClient) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    core.delete_namespace("myapp")
    terminating = core.read_namespace("myapp")
    assert terminating.status.phase == "Terminating"
    assert terminating.metadata.deletion_timestamp is not None
    assert terminating.spec.finalizers == ["kubernetes"]
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_config_map("myapp", {"metadata": {"name": "late"}})
    assert refused.value.status == 403 and "being terminated" in refused.value.body

    def gone() -> bool:
        try:
            core.read_namespace("myapp")
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_for(gone, what="the namespace to go")
    assert core.list_namespaced_pod("myapp").items == []
    assert apps.list_namespaced_deployment("myapp").items == []
    assert core.list_namespaced_service("myapp").items == []
