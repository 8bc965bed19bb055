"""How `execute` (and container kills) reach nodes: the flags, and the executor they make.

`@exec_options` adds the flags to a command and hands it one `execution: ExecSettings`
argument instead of a dozen; `executor_factory(settings)` makes the executor once the
run has a Kubernetes client (what `open_services(executor=...)` takes). PowerfulSeal's
flag and environment names are accepted.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import click

from seal.adapters.kill_command import CRICTL_KILL_COMMAND, DOCKER_KILL_COMMAND, KillCommand
from seal.adapters.node_exec import (
    DEFAULT_IMAGE,
    DEFAULT_KILL_COMMAND,
    DEFAULT_NAMESPACE,
    PodExecSettings,
)
from seal.cli.options import option
from seal.errors import UsageError
from seal.frozen import frozen

if TYPE_CHECKING:  # the Kubernetes client only once a run connects
    from seal.adapters.kube import KubeClient
    from seal.steps.ports import Executor

log = logging.getLogger("seal.cli")

Mode = Literal["kubernetes", "ssh"]
#: `--kill-command docker` and `--kill-command crictl` stand for these (SSH, Kubernetes mode)
PRESETS: dict[str, tuple[str, str]] = {
    "crictl": (CRICTL_KILL_COMMAND, DEFAULT_KILL_COMMAND),
    "containerd": (CRICTL_KILL_COMMAND, DEFAULT_KILL_COMMAND),
    "docker": (DOCKER_KILL_COMMAND, DOCKER_KILL_COMMAND.replace("sudo ", "")),
}
SSH_INSTALL_HINT = "the ssh execution mode needs paramiko: pip install 'seal-chaos[ssh]'"


@frozen
class ExecSettings:
    """The execution mode and its settings, as the flags gave them."""

    mode: Mode
    pod: PodExecSettings
    #: `seal.adapters.ssh.SshSettings` in ssh mode (kept untyped here so that the
    #: Kubernetes mode never imports paramiko)
    ssh: Any = None


_FLAGS: list[Callable[[Any], Any]] = [
    option(
        "--execution-mode",
        type=click.Choice(["kubernetes", "ssh"]),
        default="kubernetes",
        show_default=True,
        help="How `execute` reaches nodes: a privileged pod pinned to the node, or SSH.",
    ),
    option(
        "--use-pod-delete-instead-of-ssh-kill",
        "pod_delete_instead",
        is_flag=True,
        hidden=True,
        help="Deprecated: the same as --execution-mode kubernetes.",
    ),
    option(
        "--kill-command",
        "--ssh-kill-command",
        "kill_command",
        legacy_env=["PS_SSH_KILL_COMMAND"],
        help=(
            "How a container is killed on its node: a template with {container_id} and "
            "{signal}, or 'crictl' (the default) or 'docker'."
        ),
    ),
    option(
        "--exec-namespace",
        default=DEFAULT_NAMESPACE,
        show_default=True,
        help="Kubernetes mode: the namespace of the exec pods.",
    ),
    option(
        "--exec-image",
        default=DEFAULT_IMAGE,
        show_default=True,
        help="Kubernetes mode: the image of the exec pods (it needs nsenter and sh).",
    ),
    option(
        "--remote-user",
        default="cloud-user",
        show_default=True,
        legacy_env=["PS_REMOTE_USER"],
        help="SSH: the user to log in as.",
    ),
    option(
        "--ssh-path-to-private-key",
        "ssh_key_file",
        type=click.Path(dir_okay=False),
        legacy_env=["PS_PRIVATE_KEY"],
        help="SSH: the private key to log in with.",
    ),
    option(
        "--ssh-password",
        legacy_env=["PS_SSH_PASSWORD"],
        help="SSH: the password (or the key's passphrase); better from the environment.",
    ),
    option(
        "--ssh-known-hosts",
        type=click.Path(dir_okay=False),
        help="SSH: the known_hosts file to check host keys against (default ~/.ssh/known_hosts).",
    ),
    option(
        "--ssh-allow-missing-host-keys",
        is_flag=True,
        help="SSH: accept hosts whose key is not in known_hosts (a changed key is still refused).",
    ),
    option(
        "--override-ssh-host", help="SSH: run every command on this host instead of on the nodes."
    ),
    option(
        "--use-private-ip",
        is_flag=True,
        help="SSH: connect to nodes' internal IPs even when they have an external one.",
    ),
    option("--ssh-port", type=click.IntRange(1, 65535), default=22, show_default=True),
    option(
        "--ssh-connect-timeout",
        type=click.FloatRange(min=0.1),
        default=10.0,
        show_default=True,
        help="SSH: seconds to wait for a connection.",
    ),
    option(
        "--ssh-connect-attempts",
        type=click.IntRange(1, 10),
        default=3,
        show_default=True,
        help="SSH: connection attempts before a node counts as unreachable.",
    ),
]
_NAMES = (
    "execution_mode",
    "pod_delete_instead",
    "kill_command",
    "exec_namespace",
    "exec_image",
    "remote_user",
    "ssh_key_file",
    "ssh_password",
    "ssh_known_hosts",
    "ssh_allow_missing_host_keys",
    "override_ssh_host",
    "use_private_ip",
    "ssh_port",
    "ssh_connect_timeout",
    "ssh_connect_attempts",
)


def exec_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """Add the execution flags to a click command; it receives `execution: ExecSettings`."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in _NAMES}
        kwargs["execution"] = exec_settings(**values)
        return function(*args, **kwargs)

    command: Callable[..., Any] = wrapper
    for decorator in reversed(_FLAGS):
        command = decorator(command)
    return command


def exec_settings(
    *,
    execution_mode: str = "kubernetes",
    pod_delete_instead: bool = False,
    kill_command: str | None = None,
    exec_namespace: str = DEFAULT_NAMESPACE,
    exec_image: str = DEFAULT_IMAGE,
    remote_user: str = "cloud-user",
    ssh_key_file: str | None = None,
    ssh_password: str | None = None,
    ssh_known_hosts: str | None = None,
    ssh_allow_missing_host_keys: bool = False,
    override_ssh_host: str | None = None,
    use_private_ip: bool = False,
    ssh_port: int = 22,
    ssh_connect_timeout: float = 10.0,
    ssh_connect_attempts: int = 3,
) -> ExecSettings:
    """The flags' values checked and put together (`UsageError` naming the flag)."""
    mode: Mode = "ssh" if execution_mode == "ssh" else "kubernetes"
    if pod_delete_instead and mode == "ssh":
        log.warning("--use-pod-delete-instead-of-ssh-kill: using the kubernetes execution mode")
        mode = "kubernetes"
    ssh_template, pod_template = _kill_templates(kill_command)
    pod = PodExecSettings(namespace=exec_namespace, image=exec_image, kill_command=pod_template)
    if mode == "kubernetes":
        return ExecSettings(mode, pod)
    try:
        from seal.adapters.ssh import SshSettings
    except ImportError as exc:
        raise UsageError(SSH_INSTALL_HINT) from exc
    ssh = SshSettings(
        user=remote_user,
        port=ssh_port,
        key_file=ssh_key_file,
        password=ssh_password,
        known_hosts=ssh_known_hosts,
        allow_missing_host_keys=ssh_allow_missing_host_keys,
        use_private_ip=use_private_ip,
        override_host=override_ssh_host,
        connect_timeout=ssh_connect_timeout,
        connect_attempts=ssh_connect_attempts,
        kill_command=ssh_template,
    )
    return ExecSettings(mode, pod, ssh)


def _kill_templates(value: str | None) -> tuple[str, str]:
    """The kill-command templates of the SSH and the Kubernetes mode."""
    if value is None or not value.strip():
        return PRESETS["crictl"]
    if value.strip().lower() in PRESETS:
        return PRESETS[value.strip().lower()]
    try:
        KillCommand(value)
    except UsageError as exc:
        raise UsageError(f"--kill-command: {exc}") from exc
    return value, value


def executor_factory(settings: ExecSettings) -> Callable[[KubeClient], Executor]:
    """What makes the run's executor once it has a Kubernetes client."""
    if settings.mode == "ssh":
        try:
            from seal.adapters.ssh import SshExecutor
        except ImportError as exc:
            raise UsageError(SSH_INSTALL_HINT) from exc
        executor = SshExecutor(settings.ssh)
        return lambda kube: executor

    from seal.adapters.node_exec import PodExecutor

    return lambda kube: PodExecutor(kube, settings.pod)
