"""The openstack driver with the real openstacksdk against a local Keystone v3 and Nova,
named in a clouds.yaml written by the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers import load_driver
from drivers._common import Pacing
from drivers.openstack import OpenStackDriver, create_driver, server_id
from seal.errors import CloudError
from seal.model import NodeState
from tests.drivers.fake_openstack import FakeOpenStack
from tests.drivers.http_fake import serving

# The SDK warns about its own deprecated internals on every call.
pytestmark = pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")

A = "0a1b2c3d-0000-4000-8000-00000000000a"
B = "0a1b2c3d-0000-4000-8000-00000000000b"
C = "0a1b2c3d-0000-4000-8000-00000000000c"


@pytest.fixture
def nova(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenStack]:
    fake = FakeOpenStack(page_size=2)
    fake.add(A, "node-a", "nova-a", "10.1.0.5", "172.24.4.10")
    fake.add(B, "node-b", "nova-b", "10.1.0.6")
    fake.add(C, "node-c", "nova-a", "10.1.0.7")
    with serving(fake):
        clouds = tmp_path / "clouds.yaml"
        clouds.write_text(
            "clouds:\n"
            "  lab:\n"
            "    auth:\n"
            f"      auth_url: {fake.url}/identity/v3\n"
            "      username: seal\n"
            f"      password: {fake.password}\n"
            "      project_name: shop\n"
            "      user_domain_name: Default\n"
            "      project_domain_name: Default\n"
            "    region_name: RegionOne\n"
            "    identity_api_version: 3\n"
        )
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
        for name in ("OS_CLOUD", "OS_AUTH_URL", "OS_PASSWORD", "OS_USERNAME"):
            monkeypatch.delenv(name, raising=False)
        yield fake


def _driver() -> OpenStackDriver:
    return create_driver(cloud="lab", pacing=Pacing.fast())


def _nova_calls(fake: FakeOpenStack) -> list[str]:
    return [c for c in fake.calls if c.split()[1].startswith("/compute/v2.1/servers")]


def test_lists_every_page_of_servers(nova: FakeOpenStack) -> None:
    machines = _driver().list_machines()
    assert [m.provider_id for m in machines] == [f"openstack:///{i}" for i in (A, B, C)]
    a = machines[0]
    assert a.name == "node-a" and a.zone == "nova-a" and a.state is NodeState.UP
    assert a.private_ips == ("10.1.0.5",) and a.public_ips == ("172.24.4.10",)
    assert "POST /identity/v3/auth/tokens" in nova.calls
    assert _nova_calls(nova) == ["GET /compute/v2.1/servers/detail"] * 2
    assert all(
        h.get("x-auth-token") == "token-1"
        for c, h in zip(nova.calls, nova.headers, strict=True)
        if c.startswith("GET /compute/v2.1/servers")
    )


def test_stop_then_start_with_waiting(nova: FakeOpenStack) -> None:
    driver = _driver()
    machine = driver.get_machine(f"openstack:///{B}")
    driver.stop(machine, force=True)
    assert driver.wait_for(machine, NodeState.DOWN, timeout=5).cloud_state == "SHUTOFF"
    driver.start(machine)
    assert driver.wait_for(machine, NodeState.UP, timeout=5).cloud_state == "ACTIVE"
    server = f"/compute/v2.1/servers/{B}"
    assert _nova_calls(nova) == [
        f"GET {server}",
        f"POST {server}/action",
        f"GET {server}",
        f"POST {server}/action",
        f"GET {server}",
    ]


def test_transient_errors_are_retried_a_bounded_number_of_times(nova: FakeOpenStack) -> None:
    driver = _driver()
    machine = driver.get_machine(f"openstack:///{A}")
    action = f"POST /compute/v2.1/servers/{A}/action"
    nova.fail_next(action, 503)
    driver.stop(machine)
    assert nova.calls.count(action) == 2 and nova.servers[A]["status"] == "SHUTOFF"
    nova.fail_next(action, 503, times=5)
    with pytest.raises(
        CloudError, match=r"cannot start machine node-a \(openstack:///.*\): HTTP 503"
    ):
        driver.start(machine)
    assert nova.calls.count(action) == 2 + 3


def test_errors_name_the_machine_and_the_reason(nova: FakeOpenStack) -> None:
    driver = _driver()
    with pytest.raises(CloudError, match=r"read machine openstack:///nope: HTTP 404"):
        driver.get_machine("openstack:///nope")
    with pytest.raises(CloudError, match="is not openstack:///<server id>"):
        server_id("openstack:///a/b")


def test_check_reports_the_project_and_roles(nova: FakeOpenStack) -> None:
    checks = load_driver("openstack", cloud="lab", pacing=Pacing.fast()).check()
    assert [(c.name, c.ok) for c in checks] == [
        ("credentials", True),
        ("list servers", True),
        ("stop and start servers", None),
    ]
    assert checks[0].detail == "project shop, roles: member, reader"
    assert checks[2].line().startswith("skip")


def test_check_with_a_wrong_password(nova: FakeOpenStack) -> None:
    nova.password = "changed"
    checks = _driver().check()
    assert [(c.name, c.ok) for c in checks] == [("credentials", False)]
    assert "401" in checks[0].detail


def test_an_unknown_cloud_name_is_a_clear_error(nova: FakeOpenStack) -> None:
    with pytest.raises(CloudError, match="cannot set up OpenStack from cloud 'nope'"):
        create_driver(cloud="nope")
