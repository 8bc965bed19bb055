"""A real Prometheus on loopback that scrapes seal's own metrics endpoint every second."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.autonomous.helpers import free_port
from tests.conftest import wait_for


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def query(url: str, promql: str) -> list[dict[str, object]]:
    """The result of an instant query (an empty list when there is none)."""
    params = urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(f"{url}/api/v1/query?{params}", timeout=5) as answer:
        result: list[dict[str, object]] = json.loads(answer.read())["data"]["result"]
        return result


def prometheus_scraping_seal(
    tmp: Path, finalize: Callable[[Callable[[], None]], None]
) -> dict[str, str]:
    """Start a Prometheus that scrapes the metrics address seal will serve on; stopped by
    `finalize`. The environment for seal: SEAL_METRICS_ADDRESS and PROMETHEUS_URL."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus is not installed (scripts/setup installs it)"
    seal_address = f"127.0.0.1:{free_port()}"
    config = {
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [{"job_name": "seal", "static_configs": [{"targets": [seal_address]}]}],
    }
    (tmp / "prometheus.yml").write_text(json.dumps(config))
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def stop() -> None:
        process.terminate()
        process.wait(timeout=60)

    finalize(stop)
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: _ready(url), timeout=90, interval=0.5, what="Prometheus to start")
    return {"SEAL_METRICS_ADDRESS": seal_address, "PROMETHEUS_URL": url}
