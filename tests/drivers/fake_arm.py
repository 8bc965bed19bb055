"""A local endpoint speaking the parts of Azure Resource Manager the azure driver uses:
virtual machines, scale sets and their instances, power actions, and the caller's
permissions. Served over TLS by the tests (azure-core sends bearer tokens only so)."""

from __future__ import annotations

from typing import Any

from tests.drivers.http_fake import FakeServer, Request

SUB = "/subscriptions/(?P<sub>[^/]+)"
GROUP = SUB + "/resourceGroups/(?P<group>[^/]+)"
COMPUTE = "/providers/Microsoft.Compute"
VM = GROUP + COMPUTE + "/virtualMachines/(?P<name>[^/]+)"
SET = GROUP + COMPUTE + "/virtualMachineScaleSets/(?P<set>[^/]+)"
SET_VM = SET + "/virtualMachines/(?P<name>[^/]+)"


def _view(power: str) -> dict[str, Any]:
    return {"statuses": [{"code": "ProvisioningState/succeeded"}, {"code": f"PowerState/{power}"}]}


class FakeArm(FakeServer):
    """Machines by resource ID; `actions`/`not_actions` are the caller's permissions."""

    def __init__(self, page_size: int = 100) -> None:
        super().__init__()
        self.page_size = page_size
        self.machines: dict[str, dict[str, Any]] = {}
        self.sets: dict[str, dict[str, Any]] = {}
        self.actions: list[str] = ["*"]
        self.not_actions: list[str] = []
        r = self.route
        r("GET", SUB + COMPUTE + "/virtualMachines")(self._list_vms)
        r("GET", GROUP + COMPUTE + "/virtualMachines")(self._list_vms)
        r("GET", VM)(self._get)
        r("POST", VM + "/(?P<action>powerOff|start|deallocate)")(self._power)
        r("GET", SUB + COMPUTE + "/virtualMachineScaleSets")(self._list_sets)
        r("GET", GROUP + COMPUTE + "/virtualMachineScaleSets")(self._list_sets)
        r("GET", SET + "/virtualMachines")(self._list_set_vms)
        r("GET", SET_VM)(self._get)
        r("POST", SET_VM + "/(?P<action>powerOff|start|deallocate)")(self._power)
        r("GET", "(?P<scope>.*)/providers/Microsoft.Authorization/permissions")(self._permissions)

    @staticmethod
    def vm_id(sub: str, group: str, name: str) -> str:
        return f"/subscriptions/{sub}/resourceGroups/{group}{COMPUTE}/virtualMachines/{name}"

    def add_vm(self, sub: str, group: str, name: str, zone: str = "") -> str:
        ident = self.vm_id(sub, group, name)
        self.machines[ident.lower()] = {
            "id": ident,
            "name": name,
            "location": "westeurope",
            **({"zones": [zone]} if zone else {}),
            "properties": {
                "vmId": f"uuid-{name}",
                "osProfile": {"computerName": name},
                "instanceView": _view("running"),
            },
        }
        return ident

    def add_scale_set(self, sub: str, group: str, name: str, count: int) -> list[str]:
        set_id = (
            f"/subscriptions/{sub}/resourceGroups/{group}{COMPUTE}/virtualMachineScaleSets/{name}"
        )
        self.sets[set_id.lower()] = {"id": set_id, "name": name, "location": "westeurope"}
        ids = []
        for index in range(count):
            ident = f"{set_id}/virtualMachines/{index}"
            self.machines[ident.lower()] = {
                "id": ident,
                "name": f"{name}_{index}",
                "instanceId": str(index),
                "location": "westeurope",
                "zones": [str(index % 3 + 1)],
                "properties": {
                    "vmId": f"uuid-{name}-{index}",
                    "osProfile": {"computerName": f"{name}{index:06d}"},
                    "instanceView": _view("running"),
                },
            }
            ids.append(ident)
        return ids

    def power(self, ident: str) -> str:
        statuses = self.machines[ident.lower()]["properties"]["instanceView"]["statuses"]
        return str(statuses[1]["code"]).removeprefix("PowerState/")

    def _page(self, request: Request, items: list[Any]) -> tuple[int, Any]:
        start = int(request.query.get("skip", ["0"])[0])
        body: dict[str, Any] = {"value": items[start : start + self.page_size]}
        if start + self.page_size < len(items):
            version = request.query.get("api-version", [""])[0]
            expand = request.query.get("$expand", [""])[0]
            body["nextLink"] = (
                f"{self.url}{request.path}?api-version={version}&$expand={expand}"
                f"&skip={start + self.page_size}"
            )
        return 200, body

    def _in_scope(self, request: Request, ident: str) -> bool:
        m = request.match.groupdict()
        prefix = f"/subscriptions/{m['sub']}/"
        if m.get("group"):
            prefix += f"resourceGroups/{m['group']}/"
        return ident.lower().startswith(prefix.lower())

    def _list_vms(self, request: Request) -> tuple[int, Any]:
        vms = [
            vm
            for key, vm in sorted(self.machines.items())
            if "/virtualmachinescalesets/" not in key and self._in_scope(request, vm["id"])
        ]
        return self._page(request, vms)

    def _list_sets(self, request: Request) -> tuple[int, Any]:
        sets = [s for _, s in sorted(self.sets.items()) if self._in_scope(request, s["id"])]
        return self._page(request, sets)

    def _list_set_vms(self, request: Request) -> tuple[int, Any]:
        prefix = request.path.lower() + "/"
        return self._page(
            request, [vm for key, vm in sorted(self.machines.items()) if key.startswith(prefix)]
        )

    def _machine(self, request: Request) -> dict[str, Any] | None:
        path = request.path.lower()
        if request.method == "POST":  # .../<machine>/<action>
            path = path.rsplit("/", 1)[0]
        return self.machines.get(path)

    def _get(self, request: Request) -> tuple[int, Any]:
        vm = self._machine(request)
        if vm is None:
            error = {"code": "ResourceNotFound", "message": f"{request.path} was not found."}
            return 404, {"error": error}
        return 200, vm

    def _power(self, request: Request) -> tuple[Any, ...]:
        vm = self._machine(request)
        if vm is None:
            return self._get(request)
        power = {"powerOff": "stopped", "start": "running", "deallocate": "deallocated"}
        vm["properties"]["instanceView"] = _view(power[request.match["action"]])
        operation = f"{self.url}/subscriptions/x/providers/Microsoft.Compute/operations/op-1"
        return 202, None, {"Azure-AsyncOperation": operation, "Retry-After": "0"}

    def _permissions(self, request: Request) -> tuple[int, Any]:
        return 200, {"value": [{"actions": self.actions, "notActions": self.not_actions}]}
