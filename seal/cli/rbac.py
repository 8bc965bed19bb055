"""`seal rbac` prints the least-privilege RBAC of a policy (or of label mode); the
`--skip-preflight` flag, and the preflight check `seal autonomous` and `seal label` make."""

from __future__ import annotations

import contextvars
import functools
import re
from pathlib import Path
from typing import Any

import click

from seal.cli.options import option
from seal.errors import PolicyError, UsageError

#: set from --skip-preflight for the command being run
_SKIP = contextvars.ContextVar("skip_preflight", default=False)


def preflight_flag(function: Any) -> Any:
    """Add --skip-preflight to a command that runs seal against a cluster."""

    @functools.wraps(function)
    def wrapper(*args: Any, skip_preflight: bool, **kwargs: Any) -> Any:
        token = _SKIP.set(skip_preflight)
        try:
            return function(*args, **kwargs)
        finally:
            _SKIP.reset(token)

    return option(
        "--skip-preflight",
        is_flag=True,
        help="Do not ask the cluster first whether seal may make every request the run "
        "needs (then a missing permission fails the step that needs it).",
    )(wrapper)


def preflight(services: Any, what: Any) -> None:
    """Refuse to start (`PermissionsMissing`, exit 4) when the cluster would deny a request
    the run needs: `what` is the policy, or label mode's namespaces (a string)."""
    if _SKIP.get():
        return
    from seal.runtime import preflight as checks
    from seal.runtime.rbac import label_needs, policy_needs

    scope = checks.scope_of(services)
    if isinstance(what, str):
        from seal.runtime.label import parse_namespaces

        needs = label_needs(parse_namespaces(what), scope)
    else:
        needs = policy_needs(what, scope)
    state = getattr(services, "state", None)
    if state is not None and (state.backend == "kubernetes" or state.election is not None):
        from seal.runtime.rbac import state_needs

        needs.update(state_needs(state.namespace, lease=state.election is not None))
    checks.preflight(needs, checks.asker(services), getattr(services, "pool", None))


def _role_name(policy_file: str | None) -> str:
    stem = Path(policy_file).stem if policy_file else "label-mode"
    name = re.sub(r"[^a-z0-9.-]+", "-", stem.lower()).strip("-.")
    return f"seal-{name}"[:63].rstrip("-.") if name else "seal"


def _header(source: str, account: Any, needs: Any) -> list[str]:
    from seal.runtime.rbac import GRANTED_TO_EVERYONE as everyone

    lines = [
        f"# Least-privilege RBAC for seal, made by `seal rbac` from {source}.",
        "# Apply it:      seal rbac ... | kubectl apply -f -",
        f"# Get a token:   kubectl create token {account.name} -n {account.namespace}",
        "# What it grants, and what needs it:",
    ]
    for need, users in needs.items():
        note = " (every user has it already)" if need.path in everyone else ""
        lines.append(f"#   {need.describe()}{note}  <- {'; '.join(dict.fromkeys(users))}")
    return lines


@click.command()
@option("--policy-file", type=click.Path(dir_okay=False), help="The policy to grant.")
@option("--label-mode", is_flag=True, help="Grant label mode instead of a policy.")
@option(
    "--namespace",
    "namespaces",
    default="",
    help="Label mode: a namespace, a comma-separated list, or empty for every namespace.",
)
@option(
    "--namespaced",
    is_flag=True,
    help="One Role per namespace the policy names, plus a ClusterRole for what no Role "
    "can grant (nodes, namespaces, requests across every namespace).",
)
@option(
    "--service-account",
    default="default/seal",
    show_default=True,
    help="NAMESPACE/NAME of the ServiceAccount seal runs as (the namespace must exist).",
)
@option("--role-name", help="Name of the roles and bindings (default: seal-POLICY).")
@option(
    "--exec-namespace",
    default="default",
    show_default=True,
    help="Where `execute` makes its pods (as seal autonomous --exec-namespace).",
)
@option(
    "--default-namespace",
    default="default",
    show_default=True,
    help="The namespace of kubectl payload objects that name none (the context's).",
)
@option(
    "--state-namespace",
    help="seal's own namespace when it runs in a pod (--state-backend kubernetes): adds a "
    "Role there for the undo journal's ConfigMap and the leader Lease (get, create, update).",
)
def rbac(
    policy_file: str | None,
    label_mode: bool,
    namespaces: str,
    namespaced: bool,
    service_account: str,
    role_name: str | None,
    exec_namespace: str,
    default_namespace: str,
    state_namespace: str | None,
) -> int:
    """Print the least-privilege RBAC a policy needs, as YAML for `kubectl apply -f -`: a
    ServiceAccount, a ClusterRole (or Roles, with --namespaced) and their bindings.

    Exit status 0, or 2 for a bad policy or usage.
    """
    import yaml

    from seal.runtime import rbac as grants
    from seal.runtime.label import parse_namespaces

    if bool(policy_file) == label_mode:
        raise UsageError("give either --policy-file FILE or --label-mode")
    try:
        account = grants.Account.parse(service_account, role_name or _role_name(policy_file))
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    scope = grants.Scope(exec_namespace, default_namespace)
    if policy_file:
        needs = _policy_needs(policy_file, scope)
        if needs is None:
            return 2
    else:
        needs = grants.label_needs(parse_namespaces(namespaces), scope)
    state = grants.state_needs(state_namespace) if state_namespace else {}
    documents = grants.manifests(needs, account, namespaced=namespaced, state=state)
    click.echo("\n".join(_header(policy_file or "label mode", account, {**needs, **state})))
    click.echo(yaml.safe_dump_all(documents, sort_keys=False, default_flow_style=None), nl=False)
    return 0


def _policy_needs(policy_file: str, scope: Any) -> Any:
    from seal.policy.loader import load_policy
    from seal.runtime.rbac import policy_needs
    from seal.steps.registry import STEP_TYPES

    try:
        policy = load_policy(policy_file, STEP_TYPES)
    except PolicyError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        click.echo(f"{policy_file}: the policy is invalid; no RBAC printed", err=True)
        return None
    return policy_needs(policy, scope)
