"""The policy file is read again at every loop; a broken edit keeps the last good one."""

from __future__ import annotations

import re
from pathlib import Path

from sandbox.sandbox import Sandbox
from tests.autonomous.helpers import run_seal

#: Stands in for kubectl: each call is an operator editing the policy mid-run,
#: first breaking it, then fixing it with a new scenario.
EDITOR = """\
#!/bin/sh
cat > /dev/null
here="$(dirname "$0")"
count=$(cat "$here/edits" 2>/dev/null || echo 0)
count=$((count + 1))
echo "$count" > "$here/edits"
if [ "$count" = 1 ]; then cp "$here/broken.yml" "$here/policy.yml"; fi
if [ "$count" = 2 ]; then cp "$here/fixed.yml" "$here/policy.yml"; fi
echo "edit $count done"
"""


def test_a_broken_edit_keeps_the_last_good_policy_and_a_fix_is_taken_up(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    editor = tmp_path / "editor"
    editor.write_text(EDITOR)
    editor.chmod(0o755)
    loops = (
        "config:\n  runStrategy: {runs: 3, minSecondsBetweenRuns: 0, maxSecondsBetweenRuns: 0}\n"
    )
    (tmp_path / "policy.yml").write_text(
        loops
        + f"""\
scenarios:
- name: first version
  steps:
  - kubectl: {{action: apply, payload: "kind: List", autoDelete: false, kubectlBinary: {editor}}}
"""
    )
    (tmp_path / "broken.yml").write_text(loops + "scenarios:\n- name: [unclosed\n")
    (tmp_path / "fixed.yml").write_text(
        loops + "scenarios:\n- name: second version\n  steps:\n  - wait: {seconds: 0}\n"
    )
    result = run_seal(sandbox, tmp_path / "policy.yml", tmp_path / "state", "--stdout-collector")
    assert result.returncode == 0, result.stderr
    finished = re.findall(r"scenario_finished name='([^']+)' result=(\w+)", result.stdout)
    assert finished == [
        ("first version", "passed"),
        ("first version", "passed"),
        ("second version", "passed"),
    ]
    assert result.stdout.count("seal-metric policy_reload_failed") == 1
    assert "the policy file no longer validates; carrying on with the last good policy" in (
        result.stderr
    )
    # The problem, located as the YAML parser finds it.
    assert "policy.yml:5:1: (top level): not valid YAML" in result.stderr
