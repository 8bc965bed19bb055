"""RBAC authorization as the real API server does it: a request's attributes (verb, API
group, resource, subresource, name, namespace, or a non-resource path), the rules the
user's ClusterRoleBindings and RoleBindings grant, and the 403 `Status` of a refusal in the
real server's words. No I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from sandbox.authn import SA_PREFIX, User
from sandbox.store import ApiError, Obj, Store

RBAC_GROUP = "rbac.authorization.k8s.io"
_METHOD_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}
#: what follows /namespaces/{name}/ and is still about the namespace itself
_NAMESPACE_SUBRESOURCES = ("status", "finalize")


@dataclass(frozen=True)
class Attributes:
    """What a request asks to do, as the authorizer sees it."""

    user: User
    verb: str
    resource_request: bool
    path: str = ""
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


def _exact_name(field_selector: str) -> str:
    """The name a field selector requires exactly (metadata.name=x), or ''."""
    for term in field_selector.split(","):
        for op in ("==", "="):
            if op in term and "!=" not in term:
                key, value = (part.strip() for part in term.split(op, 1))
                if key == "metadata.name":
                    return value
                break
    return ""


def request_attributes(user: User, method: str, path: str, query: Mapping[str, str]) -> Attributes:
    """A request's attributes, read from its method, path and query as the real server
    does: GET on a collection is list (watch with ?watch), DELETE on one deletecollection,
    a path outside /api/v1/... and /apis/{group}/{version}/... a non-resource request."""
    parts = [p for p in path.split("/") if p]
    verb = _METHOD_VERBS.get(method, method.lower())
    if len(parts) < 3 or parts[0] not in ("api", "apis") or (parts[0] == "apis" and len(parts) < 4):
        return Attributes(user, method.lower(), False, path)
    if parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    else:
        group, version, rest = parts[1], parts[2], parts[3:]
    if rest[0] == "watch" and verb == "get":
        verb, rest = "watch", rest[1:]
    namespace = ""
    if rest and rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0] if rest else ""
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if not name and verb == "get":
        verb = "watch" if query.get("watch") in ("1", "true") else "list"
        name = _exact_name(query.get("fieldSelector", ""))
    if not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(
        user, verb, True, path, group, version, resource, subresource, namespace, name
    )


# ---------------------------------------------------------------- rules


def _has(values: object, wanted: str) -> bool:
    return isinstance(values, list) and (wanted in values or "*" in values)


def _resource_matches(rule: Obj, combined: str, subresource: str) -> bool:
    for allowed in rule.get("resources") or ():
        if allowed in ("*", combined):
            return True
        if subresource and allowed == f"*/{subresource}":
            return True
    return False


def _url_matches(rule: Obj, path: str) -> bool:
    for allowed in rule.get("nonResourceURLs") or ():
        if allowed in ("*", path):
            return True
        if allowed.endswith("*") and path.startswith(allowed.rstrip("*")):
            return True
    return False


def rule_allows(rule: Obj, attrs: Attributes) -> bool:
    """Whether one PolicyRule grants the request."""
    if not _has(rule.get("verbs"), attrs.verb):
        return False
    if not attrs.resource_request:
        return _url_matches(rule, attrs.path)
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    names = rule.get("resourceNames") or []
    return (
        _has(rule.get("apiGroups"), attrs.group)
        and _resource_matches(rule, combined, attrs.subresource)
        and (not names or attrs.name in names)
    )


def _applies(user: User, subject: Obj, namespace: str) -> bool:
    kind = subject.get("kind")
    if kind == "User":
        return bool(user.name == subject.get("name"))
    if kind == "Group":
        return subject.get("name") in user.groups
    if kind == "ServiceAccount":
        account_namespace = subject.get("namespace") or namespace
        if not account_namespace:
            return False
        return user.name == f"{SA_PREFIX}{account_namespace}:{subject.get('name')}"
    return False


def _describe_subject(subject: Obj, binding_namespace: str) -> str:
    if subject.get("kind") == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return f'ServiceAccount "{subject.get("name")}/{namespace}"'
    return f'{subject.get("kind")} "{subject.get("name")}"'


def _role_rules(store: Store, ref: Obj, namespace: str) -> list[Obj]:
    kind, name = ref.get("kind"), str(ref.get("name", ""))
    if kind == "ClusterRole":
        role = store.peek("clusterroles", "", name)
        if role is None:
            raise ApiError(404, "NotFound", f'clusterrole.{RBAC_GROUP} "{name}" not found')
    elif kind == "Role" and namespace:
        role = store.peek("roles", namespace, name)
        if role is None:
            raise ApiError(404, "NotFound", f'role.{RBAC_GROUP} "{name}" not found')
    else:
        raise ApiError(400, "BadRequest", f'unsupported role reference kind: "{kind}"')
    return [r for r in role.get("rules") or [] if isinstance(r, dict)]


#: one visited rule: where it comes from (for the allowed reason), the rule, or an error
Visit = tuple[str, Obj | None, str | None]


def visit_rules(store: Store, user: User, namespace: str) -> Iterator[Visit]:
    """Every rule granted to `user` in `namespace` (cluster-wide rules first), each with
    the binding that grants it; a binding whose role is missing yields its error."""
    for _, entry in store.entries("clusterrolebindings"):
        yield from _binding_rules(store, user, entry.obj, "")
    if namespace:
        for _, entry in store.entries("rolebindings", namespace):
            yield from _binding_rules(store, user, entry.obj, namespace)


def _binding_rules(store: Store, user: User, binding: Obj, namespace: str) -> Iterator[Visit]:
    subjects = [s for s in binding.get("subjects") or [] if isinstance(s, dict)]
    subject = next((s for s in subjects if _applies(user, s, namespace)), None)
    if subject is None:
        return
    ref = binding.get("roleRef") or {}
    try:
        rules = _role_rules(store, ref, namespace)
    except ApiError as exc:
        yield "", None, exc.message
        return
    name = binding["metadata"]["name"]
    source = f'RoleBinding "{name}/{namespace}"' if namespace else f'ClusterRoleBinding "{name}"'
    source += (
        f' of {ref.get("kind")} "{ref.get("name")}" to {_describe_subject(subject, namespace)}'
    )
    for rule in rules:
        yield source, rule, None


def _aggregate(errors: list[str]) -> str:
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


RBAC_PLURALS = frozenset(("roles", "clusterroles", "rolebindings", "clusterrolebindings"))
_CACHE_LIMIT = 1024


class RuleCache:
    """The rules of each (user, namespace) asked about, worked out once and forgotten
    whenever a role or binding changes, so that a request costs a few rule matches."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._rules: dict[tuple[str, tuple[str, ...], str], list[Visit]] = {}
        store.subscribe(self._observe)

    def _observe(self, event_type: str, resource: str, obj: Obj) -> None:
        if resource in RBAC_PLURALS:
            self._rules.clear()

    def visits(self, user: User, namespace: str) -> list[Visit]:
        key = (user.name, user.groups, namespace)
        found = self._rules.get(key)
        if found is None:
            if len(self._rules) >= _CACHE_LIMIT:
                self._rules.clear()
            found = self._rules[key] = list(visit_rules(self.store, user, namespace))
        return found


def authorize(store: Store, attrs: Attributes, cache: RuleCache | None = None) -> Decision:
    """Whether RBAC allows the request, with the real server's reason."""
    if "system:masters" in attrs.user.groups:
        return Decision(True)
    errors: list[str] = []
    visits = (
        cache.visits(attrs.user, attrs.namespace)
        if cache is not None
        else visit_rules(store, attrs.user, attrs.namespace)
    )
    for source, rule, error in visits:
        if rule is not None and rule_allows(rule, attrs):
            return Decision(True, f"RBAC: allowed by {source}")
        if error:
            errors.append(error)
    return Decision(False, f"RBAC: {_aggregate(errors)}" if errors else "")


def forbidden(attrs: Attributes, reason: str = "") -> ApiError:
    """The 403 the real server answers a refused request with."""
    user = attrs.user.name
    if not attrs.resource_request:
        message = f'forbidden: User "{user}" cannot {attrs.verb} path "{attrs.path}"'
        if reason:
            message += f": {reason}"
        return ApiError(403, "Forbidden", message, {})
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    what = f'User "{user}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.group}"'
    if attrs.namespace:
        what += f' in the namespace "{attrs.namespace}"'
    else:
        what += " at the cluster scope"
    if reason:
        what += f": {reason}"
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    details: Obj = {}
    if attrs.name:
        details["name"] = attrs.name
    if attrs.group:
        details["group"] = attrs.group
    details["kind"] = attrs.resource
    if attrs.name:
        return ApiError(
            403, "Forbidden", f'{qualified} "{attrs.name}" is forbidden: {what}', details
        )
    return ApiError(403, "Forbidden", f"{qualified} is forbidden: {what}", details)


def rules_for(store: Store, user: User, namespace: str) -> tuple[list[Obj], list[Obj], str]:
    """The resource rules, non-resource rules and evaluation error of a
    SelfSubjectRulesReview for `user` in `namespace`."""
    resource_rules: list[Obj] = []
    url_rules: list[Obj] = []
    errors: list[str] = []
    for _, rule, error in visit_rules(store, user, namespace):
        if error:
            errors.append(error)
        if rule is None:
            continue
        verbs = list(rule.get("verbs") or [])
        if rule.get("resources"):
            found: Obj = {"verbs": verbs}
            for key in ("apiGroups", "resources", "resourceNames"):
                if rule.get(key):
                    found[key] = list(rule[key])
            resource_rules.append(found)
        if rule.get("nonResourceURLs"):
            url_rules.append({"verbs": verbs, "nonResourceURLs": list(rule["nonResourceURLs"])})
    return resource_rules, url_rules, _aggregate(errors) if errors else ""
