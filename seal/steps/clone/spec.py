"""What a clone step says: its spec, schema fragment and builder. No I/O."""

from __future__ import annotations

import re
from typing import ClassVar

from seal.frozen import frozen
from seal.policy.docnode import DocNode
from seal.policy.problems import Location
from seal.policy.schema import MAX_EXACT, Schema, array, number, obj, one_key, string

DEFAULT_TC_IMAGE = "gaiadocker/iproute2:latest"
#: an image holding both a shell and iptables
DEFAULT_IPTABLES_IMAGE = "nicolaka/netshoot:v0.13"
DEFAULT_TOXIPROXY_IMAGE = "ghcr.io/shopify/toxiproxy:2.9.0"
DEFAULT_TOXIPROXY_CLI = "/toxiproxy-cli"
TOXIC_TYPES = (
    "latency",
    "bandwidth",
    "slow_close",
    "timeout",
    "slicer",
    "limit_data",
    "reset_peer",
)
_AUTO_PROXY = re.compile(r"^(auto)?(\d{1,5})$")


@frozen
class ObjectRef:
    """A Deployment named by name and namespace."""

    name: str
    namespace: str


@frozen
class LabelSpec:
    """A label set on the clone."""

    key: str
    value: str


@frozen
class EnvironmentMutation:
    """Mutation: set an environment variable in the clone's containers."""

    name: str
    value: str


@frozen
class TcMutation:
    """Mutation: a tc command, run from its own image and user, that shapes the clone's traffic."""

    command: tuple[str, ...]
    args: tuple[str, ...]
    image: str = DEFAULT_TC_IMAGE
    user: int = 0


@frozen
class Toxic:
    """One Toxiproxy toxic, applied to one proxy."""

    target_proxy: str  # a proxy name; a bare port N was turned into autoN
    toxic_type: str
    attributes: tuple[tuple[str, str | int | float], ...]


@frozen
class ProxySpec:
    """One Toxiproxy proxy: where it listens and where it forwards."""

    name: str
    listen: str
    upstream: str


@frozen
class ToxiproxyMutation:
    """Mutation: a Toxiproxy sidecar with its proxies and toxics."""

    toxics: tuple[Toxic, ...]
    proxies: tuple[ProxySpec, ...] = ()
    image_toxiproxy: str = DEFAULT_TOXIPROXY_IMAGE
    image_iptables: str = DEFAULT_IPTABLES_IMAGE
    toxiproxy_cli: str = DEFAULT_TOXIPROXY_CLI
    user: int = 0


Mutation = EnvironmentMutation | TcMutation | ToxiproxyMutation


@frozen
class CloneSpec:
    """The clone step: copy a Deployment and change the copy."""

    key: ClassVar[str] = "clone"
    source: ObjectRef
    location: Location
    replicas: int = 1
    labels: tuple[LabelSpec | ObjectRef, ...] = ()  # an ObjectRef copies a service's selector
    services_to_retarget: tuple[ObjectRef, ...] = ()
    mutations: tuple[Mutation, ...] = ()


def _ref(node: DocNode) -> ObjectRef:
    return ObjectRef(str(node.get("name")), str(node.get("namespace")))


def _toxics(node: DocNode) -> tuple[Toxic, ...]:
    proxies = {str(p.get("name")) for p in node.children("proxies")}
    toxics = []
    for toxic in node.children("toxics"):
        raw = str(toxic.get("targetProxy"))
        auto = _AUTO_PROXY.match(raw)
        target = f"auto{auto.group(2)}" if auto else raw
        if auto and not 1 <= int(auto.group(2)) <= 65535:
            toxic.child("targetProxy").problem(f"'{raw}': a port must be between 1 and 65535")
        elif not auto and raw not in proxies:
            known = ", ".join(sorted(proxies)) or "none"
            toxic.child("targetProxy").problem(
                f"'{raw}' is neither a port ('auto<port>' or a number) nor one of the proxies "
                f"declared under 'proxies' ({known})"
            )
        attributes = tuple(
            (str(a.get("name")), a.get("value")) for a in toxic.children("toxicAttributes")
        )
        toxics.append(Toxic(target, str(toxic.get("toxicType")), attributes))
    return tuple(toxics)


def _mutation(node: DocNode) -> Mutation:
    key, body = node.only_key()
    if key == "environment":
        return EnvironmentMutation(str(body.get("name")), str(body.get("value", "")))
    if key == "tc":
        return TcMutation(
            tuple(str(c) for c in body.get("command", [])),
            tuple(str(a) for a in body.get("args", [])),
            str(body.get("image", DEFAULT_TC_IMAGE)),
            int(body.get("user", 0)),
        )
    return ToxiproxyMutation(
        toxics=_toxics(body),
        proxies=tuple(
            ProxySpec(str(p.get("name")), str(p.get("listen")), str(p.get("upstream")))
            for p in body.children("proxies")
        ),
        image_toxiproxy=str(body.get("imageToxiproxy", DEFAULT_TOXIPROXY_IMAGE)),
        image_iptables=str(body.get("imageIptables", DEFAULT_IPTABLES_IMAGE)),
        toxiproxy_cli=str(body.get("toxiproxyCli", DEFAULT_TOXIPROXY_CLI)),
        user=int(body.get("user", 0)),
    )


def _label(node: DocNode) -> LabelSpec | ObjectRef:
    key, body = node.only_key()
    if key == "label":
        return LabelSpec(str(body.get("key")), str(body.get("value")))
    return _ref(body)


def build(node: DocNode) -> CloneSpec:
    toxiproxies = [n for n in node.children("mutations") if n.only_key()[0] == "toxiproxy"]
    for extra in toxiproxies[1:]:
        extra.problem(
            "a clone has one Toxiproxy sidecar: put every toxic and proxy in one toxiproxy mutation"
        )
    return CloneSpec(
        source=_ref(node.child("source").child("deployment")),
        location=node.location,
        replicas=int(node.get("replicas", 1)),
        labels=tuple(_label(n) for n in node.children("labels")),
        services_to_retarget=tuple(
            _ref(n.child("service")) for n in node.children("servicesToRetarget")
        ),
        mutations=tuple(_mutation(n) for n in node.children("mutations")),
    )


_REF = obj(
    {"name": string(minLength=1), "namespace": string(minLength=1)},
    required=["name", "namespace"],
)
#: a value handed on as text: any number a float holds exactly (quote longer ones)
_SCALAR: Schema = {"type": ["string", "number"], "minimum": -MAX_EXACT, "maximum": MAX_EXACT}

MUTATIONS = one_key(
    "mutation",
    {
        "environment": obj(
            {
                "name": string(minLength=1),
                "value": {**_SCALAR, "type": ["string", "number", "boolean"]},
            },
            required=["name", "value"],
            description="set an environment variable in every container of the clone",
        ),
        "tc": obj(
            {
                "command": array(string(), minItems=1),
                "args": array(_SCALAR),
                "image": string("an image holding tc"),
                "user": number("uid", integer=True, minimum=0),
            },
            required=["command"],
            description="run tc in an init container with NET_ADMIN",
        ),
        "toxiproxy": obj(
            {
                "toxics": array(
                    obj(
                        {
                            "targetProxy": {"type": ["string", "integer"]},
                            "toxicType": string(enum=list(TOXIC_TYPES)),
                            "toxicAttributes": array(
                                obj(
                                    {"name": string(minLength=1), "value": _SCALAR},
                                    required=["name", "value"],
                                )
                            ),
                        },
                        required=["targetProxy", "toxicType"],
                    )
                ),
                "proxies": array(
                    obj(
                        {"name": string(minLength=1), "listen": string(), "upstream": string()},
                        required=["name", "listen", "upstream"],
                    )
                ),
                "imageToxiproxy": string(),
                "imageIptables": string(),
                "toxiproxyCli": string(),
                "user": number(integer=True, minimum=0),
            },
            description="route every port of the clone through a Toxiproxy sidecar",
        ),
    },
)

SCHEMA = obj(
    {
        "source": obj({"deployment": _REF}, required=["deployment"]),
        "replicas": number("replicas of the clone", integer=True, minimum=0),
        "labels": array(
            one_key(
                "label source",
                {
                    "label": obj(
                        {"key": string(minLength=1), "value": string()},
                        required=["key", "value"],
                    ),
                    "service": _REF,
                },
            )
        ),
        "servicesToRetarget": array(obj({"service": _REF}, required=["service"])),
        "mutations": array(MUTATIONS),
    },
    required=["source"],
    description="copy a Deployment and inject failure into the copy",
)
