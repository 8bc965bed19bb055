"""Preflight: before a run changes anything, ask the API server (SelfSubjectAccessReview)
whether seal may make every request the run needs, and refuse to start, naming each
missing permission as the RBAC rule that would grant it, rather than fail halfway.

Talks to the API server through the services' client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor

from seal.adapters.node_exec import PodExecutor
from seal.errors import KubeError, PermissionsMissing
from seal.runtime.rbac import Need, Scope
from seal.runtime.services import Services

log = logging.getLogger(__name__)
REVIEWS = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
#: the exit status of a run that preflight stopped
EXIT_PERMISSIONS = 4

Ask = Callable[[Need], bool]


def scope_of(services: Services) -> Scope:
    """The stand-ins of the API calls as this run resolves them: exec pods are made only
    in the Kubernetes execution mode, in its namespace."""
    executor = services.executor
    exec_namespace = executor.settings.namespace if isinstance(executor, PodExecutor) else None
    return Scope(exec_namespace, services.kubectl.default_namespace)


def asker(services: Services) -> Ask:
    """Asks the API server whether the credentials of `services` may make one request."""

    def ask(need: Need) -> bool:
        review = services.kube.request(
            "POST",
            REVIEWS,
            body={
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": need.attributes(),
            },
            idempotent=True,  # a review changes nothing
        )
        return bool((review.get("status") or {}).get("allowed"))

    return ask


def missing(
    needs: Mapping[Need, Sequence[str]], ask: Ask, pool: Executor | None = None
) -> list[Need]:
    """The needs the server says seal may not make, in the order given; the reviews go
    out together through `pool` when there is one (the client's pool holds them all)."""
    if pool is None or len(needs) < 2:
        return [need for need in needs if not ask(need)]
    return [need for need, allowed in zip(needs, pool.map(ask, needs), strict=True) if not allowed]


def report(denied: Sequence[Need], needs: Mapping[Need, Sequence[str]]) -> str:
    """What preflight says when it refuses: each missing permission as an RBAC rule, and
    what needs it."""
    lines = [
        f"preflight: the cluster would deny {len(denied)} request(s) this run needs; nothing "
        "was changed. Grant these RBAC rules (`seal rbac` prints them all), or run with "
        "--skip-preflight to fail at the step instead:"
    ]
    for need in denied:
        users = list(dict.fromkeys(needs.get(need, ())))
        more = f" and {len(users) - 3} more" if len(users) > 3 else ""
        lines.append(f"  - {need.describe()}  <- needed by {'; '.join(users[:3])}{more}")
    return "\n".join(lines)


def preflight(needs: Mapping[Need, Sequence[str]], ask: Ask, pool: Executor | None = None) -> None:
    """`PermissionsMissing` naming every request the server would deny; a warning, and
    no check, when the server cannot answer access reviews. `pool` sends the reviews
    at once."""
    try:
        denied = missing(needs, ask, pool)
    except KubeError as exc:
        log.warning(
            "preflight: cannot ask the API server what seal may do (%s); starting without "
            "the check",
            exc,
        )
        return
    if denied:
        raise PermissionsMissing(report(denied, needs))
    log.info("preflight: the cluster allows all %d request(s) this run needs", len(needs))
