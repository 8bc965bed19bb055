"""A local endpoint speaking the parts of the Compute Engine REST API the gcp driver uses."""

from __future__ import annotations

from typing import Any

from tests.drivers.http_fake import FakeServer, Request

BASE = "/compute/v1/projects/(?P<project>[^/]+)"
INSTANCE = BASE + "/zones/(?P<zone>[^/]+)/instances/(?P<name>[^/]+)"


class FakeCompute(FakeServer):
    """Instances by (project, zone, name); `granted` is what testIamPermissions allows."""

    def __init__(self) -> None:
        super().__init__()
        self.instances: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.granted: set[str] = set()
        self.route("GET", BASE + "/aggregated/instances")(self._aggregated)
        self.route("GET", BASE + "/zones/(?P<zone>[^/]+)/instances")(self._list)
        self.route("GET", INSTANCE)(self._get)
        self.route("POST", INSTANCE + "/stop")(self._stop)
        self.route("POST", INSTANCE + "/start")(self._start)
        self.route("POST", INSTANCE + "/testIamPermissions")(self._test_permissions)

    def add(self, project: str, zone: str, name: str, ip: str, public_ip: str = "") -> None:
        access = [{"natIP": public_ip, "name": "External NAT"}] if public_ip else []
        self.instances[(project, zone, name)] = {
            "kind": "compute#instance",
            "id": str(1000 + len(self.instances)),
            "name": name,
            "zone": f"https://www.googleapis.com/compute/v1/projects/{project}/zones/{zone}",
            "status": "RUNNING",
            "labels": {"pool": "default"},
            "networkInterfaces": [{"networkIP": ip, "accessConfigs": access}],
        }

    def _page(self, request: Request, items: list[Any]) -> tuple[int, list[Any], str]:
        size = int(request.query.get("maxResults", ["500"])[0])
        start = int(request.query.get("pageToken", ["0"])[0] or 0)
        token = str(start + size) if start + size < len(items) else ""
        return size, items[start : start + size], token

    def _aggregated(self, request: Request) -> tuple[int, Any]:
        project = request.match["project"]
        mine = [(z, i) for (p, z, _), i in sorted(self.instances.items()) if p == project]
        _, page, token = self._page(request, mine)
        items: dict[str, Any] = {}
        for zone, instance in page:
            items.setdefault(f"zones/{zone}", {"instances": []})["instances"].append(instance)
        body: dict[str, Any] = {"kind": "compute#instanceAggregatedList", "items": items}
        if token:
            body["nextPageToken"] = token
        return 200, body

    def _list(self, request: Request) -> tuple[int, Any]:
        key = (request.match["project"], request.match["zone"])
        mine = [i for (p, z, _), i in sorted(self.instances.items()) if (p, z) == key]
        _, page, token = self._page(request, mine)
        body: dict[str, Any] = {"kind": "compute#instanceList", "items": page}
        if token:
            body["nextPageToken"] = token
        return 200, body

    def _instance(self, request: Request) -> dict[str, Any] | None:
        m = request.match
        return self.instances.get((m["project"], m["zone"], m["name"]))

    def _get(self, request: Request) -> tuple[int, Any]:
        instance = self._instance(request)
        if instance is None:
            message = f"The resource '{request.match['name']}' was not found"
            return 404, {"error": {"code": 404, "message": message}}
        return 200, instance

    def _power(self, request: Request, status: str) -> tuple[int, Any]:
        instance = self._instance(request)
        if instance is None:
            return self._get(request)
        instance["status"] = status
        operation = {
            "kind": "compute#operation",
            "name": f"operation-{len(self.calls)}",
            "status": "DONE",
            "operationType": "stop" if status == "TERMINATED" else "start",
            "targetLink": instance["zone"] + "/instances/" + instance["name"],
            "zone": instance["zone"],
        }
        return 200, operation

    def _stop(self, request: Request) -> tuple[int, Any]:
        return self._power(request, "TERMINATED")

    def _start(self, request: Request) -> tuple[int, Any]:
        return self._power(request, "RUNNING")

    def _test_permissions(self, request: Request) -> tuple[int, Any]:
        asked = request.body.get("permissions", []) if request.body else []
        return 200, {"permissions": [p for p in asked if p in self.granted]}
