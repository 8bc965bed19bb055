"""Azure virtual machines and scale-set instances (what AKS runs its nodes on) through
azure-mgmt-compute and azure-identity. Talks to Azure Resource Manager.

Credentials come azure-identity's usual way (DefaultAzureCredential: environment,
workload identity, managed identity, the Azure CLI's login...); the subscription
from the option or AZURE_SUBSCRIPTION_ID. Provider IDs are `azure://` followed by
the machine's resource ID, as Kubernetes nodes on Azure carry them:
`azure:///subscriptions/<s>/resourceGroups/<g>/providers/Microsoft.Compute/virtualMachines/<name>`
or `.../virtualMachineScaleSets/<set>/virtualMachines/<instance id>`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError
from azure.core.rest import HttpRequest
from azure.mgmt.compute import ComputeManagementClient

from drivers._common import Pacing, failure, parse_provider_id, retrying, wait_for_state
from seal.cloud import Check
from seal.errors import CloudError
from seal.model import Machine, NodeState

SCHEME = "azure"
MAX_ITEMS = 100_000
_POWER = {
    "PowerState/running": NodeState.UP,
    "PowerState/stopped": NodeState.DOWN,
    "PowerState/deallocated": NodeState.DOWN,
}
_ID = re.compile(
    r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<group>[^/]+)"
    r"/providers/Microsoft\.Compute/(?:virtualMachineScaleSets/(?P<set>[^/]+)/)?"
    r"virtualMachines/(?P<name>[^/]+)",
    re.IGNORECASE,
)
_GROUP = re.compile(r"/resourceGroups/([^/]+)/", re.IGNORECASE)
_VM = "Microsoft.Compute/virtualMachines"
_SET_VM = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines"
#: what `check` asks Azure about, for plain machines and scale-set instances.
ACTIONS = tuple(
    f"{kind}/{verb}"
    for kind in (_VM, _SET_VM)
    for verb in ("read", "powerOff/action", "start/action", "deallocate/action")
)


@dataclass(frozen=True)
class ResourceId:
    subscription: str
    group: str
    scale_set: str | None
    name: str


def locate(provider_id: str) -> ResourceId:
    """The parts of an Azure machine's provider ID (case kept, matched case-insensitively)."""
    found = _ID.fullmatch("/" + parse_provider_id(provider_id, SCHEME).lstrip("/"))
    if found is None:
        raise CloudError(
            f"provider ID {provider_id!r} names no Azure virtual machine or scale-set instance"
        )
    return ResourceId(found["sub"], found["group"], found["set"], found["name"])


def _reason(exc: AzureError) -> str:
    if isinstance(exc, HttpResponseError):
        code = exc.error.code if exc.error else ""
        message = exc.error.message if exc.error else exc.message
        return f"HTTP {exc.status_code}" + (f" {code}" if code else "") + f": {message}"
    return str(exc.message or exc)


def _throttled(exc: BaseException) -> bool:
    return isinstance(exc, HttpResponseError) and exc.status_code == 429


def _power_state(instance_view: Any) -> str:
    for status in getattr(instance_view, "statuses", None) or []:
        if str(status.code).startswith("PowerState/"):
            return str(status.code)
    return ""


class AzureDriver:
    """Virtual machines and scale-set instances of one subscription (or of resource groups)."""

    name = "azure"

    def __init__(
        self,
        client: Any,
        subscription: str,
        *,
        resource_groups: Sequence[str] = (),
        deallocate: bool = False,
        pacing: Pacing | None = None,
    ) -> None:
        self._client = client
        self._subscription = subscription
        self._groups = tuple(dict.fromkeys(g for g in resource_groups if g))
        self._deallocate = deallocate
        self._pacing = pacing or Pacing()

    # ------------------------------------------------------------------ listing
    def _bounded(self, pages: Any) -> list[Any]:
        items = []
        for item in pages:
            items.append(item)
            if len(items) > MAX_ITEMS:
                raise CloudError(f"more than {MAX_ITEMS} machines")
        return items

    def _plain_machines(self) -> list[Any]:
        vms = self._client.virtual_machines
        if not self._groups:
            return self._bounded(vms.list_all(expand="instanceView"))
        return [
            vm for g in self._groups for vm in self._bounded(vms.list(g, expand="instanceView"))
        ]

    def _scale_set_machines(self) -> list[Any]:
        sets = self._client.virtual_machine_scale_sets
        found = (
            [s for g in self._groups for s in self._bounded(sets.list(g))]
            if self._groups
            else self._bounded(sets.list_all())
        )
        instances = []
        for scale_set in found:
            group = _GROUP.search(str(scale_set.id))
            if group is None:
                raise CloudError(f"scale set {scale_set.id!r} has no resource group in its ID")
            instances.extend(
                self._bounded(
                    self._client.virtual_machine_scale_set_vms.list(
                        group[1], scale_set.name, expand="instanceView"
                    )
                )
            )
        return instances

    def list_machines(self) -> list[Machine]:
        where = ", ".join(self._groups) or f"subscription {self._subscription}"
        try:
            raw = self._plain_machines() + self._scale_set_machines()
        except AzureError as exc:
            raise CloudError(f"cannot list the machines of {where}: {_reason(exc)}") from exc
        return sorted((_machine(vm) for vm in raw), key=lambda m: m.provider_id)

    def get_machine(self, provider_id: str) -> Machine:
        where = locate(provider_id)
        try:
            if where.scale_set:
                vm = self._client.virtual_machine_scale_set_vms.get(
                    where.group, where.scale_set, where.name, expand="instanceView"
                )
            else:
                vm = self._client.virtual_machines.get(
                    where.group, where.name, expand="instanceView"
                )
        except AzureError as exc:
            raise failure(provider_id, "read", _reason(exc)) from exc
        return _machine(vm)

    # ------------------------------------------------------------------ actions
    def _act(self, machine: Machine, action: str, verb: str, **params: Any) -> None:
        """Send the request and return once Azure accepted it; `wait_for` follows the state."""
        where = locate(machine.provider_id)
        if where.scale_set:
            operation = getattr(self._client.virtual_machine_scale_set_vms, f"begin_{verb}")
            target: tuple[str, ...] = (where.group, where.scale_set, where.name)
        else:
            operation = getattr(self._client.virtual_machines, f"begin_{verb}")
            target = (where.group, where.name)
        try:
            # azure-core retries failed POSTs only on 5xx; power actions are idempotent,
            # so throttled ones are sent again here, a bounded number of times.
            retrying(
                lambda: operation(*target, polling=False, **params),
                transient=_throttled,
                what=f"{action} {machine.provider_id}",
                pacing=self._pacing,
            )
        except AzureError as exc:
            raise failure(machine, action, _reason(exc)) from exc

    def stop(self, machine: Machine, *, force: bool = False) -> None:
        if self._deallocate:
            self._act(machine, "deallocate", "deallocate")
        else:
            self._act(machine, "stop", "power_off", skip_shutdown=force)

    def start(self, machine: Machine) -> None:
        self._act(machine, "start", "start")

    def wait_for(self, machine: Machine, state: NodeState, *, timeout: float) -> Machine:
        return wait_for_state(
            self.get_machine, machine, state, timeout=timeout, pacing=self._pacing
        )

    # ------------------------------------------------------------------ check
    def check(self) -> list[Check]:
        try:
            machines = self.list_machines()
        except CloudError as exc:
            return [Check("list machines", False, str(exc))]
        checks = [Check("list machines", True, f"{len(machines)} machines")]
        scopes = [f"/subscriptions/{self._subscription}/resourceGroups/{g}" for g in self._groups]
        for scope in scopes or [f"/subscriptions/{self._subscription}"]:
            try:
                allowed, denied = self._permissions(scope)
            except AzureError as exc:
                reason = f"not checked: {_reason(exc)}"
                checks.append(Check(f"permissions on {scope}", None, reason))
                continue
            for action in ACTIONS:
                ok = _granted(action, allowed, denied)
                checks.append(Check(action, ok, f"{'granted' if ok else 'missing'} on {scope}"))
        return checks

    def _permissions(self, scope: str) -> tuple[list[str], list[str]]:
        """The caller's allowed and denied actions at `scope` (Microsoft.Authorization)."""
        request = HttpRequest(
            "GET",
            f"{scope}/providers/Microsoft.Authorization/permissions",
            params={"api-version": "2022-04-01"},
        )
        allowed: list[str] = []
        denied: list[str] = []
        for _ in range(1000):
            answer = self._client.send_request(request)
            answer.raise_for_status()
            body = answer.json()
            for entry in body.get("value", []):
                allowed.extend(entry.get("actions", []))
                denied.extend(entry.get("notActions", []))
            if not body.get("nextLink"):
                break
            request = HttpRequest("GET", body["nextLink"])
        return allowed, denied


def _granted(action: str, allowed: list[str], denied: list[str]) -> bool:
    def matches(patterns: list[str]) -> bool:
        return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)

    return matches(allowed) and not matches(denied)


def _machine(vm: Any) -> Machine:
    provider_id = f"{SCHEME}://{vm.id}"
    where = locate(provider_id)
    power = _power_state(vm.instance_view)
    zones = list(getattr(vm, "zones", None) or [])
    location = str(vm.location or "")
    computer = getattr(getattr(vm, "os_profile", None), "computer_name", None)
    return Machine(
        id=str(getattr(vm, "vm_id", None) or vm.name),
        provider_id=provider_id,
        name=str(computer or vm.name),
        state=_POWER.get(power, NodeState.UNKNOWN),
        zone=f"{location}-{zones[0]}" if zones else location,
        groups=(where.group,) + ((where.scale_set,) if where.scale_set else ()),
        cloud_state=power.removeprefix("PowerState/"),
    )


class StaticToken:
    """A credential that always hands out the same bearer token (a token obtained
    elsewhere, e.g. `az account get-access-token`)."""

    def __init__(self, token: str, expires_on: int = 2**31 - 1) -> None:
        from azure.core.credentials import AccessToken

        self._token = AccessToken(token, expires_on)

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        return self._token


def create_driver(
    *,
    subscription: str | None = None,
    resource_groups: Sequence[str] = (),
    deallocate: bool = False,
    credential: Any = None,
    base_url: str | None = None,
    ca_file: str | None = None,
    retry_total: int = 4,
    retry_backoff_factor: float = 0.8,
    pacing: Pacing | None = None,
) -> AzureDriver:
    """An Azure driver; throttling and transient errors are retried by azure-core,
    at most `retry_total` times."""
    import os

    subscription = subscription or os.environ.get("AZURE_SUBSCRIPTION_ID")
    if not subscription:
        raise CloudError(
            "no Azure subscription: pass --azure-subscription or set AZURE_SUBSCRIPTION_ID"
        )
    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    options: dict[str, Any] = {
        "retry_total": retry_total,
        "retry_backoff_factor": retry_backoff_factor,
        "retry_backoff_max": 30,
    }
    if base_url:
        options["base_url"] = base_url
        options["credential_scopes"] = ["https://management.azure.com/.default"]
    if ca_file:
        options["connection_verify"] = ca_file
    client = ComputeManagementClient(credential, subscription, **options)
    return AzureDriver(
        client, subscription, resource_groups=resource_groups, deallocate=deallocate, pacing=pacing
    )
