"""The shell's prompt driven through a pipe, as prompt-toolkit reads a terminal: completion
from the cluster's names, confirmation of large actions, undo on the way out."""

from __future__ import annotations

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from sandbox.sandbox import Sandbox
from seal.interactive.completion import ShellCompleter
from seal.interactive.grammar import PARSERS, flags_of
from tests.conftest import wait_for
from tests.interactive.conftest import Harness, Make, live_pods, machine_running


def completions(harness: Harness, text: str) -> list[str]:
    completer = ShellCompleter({n: flags_of(p) for n, p in PARSERS.items()}, harness.cache)
    found = completer.get_completions(Document(text), CompleteEvent(completion_requested=True))
    return [c.text for c in found]


def test_completion_offers_the_sandbox_names(harness: Harness, sandbox: Sandbox) -> None:
    pods = sorted(live_pods(sandbox, "myapp"))
    assert completions(harness, "kill -n myapp ") == pods
    assert completions(harness, "kill myapp/") == [f"myapp/{p}" for p in pods]
    assert "myapp" in completions(harness, "pods -n ")
    assert completions(harness, "sto") == ["stop", "stop-recording"]
    assert "worker-3" in completions(harness, "stop ")
    assert "WEST-1" in completions(harness, "stop --az ")
    assert "--force" in completions(harness, "kill --f")
    assert "my-service" in completions(harness, "kill -n myapp -d ")
    assert completions(harness, "exec worker-1 -- up") == []


def test_completion_is_refreshed_after_an_action(harness: Harness, sandbox: Sandbox) -> None:
    harness.cache.start()
    try:
        victim = sorted(live_pods(sandbox, "myapp"))[0]
        harness.commands.after_action = harness.cache.refresh_soon
        harness.run(f"kill myapp/{victim} --force")

        def replaced() -> bool:
            now = set(live_pods(sandbox, "myapp"))
            offered = set(completions(harness, "kill -n myapp "))
            return victim not in offered and offered == now and len(now) == 3

        wait_for(replaced, timeout=40, what="completion to offer the replacement pod")
    finally:
        harness.cache.close()


def test_tab_completes_a_pod_name_at_the_prompt_and_kill_kills_it(
    harness: Harness, sandbox: Sandbox
) -> None:
    victim = sorted(live_pods(sandbox, "myapp"))[0]
    prefix = victim[:-2]  # unique: the pods differ in their last characters
    status, out = harness.shell(f"kill -n myapp {prefix}", "\t", " --force\n", "exit\n")
    assert status == 0
    assert "acted on 1 pod(s)" in out, out
    wait_for(lambda: victim not in live_pods(sandbox, "myapp"), what="the pod to go")
    assert f"kill -n myapp {victim} --force" in harness.history.read_text()


def test_more_targets_than_the_threshold_ask_first(make_harness: Make, sandbox: Sandbox) -> None:
    harness = make_harness(confirm_above=2)
    before = live_pods(sandbox, "myapp")
    status, out = harness.shell("kill -n myapp -l app=my-service --force\n", "n\n", "exit\n")
    assert status == 0
    assert "3 pods would be touched" in out
    for name in before:
        assert name in out
    assert "not confirmed; nothing done" in out
    assert live_pods(sandbox, "myapp") == before
    status, out = harness.shell("kill -n myapp -l app=my-service --force\n", "y\n", "exit\n")
    assert status == 0
    assert "acted on 3 pod(s)" in out
    wait_for(lambda: not set(before) & set(live_pods(sandbox, "myapp")), what="all three gone")


def test_leaving_undoes_what_is_pending(harness: Harness, sandbox: Sandbox) -> None:
    status, out = harness.shell("stop worker-2\n", "pending\n", "\x04")  # Ctrl-D leaves
    assert status == 0
    assert "start machine" in out
    assert "undoing 1 pending change(s)" in out and "undid 1 change(s)" in out, out
    assert machine_running(sandbox, "worker-2")
    assert harness.services.journal.pending() == []


def test_keep_leaves_the_changes_for_cleanup(harness: Harness, sandbox: Sandbox) -> None:
    status, out = harness.shell("stop worker-1\nkeep\nexit\n")
    assert status == 0
    assert "leaving 1 change(s) in place" in out, out
    assert not machine_running(sandbox, "worker-1")
    assert len(harness.services.journal.pending()) == 1
    harness.run("undo all")
    assert machine_running(sandbox, "worker-1")
