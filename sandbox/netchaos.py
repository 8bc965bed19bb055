"""Network faults written into a pod's spec, as the sandbox's pods feel them. No I/O.

A real cluster slows a pod's traffic through programs its containers run; the sandbox
runs none, so it reads their command lines instead:

- `tc qdisc ... netem delay <time> [<jitter>]` in any container: every answer of the
  pod is that much later;
- Toxiproxy: an iptables `--dport P -j REDIRECT --to-ports L` sends traffic for the
  container port P to the proxy listening on L (`toxiproxy-cli create -l host:L ...`),
  whose `toxiproxy-cli toxic add -t latency -a latency=N [-a jitter=J]` toxics delay it,
  provided a Toxiproxy server runs in the pod.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
_TIME = r"(\d+(?:\.\d+)?)\s*(us|usec|ms|msec|s|sec|secs)?\b"
_NETEM_DELAY = re.compile(rf"\bnetem\b.*?\bdelay\s+{_TIME}(?:\s+{_TIME})?")
_REDIRECT = re.compile(r"--dport\s+(\d+)\b[^\n;&|]*?-j\s+REDIRECT\s+--to-ports?\s+(\d+)")
_UNIT_MS = {"us": 0.001, "usec": 0.001, "ms": 1.0, "msec": 1.0, "s": 1000.0, "sec": 1000.0}
#: toxiproxy-cli flags that take a value (the others are switches)
_VALUED = {"-l", "--listen", "-u", "--upstream", "-t", "--type", "-n", "--toxicName"}
_VALUED |= {"-a", "--attribute", "--tox", "--toxicity", "--host"}


@dataclass
class Toxic:
    kind: str
    attributes: dict[str, str]
    toxicity: float = 1.0


@dataclass
class NetChaos:
    """What a pod's spec does to its traffic."""

    tc_delay_ms: float = 0.0
    tc_jitter_ms: float = 0.0
    redirects: dict[int, int] = field(default_factory=dict)
    proxy_ports: dict[str, int] = field(default_factory=dict)
    toxics: dict[str, list[Toxic]] = field(default_factory=dict)
    has_server: bool = False

    def delay_ms(self, container_port: int | None, rng: random.Random) -> float:
        """The delay an answer from `container_port` gets (None: whatever the port)."""
        delay = self.tc_delay_ms
        if self.tc_jitter_ms:
            delay += rng.uniform(-self.tc_jitter_ms, self.tc_jitter_ms)
        listen = self.redirects.get(container_port) if container_port is not None else None
        if self.has_server and listen is not None:
            for proxy, port in self.proxy_ports.items():
                if port == listen:
                    delay += sum(_latency(t, rng) for t in self.toxics.get(proxy, []))
        return max(0.0, delay)


def _ms(number: str, unit: str | None) -> float:
    # tc reads a bare number as microseconds
    return float(number) * _UNIT_MS.get(unit or "us", 1.0)


def _float(text: str, default: float) -> float:
    try:
        return float(text)
    except ValueError:
        return default


def _latency(toxic: Toxic, rng: random.Random) -> float:
    if toxic.kind != "latency" or rng.random() >= toxic.toxicity:
        return 0.0
    latency = _float(toxic.attributes.get("latency", "0"), 0.0)
    jitter = _float(toxic.attributes.get("jitter", "0"), 0.0)
    return latency + (rng.uniform(-jitter, jitter) if jitter else 0.0)


def _argv(container: Obj) -> list[str]:
    return [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]


def _cli_call(argv: list[str]) -> tuple[list[str], dict[str, list[str]]] | None:
    """A toxiproxy-cli call: its words (sub-commands and proxy name), flags, if it is one."""
    if not argv or not argv[0].rsplit("/", 1)[-1].startswith("toxiproxy-cli"):
        return None
    words: list[str] = []
    flags: dict[str, list[str]] = {}
    rest = argv[1:]
    while rest:
        item = rest.pop(0)
        if item.startswith("-") and "=" in item:
            name, value = item.split("=", 1)
            flags.setdefault(name, []).append(value)
        elif item in _VALUED and rest:
            flags.setdefault(item, []).append(rest.pop(0))
        elif item.startswith("-"):
            flags.setdefault(item, []).append("")
        else:
            words.append(item)
    return words, flags


def _first(flags: dict[str, list[str]], *names: str) -> str:
    for name in names:
        if flags.get(name):
            return flags[name][0]
    return ""


def _read_cli(chaos: NetChaos, argv: list[str]) -> None:
    call = _cli_call(argv)
    if call is None:
        return
    words, flags = call
    if len(words) >= 2 and words[0] in ("create", "c"):
        listen = _first(flags, "-l", "--listen").rsplit(":", 1)[-1]
        if listen.isdigit():
            chaos.proxy_ports[words[-1]] = int(listen)
    elif len(words) >= 3 and words[0] in ("toxic", "t") and words[1] in ("add", "a"):
        attributes = dict(
            a.split("=", 1) for a in flags.get("-a", []) + flags.get("--attribute", []) if "=" in a
        )
        toxicity = _float(_first(flags, "--tox", "--toxicity") or "1", 1.0)
        kind = _first(flags, "-t", "--type")
        chaos.toxics.setdefault(words[-1], []).append(Toxic(kind, attributes, toxicity))


def _is_server(container: Obj, argv: list[str]) -> bool:
    program = argv[0].rsplit("/", 1)[-1] if argv else ""
    if program in {"toxiproxy", "toxiproxy-server"}:
        return True
    return not argv and "toxiproxy" in str(container.get("image", ""))


def read(pod: Obj) -> NetChaos:
    """What the containers of `pod` do to its traffic."""
    chaos = NetChaos()
    spec = pod.get("spec") or {}
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        argv = _argv(container)
        text = " ".join(argv)
        for delay in _NETEM_DELAY.finditer(text):
            chaos.tc_delay_ms += _ms(delay.group(1), delay.group(2))
            if delay.group(3):
                chaos.tc_jitter_ms += _ms(delay.group(3), delay.group(4))
        for port, to in _REDIRECT.findall(text):
            chaos.redirects[int(port)] = int(to)
        chaos.has_server = chaos.has_server or _is_server(container, argv)
        _read_cli(chaos, argv)
    return chaos


def target_port(service: Obj | None, pod: Obj, port: int) -> int | None:
    """The container port a request to `service`'s `port` reaches on `pod`."""
    for entry in ((service or {}).get("spec") or {}).get("ports") or []:
        if int(entry.get("port", 0)) != port:
            continue
        target = entry.get("targetPort", port)
        if isinstance(target, int) or str(target).isdigit():
            return int(target)
        for container in (pod.get("spec") or {}).get("containers") or []:
            for declared in container.get("ports") or []:
                if declared.get("name") == target:
                    return int(declared.get("containerPort", 0))
    return None


def request_delay_ms(pod: Obj, service: Obj | None, local_port: int, rng: random.Random) -> float:
    """How much later `pod` answers a request that came in on the service's `local_port`."""
    return read(pod).delay_ms(target_port(service, pod, local_port), rng)


def local_port(sockname: object) -> int:
    """The port of a listening socket's address (`transport.get_extra_info("sockname")`)."""
    if isinstance(sockname, tuple) and len(sockname) >= 2 and isinstance(sockname[1], int):
        return sockname[1]
    return 0


__all__ = ["NetChaos", "local_port", "read", "request_delay_ms"]
