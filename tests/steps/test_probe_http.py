"""probeHTTP in process: real requests to the sandbox's service listeners, fake delays."""

from __future__ import annotations

import socket

import pytest

from seal.errors import StepFailed
from seal.steps.probe_http import STEP
from tests.steps.conftest import StepHarness


def cluster_ip(h: StepHarness, namespace: str, name: str) -> str:
    ip = h.kube.get_service(namespace, name).cluster_ip
    assert ip.startswith("127.10.")
    return ip


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_url_target_is_called_with_its_endpoint(harness: StepHarness) -> None:
    url = f"http://{cluster_ip(harness, 'default', 'goldpinger')}:8080"
    outcome = harness.run(
        STEP,
        f"""\
        - probeHTTP:
            target: {{url: '{url}/'}}
            endpoint: healthz
            method: POST
            body: '{{"ping": 1}}'
            headers: [{{name: Content-Type, value: application/json}}]
        """,
    )
    assert outcome.result == "passed"
    assert outcome.reason == "1 request(s) answered 200"
    assert harness.metrics.named("probe_finished") == [(f"{url}/healthz", "success")]
    assert harness.clock.slept == []


def test_a_service_target_calls_the_cluster_ip(harness: StepHarness) -> None:
    ip = cluster_ip(harness, "default", "goldpinger")
    outcome = harness.run(
        STEP,
        """\
        - probeHTTP:
            target: {service: {name: goldpinger, namespace: default, port: 8080}}
            endpoint: /healthz
            count: 4
        """,
    )
    assert outcome.result == "passed"
    assert outcome.reason == "4 request(s) answered 200"
    assert harness.metrics.named("probe_finished") == [(f"http://{ip}:8080/healthz", "success")] * 4
    # the default port is 80
    default_port = harness.run(
        STEP,
        """\
        - probeHTTP:
            target: {service: {name: my-service, namespace: myapp}}
            method: head
        """,
    )
    assert default_port.result == "passed"
    assert harness.metrics.named("probe_finished")[-1] == (
        f"http://{cluster_ip(harness, 'myapp', 'my-service')}:80",
        "success",
    )


def test_a_wrong_code_is_retried_with_the_delay_then_fails(harness: StepHarness) -> None:
    ip = cluster_ip(harness, "default", "goldpinger")
    with pytest.raises(StepFailed) as failure:
        harness.run(
            STEP,
            """\
            - probeHTTP:
                target: {service: {name: goldpinger, namespace: default, port: 8080}}
                code: 204
                count: 2
                retries: 3
                delay: 250
            """,
        )
    assert str(failure.value) == (
        f"probe GET http://{ip}:8080: request 1 of 2 failed 3 time(s); "
        "last: answered 200, expected 204"
    )
    assert harness.clock.slept == [0.25, 0.25]
    assert [o for _, o in harness.metrics.named("probe_finished")] == ["wrong-code"] * 3


def test_no_answer_is_retried_then_fails(harness: StepHarness) -> None:
    port = closed_port()
    with pytest.raises(StepFailed) as failure:
        harness.run(
            STEP,
            f"""\
            - probeHTTP:
                target: {{url: 'http://127.0.0.1:{port}/'}}
                retries: 2
                delay: 1500
            """,
        )
    assert "failed 2 time(s)" in str(failure.value)
    assert "connection refused" in str(failure.value)
    assert harness.clock.slept == [1.5]
    assert [o for _, o in harness.metrics.named("probe_finished")] == ["error"] * 2


def test_a_missing_service_fails_naming_it(harness: StepHarness) -> None:
    with pytest.raises(StepFailed, match="service default/nope does not exist"):
        harness.run(
            STEP,
            """\
            - probeHTTP:
                target: {service: {name: nope, namespace: default}}
            """,
        )
    assert harness.metrics.named("probe_finished") == []


def test_a_dry_run_probe_that_fails_is_skipped_not_failed(harness: StepHarness) -> None:
    dry = "safety: {dryRun: true}"
    failing = harness.run(
        STEP,
        """\
        - probeHTTP:
            target: {service: {name: goldpinger, namespace: default, port: 8080}}
            code: 500
            retries: 2
            delay: 100
        """,
        dry,
    )
    assert failing.result == "skipped"
    assert failing.reason.startswith("dry run: the probe fails now: probe GET http://127.10.")
    assert failing.reason.endswith("last: answered 200, expected 500")
    assert harness.clock.slept == [0.1]  # the probe really ran
    passing = harness.run(
        STEP,
        """\
        - probeHTTP:
            target: {service: {name: goldpinger, namespace: default, port: 8080}}
        """,
        dry,
    )
    assert passing.result == "passed"
