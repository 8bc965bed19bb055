"""Google Compute Engine through google-cloud-compute. Talks to the Compute API.

Credentials come the SDK's usual way (application default credentials), or from a
service-account key file; the project from the option, else from the credentials.
Provider IDs are `gce://<project>/<zone>/<instance name>`, as GKE nodes carry them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import requests
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.cloud import compute_v1

from drivers._common import Pacing, failure, parse_provider_id, retrying, wait_for_state
from seal.cloud import Check
from seal.errors import CloudError
from seal.model import Machine, NodeState

SCHEME = "gce"
MAX_PAGES = 1000
PAGE_SIZE = 500
_STATES = {
    "RUNNING": NodeState.UP,
    "TERMINATED": NodeState.DOWN,
    "STOPPED": NodeState.DOWN,
    "SUSPENDED": NodeState.DOWN,
}
_TRANSIENT = (
    api_exceptions.TooManyRequests,
    api_exceptions.InternalServerError,
    api_exceptions.BadGateway,
    api_exceptions.ServiceUnavailable,
    api_exceptions.GatewayTimeout,
    ConnectionError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
)
#: what the SDK raises: the API's answers, lost connections, and credentials that fail.
_ERRORS = (
    api_exceptions.GoogleAPICallError,
    auth_exceptions.GoogleAuthError,
    requests.exceptions.RequestException,
    *_TRANSIENT,
)
#: what seal needs on each instance it acts on.
PERMISSIONS = ("compute.instances.get", "compute.instances.stop", "compute.instances.start")


def locate(provider_id: str) -> tuple[str, str, str]:
    """`gce://project/zone/name` -> (project, zone, name)."""
    parts = parse_provider_id(provider_id, SCHEME).split("/")
    if len(parts) != 3 or not all(parts):
        raise CloudError(f"provider ID {provider_id!r} is not gce://<project>/<zone>/<name>")
    return parts[0], parts[1], parts[2]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        # The SDK starts its message with the request ("POST https://...: "): the
        # machine is named elsewhere, the cloud's reason is what matters.
        message = re.sub(r"^[A-Z]+ \S+: ", "", str(exc.message))
        return f"HTTP {exc.code}: {message}"
    return str(exc) or type(exc).__name__


class GcpDriver:
    """Compute Engine instances of one project, in every zone or the zones given."""

    name = "gcp"

    def __init__(
        self,
        client: Any,
        project: str,
        *,
        zones: Sequence[str] = (),
        page_size: int = PAGE_SIZE,
        timeout_seconds: float = 30.0,
        pacing: Pacing | None = None,
    ) -> None:
        self._timeout = timeout_seconds
        self._client = client
        self._project = project
        self._zones = tuple(zones)
        self._page_size = page_size
        self._pacing = pacing or Pacing()

    def _call(self, what: str, call: Any, **request: Any) -> Any:
        """One API call; the SDK's own retries are off so that ours are the only bound."""
        return retrying(
            lambda: call(request=request, retry=None, timeout=self._timeout),
            transient=lambda exc: isinstance(exc, _TRANSIENT),
            what=what,
            pacing=self._pacing,
        )

    def _pages(self, what: str, call: Any, **request: Any) -> list[Any]:
        """Every page of a list call, each page retried on its own, at most MAX_PAGES."""

        def first_page(**params: Any) -> Any:
            return next(iter(call(**params).pages))

        pages, token = [], ""
        for _ in range(MAX_PAGES):
            page = self._call(
                what, first_page, max_results=self._page_size, page_token=token, **request
            )
            pages.append(page)
            token = page.next_page_token
            if not token:
                return pages
        raise CloudError(f"{what}: more than {MAX_PAGES} pages")

    def list_machines(self) -> list[Machine]:
        client = self._client
        try:
            if self._zones:
                instances = [
                    instance
                    for zone in self._zones
                    for page in self._pages(
                        "list instances", client.list, project=self._project, zone=zone
                    )
                    for instance in page.items
                ]
            else:
                instances = [
                    instance
                    for page in self._pages(
                        "list instances", client.aggregated_list, project=self._project
                    )
                    for scoped in page.items.values()
                    for instance in scoped.instances
                ]
        except _ERRORS as exc:
            raise CloudError(
                f"cannot list the instances of project {self._project}: {_reason(exc)}"
            ) from exc
        machines = [_machine(self._project, instance) for instance in instances]
        return sorted(machines, key=lambda machine: machine.provider_id)

    def get_machine(self, provider_id: str) -> Machine:
        project, zone, name = locate(provider_id)
        try:
            instance = self._call(
                f"get {provider_id}", self._client.get, project=project, zone=zone, instance=name
            )
        except _ERRORS as exc:
            raise failure(provider_id, "read", _reason(exc)) from exc
        return _machine(project, instance)

    def _power(self, machine: Machine, action: str, **extra: Any) -> None:
        project, zone, name = locate(machine.provider_id)
        call = getattr(self._client, f"{action}_unary")
        try:
            operation = self._call(
                f"{action} {machine.provider_id}",
                call,
                project=project,
                zone=zone,
                instance=name,
                **extra,
            )
        except _ERRORS as exc:
            raise failure(machine, action, _reason(exc)) from exc
        errors = [e.message for e in operation.error.errors] if operation.error else []
        if errors or operation.http_error_status_code >= 400:
            reason = "; ".join(errors) or operation.http_error_message
            raise failure(machine, action, reason)

    def stop(self, machine: Machine, *, force: bool = False) -> None:
        self._power(machine, "stop", **({"no_graceful_shutdown": True} if force else {}))

    def start(self, machine: Machine) -> None:
        self._power(machine, "start")

    def wait_for(self, machine: Machine, state: NodeState, *, timeout: float) -> Machine:
        return wait_for_state(
            self.get_machine, machine, state, timeout=timeout, pacing=self._pacing
        )

    def check(self) -> list[Check]:
        try:
            machines = self.list_machines()
        except CloudError as exc:
            return [Check("compute.instances.list", False, str(exc))]
        checks = [
            Check("compute.instances.list", True, f"{len(machines)} instances in {self._project}")
        ]
        if not machines:
            return [*checks, Check("stop and start", None, "not checked: no instance to ask on")]
        project, zone, name = locate(machines[0].provider_id)
        try:
            answer = self._call(
                "test permissions",
                self._client.test_iam_permissions,
                project=project,
                zone=zone,
                resource=name,
                test_permissions_request_resource={"permissions": list(PERMISSIONS)},
            )
        except _ERRORS as exc:
            return [*checks, Check("stop and start", None, f"not checked: {_reason(exc)}")]
        granted = set(answer.permissions)
        for permission in PERMISSIONS:
            ok = permission in granted
            detail = f"on {name}" if ok else f"missing on {project}/{zone}/{name}"
            checks.append(Check(permission, ok, detail))
        return checks


def _machine(project: str, instance: Any) -> Machine:
    zone = str(instance.zone).rsplit("/", 1)[-1]
    private = [n.network_i_p for n in instance.network_interfaces if n.network_i_p]
    public = [a.nat_i_p for n in instance.network_interfaces for a in n.access_configs if a.nat_i_p]
    return Machine(
        id=str(instance.id) or instance.name,
        provider_id=f"{SCHEME}://{project}/{zone}/{instance.name}",
        name=str(instance.name),
        state=_STATES.get(str(instance.status), NodeState.UNKNOWN),
        zone=zone,
        private_ips=tuple(private),
        public_ips=tuple(public),
        groups=tuple(f"{k}={v}" for k, v in sorted(instance.labels.items())),
        cloud_state=str(instance.status),
    )


def create_driver(
    *,
    project: str | None = None,
    zones: Sequence[str] = (),
    credentials_file: str | None = None,
    credentials: Any = None,
    api_endpoint: str | None = None,
    page_size: int = PAGE_SIZE,
    pacing: Pacing | None = None,
) -> GcpDriver:
    """A Compute Engine driver for `project` (else the credentials' project)."""
    import google.auth

    try:
        if credentials is None and credentials_file:
            from google.oauth2 import service_account

            from_file: Any = service_account.Credentials.from_service_account_file
            credentials = from_file(
                credentials_file, scopes=["https://www.googleapis.com/auth/cloud-platform"]
            )
            project = project or credentials.project_id
        elif credentials is None:
            credentials, found = google.auth.default()
            project = project or found
    except (auth_exceptions.GoogleAuthError, OSError, ValueError) as exc:
        raise CloudError(f"no usable Google Cloud credentials: {exc}") from exc
    if not project:
        raise CloudError("no Google Cloud project: pass --gcp-project or set GOOGLE_CLOUD_PROJECT")
    options = {"api_endpoint": api_endpoint} if api_endpoint else None
    client = compute_v1.InstancesClient(
        credentials=credentials, transport="rest", client_options=options
    )
    return GcpDriver(client, project, zones=zones, page_size=page_size, pacing=pacing)
