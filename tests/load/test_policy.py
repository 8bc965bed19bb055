"""`background:`, `abortWhen:` and `abortCheckSeconds:` in the policy: what they build,
their located errors, `seal schema`, and the Prometheus series of the load."""

from __future__ import annotations

import json

import pytest

from seal.errors import PolicyError
from seal.policy.background import LoadService, LoadThresholds
from tests.autonomous.helpers import seal
from tests.load.conftest import policy


def test_a_full_background_builds_with_its_defaults() -> None:
    [scenario] = policy(
        """\
        scenarios:
        - name: under load
          background:
            users: 8
            ratePerUser: 2.5
            service: {namespace: shop, name: web, path: api/items}
            method: POST
            headers: [{name: X-Chaos, value: seal}]
            body: '{}'
            timeoutMs: 250
            thresholds: {maxErrorRate: 0.05, maxLatencyMs: 300}
          abortWhen:
          - probePods: {namespace: shop, selector: app=db}
          steps: []
        """
    ).scenarios
    load = scenario.background
    assert load is not None
    assert (load.users, load.rate, load.url, load.method) == (8, 20.0, None, "post")
    assert load.service == LoadService("shop", "web", 80, "http", "/api/items")
    assert (load.headers, load.body, load.timeout_ms) == ((("X-Chaos", "seal"),), "{}", 250)
    assert load.thresholds == LoadThresholds(0.05, 300.0, 99.0, 10.0, 20)
    assert [p.key for p in scenario.abort_when] == ["probePods"]
    assert scenario.abort_check_seconds == 5.0


def test_a_url_with_the_default_rate_of_one_per_user() -> None:
    [scenario] = policy(
        "scenarios:\n- name: plain\n  background: {users: 3, url: 'http://127.0.0.1:1/'}\n"
        "  steps: []\n"
    ).scenarios
    assert scenario.background is not None
    assert (scenario.background.rate, scenario.background.url) == (3.0, "http://127.0.0.1:1/")
    assert scenario.background.thresholds == LoadThresholds()


def test_a_scenario_without_them_is_as_before() -> None:
    [scenario] = policy("scenarios:\n- name: plain\n  steps: []\n").scenarios
    assert (scenario.background, scenario.abort_when) == (None, ())


@pytest.mark.parametrize(
    ("lines", "where", "message"),
    [
        ("  background: {users: 0, url: 'http://x'}", "4:23", "must be >= 1, got 0"),
        ("  background: {url: 'ftp://x'}", "4:21", "'ftp://x' is not an http:// or https:// URL"),
        ("  background: {users: 2}", "4:15", "background needs exactly one of url and service"),
        (
            "  background: {url: 'http://x', service: {namespace: a, name: b}}",
            "4:15",
            "background needs exactly one of url and service",
        ),
        (
            "  background: {url: 'http://x', rate: 5, ratePerUser: 1}",
            "4:55",
            "give rate (all users together) or ratePerUser, not both",
        ),
        (
            "  background: {url: 'http://x', thresholds: {maxErrorRate: 1.5}}",
            "4:60",
            "must be <= 1, got 1.5",
        ),
        (
            "  background: {url: 'http://x', thresholds: {percentile: 0}}",
            "4:58",
            "must be > 0, got 0",
        ),
        ("  background: {url: 'http://x', users: 'many'}", "4:40", "must be a whole number"),
        ("  background: {url: 'http://x', userz: 2}", "4:33", "unknown key 'userz'"),
        ("  abortWhen: [{podAction: {}}]", "4:16", "unknown probe 'podAction'"),
        ("  abortWhen: []", "4:14", "must have at least 1 item"),
        ("  abortCheckSeconds: 0", "4:22", "must be > 0, got 0"),
    ],
)
def test_bad_input_is_a_located_error(lines: str, where: str, message: str) -> None:
    with pytest.raises(PolicyError) as failure:
        policy(f"scenarios:\n- name: bad load\n  steps: []\n{lines}\n")
    assert len(failure.value.problems) == 1, failure.value.problems
    [problem] = failure.value.problems
    assert problem.startswith(f"load.yml:{where}: "), problem
    assert message in problem


def test_seal_schema_shows_them() -> None:
    result = seal("schema")
    assert result.returncode == 0, result.stderr
    scenario = json.loads(result.stdout)["properties"]["scenarios"]["items"]["properties"]
    background = scenario["background"]["properties"]
    assert {"users", "rate", "ratePerUser", "url", "service", "thresholds"} <= set(background)
    assert set(background["thresholds"]["properties"]) == {
        "maxErrorRate",
        "maxLatencyMs",
        "percentile",
        "windowSeconds",
        "minRequests",
    }
    assert "probeHTTP" in scenario["abortWhen"]["items"]["properties"]
    assert "podAction" not in scenario["abortWhen"]["items"]["properties"]
    assert scenario["abortCheckSeconds"]["exclusiveMinimum"] == 0


def test_prometheus_counts_load_requests_by_result_with_their_latency() -> None:
    from prometheus_client import generate_latest

    from seal.metrics import PrometheusMetrics

    metrics = PrometheusMetrics()
    metrics.load_requests("rollout", [], [])
    text = generate_latest(metrics.registry).decode()
    assert 'seal_load_requests_total{result="error",scenario="rollout"} 0.0' in text
    metrics.load_requests("rollout", [0.004, 0.02, 0.2], [1.5])
    text = generate_latest(metrics.registry).decode()
    assert 'seal_load_requests_total{result="success",scenario="rollout"} 3.0' in text
    assert 'seal_load_requests_total{result="error",scenario="rollout"} 1.0' in text
    assert 'seal_load_latency_seconds_bucket{le="0.005",scenario="rollout"} 1.0' in text
    assert 'seal_load_latency_seconds_bucket{le="0.25",scenario="rollout"} 3.0' in text
    assert 'seal_load_latency_seconds_count{scenario="rollout"} 4.0' in text


def test_seal_rbac_grants_the_load_its_service_and_the_abort_probes_their_reads() -> None:
    from seal.runtime import rbac

    needs = rbac.policy_needs(
        policy(
            """\
            scenarios:
            - name: rbac of load
              background: {service: {namespace: shop, name: web}}
              abortWhen: [{probePods: {namespace: db, selector: app=db}}]
              steps: []
            """
        )
    )
    found = {(n.verb, n.resource, n.namespace, n.name): why for n, why in needs.items()}
    assert found[("get", "services", "shop", "web")] == ["scenario 'rbac of load', background"]
    assert found[("list", "pods", "db", "")] == [
        "scenario 'rbac of load', abortWhen probe 1 (probePods, line 4)"
    ]
