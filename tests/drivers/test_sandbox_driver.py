"""The sandbox driver against a running sandbox, and the none driver."""

from __future__ import annotations

import pytest

from drivers import available_drivers, load_driver
from drivers._common import Pacing
from drivers.sandbox import SandboxDriver
from sandbox.sandbox import Sandbox
from seal.cloud import by_provider_id
from seal.errors import CloudError, UsageError
from seal.model import Machine, NodeState
from tests.conftest import wait_for


def _driver(box: Sandbox, **overrides: object) -> SandboxDriver:
    options: dict[str, object] = {
        "server": box.url,
        "token": box.token,
        "ca_file": str(box.ca_path),
        "pacing": Pacing.fast(),
    }
    options.update(overrides)
    return SandboxDriver(**options)  # type: ignore[arg-type]


def _node_provider_ids(box: Sandbox) -> dict[str, str]:
    def read(store: object) -> dict[str, str]:
        nodes = store.list("nodes")  # type: ignore[attr-defined]
        return {n["metadata"]["name"]: n["spec"]["providerID"] for n in nodes}

    return box.call(read)


def test_lists_every_machine_joined_to_its_node_by_provider_id(sandbox: Sandbox) -> None:
    machines = _driver(sandbox).list_machines()
    by_id = by_provider_id(machines)
    nodes = _node_provider_ids(sandbox)
    assert set(by_id) == set(nodes.values())
    for node_name, provider_id in nodes.items():
        machine = by_id[provider_id]
        assert machine.name == node_name
        assert machine.state is NodeState.UP and machine.cloud_state == "running"
        assert machine.zone and machine.private_ips and not machine.public_ips
        assert provider_id == f"sandbox://{machine.id}"


def test_stop_then_start_changes_the_machine_and_the_node(sandbox: Sandbox) -> None:
    driver = _driver(sandbox)
    machine = driver.list_machines()[0]
    driver.stop(machine)
    stopped = driver.wait_for(machine, NodeState.DOWN, timeout=5)
    assert stopped.state is NodeState.DOWN and stopped.cloud_state == "stopped"
    assert not sandbox.machines.by_id[machine.id].running

    def ready() -> str:
        def read(store: object) -> str:
            node = store.get("nodes", "", machine.name)  # type: ignore[attr-defined]
            conditions = node["status"]["conditions"]
            return next(c["status"] for c in conditions if c["type"] == "Ready")

        return sandbox.call(read)

    wait_for(lambda: ready() != "True", what="the node to go NotReady")
    driver.start(machine)
    assert driver.wait_for(machine, NodeState.UP, timeout=5).state is NodeState.UP
    wait_for(lambda: ready() == "True", what="the node to be Ready again")


def test_wait_for_times_out_with_the_machine_and_its_state(sandbox: Sandbox) -> None:
    driver = _driver(sandbox)
    machine = driver.list_machines()[0]
    with pytest.raises(CloudError, match=rf"{machine.name} .*still running after 0.1s"):
        driver.wait_for(machine, NodeState.DOWN, timeout=0.1)


def test_unknown_machine_and_foreign_provider_id_are_cloud_errors(sandbox: Sandbox) -> None:
    driver = _driver(sandbox)
    ghost = Machine(id="vm-nope", provider_id="sandbox://vm-nope", name="", state=NodeState.UP)
    with pytest.raises(CloudError, match=r"cannot stop machine sandbox://vm-nope: HTTP 404"):
        driver.stop(ghost)
    with pytest.raises(CloudError, match="not a sandbox machine"):
        driver.get_machine("aws:///us-east-1a/i-0123")


def test_a_wrong_token_is_refused_and_check_says_so(sandbox: Sandbox) -> None:
    driver = _driver(sandbox, token="wrong")
    with pytest.raises(CloudError, match="HTTP 401"):
        driver.list_machines()
    checks = driver.check()
    assert [(c.name, c.ok) for c in checks] == [("list machines", False)]
    assert "401" in checks[0].line() and checks[0].line().startswith("FAIL")


def test_a_rotated_token_is_read_again_from_its_file(sandbox: Sandbox, tmp_path) -> None:  # type: ignore[no-untyped-def]
    token_file = tmp_path / "token"
    token_file.write_text(sandbox.token)
    driver = _driver(sandbox, token=None, token_file=str(token_file))
    assert driver.list_machines()
    token_file.write_text(sandbox.rotate_token())
    assert driver.list_machines()


def test_check_lists_and_reads(sandbox: Sandbox) -> None:
    checks = _driver(sandbox).check()
    assert [(c.name, c.ok) for c in checks] == [
        ("list machines", True),
        ("read one machine", True),
        ("stop and start", True),
    ]
    assert checks[0].detail == f"{len(sandbox.machines.by_id)} machines"


def test_an_unreachable_server_fails_after_bounded_retries() -> None:
    driver = SandboxDriver("https://127.0.0.1:9", token="t", pacing=Pacing.fast())
    with pytest.raises(CloudError, match="cannot list the sandbox's machines"):
        driver.list_machines()


def test_none_driver_never_fakes_success() -> None:
    driver = load_driver("none")
    machine = Machine(id="i-1", provider_id="aws:///z/i-1", name="node-1", state=NodeState.UP)
    assert driver.list_machines() == []
    with pytest.raises(CloudError, match=r"stop machine node-1 .*no cloud driver: pass --cloud"):
        driver.stop(machine, force=True)
    with pytest.raises(CloudError, match="cannot start machine node-1"):
        driver.start(machine)
    assert [c.ok for c in driver.check()] == [False]


def test_load_driver_knows_every_cloud_and_refuses_others() -> None:
    assert available_drivers() == ["aws", "azure", "gcp", "none", "openstack", "sandbox"]
    with pytest.raises(UsageError, match="unknown cloud driver 'vmware'"):
        load_driver("vmware")


def test_unreadable_credentials_are_cloud_errors(sandbox: Sandbox, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CloudError, match="cannot read the CA file"):
        _driver(sandbox, ca_file=str(tmp_path / "missing.crt"))
    driver = _driver(sandbox, token_file=str(tmp_path / "missing-token"))
    with pytest.raises(CloudError, match="cannot read the token file"):
        driver.list_machines()
