"""`seal rbac`: the rules of every example policy and of the compatibility corpus against
golden files, the merging of requests into rules, and the output checked by kubectl and
the Kubernetes schemas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from seal.policy.loader import load_policy_text
from seal.runtime import rbac
from seal.runtime.label import api_calls as label_calls
from seal.runtime.preflight import report
from seal.steps.registry import STEP_TYPES
from tests.autonomous.helpers import REPO

GOLDEN = Path(__file__).parent / "golden"
CORPUS = REPO.parent / "shared" / "compat" / "powerfulseal" / "valid"
SOURCES = {p.stem: p for p in sorted((REPO / "policies").glob("*.yml"))} | {
    f"compat-{p.stem}": p for p in sorted(CORPUS.glob("*.yml"))
}


def _rbac(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "seal", "rbac", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )


def _body(printed: str) -> str:
    return "\n".join(line for line in printed.splitlines() if not line.startswith("#")) + "\n"


def test_every_policy_has_a_golden_file() -> None:
    golden = {p.stem for p in GOLDEN.glob("*.yml")}
    if not CORPUS.is_dir():  # ../shared is not beside this checkout: the examples only
        golden = {name for name in golden if not name.startswith("compat-")}
    assert golden == set(SOURCES)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_rules_of_each_policy_match_the_golden_file(name: str) -> None:
    result = _rbac("--policy-file", str(SOURCES[name]), "--namespaced", "--role-name", "seal")
    assert result.returncode == 0, result.stderr
    assert _body(result.stdout) == (GOLDEN / f"{name}.yml").read_text()


def _policy(steps: str) -> Any:
    return load_policy_text("scenarios:\n- name: rbac\n  steps:\n" + steps, STEP_TYPES)


def _cluster_rules(needs: Any) -> list[dict[str, Any]]:
    return [r.as_yaml() for r in rbac.rules(needs)]


def test_a_deployment_kill_needs_its_namespace_only() -> None:
    needs = rbac.policy_needs(
        _policy(
            "  - podAction:\n"
            "      matches: [{deployment: {name: web, namespace: shop}}]\n"
            "      actions: [{kill: {probability: 1, evict: true}}]\n"
        )
    )
    cluster, by_namespace = rbac.split_by_namespace(needs)
    assert [r.as_yaml() for r in rbac.rules(cluster)] == [
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"],
         "resourceNames": ["kube-system"]},
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]},
    ]  # fmt: skip
    assert list(by_namespace) == ["shop"]
    # a policy of many loops (no runs) watches the pods it lists; Events are created and,
    # when many fold into one, patched
    assert [r.as_yaml() for r in rbac.rules(by_namespace["shop"])] == [
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]},
        {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"],
         "resourceNames": ["web"]},
    ]  # fmt: skip


def test_a_single_run_lists_pods_and_never_watches() -> None:
    needs = rbac.policy_needs(
        load_policy_text(
            "config: {runStrategy: {runs: 1}}\n"
            "scenarios:\n- name: once\n  steps:\n"
            "  - podAction:\n"
            "      matches: [{labels: {namespace: shop, selector: app=web}}]\n"
            "      actions: [{kill: {probability: 1}}]\n",
            STEP_TYPES,
        )
    )
    verbs = {n.verb for n in needs if n.resource == "pods"}
    assert verbs == {"list", "delete"}


def test_a_namespace_pattern_needs_every_namespace_and_covers_the_named_one() -> None:
    needs = rbac.policy_needs(
        _policy(
            "  - podAction:\n"
            "      matches: [{namespace: 'team-*'}, {namespace: team-a}]\n"
            "      actions: [{kill: {probability: 1}}]\n"
        )
    )
    cluster, by_namespace = rbac.split_by_namespace(needs)
    # team-a's list, delete and events are granted in every namespace already
    assert by_namespace == {}
    assert {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete", "list", "watch"]} in (
        _cluster_rules(cluster)
    )


def test_checks_alone_kill_nothing_and_record_no_event() -> None:
    needs = rbac.policy_needs(
        _policy(
            "  - podAction:\n"
            "      matches: [{labels: {selector: app=web, namespace: shop}}]\n"
            "      actions: [{checkPodCount: {count: 2}}]\n"
        )
    )
    verbs = {(n.verb, n.resource) for n in needs}
    assert ("delete", "pods") not in verbs and ("create", "events") not in verbs
    assert ("list", "pods") in verbs


def test_kubectl_payload_kinds_names_and_namespaces() -> None:
    needs = rbac.policy_needs(
        _policy(
            "  - kubectl:\n"
            "      action: apply\n"
            "      autoDelete: false\n"
            "      payload: |\n"
            "        apiVersion: networking.k8s.io/v1\n"
            "        kind: NetworkPolicy\n"
            "        metadata: {name: deny, namespace: shop}\n"
            "        ---\n"
            "        apiVersion: v1\n"
            "        kind: Namespace\n"
            "        metadata: {name: scratch}\n"
        ),
        rbac.Scope(default_namespace="ctx"),
    )
    assert _cluster_rules(n for n in needs if n.group == "networking.k8s.io") == [
        {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"],
         "verbs": ["create"]},
        {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"],
         "verbs": ["get", "patch"], "resourceNames": ["deny"]},
    ]  # fmt: skip
    namespaces = [n for n in needs if n.resource == "namespaces" and n.name == "scratch"]
    assert {n.verb for n in namespaces} == {"get", "patch"}
    assert all(n.namespace is None for n in namespaces)
    assert {n.namespace for n in needs if n.group == "networking.k8s.io"} == {"shop"}


def test_kubectl_objects_without_a_namespace_are_in_the_context_one() -> None:
    needs = rbac.policy_needs(
        _policy(
            "  - kubectl:\n"
            "      action: delete\n"
            "      payload: 'apiVersion: v1\n\n        kind: ConfigMap\n\n"
            "        metadata: {name: c}'\n"
        ),
        rbac.Scope(default_namespace="ctx"),
    )
    config_maps = {(n.verb, n.namespace, n.name) for n in needs if n.resource == "configmaps"}
    assert config_maps == {(v, "ctx", "c") for v in ("get", "delete", "list", "watch")}


def test_execute_makes_exec_pods_only_in_the_kubernetes_mode() -> None:
    policy = _policy(
        "  - nodeAction:\n"
        "      matches: [{property: {name: name, value: n1}}]\n"
        "      actions: [{execute: {cmd: 'true'}}]\n"
    )
    in_pods = rbac.policy_needs(policy, rbac.Scope(exec_namespace="chaos"))
    assert {(n.verb, n.resource_path) for n in in_pods if n.namespace == "chaos"} == {
        ("create", "pods"), ("get", "pods"), ("get", "pods/log"), ("delete", "pods"),
    }  # fmt: skip
    over_ssh = rbac.policy_needs(policy, rbac.Scope(exec_namespace=None))
    assert not [n for n in over_ssh if n.resource == "pods"]


def test_label_mode_over_two_namespaces() -> None:
    assert len(label_calls(["a", "b"])) == 9
    needs = rbac.label_needs(["a", "b"])
    _, by_namespace = rbac.split_by_namespace(needs)
    assert sorted(by_namespace) == ["a", "b"]
    for found in by_namespace.values():
        assert _cluster_rules(found) == [
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete", "list"]},
        ]


def test_a_named_and_an_unnamed_need_make_one_rule_for_any_object() -> None:
    needs = [rbac.Need("get", "services", name="a"), rbac.Need("get", "services")]
    assert _cluster_rules(needs) == [
        {"apiGroups": [""], "resources": ["services"], "verbs": ["get"]}
    ]


def test_version_is_checked_but_never_granted() -> None:
    needs = rbac.policy_needs(_policy("  - wait: {seconds: 1}\n"))
    assert rbac.Need("get", path="/version") in needs
    assert all(not r.non_resource_urls for r in rbac.rules(needs))


def test_preflight_report_lists_each_rule_and_who_needs_it() -> None:
    needs = {rbac.Need("delete", "pods", namespace="shop"): ["scenario 's', step 1"]}
    text = report(list(needs), needs)
    assert "would deny 1 request(s)" in text
    assert (
        '  - apiGroups: [""], resources: [pods], verbs: [delete] (in namespace shop)  '
        "<- needed by scenario 's', step 1"
    ) in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give either --policy-file FILE or --label-mode"),
        (("--label-mode", "--service-account", "seal"), "expected NAMESPACE/NAME"),
        (("--label-mode", "--service-account", "Bad/x"), "namespace 'Bad': not a valid"),
    ],
)
def test_usage_errors(args: tuple[str, ...], message: str) -> None:
    result = _rbac(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_an_invalid_policy_prints_its_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("scenarios:\n- name: s\n  steps:\n  - podAction: {}\n")
    result = _rbac("--policy-file", str(bad))
    assert result.returncode == 2
    assert "bad.yml: the policy is invalid; no RBAC printed" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("namespaced", [False, True])
@pytest.mark.parametrize("name", sorted(SOURCES))
def test_output_is_valid_for_the_kubernetes_schemas(name: str, namespaced: bool) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    args = ["--policy-file", str(SOURCES[name])] + (["--namespaced"] if namespaced else [])
    result = _rbac(*args)
    assert result.returncode == 0, result.stderr
    documents = list(yaml.safe_load_all(result.stdout))
    assert documents[0]["kind"] == "ServiceAccount"
    for document in documents:
        kubernetes_validate.validate(document, "1.30", strict=True)


def test_kubectl_accepts_the_output(sandbox: Any) -> None:
    for args in (
        ["--policy-file", "policies/stop-one-machine-in-a-zone.yml", "--namespaced"],
        ["--policy-file", "policies/pod-start-slo.yml"],
        ["--label-mode", "--namespace", "default,kube-public"],
    ):
        printed = _rbac(*args)
        assert printed.returncode == 0, printed.stderr
        applied = subprocess.run(
            ["kubectl", "--kubeconfig", str(sandbox.kubeconfig_path), "apply",
             "--dry-run=client", "-f", "-"],
            input=printed.stdout, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert applied.returncode == 0, applied.stderr
        kinds = [line.split("/")[0] for line in applied.stdout.splitlines()]
        assert kinds[0] == "serviceaccount"
        assert "clusterrole.rbac.authorization.k8s.io" in kinds
        assert "(dry run)" in applied.stdout
