"""Commands on nodes over SSH (paramiko): the `ssh` execution mode.

Host keys are checked against a known_hosts file unless the user relaxes it; one
connection per command, its connection retried a bounded number of times; the
command's exit code, stdout and stderr are captured within a deadline. Passwords
and keys never appear in a log line or an error message. Does network I/O.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from seal.adapters.kill_command import CRICTL_KILL_COMMAND, KillCommand
from seal.clock import Clock, SystemClock
from seal.errors import ExecutionError, UsageError
from seal.model import ExecResult, Node

log = logging.getLogger(__name__)

#: the remote user when none is given (what PowerfulSeal used, so its command lines agree)
DEFAULT_USER = "cloud-user"
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
#: each of stdout and stderr is kept up to this many bytes
MAX_OUTPUT_BYTES = 1 << 20
_POLL_SECONDS = 0.05
_MAX_BACKOFF_SECONDS = 5.0


@dataclass(frozen=True)
class SshSettings:
    """How seal reaches nodes over SSH (the `--ssh-*` flags)."""

    user: str = DEFAULT_USER
    port: int = 22
    key_file: str | None = None
    password: str | None = field(default=None, repr=False)
    #: None: ~/.ssh/known_hosts
    known_hosts: str | None = None
    allow_missing_host_keys: bool = False
    #: connect to the node's internal IP even when it has an external one
    use_private_ip: bool = False
    #: connect here instead of to any node (every command goes to this host)
    override_host: str | None = None
    connect_timeout: float = 10.0
    connect_attempts: int = 3
    kill_command: str = CRICTL_KILL_COMMAND


class _RefuseUnknownHost(paramiko.MissingHostKeyPolicy):
    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        raise _UnknownHostKey(hostname, key)


class _AcceptUnknownHost(paramiko.MissingHostKeyPolicy):
    """--ssh-allow-missing-host-keys: accept (for this connection only) and say so."""

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        log.warning(
            "accepting the unknown SSH host key of %s (%s %s) because host-key checks are "
            "relaxed (--ssh-allow-missing-host-keys)",
            hostname,
            key.get_name(),
            key.fingerprint,
        )


class _UnknownHostKey(paramiko.SSHException):
    def __init__(self, hostname: str, key: paramiko.PKey) -> None:
        super().__init__(f"{hostname} is not in known_hosts")
        self.hostname = hostname
        self.fingerprint = f"{key.get_name()} {key.fingerprint}"


class _Fatal(Exception):
    """A connection failure that trying again would not fix."""


class SshExecutor:
    """Runs commands on nodes over SSH; implements `seal.steps.ports.Executor`."""

    def __init__(self, settings: SshSettings, *, clock: Clock | None = None) -> None:
        if settings.connect_attempts < 1 or settings.connect_timeout <= 0:
            raise UsageError("SSH needs at least one connection attempt and a positive timeout")
        self.settings = settings
        self._clock: Clock = clock or SystemClock()
        self._kill = KillCommand(settings.kill_command)
        self._pkey = _load_key(settings.key_file, settings.password) if settings.key_file else None
        self._known_hosts = _known_hosts_file(settings)

    def address(self, node: Node) -> str:
        """Where `node` is reached: the override, else its external IP unless private IPs
        are asked for, else its internal IP."""
        if self.settings.override_host:
            return self.settings.override_host
        if node.external_ip and not self.settings.use_private_ip:
            return node.external_ip
        if node.ip:
            return node.ip
        raise ExecutionError(
            f"node {node.name} has no IP address to connect to over SSH "
            "(give one with --override-ssh-host)"
        )

    def run(
        self, node: Node, command: str, *, timeout: float, undo: object | None = None
    ) -> ExecResult:
        """Run `command` on the node over a new SSH connection (`undo` is not needed: an
        SSH command leaves nothing behind in the cluster)."""
        host = self.address(node)
        where = f"node {node.name} ({self.settings.user}@{host}:{self.settings.port})"
        log.debug("running %r on %s over SSH", command, where)
        client = self._connect(host, where)
        try:
            result = _run_command(client, command, timeout, where, self._clock)
        finally:
            client.close()
        log.debug("%r on %s exited %d", command, where, result.exit_code)
        return result

    def kill_container(
        self,
        node: Node,
        container_id: str,
        signal: str,
        *,
        timeout: float,
        undo: object | None = None,
    ) -> ExecResult:
        return self.run(node, self._kill.render(container_id, signal), timeout=timeout)

    # ------------------------------------------------------------ connecting
    def _connect(self, host: str, where: str) -> paramiko.SSHClient:
        attempts = self.settings.connect_attempts
        for attempt in range(1, attempts + 1):
            try:
                return self._connect_once(host)
            except _Fatal as exc:
                raise ExecutionError(f"cannot run a command on {where} over SSH: {exc}") from (
                    exc.__cause__
                )
            except (OSError, EOFError, paramiko.SSHException) as exc:
                reason = _reason(exc, self.settings.connect_timeout)
                if attempt == attempts:
                    raise ExecutionError(
                        f"cannot connect to {where} over SSH after {attempts} attempt(s): {reason}"
                    ) from exc
                log.info("SSH connection to %s failed (%s); trying again", where, reason)
                self._clock.sleep(min(_MAX_BACKOFF_SECONDS, 0.5 * 2 ** (attempt - 1)))
        raise AssertionError("unreachable")

    def _connect_once(self, host: str) -> paramiko.SSHClient:
        settings = self.settings
        client = paramiko.SSHClient()
        try:
            if self._known_hosts is not None:
                client.load_host_keys(str(self._known_hosts))
            client.set_missing_host_key_policy(
                _AcceptUnknownHost() if settings.allow_missing_host_keys else _RefuseUnknownHost()
            )
            default_keys = self._pkey is None and settings.password is None
            client.connect(
                host,
                port=settings.port,
                username=settings.user,
                password=settings.password,
                pkey=self._pkey,
                timeout=settings.connect_timeout,
                banner_timeout=settings.connect_timeout,
                auth_timeout=settings.connect_timeout,
                channel_timeout=settings.connect_timeout,
                allow_agent=default_keys,
                look_for_keys=default_keys,
            )
            return client
        except _UnknownHostKey as exc:
            client.close()
            raise _Fatal(
                f"its host key ({exc.fingerprint}) is not in {self._known_hosts_name()}; add "
                f"it there (e.g. `ssh-keyscan -p {settings.port} {host} >> "
                f"{self._known_hosts_name()}` after checking the fingerprint), or relax the "
                "check with --ssh-allow-missing-host-keys"
            ) from exc
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise _Fatal(
                f"its host key does not match the one in {self._known_hosts_name()} "
                f"(got {exc.key.get_name()} {exc.key.fingerprint}); the host may have been "
                "reinstalled, or the connection intercepted: seal will not connect"
            ) from exc
        except paramiko.AuthenticationException as exc:
            client.close()
            raise _Fatal(
                f"the server refused user {settings.user!r} with {self._credential_name()}"
            ) from exc
        except BaseException:
            client.close()
            raise

    def _known_hosts_name(self) -> str:
        return str(self._known_hosts) if self._known_hosts else DEFAULT_KNOWN_HOSTS

    def _credential_name(self) -> str:
        if self._pkey is not None:
            return f"the key {self.settings.key_file}"
        if self.settings.password is not None:
            return "the password given"
        return "the SSH agent's and ~/.ssh's default keys"


def _run_command(
    client: paramiko.SSHClient, command: str, timeout: float, where: str, clock: Clock
) -> ExecResult:
    """Run one command on an open connection and collect what it writes until it exits,
    or fail once `timeout` seconds have passed."""
    deadline = clock.monotonic() + timeout
    transport = client.get_transport()
    if transport is None or not transport.is_active():
        raise ExecutionError(f"the SSH connection to {where} closed before the command ran")
    try:
        channel = transport.open_session(timeout=timeout)
    except (OSError, EOFError, paramiko.SSHException) as exc:
        raise ExecutionError(f"cannot open an SSH session on {where}: {exc}") from exc
    out, err = _Output(), _Output()
    late = ExecutionError(
        f"{command!r} on {where} did not finish within {timeout:g} s (the node may be "
        "unreachable, or the command still running there)"
    )
    try:
        channel.exec_command(command)
        channel.shutdown_write()
        # The exit status may come before the last of the output (the server sends it
        # once the process ends, while output may still wait for window space): read
        # until the end of the output, then wait for the status.
        while _read(channel, out, err, deadline - clock.monotonic()):
            if not transport.is_active():
                raise ExecutionError(f"the SSH connection to {where} was lost during {command!r}")
            if clock.monotonic() >= deadline:
                raise late
        if not channel.status_event.wait(max(deadline - clock.monotonic(), 0.0)):
            raise late
        return ExecResult(channel.recv_exit_status(), out.text(), err.text())
    except (OSError, EOFError, paramiko.SSHException) as exc:
        raise ExecutionError(f"{command!r} on {where} failed over SSH: {exc}") from exc
    finally:
        channel.close()


def _read(channel: paramiko.Channel, out: _Output, err: _Output, remaining: float) -> bool:
    """Take what the command wrote, waiting a little for more; False at the end of its
    output."""
    while channel.recv_stderr_ready():
        err.add(channel.recv_stderr(65536))
    channel.settimeout(min(_POLL_SECONDS, max(remaining, 0.001)))
    try:
        chunk = channel.recv(65536)
    except TimeoutError:
        return True
    if chunk:
        out.add(chunk)
        return True
    while channel.recv_stderr_ready():
        err.add(channel.recv_stderr(65536))
    return False


class _Output:
    """One stream's bytes, kept up to MAX_OUTPUT_BYTES."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._dropped = 0

    def add(self, chunk: bytes) -> None:
        room = MAX_OUTPUT_BYTES - len(self._data)
        self._data += chunk[: max(room, 0)]
        self._dropped += max(len(chunk) - max(room, 0), 0)

    def text(self) -> str:
        text = self._data.decode("utf-8", errors="replace")
        if self._dropped:
            text += f"\n[seal: {self._dropped} more byte(s) not kept]"
        return text


def _reason(exc: BaseException, connect_timeout: float) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return f"timed out after {connect_timeout:g} s"
    return str(exc) or type(exc).__name__


def _known_hosts_file(settings: SshSettings) -> Path | None:
    """The known_hosts file to trust; None when the default one does not exist."""
    if settings.known_hosts is not None:
        path = Path(settings.known_hosts).expanduser()
        if not path.is_file():
            raise UsageError(f"--ssh-known-hosts: {path} is not a readable file")
        return path
    path = Path(os.path.expanduser(DEFAULT_KNOWN_HOSTS))
    if path.is_file():
        return path
    if not settings.allow_missing_host_keys:
        log.warning(
            "%s does not exist: every SSH host will be refused until its key is there "
            "(or give --ssh-known-hosts, or relax with --ssh-allow-missing-host-keys)",
            DEFAULT_KNOWN_HOSTS,
        )
    return None


def _load_key(path: str, passphrase: str | None) -> paramiko.PKey:
    try:
        return paramiko.PKey.from_path(Path(path).expanduser(), password=passphrase)
    except paramiko.PasswordRequiredException as exc:
        raise UsageError(
            f"--ssh-path-to-private-key: {path} is encrypted; give its passphrase with "
            "--ssh-password, or use an SSH agent"
        ) from exc
    except (OSError, ValueError, paramiko.SSHException) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"--ssh-path-to-private-key: cannot read {path}: {reason}") from exc
