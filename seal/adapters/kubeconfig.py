"""Finding the cluster: --kubeconfig, KUBECONFIG, ~/.kube/config, or the in-cluster account.

Reads kubeconfig files and service-account files; runs `exec` credential plugins.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from seal import bounded_yaml
from seal.adapters.children import dies_with_seal
from seal.adapters.private_files import private_file
from seal.errors import UsageError

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
SERVICE_ACCOUNT_ENV = "SEAL_SERVICE_ACCOUNT_DIR"


@dataclass(frozen=True)
class ClusterConnection:
    """Everything needed to talk to one API server."""

    server: str
    token: str | None = None
    ca_file: str | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    insecure: bool = False
    username: str | None = None
    password: str | None = None
    proxy_url: str | None = None
    tls_server_name: str | None = None
    namespace: str = "default"
    kubeconfig: str | None = None
    context: str | None = None
    #: a file the token is read from, again whenever it may have changed
    #: (projected service-account tokens and `tokenFile` are rotated)
    token_file: str | None = None
    #: the kubeconfig's exec plugin (JSON), run again when its token expires
    token_exec: str | None = None
    #: when the current token stops being valid (seconds since the epoch), if known
    token_expiry: float | None = None


def _materialise(data: str | None, path: str | None, base: Path, what: str) -> str | None:
    """A file path for `<what>` given as a path (relative to the kubeconfig) or base64 data.

    Data (CA certificates, client keys) is kept off the disk: see `private_files`."""
    if data:
        try:
            content = base64.b64decode(data)
        except ValueError as exc:
            raise UsageError(f"the kubeconfig's {what} data is not base64: {exc}") from exc
        return private_file(content, what).path
    if path:
        return str((base / path).resolve()) if not os.path.isabs(path) else path
    return None


def _read(path: Path) -> dict[str, Any]:
    try:
        data = bounded_yaml.load_config(path.read_bytes(), str(path), unique_keys=False)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the kubeconfig: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: the kubeconfig is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{path}: the kubeconfig is not a mapping")
    return data


def _merge(paths: list[Path]) -> tuple[dict[str, Any], dict[str, Path]]:
    """Merge kubeconfig files the way kubectl does: the first file to set a value wins.
    Also returns, for each named entry, the file it came from (for relative paths)."""
    merged: dict[str, Any] = {"clusters": [], "users": [], "contexts": []}
    origin: dict[str, Path] = {}
    for path in paths:
        data = _read(path)
        if data.get("current-context") and "current-context" not in merged:
            merged["current-context"] = data["current-context"]
        for section in ("clusters", "users", "contexts"):
            known = {e.get("name") for e in merged[section]}
            for entry in data.get(section) or []:
                if isinstance(entry, dict) and entry.get("name") not in known:
                    merged[section].append(entry)
                    origin[f"{section}/{entry.get('name')}"] = path.parent
    return merged, origin


def exec_credential(spec: Mapping[str, Any]) -> tuple[str, float | None]:
    """Run a kubeconfig exec plugin: its token, and when that token expires if it says."""
    command = [str(spec.get("command"))] + [str(a) for a in spec.get("args") or []]
    env = dict(os.environ)
    for item in spec.get("env") or []:
        env[str(item.get("name"))] = str(item.get("value"))
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
            preexec_fn=dies_with_seal(),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"kubeconfig exec plugin {command[0]!r} could not run: {exc}") from exc
    if result.returncode != 0:
        raise UsageError(
            f"kubeconfig exec plugin {command[0]!r} failed ({result.returncode}): "
            f"{result.stderr.strip()[:500]}"
        )
    try:
        status = json.loads(result.stdout).get("status") or {}
    except (ValueError, AttributeError) as exc:
        raise UsageError(
            f"kubeconfig exec plugin {command[0]!r} printed no ExecCredential"
        ) from exc
    token = status.get("token")
    if not token:
        raise UsageError(f"kubeconfig exec plugin {command[0]!r} gave no token")
    expiry = None
    stamp = status.get("expirationTimestamp")
    if stamp:
        try:
            expiry = dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
        except ValueError as exc:
            raise UsageError(
                f"kubeconfig exec plugin {command[0]!r}: expirationTimestamp {stamp!r} is not "
                "an RFC 3339 time"
            ) from exc
    return str(token), expiry


def _named(merged: dict[str, Any], section: str, name: str, source: str) -> dict[str, Any]:
    for entry in merged[section]:
        if entry.get("name") == name:
            return dict(entry.get(section[:-1]) or {})
    raise UsageError(f"{source}: no {section[:-1]} named {name!r}")


def from_kubeconfig(paths: list[Path], context: str | None = None) -> ClusterConnection:
    merged, origin = _merge(paths)
    source = os.pathsep.join(str(p) for p in paths)
    context_name = context or merged.get("current-context")
    if not context_name:
        raise UsageError(f"{source}: no current-context; pass --context")
    ctx = _named(merged, "contexts", context_name, source)
    cluster_name, user_name = ctx.get("cluster"), ctx.get("user")
    cluster = _named(merged, "clusters", str(cluster_name), source)
    user = _named(merged, "users", str(user_name), source) if user_name else {}
    if not cluster.get("server"):
        raise UsageError(f"{source}: cluster {cluster_name!r} has no server")
    cluster_base = origin.get(f"clusters/{cluster_name}", Path("."))
    user_base = origin.get(f"users/{user_name}", Path("."))
    token = user.get("token")
    token_file = token_exec = None
    expiry: float | None = None
    if not token and user.get("tokenFile"):
        token_file = _materialise(None, user["tokenFile"], user_base, "token")
        token = read_token(token_file or "")
    if not token and user.get("exec"):
        plugin = _exec_spec(user["exec"], user_base)
        token, expiry = exec_credential(plugin)
        token_exec = json.dumps(plugin)
    return ClusterConnection(
        server=str(cluster["server"]).rstrip("/"),
        token=token.strip() if token else None,
        ca_file=_materialise(
            cluster.get("certificate-authority-data"),
            cluster.get("certificate-authority"),
            cluster_base,
            "ca",
        ),
        client_cert_file=_materialise(
            user.get("client-certificate-data"), user.get("client-certificate"), user_base, "cert"
        ),
        client_key_file=_materialise(
            user.get("client-key-data"), user.get("client-key"), user_base, "key"
        ),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        username=user.get("username"),
        password=user.get("password"),
        proxy_url=cluster.get("proxy-url"),
        tls_server_name=cluster.get("tls-server-name"),
        namespace=str(ctx.get("namespace") or "default"),
        kubeconfig=source,
        context=str(context_name),
        token_file=token_file,
        token_exec=token_exec,
        token_expiry=expiry,
    )


def _exec_spec(spec: Any, base: Path) -> dict[str, Any]:
    """An exec plugin as kubectl runs it: a relative command path (one with a slash) is
    relative to the kubeconfig that names it."""
    plugin = dict(spec) if isinstance(spec, Mapping) else {}
    command = str(plugin.get("command", ""))
    if "/" in command and not os.path.isabs(command):
        plugin["command"] = str((base / command).resolve())
    return plugin


def _inline(path: str, what: str) -> str:
    try:
        return base64.b64encode(Path(path).read_bytes()).decode()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the {what}: {exc.strerror}") from exc


def kubectl_config(connection: ClusterConnection) -> bytes:
    """A kubeconfig (JSON) for kubectl that reaches the cluster seal is connected to, the
    way seal reaches it: its server, the certificates seal read at start (inline), its
    credentials. kubectl then never reads the user's kubeconfig, which may point at
    another cluster by the time an undo runs."""
    cluster: dict[str, Any] = {"server": connection.server}
    if connection.insecure:
        cluster["insecure-skip-tls-verify"] = True
    elif connection.ca_file:
        cluster["certificate-authority-data"] = _inline(connection.ca_file, "CA certificate")
    if connection.proxy_url:
        cluster["proxy-url"] = connection.proxy_url
    if connection.tls_server_name:
        cluster["tls-server-name"] = connection.tls_server_name
    user: dict[str, Any] = {}
    if connection.token_exec:
        user["exec"] = json.loads(connection.token_exec)
    elif connection.token_file:
        user["tokenFile"] = connection.token_file
    elif connection.token:
        user["token"] = connection.token
    elif connection.username is not None:
        user.update(username=connection.username, password=connection.password or "")
    if connection.client_cert_file:
        user["client-certificate-data"] = _inline(connection.client_cert_file, "certificate")
    if connection.client_key_file:
        user["client-key-data"] = _inline(connection.client_key_file, "client key")
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "seal",
        "clusters": [{"name": "seal", "cluster": cluster}],
        "users": [{"name": "seal", "user": user}],
        "contexts": [
            {
                "name": "seal",
                "context": {"cluster": "seal", "user": "seal", "namespace": connection.namespace},
            }
        ],
    }
    return json.dumps(config).encode()


def read_token(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the token: {exc.strerror}") from exc


def in_cluster(
    environ: Mapping[str, str] | None = None, service_account: Path | None = None
) -> ClusterConnection | None:
    """The pod's own service account, when seal runs inside the cluster. Its files are in
    /var/run/secrets/kubernetes.io/serviceaccount, or in SEAL_SERVICE_ACCOUNT_DIR when set
    (where `seal sandbox --run-image`, run without root, puts them)."""
    environ = os.environ if environ is None else environ
    if service_account is None:
        override = environ.get(SERVICE_ACCOUNT_ENV)
        service_account = Path(override) if override else SERVICE_ACCOUNT
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT")
    token_file = service_account / "token"
    if not host or not port or not token_file.exists():
        return None
    host = f"[{host}]" if ":" in host else host
    namespace_file = service_account / "namespace"
    return ClusterConnection(
        server=f"https://{host}:{port}",
        token=read_token(str(token_file)),
        ca_file=str(service_account / "ca.crt"),
        namespace=namespace_file.read_text().strip() if namespace_file.exists() else "default",
        token_file=str(token_file),
    )


def resolve(
    kubeconfig: str | None = None,
    context: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> ClusterConnection:
    """--kubeconfig, else KUBECONFIG (a path list), else ~/.kube/config, else in-cluster."""
    environ = os.environ if environ is None else environ
    if kubeconfig:
        return from_kubeconfig([Path(kubeconfig).expanduser()], context)
    if environ.get("KUBECONFIG"):
        paths = [Path(p).expanduser() for p in environ["KUBECONFIG"].split(os.pathsep) if p]
        existing = [p for p in paths if p.exists()]
        if not existing:
            raise UsageError(f"KUBECONFIG={environ['KUBECONFIG']}: none of these files exists")
        return from_kubeconfig(existing, context)
    default = Path(environ.get("HOME", "~")).expanduser() / ".kube" / "config"
    if default.exists():
        return from_kubeconfig([default], context)
    found = in_cluster(environ)
    if found is None:
        raise UsageError(
            "no cluster: pass --kubeconfig, set KUBECONFIG, create ~/.kube/config, "
            "run inside a cluster, or try --sandbox"
        )
    return found
