"""The sandbox answers as an API server with priority and fairness: every answer names
its flow schema and priority level, and what is beyond the concurrency it serves gets a
429 with Retry-After (which seal's client retries)."""

from __future__ import annotations

import asyncio
import json

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from sandbox.api import Faults, build_api_app
from sandbox.flowcontrol import FLOW_SCHEMA_HEADER, PRIORITY_LEVEL_HEADER, FlowControl
from sandbox.store import Store
from seal.adapters.kube import KubeClient
from seal.adapters.kubeconfig import resolve
from tests.conftest import SandboxFactory


def test_every_answer_of_the_sandbox_names_its_flow_schema_and_priority_level(
    sandbox_factory: SandboxFactory,
) -> None:
    box = sandbox_factory()
    kube = KubeClient(resolve(str(box.kubeconfig_path)))
    transport = kube._transport
    assert transport is not None
    headers = {"Authorization": f"Bearer {box.token}", "Accept": "application/json"}
    listed = transport.request("GET", "/api/v1/namespaces/default/pods", headers)
    missing = transport.request("GET", "/api/v1/namespaces/default/pods/none", headers)
    assert (listed.status, missing.status) == (200, 404)
    for answer in (listed, missing):
        assert answer.headers.get(FLOW_SCHEMA_HEADER)
        assert answer.headers.get(PRIORITY_LEVEL_HEADER)
    assert listed.headers.get(FLOW_SCHEMA_HEADER) == missing.headers.get(FLOW_SCHEMA_HEADER)


def test_requests_beyond_the_concurrency_are_shed_with_429_and_retry_after() -> None:
    async def scenario() -> tuple[list[int], list[dict[str, str]], FlowControl]:
        flow = FlowControl(max_in_flight=3)
        app = build_api_app(
            Store(),
            token=lambda: "t",
            faults=Faults(latency_ms=300),  # each request is in flight for 0.3 s
            flow_control=flow,
        )
        async with TestServer(app, host="127.0.0.1") as server, ClientSession() as session:

            async def get() -> tuple[int, dict[str, str], bytes]:
                async with session.get(
                    server.make_url("/api/v1/namespaces"), headers={"Authorization": "Bearer t"}
                ) as answer:
                    return answer.status, dict(answer.headers), await answer.read()

            answers = await asyncio.gather(*[get() for _ in range(8)])
        shed = [h for status, h, _ in answers if status == 429]
        bodies = [json.loads(b) for status, _, b in answers if status == 429]
        assert all(b["reason"] == "TooManyRequests" for b in bodies)
        return sorted(status for status, _, _ in answers), shed, flow

    statuses, shed, flow = asyncio.run(scenario())
    assert statuses == [200] * 3 + [429] * 5
    assert flow.shed == 5 and flow.in_flight == 0
    assert all(h["Retry-After"] == "1" and h[FLOW_SCHEMA_HEADER] for h in shed)
