"""Server-side tables carry what was asked of them; preset pods look started, as on a real
cluster; the kubeconfig the sandbox writes is private from the start."""

from __future__ import annotations

import json
import os
import ssl
import stat
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from sandbox.sandbox import Sandbox
from tests.conftest import SandboxFactory

TABLE = "application/json;as=Table;g=meta.k8s.io;v=v1"


def get(box: Sandbox, path: str, accept: str = "application/json") -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{box.url}{path}", headers={"Authorization": f"Bearer {box.token}", "Accept": accept}
    )
    context = ssl.create_default_context(cafile=str(box.ca_path))
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_table_rows_carry_the_object_asked_for(sandbox: Sandbox) -> None:
    code, whole = get(sandbox, "/api/v1/namespaces/myapp/pods?includeObject=Object", TABLE)
    assert code == 200 and whole["kind"] == "Table" and len(whole["rows"]) == 3
    for row in whole["rows"]:
        assert row["object"]["kind"] == "Pod" and row["object"]["apiVersion"] == "v1"
        assert row["object"]["status"]["startTime"]
        assert row["object"]["spec"]["containers"]
    for query in ("?includeObject=Metadata", ""):
        code, partial = get(sandbox, f"/api/v1/namespaces/myapp/pods{query}", TABLE)
        assert code == 200
        assert {r["object"]["kind"] for r in partial["rows"]} == {"PartialObjectMetadata"}
        assert all("status" not in r["object"] for r in partial["rows"])
    code, bare = get(sandbox, "/api/v1/namespaces/myapp/pods?includeObject=None", TABLE)
    assert code == 200 and [r["object"] for r in bare["rows"]] == [None] * 3
    name = whole["rows"][0]["object"]["metadata"]["name"]
    code, one = get(sandbox, f"/api/v1/namespaces/myapp/pods/{name}?includeObject=Object", TABLE)
    assert code == 200 and one["rows"][0]["object"]["metadata"]["name"] == name
    assert one["rows"][0]["object"]["status"]["phase"] == "Running"


def test_an_unknown_include_object_is_a_bad_request(sandbox: Sandbox) -> None:
    for path in ("/api/v1/pods", "/api/v1/pods?watch=1"):
        code, status = get(sandbox, f"{path}{'&' if '?' in path else '?'}includeObject=All", TABLE)
        assert code == 400 and status["kind"] == "Status"
        assert 'includeObject: Unsupported value: "All"' in status["message"]


def test_preset_pods_look_started(sandbox: Sandbox) -> None:
    code, pods = get(sandbox, "/api/v1/namespaces/default/pods")
    assert code == 200 and len(pods["items"]) == 3
    for pod in pods["items"]:
        status = pod["status"]
        started = status["containerStatuses"][0]["state"]["running"]["startedAt"]
        assert pod["metadata"]["creationTimestamp"] <= status["startTime"] <= started
        conditions = {c["type"]: c for c in status["conditions"]}
        assert set(conditions) == {"PodScheduled", "Initialized", "ContainersReady", "Ready"}
        assert conditions["Ready"]["lastTransitionTime"] == started
        code, events = get(
            sandbox,
            "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3D"
            + pod["metadata"]["name"],
        )
        reasons = [(e["reason"], e["involvedObject"].get("fieldPath", "")) for e in events["items"]]
        container = f"spec.containers{{{pod['spec']['containers'][0]['name']}}}"
        assert reasons == [
            ("Scheduled", ""),
            ("Pulled", container),
            ("Created", container),
            ("Started", container),
        ]
        assert all(e["involvedObject"]["uid"] == pod["metadata"]["uid"] for e in events["items"])
        assert events["items"][-1]["lastTimestamp"] == started


def test_kubeconfig_is_private_from_the_moment_it_exists(
    sandbox_factory: SandboxFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "kubeconfig"
    target.write_text("old, readable by all\n")
    target.chmod(0o644)
    opened: list[tuple[str, int, int]] = []
    real_open = os.open

    def recording_open(path: Any, flags: int, mode: int = 0o777, **kwargs: Any) -> int:
        opened.append((str(path), flags, mode))
        return real_open(path, flags, mode, **kwargs)

    monkeypatch.setattr(os, "open", recording_open)
    previous = os.umask(0)  # a permissive umask must not matter
    try:
        box = Sandbox(kubeconfig_path=target, seed=1)
        box.start()
    finally:
        os.umask(previous)
    try:
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        assert box.token in target.read_text()
        mine = [(p, f, m) for p, f, m in opened if Path(p).parent == tmp_path]
        assert mine, "the kubeconfig was not created with os.open"
        for _, flags, mode in mine:
            assert flags & os.O_CREAT and flags & os.O_EXCL and mode == 0o600
        token = box.rotate_token()
        assert token in target.read_text()
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        assert [p.name for p in tmp_path.iterdir()] == ["kubeconfig"]
    finally:
        box.stop()
