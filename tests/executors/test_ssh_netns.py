"""The SSH executor against a real sshd inside a network namespace the test creates: a
node whose network is cut (its side of the veth pair set down) times out cleanly."""

from __future__ import annotations

import threading
import time

import pytest

from seal.adapters.ssh import SshExecutor, SshSettings
from seal.errors import ExecutionError
from seal.model import Node
from tests.executors.sshd import Namespace, Sshd


def executor_for(server: Sshd, **changes: object) -> SshExecutor:
    values: dict[str, object] = {
        "user": "root",
        "port": server.port,
        "key_file": str(server.client_key),
        "known_hosts": str(server.known_hosts),
        "use_private_ip": True,
        "connect_timeout": 1.0,
        "connect_attempts": 2,
    }
    values.update(changes)
    return SshExecutor(SshSettings(**values))  # type: ignore[arg-type]


def node_of(ns: Namespace) -> Node:
    return Node(name="worker-3", ip=ns.node_ip, external_ip="198.51.100.3")


def test_the_command_runs_on_the_node_inside_its_namespace(
    netns_sshd: tuple[Namespace, Sshd],
) -> None:
    ns, server = netns_sshd
    result = executor_for(server).run(node_of(ns), "ip -o -4 addr show", timeout=10)
    assert result.exit_code == 0
    assert f"inet {ns.node_ip}/30" in result.stdout
    assert ns.host_ip not in result.stdout, "the command ran in the node's namespace"


def test_network_cut_during_a_command_times_out_within_the_timeout(
    netns_sshd: tuple[Namespace, Sshd],
) -> None:
    ns, server = netns_sshd
    executor = executor_for(server)
    node = node_of(ns)
    # Without the cut this command ends in 1 s with "done".
    assert executor.run(node, "sleep 1; echo done", timeout=5).stdout == "done\n"
    cutter = threading.Timer(0.3, ns.cut)
    cutter.start()
    started = time.monotonic()
    try:
        with pytest.raises(ExecutionError, match=r"did not finish within 3 s"):
            executor.run(node, "sleep 1; echo done", timeout=3)
    finally:
        cutter.join()
    elapsed = time.monotonic() - started
    assert 2.9 < elapsed < 5, f"took {elapsed:.1f} s"


def test_connecting_to_a_cut_node_times_out_after_bounded_attempts(
    netns_sshd: tuple[Namespace, Sshd],
) -> None:
    ns, server = netns_sshd
    executor = executor_for(server)
    node = node_of(ns)
    assert executor.run(node, "true", timeout=5).exit_code == 0
    ns.cut()
    started = time.monotonic()
    with pytest.raises(
        ExecutionError,
        match=rf"cannot connect to node worker-3 \(root@{ns.node_ip}:22\) over SSH after "
        r"2 attempt\(s\)",
    ):
        executor.run(node, "true", timeout=5)
    elapsed = time.monotonic() - started
    # two 1 s connection attempts and a 0.5 s pause between them
    assert elapsed < 4.5, f"took {elapsed:.1f} s"
    ns.restore()
    deadline = time.monotonic() + 10
    while True:
        try:
            assert executor.run(node, "echo back", timeout=5).stdout == "back\n"
            break
        except ExecutionError:
            if time.monotonic() > deadline:
                raise
