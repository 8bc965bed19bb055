"""The gcp driver with the real google-cloud-compute client against a local Compute endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from google.auth.credentials import AnonymousCredentials

from drivers._common import Pacing
from drivers.gcp import PERMISSIONS, GcpDriver, create_driver, locate
from seal.errors import CloudError
from seal.model import NodeState
from tests.drivers.fake_gce import FakeCompute
from tests.drivers.http_fake import serving

P = "/compute/v1/projects/shop"


@pytest.fixture
def compute() -> Iterator[FakeCompute]:
    fake = FakeCompute()
    fake.add("shop", "europe-west1-b", "gke-pool-1", "10.0.0.2", "34.1.1.1")
    fake.add("shop", "europe-west1-b", "gke-pool-2", "10.0.0.3")
    fake.add("shop", "europe-west1-c", "gke-pool-3", "10.0.0.4")
    fake.add("other", "europe-west1-c", "elsewhere", "10.9.0.4")
    with serving(fake):
        yield fake


def _driver(fake: FakeCompute, **options: object) -> GcpDriver:
    return create_driver(
        project="shop",
        credentials=AnonymousCredentials(),
        api_endpoint=fake.url,
        pacing=Pacing.fast(),
        **options,  # type: ignore[arg-type]
    )


def test_lists_every_page_of_every_zone(compute: FakeCompute) -> None:
    machines = _driver(compute, page_size=2).list_machines()
    assert compute.calls == [f"GET {P}/aggregated/instances"] * 2
    assert [q.get("pageToken") for q in compute.queries] == [None, ["2"]]
    assert [m.provider_id for m in machines] == [
        "gce://shop/europe-west1-b/gke-pool-1",
        "gce://shop/europe-west1-b/gke-pool-2",
        "gce://shop/europe-west1-c/gke-pool-3",
    ]
    first = machines[0]
    assert first.name == "gke-pool-1" and first.zone == "europe-west1-b"
    assert first.private_ips == ("10.0.0.2",) and first.public_ips == ("34.1.1.1",)
    assert first.state is NodeState.UP and first.groups == ("pool=default",)


def test_lists_only_the_zones_given(compute: FakeCompute) -> None:
    machines = _driver(compute, zones=["europe-west1-c"]).list_machines()
    assert compute.calls == [f"GET {P}/zones/europe-west1-c/instances"]
    assert [m.name for m in machines] == ["gke-pool-3"]


def test_stop_force_start_and_wait(compute: FakeCompute) -> None:
    driver = _driver(compute)
    machine = driver.get_machine("gce://shop/europe-west1-b/gke-pool-2")
    driver.stop(machine, force=True)
    stopped = driver.wait_for(machine, NodeState.DOWN, timeout=5)
    assert stopped.cloud_state == "TERMINATED"
    driver.start(machine)
    driver.wait_for(machine, NodeState.UP, timeout=5)
    instance = f"{P}/zones/europe-west1-b/instances/gke-pool-2"
    assert compute.calls == [
        f"GET {instance}",
        f"POST {instance}/stop",
        f"GET {instance}",
        f"POST {instance}/start",
        f"GET {instance}",
    ]
    assert compute.queries[1].get("noGracefulShutdown") == ["true"]
    assert "noGracefulShutdown" not in compute.queries[3]


def test_throttling_is_retried_a_bounded_number_of_times(compute: FakeCompute) -> None:
    driver = _driver(compute)
    instance = f"{P}/zones/europe-west1-b/instances/gke-pool-1"
    compute.fail_next(f"POST {instance}/stop", 429)
    compute.fail_next(f"POST {instance}/stop", 503)
    driver.stop(driver.get_machine("gce://shop/europe-west1-b/gke-pool-1"))
    assert compute.calls.count(f"POST {instance}/stop") == 3
    assert compute.instances[("shop", "europe-west1-b", "gke-pool-1")]["status"] == "TERMINATED"
    compute.fail_next(f"POST {instance}/start", 503, times=3)
    with pytest.raises(
        CloudError, match=r"cannot start machine gke-pool-1 \(gce://shop/.*\): HTTP 503"
    ):
        driver.start(driver.get_machine("gce://shop/europe-west1-b/gke-pool-1"))
    assert compute.calls.count(f"POST {instance}/start") == 3


def test_refusals_are_not_retried_and_name_the_machine(compute: FakeCompute) -> None:
    driver = _driver(compute)
    machine = driver.get_machine("gce://shop/europe-west1-c/gke-pool-3")
    compute.reset_calls()
    compute.fail_next(
        f"POST {P}/zones/europe-west1-c/instances/gke-pool-3/stop",
        403,
        {"error": {"code": 403, "message": "Required 'compute.instances.stop' permission"}},
    )
    with pytest.raises(CloudError, match=r"stop machine gke-pool-3 \(gce://.*HTTP 403: Required"):
        driver.stop(machine)
    assert len(compute.calls) == 1
    with pytest.raises(CloudError, match=r"read machine gce://shop/europe-west1-c/nope: HTTP 404"):
        driver.get_machine("gce://shop/europe-west1-c/nope")
    with pytest.raises(CloudError, match="is not gce://<project>/<zone>/<name>"):
        locate("gce://shop/nope")


def test_check_reports_each_missing_permission(compute: FakeCompute) -> None:
    compute.granted = {"compute.instances.get", "compute.instances.start"}
    checks = _driver(compute).check()
    assert [(c.name, c.ok) for c in checks] == [
        ("compute.instances.list", True),
        ("compute.instances.get", True),
        ("compute.instances.stop", False),
        ("compute.instances.start", True),
    ]
    assert "missing on shop/europe-west1-b/gke-pool-1" in checks[2].detail
    asked = f"POST {P}/zones/europe-west1-b/instances/gke-pool-1/testIamPermissions"
    assert compute.calls[-1] == asked
    assert set(PERMISSIONS) == {c.name for c in checks[1:]}


def test_check_with_no_access_fails_the_listing(compute: FakeCompute) -> None:
    compute.fail_next(f"GET {P}/aggregated/instances", 403)
    checks = _driver(compute).check()
    assert [(c.name, c.ok) for c in checks] == [("compute.instances.list", False)]
    assert "HTTP 403" in checks[0].detail


def test_no_project_is_a_clear_error(compute: FakeCompute) -> None:
    with pytest.raises(CloudError, match="no Google Cloud project"):
        create_driver(credentials=AnonymousCredentials(), api_endpoint=compute.url)


def test_an_unreachable_endpoint_fails_after_bounded_retries() -> None:
    from tests.drivers.http_fake import FakeServer, serving

    with serving(FakeServer()) as gone:
        url = gone.url
    driver = create_driver(
        project="shop", credentials=AnonymousCredentials(), api_endpoint=url, pacing=Pacing.fast()
    )
    with pytest.raises(CloudError, match="cannot list the instances of project shop"):
        driver.list_machines()
