"""Reading policy files: typed specs, defaults, interpolation, broken YAML."""

from __future__ import annotations

import datetime as dt

from seal.steps.kubectl import KubectlSpec
from seal.steps.pipeline import DayTimeFilter, RandomSampleFilter
from seal.steps.pod_action import KillAction, PodActionSpec
from seal.steps.pod_action.spec import DeploymentMatcher
from seal.steps.probe_http import ProbeHTTPSpec, ServiceTarget
from seal.steps.wait import WaitSpec
from tests.policy.helpers import load, problems

POD_ACTION = """
scenarios:
- name: kill some
  steps:
  - podAction:
      matches:
      - deployment: {name: web, namespace: shop}
      filters:
      - randomSample: {ratio: 0.5}
      - dayTime:
          onlyDays: [monday]
          startTime: {hour: 10, minute: 0, second: 0}
          endTime: {hour: 17, minute: 30, second: 0}
      actions:
      - kill: {}
      - kill: {force: false, gracePeriodSeconds: 5, evict: true}
  - wait: {seconds: 1.5}
"""


def test_specs_are_typed_with_defaults_and_locations() -> None:
    policy = load(POD_ACTION)
    assert policy.run_strategy.strategy == "round-robin"
    assert policy.run_strategy.runs is None
    assert policy.run_strategy.max_seconds == 300
    assert not policy.fail_fast
    assert policy.safety.protected_namespaces == ("kube-system",)
    step = policy.scenarios[0].steps[0]
    assert isinstance(step, PodActionSpec)
    assert step.location.line == 6
    assert step.matches == (DeploymentMatcher("web", "shop", step.matches[0].location),)
    sample, day = step.filters
    assert isinstance(sample, RandomSampleFilter) and sample.ratio == 0.5 and sample.size is None
    assert isinstance(day, DayTimeFilter) and day.end == dt.time(17, 30)
    first, second = step.actions
    assert isinstance(first, KillAction) and first.force and first.probability == 1
    assert isinstance(second, KillAction)
    assert (second.force, second.grace_period_seconds, second.evict) == (False, 5, True)
    wait = policy.scenarios[0].steps[1]
    assert isinstance(wait, WaitSpec) and wait.seconds == 1.5


def test_probe_and_kubectl_defaults() -> None:
    policy = load(
        """
scenarios:
- name: probes
  steps:
  - probeHTTP: {target: {service: {name: web, namespace: shop}}, endpoint: healthz}
  - kubectl: {action: apply, payload: "kind: List"}
"""
    )
    probe, kubectl = policy.scenarios[0].steps
    assert isinstance(probe, ProbeHTTPSpec)
    assert probe.target == ServiceTarget("web", "shop", 80, "http")
    assert (probe.endpoint, probe.code, probe.count, probe.retries) == ("/healthz", 200, 1, 3)
    assert (probe.delay_ms, probe.timeout_ms, probe.method) == (100, 1000, "get")
    assert isinstance(kubectl, KubectlSpec)
    assert kubectl.auto_delete and kubectl.kubectl_binary == "kubectl"


def test_environment_interpolation_with_defaults_retyping_and_escape() -> None:
    text = """
config:
  runStrategy:
    runs: ${RUNS}
scenarios:
- name: ${NAME:-fallback name}
  description: "costs $${HOME} and ${UNIT}"
  steps: []
"""
    policy = load(text, {"RUNS": "3", "UNIT": "euros"})
    assert policy.run_strategy.runs == 3
    assert policy.scenarios[0].name == "fallback name"
    assert policy.scenarios[0].description == "costs ${HOME} and euros"


def test_unset_variable_is_one_located_problem() -> None:
    found = problems("scenarios:\n- name: x${WHO}yz\n  steps: []\n")
    assert found == [
        "p.yml:2:9: scenarios[0].name: environment variable 'WHO' is not set and has no "
        "default; set it, or write ${WHO:-default}"
    ]


def test_yaml_problems_are_located() -> None:
    assert problems("scenarios: [\n") == [
        "p.yml:2:1: (top level): not valid YAML: expected the node content in flow context "
        "while parsing a flow node"
    ] or problems("scenarios: [\n")[0].startswith("p.yml:2:1: (top level): not valid YAML")
    assert problems("") == [
        "p.yml:1:1: (top level): the file is empty; a policy needs 'scenarios:'"
    ]
    assert problems("- a\n- b\n")[0].startswith("p.yml:1:1: (top level): a policy is a mapping")
    assert problems("scenarios: []\n---\nscenarios: []\n") == [
        "p.yml:3:1: (top level): a policy file holds one YAML document, not several"
    ]
    dup = problems("scenarios: []\nconfig: {}\nscenarios: []\n")
    assert dup == ["p.yml:3:1: scenarios: duplicate key 'scenarios' (first given at line 1)"]
    tabs = problems("scenarios:\n\t- name: x\n")
    assert tabs[0].startswith("p.yml:2:1: (top level): not valid YAML")


def test_unsupported_tags_and_alias_cycles() -> None:
    found = problems("scenarios: !!python/object:os.system [x]\n")
    assert "unsupported YAML tag" in found[0]
    cycle = problems("scenarios: &a [*a]\n")
    assert any("cycle" in p for p in cycle)
