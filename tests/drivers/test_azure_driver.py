"""The azure driver with the real azure-mgmt-compute client against a local Resource
Manager endpoint over TLS, trusted through a throw-away CA made for the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers._common import Pacing
from drivers.azure import ACTIONS, AzureDriver, StaticToken, create_driver, locate
from sandbox.tls import make_server_tls
from seal.errors import CloudError
from seal.model import NodeState
from tests.drivers.fake_arm import FakeArm
from tests.drivers.http_fake import serving

SUB = "00000000-0000-0000-0000-000000000001"
MC = "MC_shop_aks_westeurope"
GROUP = f"/subscriptions/{SUB}/resourceGroups/{MC}"
VMSS = f"{GROUP}/providers/Microsoft.Compute/virtualMachineScaleSets/aks-pool-vmss"


@pytest.fixture
def ca_file(tmp_path: Path) -> Iterator[tuple[str, object]]:
    tls = make_server_tls(tmp_path / "tls", "127.0.0.1")
    path = tmp_path / "ca.pem"
    path.write_bytes(tls.ca_pem)
    yield str(path), tls


@pytest.fixture
def arm(ca_file: tuple[str, object]) -> Iterator[FakeArm]:
    fake = FakeArm(page_size=2)
    fake.add_vm(SUB, "shop", "web-1", zone="1")
    fake.add_vm(SUB, "shop", "web-2", zone="2")
    fake.add_vm(SUB, "other", "db-1")
    fake.add_scale_set(SUB, MC, "aks-pool-vmss", 3)
    with serving(fake, ca_file[1].server_context()):  # type: ignore[attr-defined]
        yield fake


def _driver(arm: FakeArm, ca_file: tuple[str, object], **options: object) -> AzureDriver:
    return create_driver(
        subscription=SUB,
        credential=StaticToken("static-token"),
        base_url=arm.url,
        ca_file=ca_file[0],
        retry_backoff_factor=0.01,
        pacing=Pacing.fast(),
        **options,  # type: ignore[arg-type]
    )


def test_lists_machines_and_scale_set_instances_of_the_subscription(
    arm: FakeArm, ca_file: tuple[str, object]
) -> None:
    machines = _driver(arm, ca_file).list_machines()
    base = f"/subscriptions/{SUB}"
    assert arm.calls == [
        f"GET {base}/providers/Microsoft.Compute/virtualMachines",
        f"GET {base}/providers/Microsoft.Compute/virtualMachines",
        f"GET {base}/providers/Microsoft.Compute/virtualMachineScaleSets",
        f"GET {VMSS}/virtualMachines",
        f"GET {VMSS}/virtualMachines",
    ]
    assert all(h["authorization"] == "Bearer static-token" for h in arm.headers)
    assert arm.queries[0]["$expand"] == ["instanceView"]
    by_id = {m.provider_id: m for m in machines}
    assert len(machines) == 6
    web = by_id[
        f"azure://{base}/resourceGroups/shop/providers/Microsoft.Compute/virtualMachines/web-1"
    ]
    assert web.name == "web-1" and web.zone == "westeurope-1" and web.state is NodeState.UP
    assert web.cloud_state == "running" and web.groups == ("shop",)
    node = by_id[f"azure://{VMSS}/virtualMachines/2"]
    assert node.name == "aks-pool-vmss000002" and node.groups == (MC, "aks-pool-vmss")


def test_lists_only_the_resource_groups_given(arm: FakeArm, ca_file: tuple[str, object]) -> None:
    machines = _driver(arm, ca_file, resource_groups=["other"]).list_machines()
    group = f"/subscriptions/{SUB}/resourceGroups/other/providers/Microsoft.Compute"
    assert arm.calls == [f"GET {group}/virtualMachines", f"GET {group}/virtualMachineScaleSets"]
    assert [m.name for m in machines] == ["db-1"]


def test_scale_set_instance_stop_force_and_start(arm: FakeArm, ca_file: tuple[str, object]) -> None:
    driver = _driver(arm, ca_file)
    machine = driver.get_machine(f"azure://{VMSS}/virtualMachines/1")
    driver.stop(machine, force=True)
    assert driver.wait_for(machine, NodeState.DOWN, timeout=5).cloud_state == "stopped"
    driver.start(machine)
    assert driver.wait_for(machine, NodeState.UP, timeout=5).cloud_state == "running"
    one = f"{VMSS}/virtualMachines/1"
    assert arm.calls == [
        f"GET {one}",
        f"POST {one}/powerOff",
        f"GET {one}",
        f"POST {one}/start",
        f"GET {one}",
    ]
    assert arm.queries[1]["skipShutdown"] == ["true"]


def test_plain_machine_deallocated_when_asked(arm: FakeArm, ca_file: tuple[str, object]) -> None:
    driver = _driver(arm, ca_file, deallocate=True)
    ident = arm.vm_id(SUB, "shop", "web-2")
    machine = driver.get_machine(f"azure://{ident}")
    driver.stop(machine)
    assert arm.calls[-1] == f"POST {ident}/deallocate"
    assert driver.wait_for(machine, NodeState.DOWN, timeout=5).cloud_state == "deallocated"


def test_node_provider_ids_in_another_case_are_found(
    arm: FakeArm, ca_file: tuple[str, object]
) -> None:
    lowered = f"azure://{VMSS.lower()}/virtualMachines/0"
    assert _driver(arm, ca_file).get_machine(lowered).name == "aks-pool-vmss000000"


def test_throttling_is_retried_a_bounded_number_of_times(
    arm: FakeArm, ca_file: tuple[str, object]
) -> None:
    driver = _driver(arm, ca_file, retry_total=2)
    one = f"{VMSS}/virtualMachines/0"
    machine = driver.get_machine(f"azure://{one}")
    arm.fail_next(f"POST {one}/powerOff", 429)
    driver.stop(machine)
    assert arm.calls.count(f"POST {one}/powerOff") == 2
    arm.fail_next(f"POST {one}/start", 503, times=5)
    with pytest.raises(CloudError, match=r"cannot start machine aks-pool-vmss000000 \(azure://"):
        driver.start(machine)
    assert arm.calls.count(f"POST {one}/start") == 3


def test_errors_name_the_machine_and_the_reason(arm: FakeArm, ca_file: tuple[str, object]) -> None:
    driver = _driver(arm, ca_file)
    with pytest.raises(
        CloudError, match=r"read machine azure://.*/nope: HTTP 404 ResourceNotFound"
    ):
        driver.get_machine(f"azure://{arm.vm_id(SUB, 'shop', 'nope')}")
    with pytest.raises(CloudError, match="names no Azure virtual machine"):
        locate("azure:///subscriptions/x/resourceGroups/y/providers/Microsoft.Network/nic/z")


def test_an_untrusted_certificate_is_refused(arm: FakeArm, tmp_path: Path) -> None:
    other = make_server_tls(tmp_path / "other", "127.0.0.1")
    (tmp_path / "other.pem").write_bytes(other.ca_pem)
    driver = _driver(arm, (str(tmp_path / "other.pem"), None), retry_total=0)
    with pytest.raises(CloudError, match="cannot list the machines of subscription"):
        driver.list_machines()
    assert arm.calls == []


def test_check_names_the_missing_actions(arm: FakeArm, ca_file: tuple[str, object]) -> None:
    arm.actions = ["Microsoft.Compute/*/read", "Microsoft.Compute/virtualMachines/*"]
    arm.not_actions = ["Microsoft.Compute/virtualMachines/deallocate/action"]
    checks = _driver(arm, ca_file, resource_groups=[MC]).check()
    result = {c.name: c.ok for c in checks}
    assert result.pop("list machines") is True
    assert set(result) == set(ACTIONS)
    missing = sorted(name for name, ok in result.items() if not ok)
    assert missing == [
        "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/deallocate/action",
        "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/powerOff/action",
        "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/start/action",
        "Microsoft.Compute/virtualMachines/deallocate/action",
    ]
    assert arm.calls[-1] == (f"GET {GROUP}/providers/Microsoft.Authorization/permissions")
    assert all(c.detail.endswith(f"resourceGroups/{MC}") for c in checks[1:])


def test_no_subscription_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    with pytest.raises(CloudError, match="no Azure subscription"):
        create_driver(credential=StaticToken("t"))


def test_nodes_join_machines_whatever_the_case_of_the_resource_group(
    arm: FakeArm, ca_file: tuple[str, object]
) -> None:
    from seal.cloud import by_provider_id, provider_key

    joined = by_provider_id(_driver(arm, ca_file).list_machines())
    node_provider_id = f"azure://{VMSS.replace(MC, MC.lower())}/virtualMachines/1"
    assert joined[provider_key(node_provider_id)].name == "aks-pool-vmss000001"
    assert provider_key("aws:///us-east-1a/i-0ABC") == "aws:///us-east-1a/i-0ABC"
