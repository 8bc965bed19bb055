"""Who a request comes from: the kubeconfig's admin token, or a service account's token
minted by the TokenRequest subresource (`kubectl create token`). No I/O.

Service-account tokens are JSON Web Tokens with the claims a real cluster puts in them
(issuer, audiences, expiry, the account's namespace, name and uid), signed with a key
only this sandbox holds (HS256). A token is accepted while it has not expired, names the
API server among its audiences and its service account still exists with the same uid,
as the real server checks; anything else is a 401.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.store import ApiError, Obj, Store, now_rfc3339, rfc3339

#: the issuer and default audience of the tokens, as a kubeadm cluster names them
ISSUER = "https://kubernetes.default.svc.cluster.local"
DEFAULT_EXPIRATION_SECONDS = 3600
MIN_EXPIRATION_SECONDS = 600
MAX_EXPIRATION_SECONDS = 2**32
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
SA_PREFIX = "system:serviceaccount:"
CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"
_CACHE_LIMIT = 4096


@dataclass(frozen=True)
class User:
    """An authenticated identity: the name and groups RBAC bindings are matched on."""

    name: str
    groups: tuple[str, ...]
    uid: str = ""
    extra: dict[str, list[str]] = field(default_factory=dict, compare=False, hash=False)

    def as_user_info(self) -> Obj:
        info: Obj = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            info["uid"] = self.uid
        if self.extra:
            info["extra"] = self.extra
        return info


#: the kubeconfig's token: in system:masters, allowed everything without consulting RBAC
ADMIN = User("sandbox-admin", ("system:masters", AUTHENTICATED))
#: a request without credentials (allowed only the public health and version paths)
ANONYMOUS = User("system:anonymous", (UNAUTHENTICATED,))


def service_account_user(namespace: str, name: str, uid: str = "", jti: str = "") -> User:
    """The identity a service account's token authenticates as."""
    return User(
        f"{SA_PREFIX}{namespace}:{name}",
        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED),
        uid,
        {CREDENTIAL_ID: [f"JTI={jti}"]} if jti else {},
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class _Claims:
    namespace: str
    name: str
    uid: str
    jti: str
    expires: int
    audiences: tuple[str, ...]


class Tokens:
    """Mints and checks service-account tokens over one store."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self._key = secrets.token_bytes(32)
        self._kid = _b64(hashlib.sha256(self._key).digest()[:12])
        #: token -> its checked claims, so that a request does not verify a signature again
        self._seen: dict[str, _Claims] = {}

    def mint(
        self,
        namespace: str,
        name: str,
        expiration_seconds: int = DEFAULT_EXPIRATION_SECONDS,
        audiences: list[str] | None = None,
    ) -> tuple[str, int]:
        """A token for the service account `namespace/name` (which must exist) and the
        second it expires at."""
        account = self.store.peek("serviceaccounts", namespace, name)
        if account is None:
            raise ApiError(
                404,
                "NotFound",
                f'serviceaccounts "{name}" not found',
                {"name": name, "kind": "serviceaccounts"},
            )
        now = int(self.clock())
        expires = now + expiration_seconds
        claims = {
            "aud": audiences or [ISSUER],
            "exp": expires,
            "iat": now,
            "iss": ISSUER,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": {
                "namespace": namespace,
                "serviceaccount": {"name": name, "uid": account["metadata"]["uid"]},
            },
            "nbf": now,
            "sub": f"{SA_PREFIX}{namespace}:{name}",
        }
        header = {"alg": "HS256", "kid": self._kid, "typ": "JWT"}
        signed = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = hmac.new(self._key, signed.encode(), hashlib.sha256).digest()
        return f"{signed}.{_b64(signature)}", expires

    def _claims(self, token: str) -> _Claims | None:
        known = self._seen.get(token)
        if known is not None:
            return known
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            signature = _unb64(parts[2])
            body: Any = json.loads(_unb64(parts[1]))
        except ValueError:
            return None
        wanted = hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(signature, wanted) or not isinstance(body, dict):
            return None
        account = body["kubernetes.io"]
        claims = _Claims(
            account["namespace"],
            account["serviceaccount"]["name"],
            account["serviceaccount"]["uid"],
            body["jti"],
            int(body["exp"]),
            tuple(body["aud"]),
        )
        if len(self._seen) >= _CACHE_LIMIT:
            self._seen.clear()
        self._seen[token] = claims
        return claims

    def authenticate(self, token: str) -> User | None:
        """The user `token` stands for, or None when it is not (or no longer) valid."""
        claims = self._claims(token)
        if claims is None or claims.expires <= self.clock() or ISSUER not in claims.audiences:
            return None
        account = self.store.peek("serviceaccounts", claims.namespace, claims.name)
        if account is None or account["metadata"].get("uid") != claims.uid:
            return None
        if account["metadata"].get("deletionTimestamp"):
            return None
        return service_account_user(claims.namespace, claims.name, claims.uid, claims.jti)


def _invalid_request(name: str, field_path: str, value: object, what: str) -> ApiError:
    detail = f"Invalid value: {json.dumps(value)}: {what}"
    return ApiError(
        422,
        "Invalid",
        f'TokenRequest.authentication.k8s.io "{name}" is invalid: {field_path}: {detail}',
        {
            "name": name,
            "group": "authentication.k8s.io",
            "kind": "TokenRequest",
            "causes": [{"reason": "FieldValueInvalid", "message": detail, "field": field_path}],
        },
    )


def token_request(tokens: Tokens, namespace: str, name: str, body: Any) -> Obj:
    """The answer to POST .../serviceaccounts/{name}/token: the TokenRequest with its
    status (token and expirationTimestamp)."""
    if body is not None and not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "the request body must be a TokenRequest object")
    spec = (body or {}).get("spec") or {}
    seconds = spec.get("expirationSeconds")
    if seconds is None:
        seconds = DEFAULT_EXPIRATION_SECONDS
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise _invalid_request(name, "spec.expirationSeconds", seconds, "must be an integer")
    if seconds < MIN_EXPIRATION_SECONDS:
        raise _invalid_request(
            name,
            "spec.expirationSeconds",
            seconds,
            "may not specify a duration less than 10 minutes",
        )
    if seconds > MAX_EXPIRATION_SECONDS:
        raise _invalid_request(
            name,
            "spec.expirationSeconds",
            seconds,
            "may not specify a duration larger than 2^32 seconds",
        )
    audiences = spec.get("audiences") or [ISSUER]
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise _invalid_request(name, "spec.audiences", audiences, "must be a list of strings")
    token, expires = tokens.mint(namespace, name, seconds, audiences)
    return {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "creationTimestamp": now_rfc3339(tokens.clock),
        },
        "spec": {
            "audiences": audiences,
            "expirationSeconds": seconds,
            "boundObjectRef": spec.get("boundObjectRef"),
        },
        "status": {"token": token, "expirationTimestamp": rfc3339(expires)},
    }
