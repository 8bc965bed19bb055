"""A local endpoint speaking the parts of Keystone v3 and Nova the openstack driver uses;
the catalog it hands out points Nova back at this same loopback server."""

from __future__ import annotations

from typing import Any

from tests.drivers.http_fake import FakeServer, Request

SERVER = "/compute/v2.1/servers/(?P<id>[^/]+)"


class FakeOpenStack(FakeServer):
    def __init__(self, page_size: int = 1000) -> None:
        super().__init__()
        self.page_size = page_size
        self.servers: dict[str, dict[str, Any]] = {}
        self.password = "secret"
        r = self.route
        r("GET", "/identity/?")(self._identity_versions)
        r("GET", "/identity/v3/?")(self._identity_v3)
        r("POST", "/identity/v3/auth/tokens")(self._token)
        r("GET", "/compute/?")(self._compute_versions)
        r("GET", "/compute/v2.1/?")(self._compute_v21)
        r("GET", "/compute/v2.1/servers/detail")(self._list)
        r("GET", SERVER)(self._get)
        r("POST", SERVER + "/action")(self._action)

    def add(self, ident: str, name: str, zone: str, fixed: str, floating: str = "") -> None:
        addresses = [{"addr": fixed, "version": 4, "OS-EXT-IPS:type": "fixed"}]
        if floating:
            addresses.append({"addr": floating, "version": 4, "OS-EXT-IPS:type": "floating"})
        self.servers[ident] = {
            "id": ident,
            "name": name,
            "status": "ACTIVE",
            "OS-EXT-AZ:availability_zone": zone,
            "addresses": {"private": addresses},
            "links": [],
        }

    # ------------------------------------------------------------ keystone
    def _v3(self) -> dict[str, Any]:
        return {
            "id": "v3.14",
            "status": "stable",
            "updated": "2020-04-07T00:00:00Z",
            "links": [{"rel": "self", "href": f"{self.url}/identity/v3/"}],
            "media-types": [
                {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
            ],
        }

    def _identity_versions(self, request: Request) -> tuple[int, Any]:
        return 300, {"versions": {"values": [self._v3()]}}

    def _identity_v3(self, request: Request) -> tuple[int, Any]:
        return 200, {"version": self._v3()}

    def _token(self, request: Request) -> tuple[Any, ...]:
        user = request.body["auth"]["identity"]["password"]["user"]
        if user.get("password") != self.password:
            error = {
                "code": 401,
                "title": "Unauthorized",
                "message": "The request you have made requires authentication.",
            }
            return 401, {"error": error}
        domain = {"id": "default", "name": "Default"}
        endpoint = {
            "id": "e1",
            "interface": "public",
            "region": "RegionOne",
            "region_id": "RegionOne",
            "url": f"{self.url}/compute/v2.1",
        }
        token = {
            "methods": ["password"],
            "expires_at": "2099-01-01T00:00:00.000000Z",
            "issued_at": "2026-01-01T00:00:00.000000Z",
            "user": {"id": "u1", "name": user.get("name", ""), "domain": domain},
            "project": {"id": "p1", "name": "shop", "domain": domain},
            "roles": [{"id": "r1", "name": "member"}, {"id": "r2", "name": "reader"}],
            "catalog": [{"type": "compute", "name": "nova", "id": "c1", "endpoints": [endpoint]}],
        }
        return 201, {"token": token}, {"X-Subject-Token": "token-1"}

    # ------------------------------------------------------------ nova
    def _v21(self) -> dict[str, Any]:
        return {
            "id": "v2.1",
            "status": "CURRENT",
            "version": "2.79",
            "min_version": "2.1",
            "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": f"{self.url}/compute/v2.1/"}],
        }

    def _compute_versions(self, request: Request) -> tuple[int, Any]:
        return 200, {"versions": [self._v21()]}

    def _compute_v21(self, request: Request) -> tuple[int, Any]:
        return 200, {"version": self._v21()}

    def _list(self, request: Request) -> tuple[int, Any]:
        ordered = [self.servers[k] for k in sorted(self.servers)]
        marker = request.query.get("marker", [""])[0]
        start = next((i + 1 for i, s in enumerate(ordered) if s["id"] == marker), 0)
        limit = int(request.query.get("limit", [str(self.page_size)])[0])
        limit = min(limit, self.page_size)
        page = ordered[start : start + limit]
        body: dict[str, Any] = {"servers": page}
        if start + limit < len(ordered):
            href = f"{self.url}/compute/v2.1/servers/detail?limit={limit}&marker={page[-1]['id']}"
            body["servers_links"] = [{"rel": "next", "href": href}]
        return 200, body

    def _get(self, request: Request) -> tuple[int, Any]:
        server = self.servers.get(request.match["id"])
        if server is None:
            message = f"Instance {request.match['id']} could not be found."
            return 404, {"itemNotFound": {"code": 404, "message": message}}
        return 200, {"server": server}

    def _action(self, request: Request) -> tuple[int, Any]:
        server = self.servers.get(request.match["id"])
        if server is None:
            return self._get(request)
        action = next(iter(request.body))
        if action == "os-stop":
            server["status"] = "SHUTOFF"
        elif action == "os-start":
            server["status"] = "ACTIVE"
        else:
            return 400, {"badRequest": {"code": 400, "message": f"unknown action {action}"}}
        return 202, None
