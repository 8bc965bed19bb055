"""A run imports what it uses: a plain kill of one pod, and `seal validate`, start without
the modules of features they do not use (reports, background load, tracing, Chaos
Toolkit experiments, cloud SDKs, SSH, jsonschema for a valid policy...).

seal runs in a subprocess as a user runs it; a `-c` wrapper writes the names of every
module loaded by the time the process exits.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from sandbox.sandbox import Sandbox
from tests.conftest import SandboxFactory

REPO = Path(__file__).resolve().parents[1]
WRAPPER = """\
import atexit, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write("\\n".join(sorted(sys.modules))))
sys.argv[0] = "seal"
from seal.cli import main
main()
"""
#: modules (and their submodules) a plain run never needs
NEVER = (
    "seal.reports",  # --report-dir
    "seal.load",  # a scenario's background load
    "asyncio",  # the load generator's event loop
    "aiohttp",
    "seal.tracing.otel",  # --otlp-endpoint
    "opentelemetry",
    "seal.policy.experiments",  # Chaos Toolkit experiments
    "jsonschema",  # a valid policy passes the quick check
    "referencing",
    "seal.adapters.ssh",  # --execution-mode ssh
    "paramiko",
    "seal.interactive",
    "boto3",
    "botocore",
    "google",
    "azure",
    "openstack",
    "drivers.aws",
    "drivers.gcp",
    "drivers.azure",
    "drivers.openstack",
    "sandbox",  # the simulated cluster runs in the test's process, not seal's
    "wsgiref",  # the metrics and health endpoint (--metrics-address)
    "http.server",
    "prometheus_client",
)
KILL_ONE = """\
config:
  runStrategy: {runs: 1, minSecondsBetweenRuns: 0, maxSecondsBetweenRuns: 0}
scenarios:
- name: kill one pod
  steps:
  - podAction:
      matches: [{labels: {selector: app=goldpinger, namespace: default}}]
      filters: [{randomSample: {size: 1}}]
      actions: [{kill: {probability: 1, force: true}}]
"""


def _modules_of(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    out = tmp_path / "modules.txt"
    result = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(out), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )
    return result, set(out.read_text().split()) if out.exists() else set()


def _unneeded(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in NEVER))


def _pod_names(box: Sandbox) -> set[str]:
    pods = box.call(lambda store: store.list("pods", "default"))
    return {pod["metadata"]["name"] for pod in pods}


def test_a_plain_kill_imports_only_what_it_uses(
    tmp_path: Path, sandbox_factory: SandboxFactory
) -> None:
    box = sandbox_factory()
    policy = tmp_path / "policy.yml"
    policy.write_text(KILL_ONE)
    result, modules = _modules_of(
        tmp_path,
        "autonomous",
        "--policy-file",
        str(policy),
        "--kubeconfig",
        str(box.kubeconfig_path),
        "--state-dir",
        str(tmp_path / "state"),
    )
    assert result.returncode == 0, result.stderr
    killed = re.findall(r"killed default/(goldpinger-\S+)", result.stderr)
    assert len(killed) == 1, result.stderr
    assert killed[0] not in _pod_names(box)  # force: gone at once
    # the wrapper saw the run: what it does need is there
    assert {"seal.adapters.kube", "seal.steps.pod_action", "yaml", "click"} <= modules
    assert _unneeded(modules) == []


def test_validate_imports_only_what_it_uses(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text(KILL_ONE)
    result, modules = _modules_of(tmp_path, "validate", str(policy))
    assert result.returncode == 0, result.stderr
    assert {"seal.policy.loader", "yaml"} <= modules
    never = {"urllib3", "ssl", "seal.adapters.kube", "seal.runtime.services"}
    assert _unneeded(modules) == [] and not never & modules, never & modules


def test_an_invalid_policy_still_gets_jsonschema_s_findings(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text(KILL_ONE.replace("force: true", "force: 3"))
    result, modules = _modules_of(tmp_path, "validate", str(policy))
    assert result.returncode == 2
    assert "force: must be true or false, got 3" in result.stdout + result.stderr
    assert "jsonschema" in modules


def test_the_command_modules_import_no_runtime() -> None:
    """Parsing a command line (and --help) needs the flags, not what runs them."""
    commands = ["autonomous", "cleanup", "cloud", "convert", "interactive", "rbac", "validate"]
    code = (
        "import sys\n"
        + "".join(f"import seal.cli.{name}\n" for name in commands)
        + "print('\\n'.join(sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    modules = set(result.stdout.split())
    assert "seal.cli.running" in modules
    heavy = ("seal.runtime", "seal.steps", "seal.policy", "seal.adapters.kube", "urllib3")
    assert sorted(m for m in modules if m.startswith(heavy)) == []
