"""Every problem of a file at once, located, worded for people, with suggestions."""

from __future__ import annotations

from tests.policy.helpers import problems

BROKEN = """\
scenarios:
- name: ab
  steps:
  - podActoin: {}
  - podAction:
      matches: [{namespace: x}]
      filters: [{randomSample: {size: 1, ratio: 0.5}}, {property: {name: nam, value: "("}}]
      actions: [{kil: {}}, {kill: {force: maybe}}]
  - wait: {seconds: -1}
  - probeHTTP: {target: {url: ftp://x}, count: three}
config:
  runStrategy: {minSecondsBetweenRuns: 10, maxSecondsBetweenRuns: 5, strategy: robin}
"""


def test_every_problem_is_reported_sorted_and_located() -> None:
    assert problems(BROKEN) == [
        'p.yml:2:9: scenarios[0].name: must be at least 3 characters long, got "ab"',
        "p.yml:4:5: scenarios[0].steps[0].podActoin: unknown step 'podActoin'; "
        "did you mean 'podAction'?",
        "p.yml:7:32: scenarios[0].steps[1].podAction.filters[0].randomSample: has both 'size' "
        "and 'ratio'; give exactly one",
        "p.yml:7:74: scenarios[0].steps[1].podAction.filters[1].property.name: must be one of "
        "name, state, namespace; got \"nam\"; did you mean 'name'?",
        "p.yml:7:86: scenarios[0].steps[1].podAction.filters[1].property.value: '(' is not a "
        "valid regular expression: missing ), unterminated subpattern at position 0",
        "p.yml:8:18: scenarios[0].steps[1].podAction.actions[0].kil: unknown action 'kil'; "
        "did you mean 'kill'?",
        "p.yml:8:43: scenarios[0].steps[1].podAction.actions[1].kill.force: must be true or "
        'false, got "maybe"',
        "p.yml:9:21: scenarios[0].steps[2].wait.seconds: must be >= 0, got -1",
        "p.yml:10:31: scenarios[0].steps[3].probeHTTP.target.url: 'ftp://x' is not an http:// "
        "or https:// URL",
        'p.yml:10:48: scenarios[0].steps[3].probeHTTP.count: must be a whole number, got "three"',
        "p.yml:12:40: config.runStrategy.minSecondsBetweenRuns: minSecondsBetweenRuns (10) is "
        "more than maxSecondsBetweenRuns (5)",
        "p.yml:12:80: config.runStrategy.strategy: must be one of round-robin, random; got "
        "\"robin\"; did you mean 'round-robin'?",
    ]


def test_misspelt_step_key_gives_one_line_not_a_cascade() -> None:
    found = problems("scenarios:\n- name: abc\n  steps:\n  - probeHttp: {target: {url: x}}\n")
    assert found == [
        "p.yml:4:5: scenarios[0].steps[0].probeHttp: unknown step 'probeHttp'; "
        "did you mean 'probeHTTP'?"
    ]


def test_key_in_the_wrong_place_says_where_it_belongs() -> None:
    text = """\
scenarios:
- name: abc
  steps:
  - podAction:
      matches: [{namespace: x}]
      retriesTimeout: {timeout: 10}
      actions: []
"""
    assert problems(text) == [
        "p.yml:6:7: scenarios[0].steps[0].podAction.retriesTimeout: unknown key "
        "'retriesTimeout'; it belongs under 'retries:'"
    ]


def test_missing_keys_and_two_keys_in_one_step() -> None:
    text = """\
scenarios:
- name: abc
  steps:
  - podAction: {actions: []}
  - {wait: {seconds: 1}, kubectl: {action: apply, payload: x}}
  - {}
"""
    assert problems(text) == [
        "p.yml:4:16: scenarios[0].steps[0].podAction: missing required key 'matches'",
        "p.yml:5:5: scenarios[0].steps[1]: a step has exactly one key; found 'wait', 'kubectl'",
        "p.yml:6:5: scenarios[0].steps[2]: an empty step; give one of: alertManagerAction, clone, "
        "kubectl, nodeAction, podAction, probeDeployment, probeHTTP, probeLogs, probePods, "
        "probePrometheus, scaleDeployment, wait, waitFor",
    ]


def test_semantic_checks() -> None:
    text = """\
scenarios:
- name: abc
  steps:
  - podAction:
      matches: [{labels: {selector: "a in (b", namespace: x}}, {namespace: "db-*("}]
      filters:
      - randomSample: {}
      - dayTime:
          onlyDays: [monday]
          startTime: {hour: 10, minute: 0, second: 0}
          endTime: {hour: 9, minute: 0, second: 0}
      actions: [{kill: {force: true, gracePeriodSeconds: 3}}]
  - clone:
      source: {deployment: {name: a, namespace: b}}
      mutations:
      - toxiproxy:
          toxics:
          - {targetProxy: nope, toxicType: latency}
          - {targetProxy: 8080, toxicType: latency}
  - alertManagerAction:
      targets: [{url: "http://am:9093"}]
      actions: [{mute: {duration: 30}}]
- name: abc
  steps: []
"""
    found = problems(text)
    assert any("labels.selector: not a valid label selector" in p for p in found)
    assert any(
        "matches[1].namespace: 'db-*(' is not a valid regular expression" in p for p in found
    )
    assert any("needs 'size' (a count) or 'ratio' (a fraction)" in p for p in found)
    assert any("startTime 10:00:00 must be before endTime 09:00:00" in p for p in found)
    assert any("gracePeriodSeconds needs force: false" in p for p in found)
    assert any("toxics[0].targetProxy: 'nope' is neither a port" in p for p in found), found
    assert not any("toxics[1]" in p for p in found)
    assert any("mute.duration: must be >= 60, got 30" in p for p in found)
    assert len(found) == 7


def test_duplicate_scenario_names_warn_but_load() -> None:
    from tests.policy.helpers import load

    policy = load("scenarios:\n- {name: abc, steps: []}\n- {name: abc, steps: []}\n")
    assert policy.warnings == (
        "p.yml:3:10: scenarios[1].name: warning: another scenario is also named 'abc' (line 2); "
        "their logs and metrics will be mixed",
    )
