"""The API server's door: who a request comes from (authentication, impersonation) and
whether RBAC lets them make it (authorization), then the requests answered here rather
than from the store (access reviews, TokenRequest). No I/O.

The kubeconfig's admin token never gets here without impersonation headers: the server
lets it through with one string comparison (it is in system:masters).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web

from sandbox.api import json_response, read_json, status_response
from sandbox.authn import ADMIN, AUTHENTICATED, SA_PREFIX, Tokens, User, token_request
from sandbox.rbac import Attributes, RuleCache, authorize, forbidden, request_attributes
from sandbox.reviews import REVIEWS, review
from sandbox.store import ApiError, Store

#: paths anyone may read without credentials (system:public-info-viewer)
OPEN_PATHS = frozenset(("/healthz", "/readyz", "/livez", "/version"))
USER_KEY = web.RequestKey("sandbox.user", User)
_UNAUTHORIZED = ApiError(401, "Unauthorized", "Unauthorized")
_NOT_ALLOWED = ApiError(
    405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
)


def request_user(request: web.Request) -> User:
    """Who made `request` (the admin when the server let it through on the fast path)."""
    found: User = request.get(USER_KEY, ADMIN)
    return found


class Access:
    """Authentication and RBAC authorization over one store."""

    def __init__(
        self, store: Store, admin_token: Callable[[], str], clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.admin_token = admin_token
        self.tokens = Tokens(store, clock)
        self.rules = RuleCache(store)

    def authenticate(self, header: str) -> User | None:
        if not header.startswith("Bearer "):
            return None
        token = header[7:].strip()
        if token == self.admin_token():
            return ADMIN
        return self.tokens.authenticate(token)

    def _impersonated(self, request: web.Request, user: User) -> User:
        """The user named by the Impersonate-User header, when `user` may act as them."""
        wanted = request.headers.get("Impersonate-User", "")
        groups = tuple(request.headers.getall("Impersonate-Group", []))
        if wanted.startswith(SA_PREFIX) and wanted.count(":") == 3:
            namespace, name = wanted[len(SA_PREFIX) :].split(":")
            checks = [
                Attributes(
                    user, "impersonate", True, "", "", "", "serviceaccounts", "", namespace, name
                )
            ]
            if not groups:
                groups = ("system:serviceaccounts", f"system:serviceaccounts:{namespace}")
        else:
            checks = [Attributes(user, "impersonate", True, "", "", "", "users", "", "", wanted)]
        checks += [
            Attributes(user, "impersonate", True, "", "", "", "groups", "", "", group)
            for group in groups
        ]
        for attrs in checks:
            decision = authorize(self.store, attrs)
            if not decision.allowed:
                raise forbidden(attrs, decision.reason)
        if AUTHENTICATED not in groups and wanted != "system:anonymous":
            groups = (*groups, AUTHENTICATED)
        return User(wanted, groups)

    def check(self, request: web.Request) -> web.Response | None:
        """None when the request may go on (its user noted on it), else the 401 or 403."""
        header = request.headers.get("Authorization", "")
        if not header and request.path in OPEN_PATHS:
            return None
        user = self.authenticate(header)
        if user is None:
            return status_response(_UNAUTHORIZED)
        try:
            if "Impersonate-User" in request.headers:
                user = self._impersonated(request, user)
        except ApiError as exc:
            return status_response(exc)
        request[USER_KEY] = user
        if user is ADMIN:
            return None
        attrs = request_attributes(user, request.method, request.path, request.query)
        decision = authorize(self.store, attrs, self.rules)
        if decision.allowed:
            return None
        return status_response(forbidden(attrs, decision.reason))

    async def respond(self, request: web.Request) -> web.StreamResponse | None:
        """The answer to an access review or a TokenRequest; None for other requests."""
        parts = request.path.strip("/").split("/")
        if (
            len(parts) == 7
            and parts[:3] == ["api", "v1", "namespaces"]
            and parts[4:7:2]
            == [
                "serviceaccounts",
                "token",
            ]
        ):
            if request.method != "POST":
                raise _NOT_ALLOWED
            body = await read_json(request)
            return json_response(token_request(self.tokens, parts[3], parts[5], body), 201)
        if (
            len(parts) < 4
            or parts[0] != "apis"
            or parts[1]
            not in (
                "authorization.k8s.io",
                "authentication.k8s.io",
            )
        ):
            return None
        namespace = ""
        if len(parts) == 6 and parts[3] == "namespaces":
            namespace, parts = parts[4], [*parts[:3], parts[5]]
        plural = parts[3]
        known = REVIEWS.get(plural)
        if len(parts) != 4 or parts[2] != "v1" or known is None or known[1] != parts[1]:
            return None
        if (plural == "localsubjectaccessreviews") != bool(namespace):
            return None
        if request.method != "POST":
            raise _NOT_ALLOWED
        body = await read_json(request)
        return json_response(
            review(self.store, plural, body, request_user(request), namespace), 201
        )
