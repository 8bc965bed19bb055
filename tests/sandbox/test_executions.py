"""Pods that run a command on a node (as seal's exec pods do) run to completion in the
sandbox, with results set and runs recorded through the admin API."""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from typing import Any

from sandbox.sandbox import Sandbox
from seal.adapters.kube import KubeClient
from seal.adapters.kubeconfig import resolve
from seal.adapters.node_exec import PodExecutor
from tests.conftest import wait_for

NSENTER = ["nsenter", "-t", "1", "-m", "-u", "-i", "-n", "-p", "--"]


def call(box: Sandbox, method: str, path: str, body: object = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{box.url}{path}",
        method=method,
        data=data,
        headers={"Authorization": f"Bearer {box.token}", "Content-Type": "application/json"},
    )
    context = ssl.create_default_context(cafile=str(box.ca_path))
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            text = answer.read().decode()
            status = answer.status
    except urllib.error.HTTPError as exc:
        text, status = exc.read().decode(), exc.code
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def exec_pod(name: str, node: str, command: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeName": node,
            "hostPID": True,
            "hostNetwork": True,
            "restartPolicy": "Never",
            "tolerations": [{"operator": "Exists"}],
            "containers": [
                {
                    "name": "exec",
                    "image": "busybox",
                    "command": [*NSENTER, "sh", "-c", command],
                    "securityContext": {"privileged": True},
                }
            ],
        },
    }


def create(box: Sandbox, name: str, node: str, command: str) -> None:
    code, answer = call(
        box, "POST", "/api/v1/namespaces/default/pods", exec_pod(name, node, command)
    )
    assert code == 201, answer


def pod(box: Sandbox, name: str) -> dict[str, Any]:
    code, found = call(box, "GET", f"/api/v1/namespaces/default/pods/{name}")
    assert code == 200, found
    return dict(found)


def finished(box: Sandbox, name: str) -> dict[str, Any] | None:
    found = pod(box, name)
    return found if found.get("status", {}).get("phase") in ("Succeeded", "Failed") else None


def test_a_command_runs_to_completion_with_the_result_set_for_it(sandbox: Sandbox) -> None:
    code, rule = call(
        sandbox,
        "POST",
        "/sandbox/v1/executions/results",
        {"match": r"sh -c cat /etc/hostname$", "output": "worker-1\n"},
    )
    assert code == 201 and rule == {
        "match": r"sh -c cat /etc/hostname$",
        "exitCode": 0,
        "output": "worker-1\n",
    }
    code, _ = call(
        sandbox,
        "POST",
        "/sandbox/v1/executions/results",
        {"match": "systemctl", "exitCode": 3, "output": "Failed to restart kubelet.service\n"},
    )
    assert code == 201
    create(sandbox, "reads", "worker-1", "cat /etc/hostname")
    create(sandbox, "fails", "worker-2", "systemctl restart kubelet")
    create(sandbox, "plain", "worker-3", "true")

    done = wait_for(lambda: finished(sandbox, "reads"), what="the command to finish")
    assert done["status"]["phase"] == "Succeeded"
    (container,) = done["status"]["containerStatuses"]
    assert container["state"]["terminated"]["exitCode"] == 0
    assert container["state"]["terminated"]["reason"] == "Completed"
    assert done["status"]["hostIP"] == done["status"]["podIP"]  # hostNetwork
    code, log = call(sandbox, "GET", "/api/v1/namespaces/default/pods/reads/log?container=exec")
    assert (code, log) == (200, "worker-1\n")

    failed = wait_for(lambda: finished(sandbox, "fails"), what="the failing command")
    assert failed["status"]["phase"] == "Failed"
    terminated = failed["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (3, "Error")
    assert call(sandbox, "GET", "/api/v1/namespaces/default/pods/fails/log")[1] == (
        "Failed to restart kubelet.service\n"
    )

    plain = wait_for(lambda: finished(sandbox, "plain"), what="a command with no rule")
    assert plain["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    assert call(sandbox, "GET", "/api/v1/namespaces/default/pods/plain/log") == (200, "")

    code, listing = call(sandbox, "GET", "/sandbox/v1/executions")
    assert code == 200
    runs = {e["pod"]: e for e in listing["executions"]}
    assert set(runs) == {"reads", "fails", "plain"}
    assert runs["reads"]["node"] == "worker-1" and runs["fails"]["node"] == "worker-2"
    assert runs["reads"]["command"] == [*NSENTER, "sh", "-c", "cat /etc/hostname"]
    assert runs["fails"]["joined"].endswith("sh -c systemctl restart kubelet")
    assert runs["fails"]["exitCode"] == 3 and runs["plain"]["output"] == ""
    assert all(e["time"].endswith("Z") and e["namespace"] == "default" for e in runs.values())
    reasons = call(
        sandbox,
        "GET",
        "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dreads",
    )[1]
    assert [e["reason"] for e in reasons["items"]] == ["Pulled", "Created", "Started"]


def test_the_newest_matching_rule_wins_and_rules_can_be_cleared(sandbox: Sandbox) -> None:
    for body in ({"match": "echo", "exitCode": 1}, {"match": "echo hi", "exitCode": 2}):
        assert call(sandbox, "POST", "/sandbox/v1/executions/results", body)[0] == 201
    listed = call(sandbox, "GET", "/sandbox/v1/executions/results")[1]
    assert [r["exitCode"] for r in listed["results"]] == [1, 2]
    create(sandbox, "hi", "worker-0", "echo hi")
    create(sandbox, "ho", "worker-0", "echo ho")
    hi = wait_for(lambda: finished(sandbox, "hi"), what="echo hi")
    ho = wait_for(lambda: finished(sandbox, "ho"), what="echo ho")
    assert hi["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 2
    assert ho["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 1
    assert call(sandbox, "DELETE", "/sandbox/v1/executions/results") == (200, {"results": []})
    create(sandbox, "again", "worker-0", "echo hi")
    again = wait_for(lambda: finished(sandbox, "again"), what="echo hi without rules")
    assert again["status"]["phase"] == "Succeeded"


def test_bad_rules_are_refused_naming_the_field(sandbox: Sandbox) -> None:
    cases = [
        ({"match": "("}, "match: not a regular expression"),
        ({"exitCode": 1}, "match: a regular expression (string) is required"),
        ({"match": "x", "exitCode": 256}, "exitCode: must be an integer from 0 to 255"),
        ({"match": "x", "exitCode": True}, "exitCode: must be an integer"),
        ({"match": "x", "output": 5}, "output: must be a string"),
        ({"match": "x", "seconds": -1}, "seconds: must be a number from 0"),
        ({"match": "x", "colour": "blue"}, "unknown field(s): colour"),
        (["x"], "the body must be an object"),
    ]
    for body, message in cases:
        code, status = call(sandbox, "POST", "/sandbox/v1/executions/results", body)
        assert code == 400 and status["reason"] == "BadRequest", body
        assert message in status["message"], (body, status["message"])
    assert call(sandbox, "GET", "/sandbox/v1/executions/results")[1] == {"results": []}


def test_a_command_takes_its_time(sandbox: Sandbox) -> None:
    create(sandbox, "sleeper", "worker-0", "sleep 600")
    code, _ = call(
        sandbox, "POST", "/sandbox/v1/executions/results", {"match": "slow", "seconds": 1.0}
    )
    assert code == 201
    create(sandbox, "slow", "worker-0", "slow-command")
    wait_for(
        lambda: pod(sandbox, "sleeper").get("status", {}).get("phase") == "Running",
        what="Running",
    )
    started = time.monotonic()
    wait_for(lambda: finished(sandbox, "slow"), what="the slow command")
    assert time.monotonic() - started >= 0.5
    assert pod(sandbox, "sleeper")["status"]["phase"] == "Running"
    assert pod(sandbox, "sleeper")["status"]["containerStatuses"][0]["state"]["running"]
    code, listing = call(sandbox, "GET", "/sandbox/v1/executions")
    seconds = {e["pod"]: e["seconds"] for e in listing["executions"]}
    assert seconds["sleeper"] >= 600 and seconds["slow"] == 1.0


def test_a_pod_on_a_stopped_machine_never_runs_until_it_starts(sandbox: Sandbox) -> None:
    machine = sandbox.call(lambda s: s.get("nodes", "", "worker-4"))["spec"]["providerID"]
    machine_id = machine.removeprefix("sandbox://")
    assert call(sandbox, "POST", f"/sandbox/v1/machines/{machine_id}/stop")[0] == 200
    create(sandbox, "stranded", "worker-4", "reboot")
    code, status = call(sandbox, "GET", "/api/v1/namespaces/default/pods/stranded/log")
    assert code == 400 and "is waiting to start: ContainerCreating" in status["message"]
    # Past the node's NotReady and eviction delays: the pod tolerates it and stays, unrun.
    time.sleep(1.5)
    assert pod(sandbox, "stranded").get("status", {}).get("phase", "Pending") == "Pending"
    assert call(sandbox, "GET", "/sandbox/v1/executions")[1] == {"executions": []}
    assert call(sandbox, "POST", f"/sandbox/v1/machines/{machine_id}/start")[0] == 200
    done = wait_for(lambda: finished(sandbox, "stranded"), what="the pod to run once it is up")
    assert done["status"]["phase"] == "Succeeded"
    [run] = call(sandbox, "GET", "/sandbox/v1/executions")[1]["executions"]
    assert (run["pod"], run["node"]) == ("stranded", "worker-4")


def test_seal_runs_a_command_on_a_node_through_the_sandbox(sandbox: Sandbox) -> None:
    body = {"match": "uptime$", "exitCode": 0, "output": " 10:00:00 up 3 days\n"}
    assert call(sandbox, "POST", "/sandbox/v1/executions/results", body)[0] == 201
    kube = KubeClient(resolve(str(sandbox.kubeconfig_path)))
    node = next(n for n in kube.list_nodes() if n.name == "worker-2")
    result = PodExecutor(kube).run(node, "uptime", timeout=20)
    assert (result.exit_code, result.stdout) == (0, " 10:00:00 up 3 days\n")
    [run] = call(sandbox, "GET", "/sandbox/v1/executions")[1]["executions"]
    assert run["node"] == "worker-2" and run["command"][-1] == "uptime"
    assert run["pod"].startswith("seal-exec-")
    wait_for(
        lambda: call(sandbox, "GET", f"/api/v1/namespaces/default/pods/{run['pod']}")[0] == 404,
        what="seal to delete its exec pod",
    )


def test_a_command_outliving_the_pods_deadline_is_killed(sandbox: Sandbox) -> None:
    manifest = exec_pod("overdue", "worker-0", "sleep 600")
    manifest["spec"]["activeDeadlineSeconds"] = 1
    assert call(sandbox, "POST", "/api/v1/namespaces/default/pods", manifest)[0] == 201
    started = time.monotonic()
    done = wait_for(lambda: finished(sandbox, "overdue"), what="the deadline to kill it")
    assert time.monotonic() - started >= 0.5
    assert (done["status"]["phase"], done["status"]["reason"]) == ("Failed", "DeadlineExceeded")
    terminated = done["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 137
