"""Node inventories: an INI inventory file's hosts, and nodes joined to their machines.

Pure logic: the caller reads the file and lists nodes and machines.

An inventory file is Ansible's INI format: each section is a group of hosts, one host
per line (a name or an address, optionally `ansible_host=ADDRESS`), `[group:children]`
sections nest groups, `[group:vars]` sections are ignored, `#` and `;` start comments,
and `web[01:03]` stands for web01, web02 and web03.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence

from seal.errors import UsageError
from seal.model import Machine, Node, NodeState

_SECTION = re.compile(r"^\[([^\]:\s]+)(?::(children|vars))?\]$")
_RANGE = re.compile(r"\[(\d+|[a-z]):(\d+|[a-z])\]")
#: bound on the hosts one range line may expand to
MAX_RANGE = 10_000


def parse_inventory(text: str, source: str) -> list[Node]:
    """The hosts of an INI inventory, in file order, each with every group it is in."""
    hosts: dict[str, str] = {}
    groups: dict[str, list[str]] = {}
    children: dict[str, list[str]] = {}
    section, kind = "ungrouped", ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            found = _SECTION.match(line)
            if not found:
                raise UsageError(f"{source}:{number}: {line!r} is not a [group] section header")
            section, kind = found.group(1), found.group(2) or ""
            groups.setdefault(section, [])
            continue
        if kind == "vars":
            continue
        name, *variables = line.split()
        if kind == "children":
            children.setdefault(section, []).append(name)
            continue
        address = _variable(variables, "ansible_host", source, number)
        for host in _expand(name, source, number):
            hosts.setdefault(host, address or host)
            groups.setdefault(section, []).append(host)
    membership = _membership(groups, children, source)
    return [
        Node(
            name=host,
            ip=address,
            groups=tuple(sorted(membership.get(host, ()))),
            in_cluster=False,
        )
        for host, address in hosts.items()
    ]


def _variable(variables: Sequence[str], name: str, source: str, number: int) -> str:
    for item in variables:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"{source}:{number}: {item!r} is not a KEY=VALUE host variable")
        if key == name:
            return value.strip("'\"")
    return ""


def _expand(name: str, source: str, number: int) -> list[str]:
    """`web[01:03]` -> web01, web02, web03 (numbers keep their width); `db-[a:c]` too."""
    found = _RANGE.search(name)
    if not found:
        return [name]
    start, end = found.group(1), found.group(2)
    head, tail = name[: found.start()], name[found.end() :]
    if start.isdigit() != end.isdigit():
        raise UsageError(f"{source}:{number}: the range in {name!r} mixes letters and numbers")
    if start.isdigit():
        first, last, width = int(start), int(end), len(start)
        too_many = last - first >= MAX_RANGE
        values = [] if too_many else [str(i).zfill(width) for i in range(first, last + 1)]
    else:
        values = [chr(c) for c in range(ord(start), ord(end) + 1)]
    if not values:
        raise UsageError(f"{source}:{number}: the range in {name!r} is empty or too large")
    return [h for value in values for h in _expand(head + value + tail, source, number)]


def _membership(
    groups: dict[str, list[str]], children: dict[str, list[str]], source: str
) -> dict[str, set[str]]:
    """host -> every group it is in, through `:children` nesting (cycles refused)."""
    result: dict[str, set[str]] = {}

    def hosts_of(group: str, path: tuple[str, ...]) -> set[str]:
        if group in path:
            cycle = " -> ".join((*path, group))
            raise UsageError(f"{source}: groups nest in a cycle: {cycle}")
        found = set(groups.get(group, ()))
        for child in children.get(group, ()):
            found |= hosts_of(child, (*path, group))
        return found

    for group in set(groups) | set(children):
        for host in hosts_of(group, ()):
            result.setdefault(host, set()).add(group)
    return result


def join_machines(
    nodes: Iterable[Node], machines: Sequence[Machine]
) -> list[tuple[Node, Machine | None]]:
    """Each node with its machine and the machine's state: cluster nodes by provider ID,
    inventory hosts by IP address. A node with no machine is UNKNOWN."""
    by_provider = {m.key: m for m in machines if m.provider_id}
    by_ip = {ip: m for m in machines for ip in m.ips if ip}
    joined: list[tuple[Node, Machine | None]] = []
    for node in nodes:
        if node.in_cluster:
            key = Machine.key_of(node.provider_id)
            machine = by_provider.get(key) if node.provider_id else None
        else:
            machine = by_ip.get(node.ip)
        state = machine.state if machine else NodeState.UNKNOWN
        zone = node.zone or (machine.zone if machine else "")
        joined.append((dataclasses.replace(node, state=state, zone=zone), machine))
    return joined
