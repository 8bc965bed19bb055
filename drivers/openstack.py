"""OpenStack servers through openstacksdk. Talks to Keystone and Nova.

The cloud is one named in clouds.yaml (found where openstacksdk looks: the working
directory, ~/.config/openstack, /etc/openstack, or OS_CLIENT_CONFIG_FILE), or the
OS_* environment variables when no name is given. Provider IDs are
`openstack:///<server id>`, as Kubernetes nodes on OpenStack carry them.
"""

from __future__ import annotations

from typing import Any

import openstack
import openstack.exceptions
from keystoneauth1 import exceptions as ks_exceptions

from drivers._common import Pacing, failure, parse_provider_id, retrying, wait_for_state
from seal.cloud import Check
from seal.errors import CloudError
from seal.model import Machine, NodeState

SCHEME = "openstack"
MAX_ITEMS = 100_000
_STATES = {"ACTIVE": NodeState.UP, "SHUTOFF": NodeState.DOWN}
_TRANSIENT_STATUS = {429, 500, 502, 503, 504}


def server_id(provider_id: str) -> str:
    """`openstack:///uuid` -> `uuid`."""
    ident = parse_provider_id(provider_id, SCHEME).strip("/")
    if not ident or "/" in ident:
        raise CloudError(f"provider ID {provider_id!r} is not openstack:///<server id>")
    return ident


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, openstack.exceptions.HttpException):
        return exc.status_code in _TRANSIENT_STATUS
    return isinstance(exc, ks_exceptions.ConnectFailure | ks_exceptions.RetriableConnectionFailure)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, openstack.exceptions.HttpException):
        detail = exc.details or exc.message
        return f"HTTP {exc.status_code}: {detail}"
    return str(exc) or type(exc).__name__


_ERRORS = (openstack.exceptions.SDKException, ks_exceptions.ClientException)


class OpenStackDriver:
    """Nova servers of the project the credentials are scoped to."""

    name = "openstack"

    def __init__(self, connection: Any, *, pacing: Pacing | None = None) -> None:
        self._conn = connection
        self._pacing = pacing or Pacing()

    def _call(self, what: str, call: Any, *args: Any) -> Any:
        return retrying(lambda: call(*args), transient=_transient, what=what, pacing=self._pacing)

    def _all_servers(self) -> list[Any]:
        servers = []
        for server in self._conn.compute.servers(details=True):
            servers.append(server)
            if len(servers) > MAX_ITEMS:
                raise CloudError(f"more than {MAX_ITEMS} servers")
        return servers

    def list_machines(self) -> list[Machine]:
        try:
            servers = self._call("list servers", self._all_servers)
        except _ERRORS as exc:
            raise CloudError(f"cannot list the OpenStack servers: {_reason(exc)}") from exc
        return sorted((_machine(s) for s in servers), key=lambda m: m.provider_id)

    def get_machine(self, provider_id: str) -> Machine:
        ident = server_id(provider_id)
        try:
            return _machine(self._call(f"get {ident}", self._conn.compute.get_server, ident))
        except _ERRORS as exc:
            raise failure(provider_id, "read", _reason(exc)) from exc

    def stop(self, machine: Machine, *, force: bool = False) -> None:
        # Nova's os-stop has no forced variant: the hypervisor powers the server off.
        ident = server_id(machine.provider_id)
        try:
            self._call(f"stop {ident}", self._conn.compute.stop_server, ident)
        except _ERRORS as exc:
            raise failure(machine, "stop", _reason(exc)) from exc

    def start(self, machine: Machine) -> None:
        ident = server_id(machine.provider_id)
        try:
            self._call(f"start {ident}", self._conn.compute.start_server, ident)
        except _ERRORS as exc:
            raise failure(machine, "start", _reason(exc)) from exc

    def wait_for(self, machine: Machine, state: NodeState, *, timeout: float) -> Machine:
        return wait_for_state(
            self.get_machine, machine, state, timeout=timeout, pacing=self._pacing
        )

    def check(self) -> list[Check]:
        try:
            access = self._conn.session.auth.get_access(self._conn.session)
        except _ERRORS as exc:
            return [Check("credentials", False, _reason(exc))]
        project = getattr(access, "project_name", None) or getattr(access, "project_id", "")
        roles = ", ".join(sorted(getattr(access, "role_names", None) or [])) or "none"
        checks = [Check("credentials", True, f"project {project}, roles: {roles}")]
        try:
            machines = self.list_machines()
        except CloudError as exc:
            return [*checks, Check("list servers", False, str(exc))]
        checks.append(Check("list servers", True, f"{len(machines)} servers"))
        checks.append(Check("stop and start servers", None, "not checked: Nova has no dry run"))
        return checks


def _machine(server: Any) -> Machine:
    private: list[str] = []
    public: list[str] = []
    for addresses in (server.addresses or {}).values():
        for address in addresses:
            kind = address.get("OS-EXT-IPS:type", "fixed")
            (public if kind == "floating" else private).append(str(address.get("addr", "")))
    status = str(server.status or "")
    return Machine(
        id=str(server.id),
        provider_id=f"{SCHEME}:///{server.id}",
        name=str(server.name or server.id),
        state=_STATES.get(status, NodeState.UNKNOWN),
        zone=str(server.availability_zone or ""),
        private_ips=tuple(a for a in private if a),
        public_ips=tuple(a for a in public if a),
        cloud_state=status,
    )


def create_driver(*, cloud: str | None = None, pacing: Pacing | None = None) -> OpenStackDriver:
    """A driver for `cloud` from clouds.yaml (else the OS_* environment variables)."""
    try:
        connection = openstack.connect(cloud=cloud) if cloud else openstack.connect()
    except _ERRORS as exc:
        where = f"cloud {cloud!r}" if cloud else "the OS_* environment"
        raise CloudError(f"cannot set up OpenStack from {where}: {exc}") from exc
    return OpenStackDriver(connection, pacing=pacing)
