"""API Priority and Fairness, as much of it as a client can see.

A real API server classifies each request into a flow schema and a priority level,
says which in the answer's `X-Kubernetes-PF-FlowSchema-UID` and
`X-Kubernetes-PF-PriorityLevel-UID` headers, and sheds what its priority level cannot
take with `429 Too Many Requests` and `Retry-After`. Clients read the headers to know
that the server paces them, and so that they need not pace themselves.

The sandbox has one flow schema and one priority level, and sheds a request when more
than `max_in_flight` are being served at once (the API server's default concurrency
for mutating and other requests together is 600). Watches are long-running and not
counted, as the API server treats them apart; the admin API is not classified.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from sandbox.store import ApiError

#: requests served at once before the sandbox sheds with 429
DEFAULT_MAX_IN_FLIGHT = 600
FLOW_SCHEMA_HEADER = "X-Kubernetes-PF-FlowSchema-UID"
PRIORITY_LEVEL_HEADER = "X-Kubernetes-PF-PriorityLevel-UID"


class FlowControl:
    """The one flow schema and priority level of a sandbox, and what it is serving."""

    def __init__(self, max_in_flight: int = DEFAULT_MAX_IN_FLIGHT) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {max_in_flight}")
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self.shed = 0
        self.headers = {
            FLOW_SCHEMA_HEADER: str(uuid.uuid4()),
            PRIORITY_LEVEL_HEADER: str(uuid.uuid4()),
        }

    def middleware(self, status_response: Callable[[ApiError], web.Response]) -> Middleware:
        """An aiohttp middleware: classify, count, shed, and say so in the headers."""

        @web.middleware
        async def flow_control(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path.startswith("/sandbox/"):
                return await handler(request)
            if request.query.get("watch") in ("1", "true"):
                return await handler(request)
            if self.in_flight >= self.max_in_flight:
                self.shed += 1
                refused = status_response(
                    ApiError(
                        429,
                        "TooManyRequests",
                        "Too many requests, please try again later.",
                        {"retryAfterSeconds": 1},
                    )
                )
                refused.headers["Retry-After"] = "1"
                refused.headers.update(self.headers)
                return refused
            self.in_flight += 1
            try:
                response = await handler(request)
            finally:
                self.in_flight -= 1
            if not response.prepared:
                response.headers.update(self.headers)
            return response

        return flow_control
