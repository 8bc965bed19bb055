"""Running kubectl: manifests on standard input, an argument list, never a shell.

Starts the kubectl program; nothing else.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

from seal.adapters.children import dies_with_seal
from seal.errors import ExecutionError

_PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


@dataclass(frozen=True)
class KubectlTarget:
    """Which cluster kubectl talks to: a kubeconfig (seal makes one for its own connection,
    see `kubectl_config`), its context, and the file descriptors the child must inherit to
    read it (a kubeconfig kept in memory is /proc/self/fd/N)."""

    kubeconfig: str | None = None
    context: str | None = None
    pass_fds: tuple[int, ...] = ()


@dataclass(frozen=True)
class Kubectl:
    """kubectl bound to one cluster (seal's kubeconfig and context): what steps call."""

    target: KubectlTarget = KubectlTarget()
    #: the namespace kubectl puts objects in that do not name one (the context's)
    default_namespace: str = "default"

    def run(
        self,
        action: str,
        manifest: str,
        *,
        binary: str = "kubectl",
        proxy: str | None = None,
        timeout: float = 120.0,
        ignore_not_found: bool = False,
        server_dry_run: bool = False,
    ) -> str:
        return run_kubectl(
            action,
            manifest,
            self.target,
            binary=binary,
            proxy=proxy,
            timeout=timeout,
            ignore_not_found=ignore_not_found,
            server_dry_run=server_dry_run,
        )


def kubectl_environment(base: Mapping[str, str], proxy: str | None) -> dict[str, str]:
    """The environment without proxy settings, plus `proxy` when one is given."""
    env = {k: v for k, v in base.items() if k.lower() not in _PROXY_VARIABLES}
    if proxy:
        env.update({"HTTP_PROXY": proxy, "HTTPS_PROXY": proxy})
    return env


def run_kubectl(
    action: str,
    manifest: str,
    target: KubectlTarget,
    *,
    binary: str = "kubectl",
    proxy: str | None = None,
    timeout: float = 120.0,
    ignore_not_found: bool = False,
    server_dry_run: bool = False,
    environ: Mapping[str, str] | None = None,
) -> str:
    """`kubectl apply|delete|get -f -` with `manifest` on stdin (get: the live objects as
    JSON, none for those that do not exist); kubectl's output, or
    `ExecutionError` carrying its standard error. `server_dry_run` has the API server
    check the request and say what it would do, changing nothing."""
    if action not in ("apply", "delete", "get"):
        raise ExecutionError(f"kubectl action must be apply, delete or get, not {action!r}")
    command = [binary]
    if target.kubeconfig:
        command += ["--kubeconfig", target.kubeconfig]
    if target.context:
        command += ["--context", target.context]
    command += [action, "-f", "-"]
    if action == "get":
        command += ["-o", "json", "--ignore-not-found"]
    elif ignore_not_found and action == "delete":
        command.append("--ignore-not-found")
    if server_dry_run:
        command.append("--dry-run=server")
    env = kubectl_environment(os.environ if environ is None else environ, proxy)
    returncode, out, err = _run_tied(command, manifest, env, target.pass_fds, timeout, action)
    if returncode != 0:
        reason = err.strip() or out.strip() or "no output"
        raise ExecutionError(f"kubectl {action} failed (exit {returncode}): {reason[:2000]}")
    return out


def _run_tied(
    command: list[str],
    manifest: str,
    env: dict[str, str],
    pass_fds: tuple[int, ...],
    timeout: float,
    action: str,
) -> tuple[int, str, str]:
    """Run kubectl tied to seal's life: its exit status, standard output and error."""
    tied = dies_with_seal()
    try:
        # Tied to seal's life, kubectl gets a session of its own, so that a Ctrl-C at the
        # terminal reaches seal (which then undoes its changes) and not an undo's kubectl
        # in flight; where it cannot be tied, it stays in seal's process group.
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=tied is not None,
            preexec_fn=tied,  # noqa: PLW1509 - calls prctl and getppid only, no locks
            pass_fds=pass_fds,
        )
    except OSError as exc:
        raise ExecutionError(f"cannot run {command[0]!r}: {exc.strerror or exc}") from exc
    try:
        out, err = process.communicate(manifest, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        if tied is not None:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.communicate()
        raise ExecutionError(f"kubectl {action} did not finish within {timeout:g}s") from exc
    return process.returncode, out, err
