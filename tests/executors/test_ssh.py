"""The SSH executor against a real OpenSSH server on loopback."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from seal.adapters.kill_command import DOCKER_KILL_COMMAND
from seal.adapters.ssh import MAX_OUTPUT_BYTES, SshExecutor, SshSettings
from seal.errors import ExecutionError, UsageError
from seal.model import Node
from tests.executors.sshd import Sshd, free_port

NODE = Node(name="node-1", ip="127.0.0.1")


def settings(server: Sshd, **changes: object) -> SshSettings:
    values: dict[str, object] = {
        "user": "root",
        "port": server.port,
        "key_file": str(server.client_key),
        "known_hosts": str(server.known_hosts),
        "connect_timeout": 5.0,
    }
    values.update(changes)
    return SshSettings(**values)  # type: ignore[arg-type]


def test_command_runs_and_its_output_and_exit_code_are_captured(sshd: Sshd) -> None:
    executor = SshExecutor(settings(sshd))
    result = executor.run(NODE, "echo out-$((6*7)); echo err >&2; exit 3", timeout=10)
    assert result.exit_code == 3
    assert result.stdout == "out-42\n"
    assert result.stderr == "err\n"
    assert executor.run(NODE, "id -u", timeout=10).stdout.strip() == "0"


def test_large_output_is_kept_whole_and_the_command_ends_after_its_exit(sshd: Sshd) -> None:
    result = SshExecutor(settings(sshd)).run(NODE, "seq 1 100000", timeout=20)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 100000
    assert lines[-1] == "100000"


def test_output_beyond_the_bound_is_counted_not_kept(sshd: Sshd) -> None:
    # 3 MB: more than the SSH window, so the server reaps the process and sends its exit
    # status while most of the output is still on its way.
    result = SshExecutor(settings(sshd)).run(
        NODE, "head -c 3000000 /dev/zero | tr '\\0' x; exit 4", timeout=30
    )
    assert result.exit_code == 4
    kept, note = result.stdout[:MAX_OUTPUT_BYTES], result.stdout[MAX_OUTPUT_BYTES:]
    assert kept == "x" * MAX_OUTPUT_BYTES
    assert note == f"\n[seal: {3000000 - MAX_OUTPUT_BYTES} more byte(s) not kept]"


def test_a_command_killed_by_a_signal_has_exit_code_minus_one(sshd: Sshd) -> None:
    result = SshExecutor(settings(sshd)).run(NODE, "echo before; kill -KILL $$", timeout=10)
    assert (result.exit_code, result.stdout) == (-1, "before\n")


def test_a_slow_command_times_out_within_its_timeout(sshd: Sshd) -> None:
    executor = SshExecutor(settings(sshd))
    started = time.monotonic()
    with pytest.raises(ExecutionError, match=r"'sleep 30' on node node-1 .* within 1 s"):
        executor.run(NODE, "sleep 30", timeout=1)
    assert time.monotonic() - started < 4


def test_unknown_host_key_is_refused_by_default(sshd: Sshd, tmp_path: Path) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    executor = SshExecutor(settings(sshd, known_hosts=str(empty)))
    with pytest.raises(ExecutionError) as caught:
        executor.run(NODE, "touch /tmp/should-not-exist", timeout=10)
    message = str(caught.value)
    assert f"root@127.0.0.1:{sshd.port}" in message
    assert "host key (ssh-ed25519 SHA256:" in message
    assert f"is not in {empty}" in message
    assert "--ssh-allow-missing-host-keys" in message


def test_unknown_host_key_is_accepted_with_a_warning_when_allowed(
    sshd: Sshd, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    executor = SshExecutor(settings(sshd, known_hosts=str(empty), allow_missing_host_keys=True))
    with caplog.at_level(logging.WARNING, logger="seal.adapters.ssh"):
        assert executor.run(NODE, "echo hi", timeout=10).stdout == "hi\n"
    assert any("accepting the unknown SSH host key" in r.getMessage() for r in caplog.records)
    assert empty.read_text() == "", "an accepted key is not written to known_hosts"


def test_a_changed_host_key_is_refused_even_when_missing_keys_are_allowed(
    sshd: Sshd, tmp_path: Path
) -> None:
    other = (sshd.stranger_key.with_suffix(".pub")).read_text().split()
    wrong = tmp_path / "wrong_known_hosts"
    wrong.write_text(f"[127.0.0.1]:{sshd.port} {other[0]} {other[1]}\n")
    executor = SshExecutor(settings(sshd, known_hosts=str(wrong), allow_missing_host_keys=True))
    with pytest.raises(ExecutionError, match="does not match the one in"):
        executor.run(NODE, "true", timeout=10)


def test_a_key_the_server_does_not_know_fails_clearly(sshd: Sshd) -> None:
    executor = SshExecutor(settings(sshd, key_file=str(sshd.stranger_key)))
    started = time.monotonic()
    with pytest.raises(ExecutionError) as caught:
        executor.run(NODE, "true", timeout=10)
    assert str(caught.value) == (
        f"cannot run a command on node node-1 (root@127.0.0.1:{sshd.port}) over SSH: "
        f"the server refused user 'root' with the key {sshd.stranger_key}"
    )
    assert time.monotonic() - started < 5, "an authentication failure is not retried"


def test_a_wrong_password_fails_and_is_never_logged(
    sshd: Sshd, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cret-Passw0rd-x9"
    config = settings(sshd, key_file=None, password=secret)
    assert secret not in repr(config)
    executor = SshExecutor(config)
    with caplog.at_level(logging.DEBUG), pytest.raises(ExecutionError) as caught:
        executor.run(NODE, "true", timeout=10)
    assert "refused user 'root' with the password given" in str(caught.value)
    assert secret not in str(caught.value)
    assert caplog.records, "paramiko and seal logged at DEBUG"
    assert not [r for r in caplog.records if secret in r.getMessage()]


def test_connection_refused_is_retried_a_bounded_number_of_times(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    port = free_port()
    executor = SshExecutor(
        SshSettings(user="root", port=port, known_hosts=str(known), connect_attempts=3)
    )
    started = time.monotonic()
    with (
        caplog.at_level(logging.INFO, logger="seal.adapters.ssh"),
        pytest.raises(
            ExecutionError,
            match=rf"cannot connect to node node-1 \(root@127.0.0.1:{port}\) over "
            r"SSH after 3 attempt\(s\)",
        ),
    ):
        executor.run(NODE, "true", timeout=10)
    retries = [r for r in caplog.records if "trying again" in r.getMessage()]
    assert len(retries) == 2
    assert time.monotonic() - started < 5


def test_address_public_private_and_override() -> None:
    node = Node(name="n", ip="10.0.0.5", external_ip="203.0.113.9")
    assert SshExecutor(SshSettings(allow_missing_host_keys=True)).address(node) == "203.0.113.9"
    private = SshExecutor(SshSettings(allow_missing_host_keys=True, use_private_ip=True))
    assert private.address(node) == "10.0.0.5"
    assert private.address(Node(name="m", ip="10.0.0.6")) == "10.0.0.6"
    override = SshExecutor(SshSettings(allow_missing_host_keys=True, override_host="jump"))
    assert override.address(node) == "jump"
    with pytest.raises(ExecutionError, match="node bare has no IP address"):
        private.address(Node(name="bare"))


def test_override_host_sends_every_command_to_that_host(sshd: Sshd) -> None:
    executor = SshExecutor(settings(sshd, override_host="127.0.0.1"))
    unreachable = Node(name="far", ip="192.0.2.200", external_ip="198.51.100.7")
    assert executor.run(unreachable, "echo here", timeout=10).stdout == "here\n"


def test_kill_container_runs_the_template_on_the_node(sshd: Sshd, tmp_path: Path) -> None:
    record = tmp_path / "killed"
    template = f"echo {{signal}} {{container_id}} > {record}"
    executor = SshExecutor(settings(sshd, kill_command=template))
    result = executor.kill_container(NODE, "containerd://4f2a9c", "SIGTERM", timeout=10)
    assert result.exit_code == 0
    assert record.read_text() == "TERM 4f2a9c\n"


def test_bad_settings_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"cannot read .*nope"):
        SshExecutor(SshSettings(key_file=str(tmp_path / "nope"), allow_missing_host_keys=True))
    with pytest.raises(UsageError, match="is not a readable file"):
        SshExecutor(SshSettings(known_hosts=str(tmp_path / "missing")))
    with pytest.raises(UsageError, match=r"unknown placeholder\(s\) \{pod\}"):
        SshExecutor(SshSettings(allow_missing_host_keys=True, kill_command="kill {pod}"))
    assert SshExecutor(SshSettings(allow_missing_host_keys=True, kill_command=DOCKER_KILL_COMMAND))
