"""Credentials that change while seal runs: rotated token files, expiring exec-plugin
tokens, and the pod's own service account, against the sandbox."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest
import yaml

from sandbox.sandbox import Sandbox
from seal.adapters.credentials import Credentials
from seal.adapters.kube import KubeClient
from seal.adapters.kubeconfig import in_cluster, resolve
from seal.errors import KubeError, UsageError
from tests.fakes import FakeClock

#: An exec plugin that hands out whatever token is in the file next to it, with the
#: expiry written there too, and counts how often it ran.
PLUGIN = """\
import json, pathlib, sys
here = pathlib.Path(sys.argv[1])
runs = here / "runs"
runs.write_text(str(int(runs.read_text() or 0) + 1) if runs.exists() else "1")
status = {"token": (here / "token").read_text().strip()}
expiry = (here / "expiry").read_text().strip()
if expiry:
    status["expirationTimestamp"] = expiry
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1",
                  "kind": "ExecCredential", "status": status}))
"""


def kubeconfig_for(box: Sandbox, path: Path, user: dict[str, object]) -> Path:
    written = yaml.safe_load(box.kubeconfig_path.read_text())
    written["users"][0]["user"] = user
    path.write_text(yaml.safe_dump(written))
    return path


def test_a_rotated_token_file_is_read_again(sandbox: Sandbox, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(sandbox.token + "\n")
    kube = KubeClient(
        resolve(str(kubeconfig_for(sandbox, tmp_path / "kc", {"tokenFile": "token"})))
    )
    assert len(kube.list_nodes()) == 8
    token.write_text(sandbox.rotate_token())
    # The old token is refused; the 401 makes the client read the file again.
    assert len(kube.list_nodes()) == 8
    sandbox.rotate_token()
    with pytest.raises(KubeError, match="401"):
        kube.list_nodes()


def test_an_exec_plugin_runs_again_when_its_token_expires_or_is_refused(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text(PLUGIN)
    (tmp_path / "token").write_text(sandbox.token)
    # Valid for three more seconds, counting the margin kept before an expiry.
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=Credentials.EXPIRY_MARGIN_SECONDS + 3)
    (tmp_path / "expiry").write_text(soon.strftime("%Y-%m-%dT%H:%M:%SZ"))
    user = {"exec": {"command": sys.executable, "args": [str(plugin), str(tmp_path)]}}
    clock = FakeClock(start=dt.datetime.now(dt.UTC).timestamp())
    kube = KubeClient(resolve(str(kubeconfig_for(sandbox, tmp_path / "kc", user))), clock=clock)

    def runs() -> int:
        return int((tmp_path / "runs").read_text())

    assert runs() == 1
    kube.list_nodes()
    assert runs() == 1  # still valid: no new run
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    (tmp_path / "expiry").write_text(later.strftime("%Y-%m-%dT%H:%M:%SZ"))
    clock.sleep(3.5)  # the token's time has come
    kube.list_nodes()
    assert runs() == 2
    (tmp_path / "token").write_text(sandbox.rotate_token())
    assert len(kube.list_nodes()) == 8  # refused, run again, accepted
    assert runs() == 3


def test_the_pods_own_service_account_inside_the_cluster(sandbox: Sandbox, tmp_path: Path) -> None:
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text(sandbox.token)
    (account / "ca.crt").write_bytes(sandbox.ca_path.read_bytes())
    (account / "namespace").write_text("myapp\n")
    port = sandbox.url.rsplit(":", 1)[1]
    environ = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": port}
    assert in_cluster({}, account) is None
    connection = in_cluster(environ, account)
    assert connection is not None
    assert (connection.server, connection.namespace) == (sandbox.url, "myapp")
    kube = KubeClient(connection)
    assert len(kube.list_pods("myapp")) == 3
    # Projected service-account tokens are rotated by the kubelet.
    (account / "token").write_text(sandbox.rotate_token())
    assert len(kube.list_pods("myapp")) == 3


def test_a_broken_exec_plugin_is_a_clear_error(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import json\nprint(json.dumps({'status': {'token': 't', "
        "'expirationTimestamp': 'next tuesday'}}))\n"
    )
    path = tmp_path / "kc"
    path.write_text(
        yaml.safe_dump(
            {
                "current-context": "x",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [
                    {
                        "name": "u",
                        "user": {"exec": {"command": sys.executable, "args": [str(plugin)]}},
                    }
                ],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    with pytest.raises(UsageError, match="'next tuesday' is not an RFC 3339 time"):
        resolve(str(path))
