"""Kill-command templates: checked when given, values checked and quoted when filled in."""

from __future__ import annotations

import subprocess

import pytest

from seal.adapters.kill_command import (
    CRICTL_KILL_COMMAND,
    DOCKER_KILL_COMMAND,
    KillCommand,
    container_ref,
    signal_name,
)
from seal.errors import ExecutionError, UsageError


def test_the_default_suits_containerd_and_keeps_the_go_template() -> None:
    command = KillCommand(CRICTL_KILL_COMMAND).render("containerd://0a1b2c3d4e5f", "SIGKILL")
    assert command == (
        "sudo kill -s KILL $(sudo crictl inspect --output go-template "
        "--template '{{.info.pid}}' 0a1b2c3d4e5f)"
    )


def test_docker_template() -> None:
    assert KillCommand(DOCKER_KILL_COMMAND).render("docker://abc123", "term") == (
        "sudo docker kill -s TERM abc123"
    )


@pytest.mark.parametrize(
    ("given", "expected"), [("SIGKILL", "KILL"), ("kill", "KILL"), ("TERM", "TERM"), ("9", "9")]
)
def test_signal_names(given: str, expected: str) -> None:
    assert signal_name(given) == expected


@pytest.mark.parametrize("bad", ["KILL; rm -rf /", "$(reboot)", "", "0", "99"])
def test_bad_signals_are_refused(bad: str) -> None:
    with pytest.raises(ExecutionError, match="is not a signal"):
        signal_name(bad)


@pytest.mark.parametrize("bad", ["abc; reboot", "containerd://", "../x", "a b"])
def test_bad_container_ids_are_refused(bad: str) -> None:
    with pytest.raises(ExecutionError, match="is not a container ID"):
        container_ref(bad)


def test_a_rendered_command_is_one_safe_shell_word_per_value() -> None:
    command = KillCommand("printf '%s|' {signal} {container_id}").render("cri-o://a.b_c-1", "HUP")
    out = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True)
    assert out.stdout == "HUP|a.b_c-1|"


def test_bad_templates_are_usage_errors() -> None:
    with pytest.raises(UsageError, match=r"must contain \{container_id\}"):
        KillCommand("sudo docker kill -s {signal}")
    with pytest.raises(UsageError, match=r"unknown placeholder\(s\) \{container\}, \{sig\}"):
        KillCommand("kill {sig} {container} {container_id}")
