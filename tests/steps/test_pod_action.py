"""podAction in process: every matcher, filter and action against the sandbox."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from sandbox.timing import SandboxTiming
from seal.errors import SafetyError, StepFailed
from seal.runtime.scenario import replay_undos
from seal.steps.pod_action import STEP
from tests.fakes import FakeClock
from tests.steps.conftest import SCENARIO, HarnessFactory, StepHarness, selected

#: pods take a minute to stop once deleted gracefully, so they can be looked at
SLOW_STOP = replace(SandboxTiming.fast(), pod_stop_seconds=60)


def select(h: StepHarness, matches: str, filters: str = "[]", config: str = "") -> list[str]:
    """The pods a podAction with these matchers and filters selects (nothing is changed)."""
    with pytest.raises(StepFailed, match="checkPodCount") as failure:
        h.run(
            STEP,
            f"""\
            - podAction:
                matches: {matches}
                filters: {filters}
                actions: [{{checkPodCount: {{count: 999}}}}]
            """,
            config,
        )
    return selected(failure.value)


# ---------------------------------------------------------------- matchers


def test_a_namespace_matcher_selects_every_pod_of_that_namespace(harness: StepHarness) -> None:
    names = select(harness, "[{namespace: default}]")
    assert len(names) == 3
    assert set(names) == harness.live("default")
    assert all(n.startswith("default/goldpinger-") for n in names)


def test_star_selects_every_namespace_except_the_protected_ones(harness: StepHarness) -> None:
    names = select(harness, "[{namespace: '*'}]")
    everything = harness.live()
    assert len(everything) == 12
    assert set(names) == {n for n in everything if not n.startswith("kube-system/")}


def test_a_comma_list_selects_those_namespaces(harness: StepHarness) -> None:
    names = select(harness, "[{namespace: 'shop-a, myapp'}]")
    assert set(names) == harness.live("shop-a") | harness.live("myapp")
    assert len(names) == 5


def test_a_namespace_with_a_star_is_a_regular_expression_over_whole_names(
    harness: StepHarness,
) -> None:
    names = select(harness, "[{namespace: 'shop-.*'}]")
    assert set(names) == harness.live("shop-a") | harness.live("shop-b")
    # 'sho*' is a regular expression (s, h, any number of o), not a glob: nothing matches.
    outcome = harness.run(
        STEP,
        """\
        - podAction:
            matches: [{namespace: 'sho*'}]
            actions: [{kill: {force: true}}]
        """,
    )
    assert outcome.result == "skipped"
    assert outcome.reason == "no pods matched"
    assert harness.metrics.named("empty_match") == [("pod",)]
    assert harness.killed() == {}


def test_a_deployment_matcher_selects_the_pods_of_its_selector(harness: StepHarness) -> None:
    names = select(harness, "[{deployment: {name: web, namespace: shop-b}}]")
    assert set(names) == harness.live("shop-b") and len(names) == 2


def test_a_missing_deployment_fails_the_step_naming_it(harness: StepHarness) -> None:
    with pytest.raises(StepFailed) as failure:
        harness.run(
            STEP,
            """\
            - podAction:
                matches:
                - deployment: {name: nope, namespace: default}
                actions: [{kill: {force: true}}]
            """,
        )
    line = harness.line("deployment: {name: nope")
    assert f"deployment default/nope (line {line}) does not exist" in str(failure.value)
    assert harness.killed() == {}


def test_a_labels_matcher_takes_a_kubernetes_selector(harness: StepHarness) -> None:
    assert set(select(harness, "[{labels: {selector: tier=front, namespace: shop-a}}]")) == (
        harness.live("shop-a")
    )
    set_based = "[{labels: {selector: 'app in (web, nope), tier!=front', namespace: shop-b}}]"
    assert set(select(harness, set_based)) == harness.live("shop-b")
    outcome = harness.run(
        STEP,
        """\
        - podAction:
            matches: [{labels: {selector: tier=front, namespace: shop-b}}]
            actions: [{checkPodCount: {count: 0}}]
        """,
    )
    assert outcome.result == "skipped"


def test_matchers_are_a_union_without_duplicates(harness: StepHarness) -> None:
    names = select(
        harness,
        """[{namespace: default},
            {labels: {selector: app=goldpinger, namespace: default}},
            {deployment: {name: goldpinger, namespace: default}},
            {namespace: shop-a}]""",
    )
    assert len(names) == len(set(names)) == 5
    assert set(names) == harness.live("default") | harness.live("shop-a")


# ---------------------------------------------------------------- filters


def test_property_filters_match_at_the_start_and_can_be_negated(harness: StepHarness) -> None:
    assert set(select(harness, "[{namespace: '*'}]", "[{property: {name: name, value: web}}]")) == (
        harness.live("shop-a") | harness.live("shop-b")
    )
    not_default = select(
        harness,
        "[{namespace: '*'}]",
        "[{property: {name: namespace, value: default, negative: true}}, "
        "{property: {name: state, value: Running}}]",
    )
    assert len(not_default) == 7 and not any(n.startswith("default/") for n in not_default)
    # anchored at the start: "pinger" is inside the names, not at their start
    outcome = harness.run(
        STEP,
        """\
        - podAction:
            matches: [{namespace: default}]
            filters: [{property: {name: name, value: pinger}}]
            actions: [{kill: {force: true}}]
        """,
    )
    assert outcome.result == "skipped"
    assert outcome.reason == "no pods left after the filters"
    assert harness.metrics.named("empty_filter") == [()]
    assert harness.killed() == {}


def test_random_sample_by_size_and_ratio(harness: StepHarness) -> None:
    assert len(select(harness, "[{namespace: '*'}]", "[{randomSample: {size: 4}}]")) == 4
    assert len(select(harness, "[{namespace: default}]", "[{randomSample: {size: 10}}]")) == 3
    # floor(10 * 0.35) = 3 of the ten pods outside kube-system
    assert len(select(harness, "[{namespace: '*'}]", "[{randomSample: {ratio: 0.35}}]")) == 3
    # floor(3 * 0.3) = 0: nothing left, nothing done
    outcome = harness.run(
        STEP,
        """\
        - podAction:
            matches: [{namespace: default}]
            filters: [{randomSample: {ratio: 0.3}}]
            actions: [{kill: {force: true}}]
        """,
    )
    assert outcome.result == "skipped" and harness.killed() == {}


def test_the_same_seed_picks_the_same_sample_and_another_seed_may_not(
    harness: StepHarness,
) -> None:
    def pick(seed: int) -> list[str]:
        with pytest.raises(StepFailed) as failure:
            harness.run(
                STEP,
                """\
                - podAction:
                    matches: [{namespace: '*'}]
                    filters: [{randomSample: {size: 3}}]
                    actions: [{checkPodCount: {count: 999}}]
                """,
                seed=seed,
            )
        return selected(failure.value)

    first = pick(11)
    assert len(first) == 3
    assert pick(11) == first
    assert any(pick(seed) != first for seed in (12, 13, 14))


def test_probability_filter_keeps_all_or_nothing(harness: StepHarness) -> None:
    steps = """\
    - podAction:
        matches: [{namespace: default}]
        filters: [{probability: %s}]
        actions: [{checkPodCount: {count: 3}}]
    """
    assert harness.run(STEP, steps % 1).result == "passed"
    never = harness.run(STEP, steps % 0)
    assert never.result == "skipped"
    assert harness.metrics.named("probability_filter_not_passed") == [()]
    results = [harness.run(STEP, steps % 0.5, seed=seed).result for seed in range(20)]
    assert set(results) == {"passed", "skipped"}
    assert len(harness.metrics.named("probability_filter_not_passed")) == 1 + results.count(
        "skipped"
    )


def test_day_time_filter_reads_the_local_time_of_the_injected_clock(
    harness_factory: HarnessFactory,
) -> None:
    # Monday, 30 seconds before the window closes
    clock = FakeClock(local=dt.datetime(2026, 11, 23, 12, 59, 30))
    h = harness_factory(clock=clock)
    steps = """\
    - podAction:
        matches: [{namespace: default}]
        filters:
        - dayTime:
            onlyDays: [%s]
            startTime: {hour: 12, minute: 0, second: 0}
            endTime: {hour: 13, minute: 0, second: 0}
        actions: [{checkPodCount: {count: 3}}]
    """
    assert h.run(STEP, steps % "monday, friday").result == "passed"
    assert h.run(STEP, steps % "tuesday").result == "skipped"
    clock.sleep(30)  # 13:00:00: the end is exclusive
    late = h.run(STEP, steps % "monday")
    assert late.result == "skipped"
    assert late.reason == "no pods left after the filters"


# ---------------------------------------------------------------- kill


def test_force_kill_deletes_the_pods_at_once(harness: StepHarness) -> None:
    before = harness.uids("default")
    outcome = harness.run(
        STEP,
        """\
        - podAction:
            matches: [{deployment: {name: goldpinger, namespace: default}}]
            actions: [{kill: {force: true}}]
        """,
    )
    assert outcome.result == "passed"
    assert outcome.targets == 3
    assert outcome.reason == "3 pod(s) selected"
    # gone, not terminating: no pod in the cluster carries any of their uids
    assert not set(before) & set(harness.uids())
    assert harness.killed() == {name: "success" for name in before.values()}
    events = harness.seal_events()
    assert {e["involvedObject"]["uid"] for e in events} == set(before)
    assert all(SCENARIO in e["message"] and "grace period 0s" in e["message"] for e in events)
    # other namespaces are untouched
    assert len(harness.live("shop-a")) == 2


def test_graceful_kill_gives_the_pods_their_grace_period(
    harness_factory: HarnessFactory,
) -> None:
    h = harness_factory(timing=SLOW_STOP)
    before = h.uids("default")
    outcome = h.run(
        STEP,
        """\
        - podAction:
            matches: [{namespace: default}]
            actions: [{kill: {force: false}}]
        """,
    )
    assert outcome.result == "passed" and outcome.targets == 3
    pods = {p["metadata"]["uid"]: p["metadata"] for p in h.pods("default")}
    assert set(before) <= set(pods)
    assert all(pods[uid]["deletionGracePeriodSeconds"] == 30 for uid in before)
    # Terminating is a state; the same pods are not killed twice
    again = h.run(
        STEP,
        """\
        - podAction:
            matches: [{namespace: default}]
            filters: [{property: {name: state, value: Terminating}}]
            actions:
            - checkPodState: {state: Terminating}
            - checkPodCount: {count: 3}
            - kill: {force: false}
        """,
    )
    assert again.result == "passed" and again.targets == 0
    assert len(h.metrics.named("pod_killed")) == 3
    shop_a = h.uids("shop-a")
    given = h.run(
        STEP,
        """\
        - podAction:
            matches: [{namespace: shop-a}]
            actions: [{kill: {gracePeriodSeconds: 7}}]
        """,
    )
    assert given.targets == 2
    # (the ReplicaSet's replacements may be there already)
    graces = {
        p["metadata"]["uid"]: p["metadata"].get("deletionGracePeriodSeconds")
        for p in h.pods("shop-a")
    }
    assert {uid: graces.get(uid) for uid in shop_a} == dict.fromkeys(shop_a, 7)


def test_kill_probability_zero_spares_every_pod(harness: StepHarness) -> None:
    before = harness.uids("default")
    outcome = harness.run(
        STEP,
        """\
        - podAction:
            matches: [{namespace: default}]
            actions: [{kill: {probability: 0}}]
        """,
    )
    assert outcome.result == "passed" and outcome.targets == 0
    assert harness.uids("default") == before


def test_evict_is_refused_by_a_pod_disruption_budget(harness: StepHarness) -> None:
    harness.store(
        lambda store: store.create(
            "poddisruptionbudgets",
            {
                "metadata": {"name": "gp", "namespace": "default"},
                "spec": {"minAvailable": 3, "selector": {"matchLabels": {"app": "goldpinger"}}},
            },
        )
    )
    before = harness.uids("default")
    with pytest.raises(StepFailed) as failure:
        harness.run(
            STEP,
            """\
            - podAction:
                matches: [{namespace: default}]
                filters: [{randomSample: {size: 1}}]
                actions: [{kill: {force: false, evict: true}}]
            """,
        )
    message = str(failure.value)
    assert "evict failed for 1 of 1 pod(s)" in message
    assert "eviction refused: Cannot evict pod as it would violate" in message
    assert harness.uids("default") == before
    assert list(harness.killed().values()) == ["refused"]
    [warning] = harness.seal_events()
    assert warning["type"] == "Warning" and "evict refused" in warning["message"]


def test_evict_goes_as_far_as_the_budget_allows(harness_factory: HarnessFactory) -> None:
    h = harness_factory(timing=SLOW_STOP)
    h.store(
        lambda store: store.create(
            "poddisruptionbudgets",
            {
                "metadata": {"name": "gp", "namespace": "default"},
                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "goldpinger"}}},
            },
        )
    )
    with pytest.raises(StepFailed, match=r"evict failed for 2 of 3 pod\(s\)"):
        h.run(
            STEP,
            """\
            - podAction:
                matches: [{namespace: default}]
                actions: [{kill: {force: false, evict: true}}]
            """,
        )
    assert sorted(h.killed().values()) == ["refused", "refused", "success"]
    [evicted] = [name for name, status in h.killed().items() if status == "success"]
    terminating = {
        f"default/{p['metadata']['name']}"
        for p in h.pods("default")
        if p["metadata"].get("deletionTimestamp")
    }
    assert terminating == {evicted}


# ---------------------------------------------------------------- checks and wait


def test_check_pod_state_passes_or_names_the_pods_in_another_state(harness: StepHarness) -> None:
    passed = harness.run(
        STEP,
        """\
        - podAction:
            matches: [{namespace: shop-a}]
            actions: [{checkPodState: {state: Running}}]
        """,
    )
    assert passed.result == "passed" and passed.targets == 0
    with pytest.raises(StepFailed) as failure:
        harness.run(
            STEP,
            """\
            - podAction:
                matches: [{namespace: shop-a}]
                actions:
                - checkPodState: {state: Pending}
            """,
        )
    line = harness.line("checkPodState")
    message = str(failure.value)
    assert message.startswith(f"checkPodState (line {line}): 2 pod(s) not Pending: ")
    assert all(f"{name} is Running" in message for name in harness.live("shop-a"))


def test_check_pod_count_fails_with_the_count_and_the_pods(harness: StepHarness) -> None:
    assert (
        harness.run(
            STEP,
            """\
            - podAction:
                matches: [{namespace: myapp}]
                actions: [{checkPodCount: {count: 3}}]
            """,
        ).result
        == "passed"
    )
    with pytest.raises(StepFailed) as failure:
        harness.run(
            STEP,
            """\
            - podAction:
                matches: [{namespace: myapp}]
                actions:
                - checkPodCount: {count: 2}
            """,
        )
    line = harness.line("checkPodCount")
    message = str(failure.value)
    assert message.startswith(f"checkPodCount (line {line}): expected 2 pod(s), found 3: ")
    assert set(selected_names(message)) == harness.live("myapp")


def selected_names(message: str) -> list[str]:
    return [n.strip() for n in message.split(": ", 2)[2].split(",")]


def test_wait_action_advances_the_fake_clock(harness: StepHarness) -> None:
    started = harness.clock.now()
    outcome = harness.run(
        STEP,
        """\
        - podAction:
            matches: [{namespace: default}]
            actions: [{wait: {seconds: 4.5}}, {checkPodCount: {count: 3}}, {wait: {seconds: 1}}]
        """,
    )
    assert outcome.result == "passed"
    assert harness.clock.slept == [4.5, 1.0]
    assert harness.clock.now() == started + 5.5


def test_stop_host_fails_clearly_without_a_cloud_driver_and_stops_no_machine(
    harness: StepHarness,
) -> None:
    with pytest.raises(StepFailed, match=r"^line \d+: stopHost needs a cloud driver"):
        harness.run(
            STEP,
            """\
            - podAction:
                matches: [{namespace: default}]
                actions: [{stopHost: {autoRestart: true}}]
            """,
        )
    assert all(m.running for m in harness.box.machines.by_id.values())


def test_stop_host_stops_each_pods_machine_once_and_journals_its_restart(
    harness: StepHarness,
) -> None:
    harness.sandbox_cloud()
    pods = harness.pods("myapp", "app=my-service")
    hosts = {p["spec"]["nodeName"] for p in pods}
    harness.label("nodes", "", sorted(hosts)[0], "seal/protected", "true")
    expected = hosts - {sorted(hosts)[0]}
    outcome = harness.run(
        STEP,
        """\
        - podAction:
            matches: [{labels: {namespace: myapp, selector: app=my-service}}]
            actions: [{stopHost: {autoRestart: true}}]
        """,
    )
    assert outcome.result == "passed"
    assert outcome.targets == len(expected)
    stopped = {m.node_name for m in harness.box.machines.by_id.values() if not m.running}
    assert stopped == expected
    pending = harness.journal.pending(harness.run_id)
    assert sorted(e.payload["node"] for e in pending) == sorted(expected)
    report = replay_undos(harness.journal, harness.context(), harness.metrics, harness.run_id)
    assert report.undone == len(expected) and report.ok
    assert all(m.running for m in harness.box.machines.by_id.values())


# ---------------------------------------------------------------- safety


def test_protected_namespaces_and_labels_are_left_alone(harness: StepHarness) -> None:
    protected_pod = sorted(harness.live("default"))[0]
    harness.label("pods", "default", protected_pod.split("/")[1], "seal/protected", "true")
    harness.label("namespaces", "", "myapp", "seal/protected", "true")
    untouchable = {
        uid: name
        for uid, name in harness.uids().items()
        if name == protected_pod or name.split("/")[0] in ("kube-system", "myapp", "shop-b")
    }
    assert len(untouchable) == 8
    expected = (harness.live("default") - {protected_pod}) | harness.live("shop-a")
    outcome = harness.run(
        STEP,
        """\
        - podAction:
            matches: [{namespace: '*'}]
            actions: [{kill: {force: true}}]
        """,
        config="safety: {protectedNamespaces: [kube-system, shop-b]}",
    )
    assert outcome.targets == 4
    assert harness.killed() == {name: "success" for name in expected}
    assert set(untouchable) <= set(harness.uids())


def test_more_targets_than_max_targets_per_step_touch_nothing(harness: StepHarness) -> None:
    before = harness.uids()
    steps = """\
    - podAction:
        matches: [{namespace: default}]
        filters: %s
        actions: [{kill: {force: true}}]
    """
    with pytest.raises(SafetyError) as failure:
        harness.run(STEP, steps % "[]", config="safety: {maxTargetsPerStep: 2}")
    assert "3 pods selected, more than maxTargetsPerStep=2; nothing was touched" in str(
        failure.value
    )
    assert harness.uids() == before
    assert harness.killed() == {} and harness.seal_events() == []
    # the limit counts what the filters leave
    outcome = harness.run(
        STEP, steps % "[{randomSample: {size: 2}}]", config="safety: {maxTargetsPerStep: 2}"
    )
    assert outcome.targets == 2


def test_dry_run_changes_nothing(harness: StepHarness) -> None:
    harness.store(
        lambda store: store.create(
            "poddisruptionbudgets",
            {
                "metadata": {"name": "gp", "namespace": "default"},
                "spec": {"minAvailable": 3, "selector": {"matchLabels": {"app": "goldpinger"}}},
            },
        )
    )
    before = harness.uids()
    outcome = harness.run(
        STEP,
        """\
        - podAction:
            matches: [{namespace: '*'}]
            actions: [{kill: {force: true}}, {kill: {evict: true, force: false}}]
        """,
        config="safety: {dryRun: true}",
    )
    assert outcome.result == "passed"
    assert outcome.targets == 0
    assert outcome.reason == "10 pod(s) selected"
    assert harness.uids() == before
    assert all(not p["metadata"].get("deletionTimestamp") for p in harness.pods())
    assert harness.killed() == {} and harness.seal_events() == []
