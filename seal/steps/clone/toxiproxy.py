"""The containers a toxiproxy mutation adds to the clone's pods. No I/O.

In start order, as init containers: one with NET_ADMIN that redirects every container
port to its proxy (iptables), the Toxiproxy server as a sidecar (an init container that
keeps running, `restartPolicy: Always`, started once its API answers), then one
toxiproxy-cli call per proxy and per toxic. Only then do the application's containers
start, behind proxies already slowed. Nothing here needs a shell in the Toxiproxy
image: each container runs one program.
"""

from __future__ import annotations

from typing import Any

from seal.steps.clone.spec import ToxiproxyMutation

Obj = dict[str, Any]
#: where the Toxiproxy API listens in the pod
API_PORT = 8474
API_URL = f"http://127.0.0.1:{API_PORT}"
#: the first port a proxy of a container port listens on
FIRST_LISTEN_PORT = 40000
SIDECAR = "seal-toxiproxy"


def auto_proxy(port: int) -> str:
    return f"auto{port}"


def listen_ports(ports: list[int], mutation: ToxiproxyMutation) -> dict[int, int]:
    """container port -> the port its proxy listens on, clear of every port in use."""
    taken = set(ports) | {API_PORT} | {_port_of(p.listen) for p in mutation.proxies}
    chosen: dict[int, int] = {}
    candidate = FIRST_LISTEN_PORT
    for port in ports:
        while candidate in taken:
            candidate += 1
        chosen[port] = candidate
        taken.add(candidate)
    return chosen


def _port_of(address: str) -> int:
    tail = address.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def net_admin(user: int) -> Obj:
    """The security context of a container that changes the pod's network."""
    return {
        "runAsUser": user,
        "runAsNonRoot": user != 0,
        "capabilities": {"add": ["NET_ADMIN"]},
    }


def _value(value: str | int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _toxic_args(index: int, toxic_type: str, attributes: tuple[tuple[str, Any], ...]) -> list[str]:
    args = ["-t", toxic_type, "-n", f"seal-{toxic_type}-{index}"]
    for name, value in attributes:
        if name == "toxicity":
            args.append(f"--toxicity={_value(value)}")
        elif name == "stream":
            args.append("--upstream" if str(value) == "upstream" else "--downstream")
        else:
            args += ["-a", f"{name}={_value(value)}"]
    return args


def server_path(cli: str) -> str:
    """The server binary next to the CLI (`/toxiproxy-cli` -> `/toxiproxy`)."""
    return cli[: -len("-cli")] if cli.endswith("-cli") else cli.rsplit("/", 1)[0] + "/toxiproxy"


def init_containers(mutation: ToxiproxyMutation, ports: list[int]) -> list[Obj]:
    """The init containers (the sidecar among them) for `ports`, the container ports."""
    listen = listen_ports(ports, mutation)
    rules = [
        f"iptables -t nat -A PREROUTING -p tcp --dport {port} -j REDIRECT --to-ports {to}"
        for port, to in listen.items()
    ]
    containers: list[Obj] = [
        {
            "name": "seal-toxiproxy-redirect",
            "image": mutation.image_iptables,
            "command": ["sh", "-c", "set -e\n" + "\n".join(rules or ["true"])],
            "securityContext": net_admin(mutation.user),
        },
        {
            "name": SIDECAR,
            "image": mutation.image_toxiproxy,
            "command": [server_path(mutation.toxiproxy_cli)],
            "args": ["-host=0.0.0.0", f"-port={API_PORT}"],
            "restartPolicy": "Always",
            "startupProbe": {
                "httpGet": {"path": "/version", "port": API_PORT},
                "periodSeconds": 1,
                "failureThreshold": 60,
            },
        },
    ]
    cli = [mutation.toxiproxy_cli, f"--host={API_URL}"]
    proxies = [
        (auto_proxy(port), f"0.0.0.0:{to}", f"127.0.0.1:{port}") for port, to in listen.items()
    ] + [(p.name, p.listen, p.upstream) for p in mutation.proxies]
    for index, (name, address, upstream) in enumerate(proxies):
        containers.append(
            {
                "name": f"seal-toxiproxy-proxy-{index}",
                "image": mutation.image_toxiproxy,
                "command": [*cli, "create", "-l", address, "-u", upstream, name],
            }
        )
    for index, toxic in enumerate(mutation.toxics):
        containers.append(
            {
                "name": f"seal-toxiproxy-toxic-{index}",
                "image": mutation.image_toxiproxy,
                "command": [
                    *cli,
                    "toxic",
                    "add",
                    *_toxic_args(index, toxic.toxic_type, toxic.attributes),
                    toxic.target_proxy,
                ],
            }
        )
    return containers
