"""Converting experiments: what each provider and setting becomes, `${name}`, problems and
warnings where they are written, and the journal of a run. No cluster."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from seal.errors import PolicyError
from seal.outcomes import ActionRecord, ReplayReport, ScenarioOutcome, StepOutcome
from seal.policy.experiments.convert import experiment_from_text
from seal.policy.experiments.journal import build_journal
from seal.policy.experiments.render import render
from seal.policy.loader import load_policy, load_policy_text, policy_from_document
from seal.policy.model import Policy
from seal.steps.registry import STEP_TYPES


def experiment(method: list[Any], **top: Any) -> str:
    return json.dumps({"title": "an experiment", "method": method, **top}, indent=2)


def k8s(func: str, module: str = "chaosk8s.pod.actions", **arguments: Any) -> dict[str, Any]:
    return {
        "type": "action",
        "name": func,
        "provider": {"type": "python", "module": module, "func": func, "arguments": arguments},
    }


def load(text: str, environ: dict[str, str] | None = None) -> Policy:
    converted = experiment_from_text(text, "x.json", environ or {})
    assert converted is not None
    return policy_from_document(converted.doc, STEP_TYPES)


def steps_of(text: str, environ: dict[str, str] | None = None) -> list[dict[str, Any]]:
    converted = experiment_from_text(text, "x.json", environ or {})
    assert converted is not None
    return list(converted.policy["scenarios"][0]["steps"])


def problems(text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load(text, environ)
    return caught.value.problems


def test_terminate_pods_becomes_a_pod_pipeline() -> None:
    [step] = steps_of(
        experiment(
            [k8s("terminate_pods", label_selector="app=web", name_pattern="web-", qty=2, ns="shop")]
        )
    )
    assert step == {
        "podAction": {
            "matches": [{"labels": {"selector": "app=web", "namespace": "shop"}}],
            "filters": [
                {"property": {"name": "name", "value": ".*(?:web-)"}},
                {"randomSample": {"size": 2}},
            ],
            "actions": [{"kill": {"force": False}}],
        }
    }
    [every] = steps_of(experiment([k8s("terminate_pods", all=True, grace_period=0)]))
    assert every == {
        "podAction": {"matches": [{"namespace": "default"}], "actions": [{"kill": {"force": True}}]}
    }
    [share] = steps_of(
        experiment([k8s("terminate_pods", mode="percentage", qty=25, grace_period=10)])
    )
    assert share["podAction"]["filters"] == [{"randomSample": {"ratio": 0.25}}]
    assert share["podAction"]["actions"] == [{"kill": {"force": False, "gracePeriodSeconds": 10}}]


def test_configuration_and_secrets_are_substituted_typed_when_whole() -> None:
    text = experiment(
        [
            k8s(
                "scale_deployment",
                "chaosk8s.deployment.actions",
                name="${app}",
                replicas="${count}",
                ns="${team}-${stage}",
            )
        ],
        configuration={
            "app": "web",
            "count": {"type": "env", "key": "COUNT", "env_var_type": "int"},
            "stage": {"type": "env", "key": "STAGE", "default": "dev"},
        },
        secrets={"k8s": {"team": {"type": "env", "key": "TEAM"}}},
    )
    [step] = steps_of(text, {"COUNT": "4", "TEAM": "blue"})
    assert step == {
        "scaleDeployment": {"name": "web", "namespace": "blue-dev", "replicas": 4, "restore": True}
    }
    assert load(text, {"COUNT": "4", "TEAM": "blue"}).scenarios[0].steps[0].replicas == 4  # type: ignore[attr-defined]
    assert problems(text, {"TEAM": "blue"}) == [
        "x.json:21:14: configuration.count: the environment variable 'COUNT' is not set and "
        "this value has no default; set COUNT, or give it a 'default'"
    ]


def test_converted_text_keeps_environment_references_and_literal_dollars() -> None:
    text = experiment(
        [
            {
                "type": "probe",
                "name": "call",
                "provider": {
                    "type": "http",
                    "url": "${base}/items",
                    "headers": {"X-Note": "costs ${ and more", "X-Who": "${who}"},
                },
            },
            k8s("scale_deployment", "chaosk8s.deployment.actions", name="web", replicas="${n}"),
        ],
        configuration={
            "base": {"type": "env", "key": "BASE_URL", "default": "http://127.0.0.1:9"},
            "n": {"type": "env", "key": "REPLICAS", "default": 2},
            "who": "seal",
        },
    )
    converted = experiment_from_text(text, "x.json", None)
    assert converted is not None
    rendered = render(converted)
    assert "url: ${BASE_URL:-http://127.0.0.1:9}/items" in rendered
    assert "replicas: ${REPLICAS:-2}\n" in rendered  # plain: seal types it when it runs
    assert "# Reads the environment variable BASE_URL (default 'http://127.0.0.1:9')." in rendered
    policy = load_policy_text(rendered, STEP_TYPES, "p.yml", {"REPLICAS": "5"})
    probe, scale = policy.scenarios[0].steps
    assert probe.target.url == "http://127.0.0.1:9/items"  # type: ignore[attr-defined]
    assert probe.headers == (("X-Note", "costs ${ and more"), ("X-Who", "seal"))  # type: ignore[attr-defined]
    assert scale.replicas == 5  # type: ignore[attr-defined]


def test_a_seal_policy_that_says_method_is_still_a_policy() -> None:
    text = textwrap.dedent(
        """\
        scenarios:
        - name: probe
          steps:
          - probeHTTP: {target: {url: "http://127.0.0.1:9"}, method: get}
        """
    )
    assert experiment_from_text(text, "p.yml", {}) is None


def test_problems_and_warnings_are_located_in_the_experiment() -> None:
    text = textwrap.dedent(
        """\
        title: located
        steady-state-hypotesis: {}
        steady-state-hypothesis:
          title: pods
          probes:
          - type: probe
            name: no-tolerance
            provider: {type: python, module: chaosk8s.pod.probes, func: pods_in_phase,
                       arguments: {label_selector: app=web}}
          - type: action
            name: kill-in-hypothesis
            tolerance: true
            provider: {type: python, module: chaosk8s.pod.actions, func: terminate_pods}
        method:
        - type: probe
          name: phase
          provider: {type: python, module: chaosk8s.pod.probes, func: pods_in_phase,
                     arguments: {label_selector: app=web, phase: Sleeping}}
        """
    )
    assert problems(text) == [
        "x.json:6:5: steady-state-hypothesis.probes[0]: a hypothesis probe needs a 'tolerance'",
        "x.json:13:15: steady-state-hypothesis.probes[1].provider: python "
        "chaosk8s.pod.actions.terminate_pods changes the system: a hypothesis holds probes only",
        "x.json:18:58: method[0].provider.arguments.phase: phase must be one of Pending, "
        "Running, Succeeded, Failed, Unknown",
    ]


def test_unknown_keys_and_controls_are_warnings() -> None:
    text = experiment(
        [k8s("terminate_pods")], **{"steady-state-hypotesis": {}, "controls": [{"name": "c"}]}
    )
    assert load(text).warnings == (
        "x.json:15:3: steady-state-hypotesis: warning: not part of an experiment; ignored; "
        "did you mean 'steady-state-hypothesis'?",
        "x.json:16:3: controls: warning: seal runs no controls: 'controls' is ignored",
    )


def test_http_tolerances_become_probe_http_tolerances() -> None:
    def hypothesis(tolerance: Any) -> dict[str, Any]:
        probe = {
            "type": "probe",
            "name": "p",
            "tolerance": tolerance,
            "provider": {"type": "http", "url": "http://127.0.0.1:9/", "timeout": 0.5},
        }
        text = experiment([], **{"steady-state-hypothesis": {"title": "t", "probes": [probe]}})
        converted = experiment_from_text(text, "x.json", {})
        assert converted is not None
        body = converted.policy["scenarios"][0]["steadyState"]["probes"][0]["probeHTTP"]
        assert body["timeout"] == 500 and body["retries"] == 1
        return dict(body["tolerance"])

    assert hypothesis(200) == {"status": 200}
    assert hypothesis([200, 503]) == {"status": [200, 503]}
    assert hypothesis({"type": "range", "range": [200, 299], "target": "status"}) == {
        "status": {"from": 200, "to": 299}
    }
    assert hypothesis({"type": "regex", "pattern": "^ok", "target": "body"}) == {
        "body": {"regex": "^ok"}
    }


def scenario_outcome(result: str, steps: tuple[StepOutcome, ...]) -> ScenarioOutcome:
    probe = StepOutcome("passed", "ok", key="probePods", index=1, started=100.0, duration=0.5)
    return ScenarioOutcome(
        "an experiment",
        result,  # type: ignore[arg-type]
        "",
        3.0,
        steps,
        ReplayReport(undone=1),
        steady_state=(probe, probe),
    )


def test_the_journal_of_a_run() -> None:
    text = experiment(
        [k8s("terminate_pods", label_selector="app=web")],
        secrets={"db": {"password": "hunter2", "user": {"type": "env", "key": "DB_USER"}}},
        rollbacks=[k8s("scale_deployment", "chaosk8s.deployment.actions", name="w", replicas=1)],
        **{
            "steady-state-hypothesis": {
                "title": "t",
                "probes": [
                    {
                        "type": "probe",
                        "name": "running",
                        "tolerance": True,
                        "provider": {
                            "type": "python",
                            "module": "chaosk8s.pod.probes",
                            "func": "pods_in_phase",
                            "arguments": {"label_selector": "app=web"},
                        },
                    }
                ],
            }
        },
    )
    converted = experiment_from_text(text, "x.json", {"DB_USER": "u"})
    assert converted is not None
    kill = StepOutcome(
        "passed",
        "killed 1",
        1,
        actions=(ActionRecord("kill", "default/web-1", "ok", verdict="verified"),),
        key="podAction",
        index=1,
        started=101.0,
        duration=0.25,
    )
    rollback = StepOutcome("failed", "rollback 1: no", key="scaleDeployment", index=2, started=102)
    outcome = scenario_outcome("failed", (kill, rollback))
    journal = build_journal(
        converted, [outcome], method_steps=1, started=99.0, ended=104.0, interrupted=False
    )
    assert journal["status"] == "failed" and journal["deviated"] is False
    assert journal["experiment"]["secrets"] == {
        "db": {"password": "***", "user": {"type": "env", "key": "DB_USER"}}
    }
    assert journal["steady_states"]["before"]["steady_state_met"] is True
    assert journal["steady_states"]["after"]["probes"][0]["activity"]["name"] == "running"
    [run] = journal["run"]
    assert run["activity"]["name"] == "terminate_pods" and run["status"] == "succeeded"
    assert run["output"]["actions"] == [
        {"action": "kill", "target": "default/web-1", "outcome": "ok", "verdict": "verified"}
    ]
    assert run["start"] == "1970-01-01T00:01:41+00:00" and run["duration"] == 0.25
    [back] = journal["rollbacks"]
    assert back["status"] == "failed" and back["exception"] == ["rollback 1: no"]
    assert journal["duration"] == 5.0 and journal["seal"]["undone"] == 1
    deviated = build_journal(
        converted,
        [scenario_outcome("deviated", (kill,))],
        method_steps=1,
        started=99.0,
        ended=104.0,
        interrupted=False,
    )
    assert deviated["status"] == "failed" and deviated["deviated"] is True
    stopped = build_journal(
        converted, [], method_steps=1, started=99.0, ended=100.0, interrupted=True
    )
    assert stopped["status"] == "interrupted" and stopped["run"] == []


def test_a_problem_of_the_converted_policy_names_the_activity(tmp_path: Any) -> None:
    path = tmp_path / "x.json"
    path.write_text(
        experiment(
            [
                {
                    "type": "probe",
                    "name": "p",
                    "provider": {"type": "http", "url": "${where}/ping"},
                }
            ],
            configuration={"where": {"type": "env", "key": "WHERE"}},
        )
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(str(path), STEP_TYPES, {"WHERE": "nowhere"})
    assert caught.value.problems == [
        f"{path}:7:19: method[0].provider (as probeHTTP.target.url): 'nowhere/ping' is not an "
        "http:// or https:// URL"
    ]


def test_an_unknown_python_func_gets_a_suggestion() -> None:
    probe = k8s("pods_in_phaze", "chaosk8s.pod.probes", label_selector="app=web")
    [problem] = problems(experiment([probe]))
    assert "unknown provider 'python chaosk8s.pod.probes.pods_in_phaze'" in problem
    assert problem.endswith("; did you mean 'python chaosk8s.pod.probes.pods_in_phase'?")
