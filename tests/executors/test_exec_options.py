"""The execution flags: seal's names and PowerfulSeal's, checked, and the executor they make."""

from __future__ import annotations

import sys
from typing import Any

import click
import pytest
from click.testing import CliRunner

from seal.adapters.kill_command import CRICTL_KILL_COMMAND, DOCKER_KILL_COMMAND
from seal.adapters.node_exec import DEFAULT_KILL_COMMAND, PodExecutor
from seal.adapters.ssh import SshExecutor
from seal.cli.exec_options import ExecSettings, exec_options, executor_factory
from seal.errors import UsageError
from seal.model import Node
from tests.executors.sshd import Sshd


def parse(args: list[str], env: dict[str, str] | None = None) -> ExecSettings:
    seen: list[ExecSettings] = []

    @click.command()
    @exec_options
    def command(execution: ExecSettings) -> None:
        seen.append(execution)

    result = CliRunner().invoke(command, args, env=env or {}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return seen[0]


def test_the_kubernetes_mode_is_the_default() -> None:
    settings = parse([])
    assert settings.mode == "kubernetes"
    assert settings.ssh is None
    assert settings.pod.namespace == "default"
    assert settings.pod.kill_command == DEFAULT_KILL_COMMAND
    executor = executor_factory(settings)(object())  # type: ignore[arg-type]
    assert isinstance(executor, PodExecutor)


def test_powerfulseal_ssh_flags_and_environment_names(tmp_path: Any) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    settings = parse(
        [
            "--execution-mode", "ssh",
            "--ssh-allow-missing-host-keys",
            "--override-ssh-host", "10.9.9.9",
            "--use-private-ip",
            "--ssh-known-hosts", str(known),
            "--ssh-kill-command", "docker",
        ],
        env={"PS_REMOTE_USER": "ops", "PS_SSH_PASSWORD": "hunter2-xyz"},
    )  # fmt: skip
    ssh = settings.ssh
    assert settings.mode == "ssh"
    assert (ssh.user, ssh.password, ssh.override_host) == ("ops", "hunter2-xyz", "10.9.9.9")
    assert ssh.use_private_ip and ssh.allow_missing_host_keys
    assert ssh.kill_command == DOCKER_KILL_COMMAND
    assert settings.pod.kill_command == "docker kill -s {signal} {container_id}"
    assert "hunter2-xyz" not in repr(settings)


def test_seal_environment_names_and_the_crictl_default() -> None:
    settings = parse([], env={"SEAL_EXECUTION_MODE": "ssh", "SEAL_REMOTE_USER": "core"})
    assert settings.ssh.user == "core"
    assert settings.ssh.kill_command == CRICTL_KILL_COMMAND
    assert settings.ssh.connect_attempts == 3


def test_the_deprecated_pod_delete_flag_means_kubernetes() -> None:
    assert parse(["--execution-mode", "ssh", "--use-pod-delete-instead-of-ssh-kill"]).mode == (
        "kubernetes"
    )


def test_a_bad_kill_command_is_a_usage_error() -> None:
    @click.command()
    @exec_options
    def command(execution: ExecSettings) -> None:
        raise AssertionError("not reached")

    with pytest.raises(UsageError, match=r"--kill-command: .* must contain \{container_id\}"):
        CliRunner().invoke(command, ["--kill-command", "pkill {signal}"], catch_exceptions=False)


def test_missing_paramiko_gives_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "paramiko", None)
    monkeypatch.delitem(sys.modules, "seal.adapters.ssh")
    with pytest.raises(UsageError, match=r"pip install 'seal-chaos\[ssh\]'"):
        parse(["--execution-mode", "ssh"])


def test_help_lists_the_flags_and_shows_no_secret() -> None:
    @click.command()
    @exec_options
    def command(execution: ExecSettings) -> None: ...

    result = CliRunner().invoke(command, ["--help"], env={"PS_SSH_PASSWORD": "topsecret-q"})
    assert result.exit_code == 0
    for flag in (
        "--execution-mode", "--remote-user", "--ssh-path-to-private-key", "--ssh-password",
        "--ssh-allow-missing-host-keys", "--override-ssh-host", "--use-private-ip",
        "--kill-command", "--exec-namespace",
    ):  # fmt: skip
        assert flag in result.output
    assert "topsecret-q" not in result.output


def test_the_ssh_executor_the_flags_make_runs_commands(sshd: Sshd) -> None:
    settings = parse(
        [
            "--execution-mode", "ssh",
            "--remote-user", "root",
            "--ssh-path-to-private-key", str(sshd.client_key),
            "--ssh-known-hosts", str(sshd.known_hosts),
            "--ssh-port", str(sshd.port),
        ]
    )  # fmt: skip
    executor = executor_factory(settings)(object())  # type: ignore[arg-type]
    assert isinstance(executor, SshExecutor)
    result = executor.run(Node(name="n", ip="127.0.0.1"), "echo via-flags", timeout=10)
    assert result.stdout == "via-flags\n"


def test_an_unreadable_key_file_fails_before_the_run(tmp_path: Any) -> None:
    settings = parse(
        [
            "--execution-mode", "ssh",
            "--ssh-allow-missing-host-keys",
            "--ssh-path-to-private-key", str(tmp_path / "missing-key"),
        ]
    )  # fmt: skip
    with pytest.raises(UsageError, match="--ssh-path-to-private-key: cannot read"):
        executor_factory(settings)
