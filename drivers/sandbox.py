"""The sandbox's machines, through its admin API (`/sandbox/v1/machines`) on the same
server as its Kubernetes API. Talks HTTPS to that server.

Provider IDs are `sandbox://<machine id>`, as the sandbox's nodes carry them.
"""

from __future__ import annotations

import json
import ssl
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from drivers._common import Pacing, failure, parse_provider_id, retrying, wait_for_state
from seal.cloud import Check
from seal.errors import CloudError
from seal.model import Machine, NodeState

if TYPE_CHECKING:
    import urllib3

SCHEME = "sandbox"
_STATES = {"running": NodeState.UP, "stopped": NodeState.DOWN}


class _Transient(CloudError):
    """An answer worth asking again for (429, 5xx, connection lost)."""


class SandboxDriver:
    """Stops and starts the sandbox's simulated machines."""

    name = "sandbox"

    def __init__(
        self,
        server: str,
        *,
        token: str | None = None,
        token_file: str | None = None,
        ca_file: str | None = None,
        insecure: bool = False,
        timeout_seconds: float = 10.0,
        pacing: Pacing | None = None,
    ) -> None:
        if not server.startswith(("https://", "http://")):
            raise CloudError(f"sandbox driver: {server!r} is not an http(s) URL")
        self._base = server.rstrip("/") + "/sandbox/v1/machines"
        self._token = token
        self._token_file = token_file
        self._timeout = timeout_seconds
        self._pacing = pacing or Pacing()
        try:
            context = ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise CloudError(f"sandbox driver: cannot read the CA file {ca_file}: {exc}") from exc
        if insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        self._context = context
        #: made when the first machine call is (a run that stops no machine never does)
        self._pool: urllib3.PoolManager | None = None
        self._pool_lock = threading.Lock()

    @property
    def _http(self) -> urllib3.PoolManager:
        import urllib3

        with self._pool_lock:
            if self._pool is None:
                self._pool = urllib3.PoolManager(ssl_context=self._context)
            return self._pool

    # ------------------------------------------------------------------ HTTP
    def _headers(self) -> dict[str, str]:
        token = self._token
        if self._token_file:
            try:
                token = Path(self._token_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise CloudError(f"cannot read the token file {self._token_file}: {exc}") from exc
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _once(self, method: str, path: str) -> Any:
        import urllib3

        try:
            answer = self._http.request(
                method,
                self._base + path,
                headers=self._headers(),
                timeout=urllib3.Timeout(total=self._timeout),
                retries=False,
                redirect=False,
            )
        except urllib3.exceptions.SSLError as exc:
            raise CloudError(f"{self._base}: TLS: {exc}") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise _Transient(f"{self._base}: {exc}") from exc
        except OSError as exc:
            raise CloudError(f"{self._base}: {exc}") from exc
        try:
            body = json.loads(answer.data or b"null")
        except ValueError:
            body = None
        if answer.status == 429 or answer.status >= 500:
            raise _Transient(f"HTTP {answer.status} from the sandbox admin API")
        if answer.status >= 400:
            message = body.get("message") if isinstance(body, dict) else None
            raise CloudError(f"HTTP {answer.status}: {message or answer.reason}")
        return body

    def _call(self, method: str, path: str) -> Any:
        return retrying(
            lambda: self._once(method, path),
            transient=lambda exc: isinstance(exc, _Transient),
            what=f"{method} {self._base}{path}",
            pacing=self._pacing,
        )

    # ------------------------------------------------------------------ driver
    def list_machines(self) -> list[Machine]:
        try:
            body = self._call("GET", "")
        except CloudError as exc:
            raise CloudError(f"cannot list the sandbox's machines: {exc}") from exc
        items = body.get("machines") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise CloudError("the sandbox admin API answered a list without machines")
        return [_machine(item) for item in items]

    def get_machine(self, provider_id: str) -> Machine:
        machine_id = parse_provider_id(provider_id, SCHEME)
        try:
            return _machine(self._call("GET", "/" + quote(machine_id, safe="")))
        except CloudError as exc:
            raise failure(provider_id, "read", exc) from exc

    def _power(self, machine: Machine, action: str) -> None:
        machine_id = parse_provider_id(machine.provider_id, SCHEME)
        try:
            self._call("POST", f"/{quote(machine_id, safe='')}/{action}")
        except CloudError as exc:
            raise failure(machine, action, exc) from exc

    def stop(self, machine: Machine, *, force: bool = False) -> None:
        # A simulated machine has nothing to shut down gracefully: force changes nothing.
        self._power(machine, "stop")

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
            return [Check("list machines", False, str(exc))]
        checks = [Check("list machines", True, f"{len(machines)} machines")]
        if machines:
            try:
                self.get_machine(machines[0].provider_id)
                checks.append(Check("read one machine", True, machines[0].provider_id))
            except CloudError as exc:
                checks.append(Check("read one machine", False, str(exc)))
        checks.append(Check("stop and start", True, "the sandbox has no permissions to miss"))
        return checks


def _machine(item: Any) -> Machine:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise CloudError(f"the sandbox admin API answered a machine without an id: {item!r}")
    raw_state = str(item.get("state", ""))
    ip = item.get("ip")
    return Machine(
        id=item["id"],
        provider_id=str(item.get("providerID") or f"{SCHEME}://{item['id']}"),
        name=str(item.get("node_name", "")),
        state=_STATES.get(raw_state, NodeState.UNKNOWN),
        zone=str(item.get("zone", "")),
        private_ips=(ip,) if isinstance(ip, str) and ip else (),
        cloud_state=raw_state,
    )


def create_driver(**options: Any) -> SandboxDriver:
    """`server` (the kubeconfig's), and optionally `token`, `token_file`, `ca_file`, `insecure`."""
    if not options.get("server"):
        raise CloudError("the sandbox driver needs the cluster's server URL")
    return SandboxDriver(**options)
