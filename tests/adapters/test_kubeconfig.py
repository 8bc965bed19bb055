"""Finding the cluster: flags, KUBECONFIG lists, contexts, credentials, exec plugins."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest
import yaml

from seal.adapters.kubeconfig import resolve
from seal.errors import UsageError


def kubeconfig(
    path: Path, *, context: str, server: str, user: dict[str, object], current: str | None = None
) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": current,
                "clusters": [
                    {
                        "name": f"c-{context}",
                        "cluster": {
                            "server": server,
                            "certificate-authority-data": base64.b64encode(b"CA").decode(),
                        },
                    }
                ],
                "users": [{"name": f"u-{context}", "user": user}],
                "contexts": [
                    {
                        "name": context,
                        "context": {
                            "cluster": f"c-{context}",
                            "user": f"u-{context}",
                            "namespace": "ops",
                        },
                    }
                ],
            }
        )
    )
    return path


def test_flag_wins_and_ca_data_becomes_a_file(tmp_path: Path) -> None:
    path = kubeconfig(
        tmp_path / "a",
        context="a",
        server="https://127.0.0.1:6443/",
        user={"token": "t0k"},
        current="a",
    )
    found = resolve(str(path), environ={"KUBECONFIG": "/nope"})
    assert (found.server, found.token, found.namespace, found.context) == (
        "https://127.0.0.1:6443",
        "t0k",
        "ops",
        "a",
    )
    assert found.ca_file and Path(found.ca_file).read_bytes() == b"CA"


def test_kubeconfig_list_is_merged_first_file_wins(tmp_path: Path) -> None:
    first = kubeconfig(
        tmp_path / "first",
        context="one",
        server="https://127.0.0.1:1",
        user={"token": "first"},
        current="two",
    )
    second = kubeconfig(
        tmp_path / "second",
        context="two",
        server="https://127.0.0.1:2",
        user={"token": "second"},
        current="one",
    )
    found = resolve(environ={"KUBECONFIG": f"{first}:{tmp_path / 'missing'}:{second}"})
    assert (found.context, found.server, found.token) == ("two", "https://127.0.0.1:2", "second")
    chosen = resolve(environ={"KUBECONFIG": f"{first}:{second}"}, context="one")
    assert chosen.token == "first"
    with pytest.raises(UsageError, match="no context named 'three'"):
        resolve(environ={"KUBECONFIG": str(first)}, context="three")


def test_exec_plugin_and_token_file(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        'import json, os\nprint(json.dumps({"apiVersion": '
        '"client.authentication.k8s.io/v1", "kind": "ExecCredential", '
        '"status": {"token": "from-" + os.environ["WHO"]}}))\n'
    )
    path = kubeconfig(
        tmp_path / "k",
        context="x",
        server="https://127.0.0.1:1",
        current="x",
        user={
            "exec": {
                "command": sys.executable,
                "args": [str(plugin)],
                "env": [{"name": "WHO", "value": "plugin"}],
            }
        },
    )
    assert resolve(str(path)).token == "from-plugin"
    (tmp_path / "token").write_text("file-token\n")
    path = kubeconfig(
        tmp_path / "k2",
        context="y",
        server="https://127.0.0.1:1",
        current="y",
        user={"tokenFile": "token"},
    )
    assert resolve(str(path)).token == "file-token"


def test_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read the kubeconfig"):
        resolve(str(tmp_path / "absent"))
    (tmp_path / "bad").write_text("- just\n- a list\n")
    with pytest.raises(UsageError, match="is not a mapping"):
        resolve(str(tmp_path / "bad"))
    with pytest.raises(UsageError, match="or try --sandbox"):
        resolve(environ={"HOME": str(tmp_path)})
    broken = kubeconfig(
        tmp_path / "k",
        context="x",
        server="https://127.0.0.1:1",
        current="x",
        user={"exec": {"command": sys.executable, "args": ["-c", "exit(3)"]}},
    )
    with pytest.raises(UsageError, match=r"exec plugin .* failed \(3\)"):
        resolve(str(broken))
