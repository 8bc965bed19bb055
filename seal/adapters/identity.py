"""Which cluster seal is talking to, whatever URL reaches it: the uid of its kube-system
namespace (made once, when the cluster was), the CA certificates seal trusts it by, and
the server URL it was reached at.

Reads the CA file; asks the API server for one namespace.
"""

from __future__ import annotations

import hashlib
import re
import ssl
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seal.errors import ClusterUnreachable, KubeError

if TYPE_CHECKING:  # the value type is needed without the HTTP client (the journal)
    from seal.adapters.kube import KubeClient
    from seal.adapters.kubeconfig import ClusterConnection

#: what `ClusterIdentity.ca` holds when no CA certificate vouches for the server
SYSTEM_TRUST, UNVERIFIED = "system trust store", "unverified (TLS checks off)"
_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL
)


@dataclass(frozen=True)
class ClusterIdentity:
    """One cluster. Two identities are the same cluster when the uid and the CA agree;
    the server URL may differ (localhost and 127.0.0.1, a load balancer and a node)."""

    uid: str
    ca: str
    server: str

    def same_cluster(self, other: ClusterIdentity) -> bool:
        return self.uid == other.uid and self.ca == other.ca

    def differences(self, other: ClusterIdentity) -> str:
        """How `other` differs from this one, in words (empty when it is the same cluster)."""
        reasons = []
        if self.uid != other.uid:
            reasons.append(f"kube-system uid {other.uid}, not {self.uid}")
        if self.ca != other.ca:
            reasons.append(f"CA {_short(other.ca)}, not {_short(self.ca)}")
        return "; ".join(reasons)

    def as_json(self) -> dict[str, str]:
        return {"uid": self.uid, "ca": self.ca, "server": self.server}

    @classmethod
    def from_json(cls, data: Any) -> ClusterIdentity | None:
        """The identity written by `as_json`; None when `data` is not one."""
        if not isinstance(data, dict) or not data.get("uid"):
            return None
        return cls(str(data["uid"]), str(data.get("ca", "")), str(data.get("server", "")))

    def __str__(self) -> str:
        return f"{self.server} (kube-system uid {self.uid}, CA {_short(self.ca)})"


def _short(ca: str) -> str:
    return ca[:23] if ca.startswith("sha256:") else ca


_DEFAULT_PORTS = {"https": 443, "http": 80}


def normalise_server(url: str) -> str:
    """The server URL in one spelling: scheme and host in lower case, no default port, no
    trailing slash (`HTTPS://Example:443/` is `https://example`)."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip().rstrip("/")
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    return urllib.parse.urlunsplit((scheme, host, parts.path.rstrip("/"), "", ""))


def ca_fingerprint(connection: ClusterConnection) -> str:
    """sha256 of the CA certificates seal checks the server's certificate against."""
    if connection.insecure or not connection.server.startswith("https"):
        return UNVERIFIED
    if not connection.ca_file:
        return SYSTEM_TRUST
    try:
        content = Path(connection.ca_file).read_bytes()
    except OSError as exc:
        raise ClusterUnreachable(
            f"{connection.ca_file}: cannot read the cluster's CA certificate: {exc.strerror}"
        ) from exc
    blocks = _PEM_CERTIFICATE.findall(content)
    try:
        certificates = sorted(ssl.PEM_cert_to_DER_cert(b.decode("ascii")) for b in blocks)
    except (ValueError, UnicodeDecodeError):
        certificates = []
    return "sha256:" + hashlib.sha256(b"".join(certificates) or content).hexdigest()


def identify(kube: KubeClient) -> ClusterIdentity:
    """The identity of the cluster behind `kube`; `ClusterUnreachable` when seal cannot
    reach it or may not read namespace kube-system (then it cannot tell which cluster
    it is, and changes nothing)."""
    connection = kube.connection
    ca = ca_fingerprint(connection)
    try:
        namespace = kube.request("GET", "/api/v1/namespaces/kube-system")
    except KubeError as exc:
        if exc.status is None:
            what = f"cannot talk to the cluster at {connection.server}"
        else:
            what = f"cannot identify the cluster at {connection.server}"
        if exc.status in (401, 403):
            exc_text = (
                f"{exc}; seal needs `get` on namespace kube-system to tell which cluster it is"
            )
        else:
            exc_text = str(exc)
        raise ClusterUnreachable(
            f"{what}: {exc_text}; nothing was changed or undone", status=exc.status
        ) from exc
    uid = str((namespace.get("metadata") or {}).get("uid") or "")
    if not uid:
        raise ClusterUnreachable(
            f"cannot identify the cluster at {connection.server}: namespace kube-system "
            "has no uid; nothing was changed or undone"
        )
    return ClusterIdentity(uid, ca, normalise_server(connection.server))
