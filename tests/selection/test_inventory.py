"""INI inventory files, and nodes joined to their machines."""

from __future__ import annotations

from pathlib import Path

import pytest

from seal.errors import UsageError
from seal.model import Machine, Node, NodeState
from seal.runtime.nodes import InventoryFile
from seal.selection.inventory import join_machines, parse_inventory

INVENTORY = """\
# the nodes of the staging cluster
10.0.0.9

[web]
web[01:03] ansible_host=10.0.1.1   ; the three share one address
10.0.1.9

[db]
db-a ansible_host=10.0.2.1 ansible_user=admin
db-b ansible_host='10.0.2.2'

[storage:children]
db

[all:vars]
ansible_user=core
"""


def test_sections_are_groups_children_nest_and_ranges_expand() -> None:
    hosts = {n.name: n for n in parse_inventory(INVENTORY, "hosts.ini")}
    assert list(hosts) == ["10.0.0.9", "web01", "web02", "web03", "10.0.1.9", "db-a", "db-b"]
    assert hosts["10.0.0.9"].groups == ("ungrouped",)
    assert hosts["web02"].groups == ("web",)
    assert hosts["web02"].ip == "10.0.1.1"
    assert hosts["10.0.1.9"].ip == "10.0.1.9"
    assert hosts["db-a"].groups == ("db", "storage")
    assert hosts["db-b"].ip == "10.0.2.2"
    assert not any(n.in_cluster for n in hosts.values())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[web\nhost\n", "hosts.ini:1: '[web' is not a [group] section header"),
        ("[web]\nhost user\n", "hosts.ini:2: 'user' is not a KEY=VALUE host variable"),
        ("[web]\nweb[1:a]\n", "hosts.ini:2: the range in 'web[1:a]' mixes letters and numbers"),
        ("[web]\nweb[0:99999999]\n", "hosts.ini:2: the range in 'web[0:99999999]' is empty or"),
        ("[a:children]\nb\n[b:children]\na\n", "hosts.ini: groups nest in a cycle: "),
    ],
)
def test_a_broken_inventory_is_a_located_usage_error(text: str, message: str) -> None:
    with pytest.raises(UsageError) as error:
        parse_inventory(text, "hosts.ini")
    assert str(error.value).startswith(message)


def test_cluster_nodes_join_by_provider_id_and_inventory_hosts_by_ip() -> None:
    machines = [
        Machine("i-1", "aws:///eu-west-1a/i-1", "one", NodeState.DOWN, "eu-west-1a", ("10.0.0.1",)),
        Machine("i-2", "aws:///eu-west-1b/i-2", "two", NodeState.UP, "eu-west-1b", ("10.0.0.2",)),
    ]
    nodes = [
        # the same IP as i-2, but a cluster node is never joined by IP
        Node("node-a", ip="10.0.0.2", provider_id="aws:///eu-west-1a/i-1", state=NodeState.UP),
        Node("node-b", ip="10.0.0.2", state=NodeState.UP),
        Node("10.0.0.2", ip="10.0.0.2", in_cluster=False),
    ]
    azure = "azure:///subscriptions/S/resourceGroups/MC_Shop/providers/Microsoft.Compute/vm/a"
    machines.append(Machine("a", azure, "aks-a", NodeState.UP, "westeurope-1"))
    # AKS nodes often carry the resource group in lower case: Azure's IDs ignore case
    nodes.append(Node("aks-a", provider_id=azure.lower().replace("azure:", "AZURE:")))
    joined = join_machines(nodes, machines)
    assert [(n.name, n.state, n.zone, m.id if m else None) for n, m in joined] == [
        ("node-a", NodeState.DOWN, "eu-west-1a", "i-1"),
        ("node-b", NodeState.UNKNOWN, "", None),
        ("10.0.0.2", NodeState.UP, "eu-west-1b", "i-2"),
        ("aks-a", NodeState.UP, "westeurope-1", "a"),
    ]


def test_an_inventory_file_is_read_again_at_every_call(tmp_path: Path) -> None:
    path = tmp_path / "hosts.ini"
    path.write_text("[web]\n10.0.0.1\n")
    source = InventoryFile(path)
    assert [n.name for n in source.nodes()] == ["10.0.0.1"]
    path.write_text("[web]\n10.0.0.1\n10.0.0.2\n")
    assert [n.name for n in source.nodes()] == ["10.0.0.1", "10.0.0.2"]
    path.write_bytes(b"[web]\n\xff\n")
    with pytest.raises(UsageError, match=r"hosts\.ini: the inventory file is not UTF-8"):
        source.nodes()
    path.write_text("# nothing yet\n")
    with pytest.raises(UsageError, match="the inventory file lists no hosts"):
        source.nodes()
    with pytest.raises(UsageError, match="cannot read the inventory file"):
        InventoryFile(tmp_path / "missing.ini").nodes()
