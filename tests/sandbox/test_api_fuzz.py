"""Malformed writes: every one gets a Status answer, none reaches the controllers."""

from __future__ import annotations

import json
import logging
import random
import ssl
import urllib.error
import urllib.request
from typing import Any

import pytest
from kubernetes import client, config

from sandbox.sandbox import Sandbox
from tests.conftest import wait_for

COLLECTIONS = [
    "/api/v1/namespaces/default/pods",
    "/apis/apps/v1/namespaces/default/deployments",
    "/api/v1/namespaces/default/services",
    "/api/v1/nodes",
    "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
    "/api/v1/namespaces/default/configmaps",
    "/api/v1/namespaces/default/events",
    "/apis/coordination.k8s.io/v1/namespaces/default/leases",
    "/api/v1/namespaces/default/endpoints",
    "/apis/apps/v1/namespaces/default/replicasets",
]
KEYS = [
    "metadata",
    "spec",
    "status",
    "name",
    "labels",
    "replicas",
    "selector",
    "matchLabels",
    "matchExpressions",
    "template",
    "containers",
    "image",
    "ports",
    "port",
    "data",
    "finalizers",
    "ownerReferences",
    "minAvailable",
    "nodeName",
    "env",
    "taints",
    "nodeSelector",
    "subsets",
    "addresses",
    "involvedObject",
    "holderIdentity",
]
PATCH_TYPES = (
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
)


def test_random_writes_get_status_answers_and_the_cluster_keeps_working(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(20261123)
    context = ssl.create_default_context(cafile=str(sandbox.ca_path))

    def send(method: str, path: str, body: Any, content_type: str) -> int:
        request = urllib.request.Request(
            sandbox.url + path,
            data=json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {sandbox.token}", "Content-Type": content_type},
        )
        try:
            with urllib.request.urlopen(request, context=context, timeout=10) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            assert json.loads(exc.read())["kind"] == "Status"
            return int(exc.code)

    def junk(depth: int = 0) -> Any:
        roll = rng.random()
        if depth > 2 or roll < 0.35:
            return rng.choice([None, True, 0, -3, 1.5, "", "x", "50%", [], {}])
        if roll < 0.55:
            return [junk(depth + 1) for _ in range(rng.randint(0, 2))]
        return {rng.choice(KEYS): junk(depth + 1) for _ in range(rng.randint(1, 3))}

    def spoil(value: Any) -> Any:
        if isinstance(value, dict) and value and rng.random() < 0.8:
            key = rng.choice(list(value))
            value[key] = spoil(value[key]) if rng.random() < 0.6 else junk(1)
            return value
        if isinstance(value, list) and value and rng.random() < 0.8:
            index = rng.randrange(len(value))
            value[index] = spoil(value[index])
            return value
        return junk(1)

    codes: dict[int, int] = {}
    with caplog.at_level(logging.WARNING, logger="sandbox"):
        for _ in range(400):
            path = rng.choice(COLLECTIONS)
            objects = sandbox.call(lambda store, p=path: store.list(p.rsplit("/", 1)[1]))
            if not objects:
                continue
            original = rng.choice(objects)
            body = spoil(json.loads(json.dumps(original)))
            name = original["metadata"]["name"]
            method = rng.choice(["POST", "PUT", "PATCH", "PATCH"])
            if method == "POST":
                code = send("POST", path, body, "application/json")
            elif method == "PUT":
                code = send("PUT", f"{path}/{name}", body, "application/json")
            else:
                code = send("PATCH", f"{path}/{name}", spoil(junk()), rng.choice(PATCH_TYPES))
            codes[code] = codes.get(code, 0) + 1
        assert not [c for c in codes if c >= 500], codes
        assert codes.get(422, 0) > 20, codes

        # The controllers still work: a new deployment gets its pods.
        api = config.new_client_from_config(config_file=str(sandbox.kubeconfig_path))
        apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
        apps.create_namespaced_deployment(
            "myapp",
            {
                "metadata": {"name": "after"},
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": {"app": "after"}},
                    "template": {
                        "metadata": {"labels": {"app": "after"}},
                        "spec": {"containers": [{"name": "c", "image": "x"}]},
                    },
                },
            },
        )

        def running() -> int:
            pods = core.list_namespaced_pod("myapp", label_selector="app=after").items
            return sum(p.status.phase == "Running" for p in pods)

        wait_for(lambda: running() == 2, what="the new deployment's pods")
        api.close()
    assert "a controller failed" not in caplog.text


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (
            "/api/v1/namespaces/default/services",
            {"metadata": {"name": "s"}, "spec": {"selector": ["app"], "ports": [{"port": 80}]}},
            'Service "s" is invalid: spec.selector: Invalid value: list: must be a map of strings',
        ),
        (
            "/api/v1/namespaces/default/services",
            {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 70000}]}},
            "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
        ),
        (
            "/apis/apps/v1/namespaces/default/deployments",
            {
                "metadata": {"name": "d"},
                "spec": {
                    "replicas": "3",
                    "selector": {"matchLabels": {"app": "d"}},
                    "template": {"metadata": {"labels": {"app": "d"}}},
                },
            },
            "spec.replicas: Invalid value: '3': must be an integer",
        ),
        (
            "/apis/apps/v1/namespaces/default/deployments",
            {
                "metadata": {"name": "d"},
                "spec": {
                    "selector": {"matchLabels": {"app": "d"}},
                    "template": {
                        "metadata": {"labels": {"app": "other"}},
                        "spec": {"containers": [{"name": "c", "image": "x"}]},
                    },
                },
            },
            "spec.template.metadata.labels: Invalid value: dict: `selector` does not match",
        ),
        (
            "/api/v1/namespaces/default/pods",
            {"metadata": {"name": "p"}, "spec": {"containers": []}},
            'Pod "p" is invalid: spec.containers: Required value',
        ),
        (
            "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
            {"metadata": {"name": "b"}, "spec": {"minAvailable": "50"}},
            "spec.minAvailable: Invalid value: '50': must be an integer or percentage",
        ),
        (
            "/api/v1/namespaces/default/configmaps",
            {"metadata": {"name": "c", "labels": {"a": 1}}},
            'ConfigMap "c" is invalid: metadata.labels: Invalid value: dict: must be a map',
        ),
    ],
)
def test_wrong_types_are_refused_naming_the_field(
    sandbox: Sandbox, path: str, body: dict[str, Any], message: str
) -> None:
    request = urllib.request.Request(
        sandbox.url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {sandbox.token}", "Content-Type": "application/json"},
    )
    context = ssl.create_default_context(cafile=str(sandbox.ca_path))
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, context=context, timeout=10)
    assert refused.value.code == 422
    status = json.loads(refused.value.read())
    assert message in status["message"], status["message"]
    assert status["details"]["causes"][0]["field"]
    name = body["metadata"]["name"]
    assert not sandbox.call(
        lambda store: [
            o for o in store.list(path.rsplit("/", 1)[1]) if o["metadata"]["name"] == name
        ]
    )


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(9)
)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/yaml", BOMB),
        ("application/yaml", "[" * 30_000 + "]" * 30_000),
        ("application/json", "[" * 30_000 + "]" * 30_000),
    ],
    ids=["alias-bomb", "deep-yaml", "deep-json"],
)
def test_hostile_bodies_are_a_400_and_the_sandbox_keeps_serving(
    sandbox: Sandbox, content_type: str, body: str
) -> None:
    request = urllib.request.Request(
        f"{sandbox.url}/api/v1/namespaces/default/configmaps",
        method="POST",
        data=body.encode(),
        headers={"Authorization": f"Bearer {sandbox.token}", "Content-Type": content_type},
    )
    context = ssl.create_default_context(cafile=str(sandbox.ca_path))
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, context=context, timeout=30)
    assert answer.value.code == 400
    assert json.loads(answer.value.read())["reason"] == "BadRequest"
    listing = urllib.request.Request(
        f"{sandbox.url}/api/v1/namespaces/default/pods",
        headers={"Authorization": f"Bearer {sandbox.token}"},
    )
    with urllib.request.urlopen(listing, context=context, timeout=10) as pods:
        assert pods.status == 200
