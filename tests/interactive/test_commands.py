"""The shell's commands against the sandbox: listing, killing, stopping, undoing, safety."""

from __future__ import annotations

from sandbox.sandbox import Sandbox
from tests.autonomous.test_alertmanager_e2e import states
from tests.conftest import wait_for
from tests.interactive.conftest import Harness, Make, live_pods, machine_running


def test_pods_lists_the_sandbox_pods_with_their_state(harness: Harness, sandbox: Sandbox) -> None:
    out = harness.run("pods -n myapp")
    for name in live_pods(sandbox, "myapp"):
        assert name in out
    assert "Running" in out
    assert "kube-system" not in out
    node = next(iter(sandbox.machines.by_id.values())).node_name
    assert "0 pod(s)" in harness.run("pods -n myapp --state Failed")
    assert "pod(s)" in harness.run(f"pods --node {node}")


def test_nodes_deployments_services_events(harness: Harness) -> None:
    out = harness.run("nodes --az WEST-1")
    assert "worker-0" in out and "worker-2" not in out and "UP" in out
    assert "my-service" in harness.run("deployments -n myapp")
    assert "my-service" in harness.run("services -n myapp")
    assert "event(s)" in harness.run("events --limit 5")


def test_kill_by_name_kills_the_pod_and_its_controller_replaces_it(
    harness: Harness, sandbox: Sandbox
) -> None:
    before = live_pods(sandbox, "myapp")
    victim = sorted(before)[0]
    out = harness.run(f"kill myapp/{victim} --force")
    assert "acted on 1 pod(s)" in out
    wait_for(lambda: victim not in live_pods(sandbox, "myapp"), what="the pod to go")
    wait_for(lambda: len(live_pods(sandbox, "myapp")) == len(before), what="a replacement")
    # a kill has nothing to undo: the controller replaced the pod
    assert "nothing to undo" in harness.run("undo")


def test_kill_by_selector_with_a_sample_kills_that_many(harness: Harness, sandbox: Sandbox) -> None:
    before = live_pods(sandbox, "myapp")
    harness.run("kill -n myapp -l app=my-service --sample 2 --force")
    wait_for(lambda: len(set(before) - set(live_pods(sandbox, "myapp"))) == 2, what="two pods gone")


def test_kill_by_deployment_with_a_ratio(harness: Harness, sandbox: Sandbox) -> None:
    before = live_pods(sandbox, "myapp")
    out = harness.run("kill -n myapp -d my-service --sample 0.34 --force")
    assert "acted on 1 pod(s)" in out, out
    wait_for(lambda: len(set(before) - set(live_pods(sandbox, "myapp"))) == 1, what="one gone")


def test_stop_stops_the_machine_and_undo_starts_it(harness: Harness, sandbox: Sandbox) -> None:
    out = harness.run("stop worker-3")
    assert "1 machine(s) stopped" in out, out
    assert not machine_running(sandbox, "worker-3")
    assert "start machine" in harness.run("pending")
    out = harness.run("undo")
    assert "undid action 1 (stop worker-3): 1 change(s)" in out, out
    assert machine_running(sandbox, "worker-3")
    assert "nothing pending" in harness.run("pending")


def test_stop_by_zone_with_a_sample(harness: Harness, sandbox: Sandbox) -> None:
    harness.run("stop --az EAST-1 --sample 1")
    east = [m for m in sandbox.machines.by_id.values() if m.zone == "EAST-1"]
    assert sum(not m.running for m in east) == 1
    harness.run("undo all")
    assert all(m.running for m in sandbox.machines.by_id.values())


def test_protected_namespaces_and_seals_own_node_are_left_alone(
    make_harness: Make, sandbox: Sandbox
) -> None:
    harness = make_harness(protected_namespaces=("myapp",), environ={"NODE_NAME": "worker-3"})
    before = live_pods(sandbox, "myapp")
    out = harness.run(f"kill myapp/{sorted(before)[0]} --force")
    assert "leaving myapp/" in out and "protectedNamespaces" in out, out
    assert "nothing done" in out
    out = harness.run("stop worker-3")
    assert "leaving node worker-3 alone: seal runs on it" in out, out
    assert machine_running(sandbox, "worker-3")
    assert live_pods(sandbox, "myapp") == before


def test_max_targets_per_step_refuses_before_asking(make_harness: Make, sandbox: Sandbox) -> None:
    harness = make_harness(max_targets_per_step=2, confirm_above=1)
    before = live_pods(sandbox, "myapp")
    out = harness.run("kill -n myapp -l app=my-service --force")
    assert "3 pods selected, more than maxTargetsPerStep=2; nothing was touched" in out, out
    assert live_pods(sandbox, "myapp") == before


def test_dry_run_changes_nothing(make_harness: Make, sandbox: Sandbox) -> None:
    harness = make_harness(dry_run=True)
    before = live_pods(sandbox, "myapp")
    out = harness.run("kill -n myapp -l app=my-service --force")
    assert "dry run: would kill" in out, out
    out = harness.run("stop worker-4")
    assert "dry run: would stop" in out, out
    assert machine_running(sandbox, "worker-4")
    assert live_pods(sandbox, "myapp") == before


def test_mistakes_are_explained_not_raised(harness: Harness) -> None:
    assert "frobnicate: no such command" in harness.run("frobnicate")
    assert "unrecognized arguments: --bogus" in harness.run("kill --bogus")
    assert "expected seconds" in harness.run("wait soon")
    assert "no pod named nope" in harness.run("kill myapp/nope")
    assert "name the pod(s), or give -l" in harness.run("kill")
    assert "(one)" in harness.run("kill -l a=b -d web")
    assert "deployment myapp/nope does not exist" in harness.run("kill -n myapp -d nope")
    assert "--sample 7x" in harness.run("kill -n myapp -l app=x --sample 7x")
    assert "give the command after --" in harness.run("exec worker-1 uptime")
    assert "cannot read that line" in harness.run('kill "unclosed')
    assert "no pod named [bold]x in namespace myapp" in harness.run("kill -n myapp '[bold]x'")
    out = harness.run("silence 10m")
    assert "--alertmanager-url" in out and "SEAL_ALERTMANAGER_URL" in out
    assert "not a valid step" in harness.run("kill -n myapp -l 'a in (' --force")


def test_every_command_has_help(harness: Harness) -> None:
    from seal.interactive.grammar import PARSERS

    listing = harness.run("help")
    for name in PARSERS:
        assert name in listing
        assert f"usage: {name}" in harness.run(f"help {name}")
    assert "usage: kill" in harness.run("kill --help")
    assert "exec worker-1 -- uptime" in harness.run("exec -h")


def test_exec_runs_a_command_on_a_node_and_shows_what_it_printed(harness: Harness) -> None:
    out = harness.run("exec worker-1 -- uptime")
    assert "ran 'uptime' on node worker-1: exit 0" in out, out
    assert "ran 'uptime' on 1 node(s)" in out
    assert "no node named no-such-node" in harness.run("exec no-such-node -- uptime")
    assert "no node named nope" in harness.run("stop worker-1 nope")


def test_probe_a_service_and_a_url(harness: Harness) -> None:
    assert "1 request(s) answered 200" in harness.run("probe myapp/my-service --endpoint /healthz")
    out = harness.run("probe http://127.0.0.1:1/")
    assert "connection refused" in out and "line " not in out
    assert out.count("connection refused") == 1  # said once, not again by the log


def test_silence_silences_the_alertmanager_and_undo_lifts_it(
    harness: Harness, alertmanager: str
) -> None:
    harness.commands.alertmanager_url = alertmanager
    assert "from 1m to 1d" in harness.run("silence 30s")
    out = harness.run("silence 10m")
    assert "1 silence(s) made" in out, out
    assert states(alertmanager) == ["active"]
    assert "undid action 1 (silence 10m): 1 change(s)" in harness.run("undo")
    assert states(alertmanager) == ["expired"]
