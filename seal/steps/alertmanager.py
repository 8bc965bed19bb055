"""The `alertManagerAction` step: silence alerts for the duration of a scenario."""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

from seal.errors import ProbeError, StepFailed
from seal.frozen import frozen
from seal.model import ProbeRequest
from seal.outcomes import StepOutcome
from seal.policy.docnode import DocNode
from seal.policy.problems import Location
from seal.policy.schema import array, boolean, number, obj, one_key, string
from seal.steps.base import RetriesSpec, StepContext, StepType
from seal.steps.pipeline import RETRIES_SCHEMA, build_retries

log = logging.getLogger(__name__)


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


SILENCE_UNDO = "alertmanager-expire-silence"
#: per request to an Alertmanager
TIMEOUT_SECONDS = 10.0


def _proxy(spec: AlertManagerSpec, url: str) -> str | None:
    return spec.https_proxy if url.startswith("https://") else spec.http_proxy


def _call(ctx: StepContext, method: str, url: str, proxy: str | None, body: object = None) -> Any:
    """One Alertmanager API call; its JSON answer, or `StepFailed` saying what went wrong."""
    request = ProbeRequest(
        method,
        url,
        (("Content-Type", "application/json"), ("Accept", "application/json")),
        None if body is None else json.dumps(body),
        TIMEOUT_SECONDS,
        proxy,
    )
    try:
        answer = ctx.prober.send(request)
    except ProbeError as exc:
        raise StepFailed(f"Alertmanager {method.upper()} {url}: {exc}") from exc
    if not 200 <= answer.status < 300:
        text = answer.body.decode(errors="replace").strip()[:500]
        raise StepFailed(f"Alertmanager {method.upper()} {url}: {answer.status} {text}")
    try:
        return json.loads(answer.body) if answer.body.strip() else None
    except ValueError as exc:
        raise StepFailed(f"Alertmanager {method.upper()} {url}: not JSON: {exc}") from exc


def _stamp(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _silence(spec: AlertManagerSpec, mute: MuteAction, target: str, ctx: StepContext) -> str | None:
    """Silence every alert of one Alertmanager; the silence's ID (None in a dry run)."""
    proxy = _proxy(spec, target)
    if ctx.dry_run:
        _call(ctx, "get", f"{target}/api/v2/status", proxy)
        log.info(
            "dry run: would silence every alert of %s for %ds",
            target,
            mute.duration_seconds,
            extra={"target": target, "action": "mute", "outcome": "dry-run"},
        )
        return None
    # Marked so that an undo recorded before the silence exists can find it.
    marker = uuid.uuid4().hex
    comment = f"seal scenario {ctx.scenario!r}: planned chaos (seal-run {marker})"
    pending = None
    if mute.auto_unmute:
        pending = ctx.undo.record(
            SILENCE_UNDO,
            {"url": target, "proxy": proxy, "marker": marker},
            f"expire the silence seal made on {target}",
        )
    now = ctx.clock.now()
    answer = _call(
        ctx,
        "post",
        f"{target}/api/v2/silences",
        proxy,
        {
            "matchers": [{"name": "alertname", "value": ".+", "isRegex": True, "isEqual": True}],
            "startsAt": _stamp(now),
            "endsAt": _stamp(now + mute.duration_seconds),
            "createdBy": "seal",
            "comment": comment,
        },
    )
    silence_id = str((answer or {}).get("silenceID", ""))
    if pending is not None and silence_id:
        ctx.undo.record(
            SILENCE_UNDO,
            {"url": target, "proxy": proxy, "marker": marker, "id": silence_id},
            f"expire silence {silence_id} on {target}",
        )
        ctx.undo.discard(pending)
    log.info(
        "silenced every alert of %s for %ds (silence %s)%s",
        target,
        mute.duration_seconds,
        silence_id,
        "" if mute.auto_unmute else "; it stays until it ends (autoUnmute: false)",
        extra={"target": target, "action": "mute", "outcome": "success"},
    )
    return silence_id


def run(spec: AlertManagerSpec, ctx: StepContext) -> StepOutcome:
    silenced = 0
    for mute in spec.actions:
        for target in spec.targets:
            if _silence(spec, mute, target, ctx) is not None:
                silenced += 1
    if ctx.dry_run:
        return StepOutcome.passed("dry run: every Alertmanager answered")
    return StepOutcome.passed(f"{silenced} silence(s) made", targets=silenced)


def undo_silence(payload: Mapping[str, Any], ctx: StepContext) -> None:
    """Expire the silence seal made (found by its ID, or by its marker when seal stopped
    before it learnt the ID); one already expired or gone is fine."""
    url, proxy = str(payload["url"]), payload.get("proxy")
    ids = [str(payload["id"])] if payload.get("id") else []
    if not ids:
        marker = str(payload.get("marker", ""))
        silences = _call(ctx, "get", f"{url}/api/v2/silences", proxy) or []
        ids = [
            str(s.get("id"))
            for s in silences
            if marker
            and marker in str(s.get("comment", ""))
            and (s.get("status") or {}).get("state") != "expired"
        ]
    for silence_id in ids:
        try:
            _call(ctx, "delete", f"{url}/api/v2/silence/{silence_id}", proxy)
        except StepFailed as exc:
            if " 404 " not in f"{exc} " and "already expired" not in str(exc):
                raise
        log.info("expired silence %s on %s", silence_id, url)


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
    description="silence every alert of Alertmanagers for the scenario",
    undo_handlers={SILENCE_UNDO: undo_silence},
    retries_of=lambda spec: spec.retries,
)
