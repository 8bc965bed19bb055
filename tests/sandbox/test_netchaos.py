"""How the sandbox reads network faults from a pod's spec (tc netem, Toxiproxy)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from sandbox import netchaos

CLI = "/toxiproxy-cli"


def pod(*init: dict[str, Any], ports: tuple[tuple[str, int], ...] = (("http", 8080),)) -> Any:
    return {
        "spec": {
            "initContainers": list(init),
            "containers": [
                {
                    "name": "app",
                    "ports": [{"name": n, "containerPort": p} for n, p in ports],
                }
            ],
        }
    }


def redirect(port: int, to: int) -> dict[str, Any]:
    rule = f"iptables -t nat -A PREROUTING -p tcp --dport {port} -j REDIRECT --to-ports {to}"
    return {"name": "r", "command": ["sh", "-c", f"set -e\n{rule}"]}


SERVER = {"name": "s", "command": ["/toxiproxy"], "args": ["-host=0.0.0.0"]}


def create(name: str, listen: int, upstream: int) -> dict[str, Any]:
    return {
        "name": "p",
        "command": [CLI, "--host=http://127.0.0.1:8474", "create"],
        "args": ["-l", f"0.0.0.0:{listen}", "-u", f"127.0.0.1:{upstream}", name],
    }


def toxic(proxy: str, *attributes: str, kind: str = "latency") -> dict[str, Any]:
    flags = [f for a in attributes for f in ([a] if a.startswith("-") else ["-a", a])]
    return {"name": "t", "command": [CLI, "toxic", "add", "-t", kind, *flags, proxy]}


def delay(p: Any, port: int | None = 8080) -> float:
    return netchaos.read(p).delay_ms(port, random.Random(1))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("qdisc add dev eth0 root netem delay 250ms", 250.0),
        ("qdisc replace dev eth0 root netem delay 1s", 1000.0),
        ("qdisc add dev eth0 root netem delay 500us", 0.5),
        ("qdisc add dev eth0 root netem delay 2000", 2.0),  # tc's unit: microseconds
        ("qdisc add dev eth0 root netem loss 10%", 0.0),
    ],
)
def test_a_tc_netem_delay_slows_every_answer(args: str, expected: float) -> None:
    p = pod({"name": "tc", "command": ["tc"], "args": args.split()})
    assert delay(p) == pytest.approx(expected)
    assert delay(p, None) == pytest.approx(expected)


TC_JITTER = ("qdisc", "add", "dev", "eth0", "root", "netem", "delay", "100ms", "20ms")


def test_tc_jitter_stays_within_its_bounds() -> None:
    p = pod({"name": "tc", "command": ["tc", *TC_JITTER]})
    rng = random.Random(3)
    seen = [netchaos.read(p).delay_ms(8080, rng) for _ in range(200)]
    assert 80 <= min(seen) < 90 and 110 < max(seen) <= 120


def test_a_latency_toxic_slows_the_redirected_port_only() -> None:
    p = pod(
        redirect(8080, 40000),
        redirect(9090, 40001),
        SERVER,
        create("auto8080", 40000, 8080),
        create("auto9090", 40001, 9090),
        toxic("auto8080", "latency=250", "jitter=0"),
        toxic("auto9090", "rate=10", kind="bandwidth"),
        ports=(("http", 8080), ("metrics", 9090)),
    )
    assert delay(p, 8080) == 250.0
    assert delay(p, 9090) == 0.0
    assert delay(p, None) == 0.0


def test_no_server_or_no_redirect_means_no_toxiproxy_delay() -> None:
    parts = [
        redirect(8080, 40000),
        SERVER,
        create("auto8080", 40000, 8080),
        toxic("auto8080", "latency=250"),
    ]
    assert delay(pod(*parts)) == 250.0
    assert delay(pod(*[x for x in parts if x is not SERVER])) == 0.0
    assert delay(pod(*parts[1:])) == 0.0


def test_toxicity_is_the_share_of_requests_a_toxic_touches() -> None:
    p = pod(
        redirect(8080, 40000),
        SERVER,
        create("auto8080", 40000, 8080),
        toxic("auto8080", "latency=100", "--toxicity=0.25"),
    )
    rng = random.Random(5)
    slowed = sum(netchaos.read(p).delay_ms(8080, rng) > 0 for _ in range(400))
    assert 60 <= slowed <= 140


def test_a_named_target_port_is_found_in_the_pod() -> None:
    service = {"spec": {"ports": [{"port": 80, "targetPort": "http"}, {"port": 81}]}}
    p = pod()
    assert netchaos.target_port(service, p, 80) == 8080
    assert netchaos.target_port(service, p, 81) == 81
    assert netchaos.target_port(service, p, 82) is None
    assert netchaos.target_port(None, p, 80) is None
