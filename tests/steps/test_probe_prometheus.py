"""probePrometheus against a real Prometheus on loopback, scraping a page the test serves."""

from __future__ import annotations

import http.server
import json
import shutil
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from seal.errors import PolicyError, StepFailed
from seal.steps.probe_prometheus import STEP
from tests.autonomous.helpers import free_port
from tests.conftest import wait_for
from tests.steps.conftest import StepHarness

pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None, reason="prometheus is not installed (scripts/setup)"
)

PAGE = b"""\
# TYPE demo_requests_total counter
demo_requests_total{code="200"} 97
demo_requests_total{code="500"} 3
# TYPE demo_up gauge
demo_up 1
"""


class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args: object) -> None:
        pass


def _answer(url: str) -> object:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return json.loads(answer.read())["data"]["result"]
    except OSError:
        return None


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a Prometheus that has scraped `PAGE` at least once."""
    tmp: Path = tmp_path_factory.mktemp("prometheus")
    page = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=page.serve_forever, daemon=True).start()
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "demo",
                "static_configs": [{"targets": [f"127.0.0.1:{page.server_address[1]}"]}],
            }
        ],
    }
    (tmp / "prometheus.yml").write_text(json.dumps(config))
    server = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: _answer(f"{url}/api/v1/query?query=demo_up"),
            timeout=90,
            interval=0.5,
            what="Prometheus to scrape the page",
        )
        yield url
    finally:
        server.terminate()
        server.wait(timeout=60)
        page.shutdown()
        page.server_close()


def probe(url: str, query: str, value: str) -> str:
    return f"- probePrometheus: {{url: '{url}', query: '{query}', value: {value}}}"


def test_a_value_within_its_tolerance_passes(harness: StepHarness, prometheus: str) -> None:
    outcome = harness.run(STEP, probe(prometheus, "demo_up", "1"))
    assert outcome.result == "passed"
    assert outcome.reason == "probePrometheus 'demo_up': 1"
    ratio = harness.run(
        STEP,
        probe(
            prometheus,
            'sum(demo_requests_total{code="500"}) / sum(demo_requests_total)',
            "{to: 0.05}",
        ),
    )
    assert ratio.result == "passed" and ratio.reason.endswith(": 0.03")


def test_a_value_out_of_tolerance_fails_naming_both(harness: StepHarness, prometheus: str) -> None:
    with pytest.raises(StepFailed) as failure:
        harness.run(STEP, probe(prometheus, "sum(demo_requests_total)", "{from: 0, to: 50}"))
    assert str(failure.value) == (
        "probePrometheus 'sum(demo_requests_total)': observed 100, expected between 0 and 50"
    )


def test_a_query_of_several_series_or_none_fails(harness: StepHarness, prometheus: str) -> None:
    with pytest.raises(StepFailed) as several:
        harness.run(STEP, probe(prometheus, "demo_requests_total", "[3, 97]"))
    assert "returned 2 series" in str(several.value)
    assert "it must return exactly one (aggregate it, e.g. with sum())" in str(several.value)
    with pytest.raises(StepFailed, match="returned 0 series"):
        harness.run(STEP, probe(prometheus, "demo_nothing", "0"))
    with pytest.raises(StepFailed, match=r"the query failed: .*parse error"):
        harness.run(STEP, probe(prometheus, "sum(", "0"))


def test_a_prometheus_that_does_not_answer_fails_the_probe(harness: StepHarness) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StepFailed) as failure:
        harness.run(STEP, probe(url, "up", "1"))
    assert str(failure.value).startswith(f"probePrometheus 'up': {url} did not answer: ")


def test_a_url_that_is_not_http_is_a_located_error(harness: StepHarness) -> None:
    with pytest.raises(PolicyError) as failure:
        harness.policy("- probePrometheus: {url: 'prometheus:9090', query: up, value: 1}")
    [problem] = failure.value.problems
    assert problem.startswith(f"steps.yml:{harness.line('probePrometheus')}:")
    assert "'prometheus:9090' is not an http:// or https:// URL" in problem
