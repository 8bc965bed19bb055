"""A real OpenSSH server for the tests: its own host key, config and authorized_keys in a
temporary directory, on loopback or inside a network namespace the test creates."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"

CONFIG = """\
Port {port}
ListenAddress {host}
HostKey {host_key}
PidFile {pid_file}
AuthorizedKeysFile {authorized_keys}
StrictModes no
UsePAM no
PermitRootLogin yes
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
MaxStartups 50
LogLevel VERBOSE
"""


@dataclass
class Sshd:
    host: str
    port: int
    #: the client key that authorized_keys lets in (as root)
    client_key: Path
    #: a known_hosts file that holds this server's host key
    known_hosts: Path
    #: a private key the server does not know
    stranger_key: Path
    log: Path
    process: subprocess.Popen[bytes]


def keygen(path: Path) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "seal-test", "-f", str(path)],
        check=True,
    )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sshd(
    directory: Path, *, host: str = "127.0.0.1", port: int | None = None, netns: str | None = None
) -> Sshd:
    """Start `sshd -D` (as root, listening on host:port only) and wait until it answers."""
    directory.mkdir(parents=True, exist_ok=True)
    # sshd refuses to start without its privilege-separation directory.
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    port = port or free_port()
    host_key = keygen(directory / "host_key")
    client_key = keygen(directory / "client_key")
    stranger_key = keygen(directory / "stranger_key")
    authorized = directory / "authorized_keys"
    authorized.write_text((directory / "client_key.pub").read_text())
    known_hosts = directory / "known_hosts"
    pub = (directory / "host_key.pub").read_text().split()
    name = host if port == 22 else f"[{host}]:{port}"
    known_hosts.write_text(f"{name} {pub[0]} {pub[1]}\n")
    config = directory / "sshd_config"
    config.write_text(
        CONFIG.format(
            port=port,
            host=host,
            host_key=host_key,
            pid_file=directory / "sshd.pid",
            authorized_keys=authorized,
        )
    )
    log = directory / "sshd.log"
    command = [SSHD, "-D", "-e", "-f", str(config)]
    if netns:
        command = ["ip", "netns", "exec", netns, *command]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    server = Sshd(host, port, client_key, known_hosts, stranger_key, log, process)
    _wait_listening(server, netns)
    return server


def _wait_listening(server: Sshd, netns: str | None) -> None:
    deadline = time.monotonic() + 15
    probe = ["bash", "-c", f"exec 3<>/dev/tcp/{server.host}/{server.port}"]
    if netns:
        probe = ["ip", "netns", "exec", netns, *probe]
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"sshd exited: {server.log.read_text()}")
        if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
            return
        time.sleep(0.05)
    stop_sshd(server)
    raise RuntimeError(f"sshd did not listen within 15 s: {server.log.read_text()}")


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    todo = [pid]
    while todo and len(found) < 1000:
        current = todo.pop()
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
            for child in map(int, children):
                found.append(child)
                todo.append(child)
    return found


def stop_sshd(server: Sshd) -> None:
    """Stop the server and the per-connection processes it forked."""
    children = _descendants(server.process.pid)
    server.process.terminate()
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)


@dataclass
class Namespace:
    """A network namespace joined to this one by a veth pair: `host_ip` on our side,
    `node_ip` on the node's side, inside the namespace."""

    name: str
    host_if: str
    node_if: str
    host_ip: str
    node_ip: str

    def cut(self) -> None:
        """The node loses its network: its side of the veth pair goes down."""
        ip("-n", self.name, "link", "set", self.node_if, "down")

    def restore(self) -> None:
        ip("-n", self.name, "link", "set", self.node_if, "up")


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def netns_available() -> str | None:
    """Why network namespaces cannot be used here, or None when they can."""
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    return None


@contextlib.contextmanager
def network_namespace() -> Iterator[Namespace]:
    """A new namespace and veth pair with addresses in a random 10.x/30 of their own;
    everything is deleted afterwards (processes left inside the namespace too)."""
    suffix = secrets.token_hex(3)
    a, c, d = 200 + secrets.randbelow(50), secrets.randbelow(256), secrets.randbelow(63) * 4
    ns = Namespace(
        name=f"seal-test-{suffix}",
        host_if=f"sv{suffix}h",
        node_if=f"sv{suffix}n",
        host_ip=f"10.{a}.{c}.{d + 1}",
        node_ip=f"10.{a}.{c}.{d + 2}",
    )
    ip("netns", "add", ns.name)
    try:
        ip("link", "add", ns.host_if, "type", "veth", "peer", "name", ns.node_if)
        ip("link", "set", ns.node_if, "netns", ns.name)
        ip("addr", "add", f"{ns.host_ip}/30", "dev", ns.host_if)
        ip("link", "set", ns.host_if, "up")
        ip("-n", ns.name, "addr", "add", f"{ns.node_ip}/30", "dev", ns.node_if)
        ip("-n", ns.name, "link", "set", ns.node_if, "up")
        ip("-n", ns.name, "link", "set", "lo", "up")
        yield ns
    finally:
        pids = subprocess.run(
            ["ip", "netns", "pids", ns.name], capture_output=True, text=True, check=False
        ).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        subprocess.run(["ip", "link", "del", ns.host_if], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", ns.name], capture_output=True, check=False)
