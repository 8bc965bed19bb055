"""The review kinds: `authorization.k8s.io/v1` SelfSubjectAccessReview,
SelfSubjectRulesReview, SubjectAccessReview and LocalSubjectAccessReview, and
`authentication.k8s.io/v1` SelfSubjectReview (`kubectl auth can-i [--list]`,
`kubectl auth whoami`). Each is answered from RBAC and never stored. No I/O.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from sandbox.authn import User
from sandbox.rbac import Attributes, authorize, rules_for
from sandbox.store import ApiError, Obj, Store, now_rfc3339

AUTHORIZATION = "authorization.k8s.io"
AUTHENTICATION = "authentication.k8s.io"
#: plural -> (kind, group)
REVIEWS = {
    "selfsubjectaccessreviews": ("SelfSubjectAccessReview", AUTHORIZATION),
    "selfsubjectrulesreviews": ("SelfSubjectRulesReview", AUTHORIZATION),
    "subjectaccessreviews": ("SubjectAccessReview", AUTHORIZATION),
    "localsubjectaccessreviews": ("LocalSubjectAccessReview", AUTHORIZATION),
    "selfsubjectreviews": ("SelfSubjectReview", AUTHENTICATION),
}


def _invalid(kind: str, group: str, field_path: str, value: object, what: str) -> ApiError:
    detail = f"Invalid value: {json.dumps(value)}: {what}"
    return ApiError(
        422,
        "Invalid",
        f'{kind}.{group} "" is invalid: {field_path}: {detail}',
        {
            "group": group,
            "kind": kind,
            "causes": [{"reason": "FieldValueInvalid", "message": detail, "field": field_path}],
        },
    )


def _text(attributes: Obj, key: str) -> str:
    value = attributes.get(key)
    return value if isinstance(value, str) else ""


def _attributes(kind: str, spec: Obj, user: User) -> Attributes:
    """The request a review asks about, checked as the real server validates it."""
    resource = spec.get("resourceAttributes")
    non_resource = spec.get("nonResourceAttributes")
    if resource is not None and non_resource is not None:
        raise _invalid(
            kind,
            AUTHORIZATION,
            "spec.nonResourceAttributes",
            non_resource,
            "cannot be specified in combination with resourceAttributes",
        )
    if isinstance(non_resource, dict):
        return Attributes(user, _text(non_resource, "verb"), False, _text(non_resource, "path"))
    if not isinstance(resource, dict):
        raise _invalid(
            kind,
            AUTHORIZATION,
            "spec.resourceAttributes",
            None,
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )
    return Attributes(
        user,
        _text(resource, "verb"),
        True,
        "",
        _text(resource, "group"),
        _text(resource, "version"),
        _text(resource, "resource"),
        _text(resource, "subresource"),
        _text(resource, "namespace"),
        _text(resource, "name"),
    )


def _subject(spec: Obj) -> User:
    """The user a SubjectAccessReview asks about (no groups are added to it)."""
    name = spec.get("user") or ""
    groups = spec.get("groups") or []
    if not name and not groups:
        raise _invalid(
            "SubjectAccessReview",
            AUTHORIZATION,
            "spec.user",
            "",
            "at least one of user or group must be specified",
        )
    return User(str(name), tuple(str(g) for g in groups), str(spec.get("uid") or ""))


def _access_review(store: Store, plural: str, spec: Obj, user: User, namespace: str) -> Obj:
    kind = REVIEWS[plural][0]
    subject = user if plural == "selfsubjectaccessreviews" else _subject(spec)
    attrs = _attributes(kind, spec, subject)
    if plural == "localsubjectaccessreviews":
        if not attrs.resource_request or attrs.namespace not in ("", namespace):
            raise _invalid(
                kind,
                AUTHORIZATION,
                "spec.resourceAttributes.namespace",
                attrs.namespace,
                "must match metadata.namespace",
            )
        attrs = dataclasses.replace(attrs, namespace=namespace)
    decision = authorize(store, attrs)
    status: Obj = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    return status


def review(store: Store, plural: str, body: Any, user: User, namespace: str = "") -> Obj:
    """The answer to a POST of the review `plural` by `user`."""
    kind, group = REVIEWS[plural]
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", f"the request body must be a {kind} object")
    if body.get("kind") not in (None, kind):
        raise ApiError(
            400, "BadRequest", f"the body is a {body.get('kind')}, but the URL is for {plural}"
        )
    spec = body.get("spec") or {}
    if not isinstance(spec, dict):
        raise ApiError(400, "BadRequest", "spec must be an object")
    meta: Obj = {"creationTimestamp": None}
    if namespace:
        meta["namespace"] = namespace
    answer: Obj = {"kind": kind, "apiVersion": f"{group}/v1", "metadata": meta}
    if plural == "selfsubjectreviews":
        answer["metadata"] = {"creationTimestamp": now_rfc3339(store.clock)}
        answer["status"] = {"userInfo": user.as_user_info()}
    elif plural == "selfsubjectrulesreviews":
        wanted = spec.get("namespace")
        if not wanted or not isinstance(wanted, str):
            raise ApiError(400, "BadRequest", "no namespace on request")
        resource_rules, url_rules, error = rules_for(store, user, wanted)
        status: Obj = {
            "resourceRules": resource_rules,
            "nonResourceRules": url_rules,
            "incomplete": False,
        }
        if error:
            status["evaluationError"] = error
        answer["spec"] = {}
        answer["status"] = status
    else:
        answer["spec"] = spec
        answer["status"] = _access_review(store, plural, spec, user, namespace)
    return answer
