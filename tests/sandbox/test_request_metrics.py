"""The sandbox counts what its API server serves, as the Kubernetes API server does:
`apiserver_request_total{verb,resource,subresource,scope,code,...}` and the
`apiserver_request_duration_seconds` histogram, read here through the admin API's
/sandbox/v1/metrics with Prometheus's own text parser."""

from __future__ import annotations

import json
import ssl
import threading
import urllib.error
import urllib.request
from typing import Any

from kubernetes import client, config
from prometheus_client.parser import text_string_to_metric_families

from sandbox.metrics import BUCKETS, RequestLabels, RequestMetrics
from sandbox.sandbox import Sandbox
from seal.adapters.kube import KubeClient
from seal.adapters.kubeconfig import resolve

Labels = dict[str, str]


def call(
    box: Sandbox,
    method: str,
    path: str,
    body: object = None,
    *,
    token: str | None = None,
    content_type: str = "application/json",
) -> tuple[int, str]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{box.url}{path}",
        method=method,
        data=data,
        headers={
            "Authorization": f"Bearer {box.token if token is None else token}",
            "Content-Type": content_type,
        },
    )
    context = ssl.create_default_context(cafile=str(box.ca_path))
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def scrape(box: Sandbox) -> dict[str, list[tuple[str, Labels, float]]]:
    """The samples of each metric family the sandbox shows, parsed by prometheus-client."""
    code, text = call(box, "GET", "/sandbox/v1/metrics")
    assert code == 200, text
    return {
        family.name: [(s.name, dict(s.labels), s.value) for s in family.samples]
        for family in text_string_to_metric_families(text)
    }


def requests(box: Sandbox, **wanted: str) -> dict[tuple[str, str, str], float]:
    """apiserver_request_total by (verb, subresource, code), for the samples with `wanted`
    labels."""
    found: dict[tuple[str, str, str], float] = {}
    for name, labels, value in scrape(box)["apiserver_request"]:
        if name != "apiserver_request_total":
            continue
        if all(labels.get(k) == v for k, v in wanted.items()):
            key = (labels["verb"], labels["subresource"], labels["code"])
            found[key] = found.get(key, 0) + value
    return found


def pod(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": "counted"}},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]},
    }


def test_a_list_a_delete_and_a_missing_get_are_counted_exactly(sandbox: Sandbox) -> None:
    pods = "/api/v1/namespaces/default/pods"
    assert requests(sandbox, resource="pods") == {}
    code, listing = call(sandbox, "GET", pods)
    assert code == 200
    victim = json.loads(listing)["items"][0]["metadata"]["name"]
    assert call(sandbox, "DELETE", f"{pods}/{victim}")[0] == 200
    assert call(sandbox, "GET", f"{pods}/no-such-pod")[0] == 404
    assert requests(sandbox, resource="pods") == {
        ("LIST", "", "200"): 1,
        ("DELETE", "", "200"): 1,
        ("GET", "", "404"): 1,
    }
    # the labels the API server puts on them
    samples = {
        labels["verb"]: labels
        for name, labels, _ in scrape(sandbox)["apiserver_request"]
        if labels.get("resource") == "pods"
    }
    assert samples["LIST"] == {
        "verb": "LIST",
        "dry_run": "",
        "group": "",
        "version": "v1",
        "resource": "pods",
        "subresource": "",
        "scope": "namespace",
        "component": "apiserver",
        "code": "200",
    }
    assert samples["DELETE"]["scope"] == samples["GET"]["scope"] == "resource"
    # reading the metrics is not an API request: a second scrape shows the same counts
    assert requests(sandbox, resource="pods") == {
        ("LIST", "", "200"): 1,
        ("DELETE", "", "200"): 1,
        ("GET", "", "404"): 1,
    }


def test_the_verbs_are_the_api_servers(sandbox: Sandbox) -> None:
    pods = "/api/v1/namespaces/default/pods"
    assert call(sandbox, "POST", pods, pod("made"))[0] == 201
    assert call(sandbox, "POST", pods, pod("second"))[0] == 201
    assert call(sandbox, "POST", f"{pods}?dryRun=All", pod("never"))[0] == 201
    assert call(sandbox, "GET", f"{pods}/made")[0] == 200
    # a ConfigMap to replace: no controller changes it between the GET and the PUT
    maps = "/api/v1/namespaces/default/configmaps"
    assert call(sandbox, "POST", maps, {"metadata": {"name": "m"}, "data": {"a": "1"}})[0] == 201
    code, text = call(sandbox, "GET", f"{maps}/m")
    assert code == 200
    assert call(sandbox, "PUT", f"{maps}/m", {**json.loads(text), "data": {"a": "2"}})[0] == 200
    merge = "application/merge-patch+json"
    patch = {"metadata": {"labels": {"patched": "yes"}}}
    assert call(sandbox, "PATCH", f"{pods}/made", patch, content_type=merge)[0] == 200
    assert call(sandbox, "PATCH", f"{pods}/made/status", patch, content_type=merge)[0] == 200
    assert call(sandbox, "GET", f"{pods}/made/log")[0] == 200
    assert call(sandbox, "GET", "/api/v1/pods?watch=true&timeoutSeconds=1")[0] == 200
    assert call(sandbox, "DELETE", f"{pods}?labelSelector=app%3Dcounted")[0] == 200
    assert call(sandbox, "GET", "/api/v1/nodes")[0] == 200
    counted = requests(sandbox, resource="pods")
    assert counted == {
        ("POST", "", "201"): 3,
        ("GET", "", "200"): 1,
        ("PATCH", "", "200"): 1,
        ("PATCH", "status", "200"): 1,
        ("GET", "log", "200"): 1,
        ("WATCH", "", "200"): 1,
        ("DELETECOLLECTION", "", "200"): 1,
    }
    assert requests(sandbox, resource="pods", dry_run="All") == {("POST", "", "201"): 1}
    assert requests(sandbox, resource="configmaps", scope="resource") == {
        ("GET", "", "200"): 1,
        ("PUT", "", "200"): 1,
    }
    assert requests(sandbox, resource="pods", verb="WATCH", scope="cluster") == {
        ("WATCH", "", "200"): 1
    }
    assert requests(sandbox, resource="nodes", scope="cluster") == {("LIST", "", "200"): 1}


def test_refusals_and_paths_that_are_no_resource_are_counted(sandbox: Sandbox) -> None:
    assert call(sandbox, "GET", "/api/v1/namespaces/default/pods", token="wrong")[0] == 401
    assert call(sandbox, "GET", "/version")[0] == 200
    assert call(sandbox, "GET", "/apis/apps/v1")[0] == 200
    assert call(sandbox, "GET", "/no/such/thing")[0] == 404
    assert requests(sandbox, resource="pods") == {("LIST", "", "401"): 1}
    assert requests(sandbox, resource="") == {
        ("GET", "/version", "200"): 1,
        ("GET", "/apis", "200"): 1,
        ("GET", "other", "404"): 1,
    }
    # the metrics are the admin API's: they want the admin token too
    assert call(sandbox, "GET", "/sandbox/v1/metrics", token="wrong")[0] == 401


def test_latency_histograms_hold_every_request(sandbox: Sandbox) -> None:
    kube = KubeClient(resolve(str(sandbox.kubeconfig_path)))
    pods = kube.list_pods("default")
    for _ in range(4):
        kube.list_pods("default")
    kube.delete_pod("default", pods[0].name)
    samples = scrape(sandbox)["apiserver_request_duration_seconds"]

    def series(verb: str) -> dict[str, float]:
        return {
            labels.get("le", name.rsplit("_", 1)[1]): value
            for name, labels, value in samples
            if labels["verb"] == verb and labels["resource"] == "pods"
        }

    lists = series("LIST")
    assert lists["count"] == lists["+Inf"] == 5 == kube.request_counts["LIST"]
    bounds = [f"{b:g}" for b in BUCKETS]
    assert [le for le in lists if le not in ("+Inf", "sum", "count")] == bounds
    cumulative = [lists[le] for le in bounds]
    assert cumulative == sorted(cumulative)  # buckets count everything up to their bound
    assert 0 < lists["sum"] < 60
    assert series("DELETE")["count"] == 1


def test_counts_stay_exact_when_observed_from_many_threads() -> None:
    metrics = RequestMetrics()
    labels = RequestLabels("LIST", "", "", "v1", "pods", "", "namespace")

    def observe() -> None:
        for _ in range(5000):
            metrics.observe(labels, 200, 0.03)

    workers = [threading.Thread(target=observe) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert metrics.total("LIST", "pods") == 20000
    text = metrics.render()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    buckets = {
        s.labels["le"]: s.value
        for s in families["apiserver_request_duration_seconds"].samples
        if s.name.endswith("_bucket")
    }
    assert buckets["0.025"] == 0 and buckets["0.05"] == 20000 and buckets["+Inf"] == 20000
    assert metrics.total("DELETE") == 0


def test_the_sandbox_has_no_custom_resources_and_says_so(sandbox: Sandbox) -> None:
    """Clients list CustomResourceDefinitions (some still in the v1beta1 group that left
    the API server in 1.22): the list is empty, and counted as a LIST of them."""
    api = config.new_client_from_config(config_file=str(sandbox.kubeconfig_path))
    try:
        listed = client.ApiextensionsV1Api(api).list_custom_resource_definition()
    finally:
        api.close()
    assert listed.items == []
    code, text = call(
        sandbox, "GET", "/apis/apiextensions.k8s.io/v1beta1/customresourcedefinitions"
    )
    assert code == 200
    assert json.loads(text) == {
        "kind": "CustomResourceDefinitionList",
        "apiVersion": "apiextensions.k8s.io/v1beta1",
        "metadata": {"resourceVersion": "1"},
        "items": [],
    }
    code, text = call(sandbox, "GET", "/apis/apiextensions.k8s.io/v1beta1")
    assert code == 200
    assert [r["name"] for r in json.loads(text)["resources"]] == ["customresourcedefinitions"]
    assert call(sandbox, "GET", "/apis/apiextensions.k8s.io/v2/customresourcedefinitions")[0] == 404
    assert requests(sandbox, resource="customresourcedefinitions") == {("LIST", "", "200"): 2}
    assert requests(sandbox, resource="customresourcedefinitions", version="v1beta1") == {
        ("LIST", "", "200"): 1
    }
