"""The `alertManagerAction` step: silence alerts for the duration of a scenario."""

from __future__ import annotations

from typing import ClassVar

from seal.errors import StepFailed
from seal.frozen import frozen
from seal.outcomes import StepOutcome
from seal.policy.docnode import DocNode
from seal.policy.problems import Location
from seal.policy.schema import array, boolean, number, obj, one_key, string
from seal.steps.base import RetriesSpec, StepContext, StepType
from seal.steps.pipeline import RETRIES_SCHEMA, build_retries


@frozen
class MuteAction:
    """Silence matching alerts for a while."""

    duration_seconds: int
    auto_unmute: bool


@frozen
class AlertManagerSpec:
    """The alertManagerAction step."""

    key: ClassVar[str] = "alertManagerAction"
    targets: tuple[str, ...]
    actions: tuple[MuteAction, ...]
    location: Location
    http_proxy: str | None = None
    https_proxy: str | None = None
    retries: RetriesSpec | None = None


def build(node: DocNode) -> AlertManagerSpec:
    targets = []
    for target in node.children("targets"):
        url = str(target.get("url"))
        if not url.startswith(("http://", "https://")):
            target.child("url").problem(f"'{url}' is not an http:// or https:// URL")
        targets.append(url.rstrip("/"))
    actions = tuple(
        MuteAction(
            int(a.child("mute").get("duration", 3600)),
            bool(a.child("mute").get("autoUnmute", True)),
        )
        for a in node.children("actions")
    )
    proxies = node.child("proxies")
    return AlertManagerSpec(
        targets=tuple(targets),
        actions=actions,
        location=node.location,
        http_proxy=proxies.get("http"),
        https_proxy=proxies.get("https"),
        retries=build_retries(node.child("retries")),
    )


def run(spec: AlertManagerSpec, ctx: StepContext) -> StepOutcome:
    """Not available in this version of seal: the step fails, touching nothing."""
    raise StepFailed(
        f"the {spec.key} step (line {spec.location.line}) is not available in this version "
        "of seal; nothing was changed"
    )


STEP = StepType(
    spec=AlertManagerSpec,
    key="alertManagerAction",
    schema=obj(
        {
            "targets": array(
                obj({"url": string("Alertmanager base URL", minLength=1)}, required=["url"]),
                minItems=1,
            ),
            "actions": array(
                one_key(
                    "action",
                    {
                        "mute": obj(
                            {
                                "duration": number(
                                    "seconds", integer=True, minimum=60, maximum=86400
                                ),
                                "autoUnmute": boolean("expire it at cleanup", default=True),
                            },
                            required=["duration"],
                        )
                    },
                ),
                minItems=1,
            ),
            "proxies": obj({"http": string(), "https": string()}),
            "retries": RETRIES_SCHEMA,
        },
        required=["targets", "actions"],
        description="silence every alert of Alertmanagers during the scenario",
    ),
    builder=build,
    runner=run,
    retries_of=lambda spec: spec.retries,
)
