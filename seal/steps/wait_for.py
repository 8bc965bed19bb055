"""The `waitFor` step: poll a probe until its tolerance holds, or fail at the timeout.

The time it took goes to the `seal_wait_for_seconds{scenario,step}` histogram and
into the step's outcome: this is how an SLO such as "ready again within 30 s" is
written.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from seal.errors import StepFailed
from seal.frozen import frozen
from seal.outcomes import StepOutcome
from seal.policy.docnode import DocNode
from seal.policy.model import StepSpec
from seal.policy.problems import Location
from seal.policy.schema import number, obj, one_key, string
from seal.steps import probe_deployment, probe_http, probe_logs, probe_pods, probe_prometheus
from seal.steps.base import ApiCall, StepContext, StepType

log = logging.getLogger(__name__)

#: the steps a waitFor can poll
PROBES: dict[str, StepType[Any]] = {
    step.key: step
    for step in (
        probe_http.STEP,
        probe_pods.STEP,
        probe_deployment.STEP,
        probe_prometheus.STEP,
        probe_logs.STEP,
    )
}
#: a bound on the checks of one wait, whatever its timeout and interval
MAX_CHECKS = 100_000


@frozen
class WaitForSpec:
    """Run `probe` every `interval` seconds until it passes; fail after `timeout` seconds."""

    key: ClassVar[str] = "waitFor"
    probe: StepSpec
    timeout: float
    interval: float
    name: str
    location: Location


def build(node: DocNode) -> WaitForSpec:
    key, body = node.child("probe").only_key()
    timeout, interval = float(node.get("timeout", 60)), float(node.get("interval", 1))
    if interval > timeout:
        node.child("interval").problem(
            f"interval ({interval:g} s) is longer than timeout ({timeout:g} s)", warning=True
        )
    probe = PROBES[key].build(body) if key in PROBES else _missing(node)
    return WaitForSpec(
        probe=probe,
        timeout=timeout,
        interval=interval,
        name=str(node.get("name", f"{key or 'probe'}@line{_step_line(node)}")),
        location=node.location,
    )


def _step_line(node: DocNode) -> int:
    """The line of the step (`- waitFor:`), where its body may start below."""
    return DocNode(node.doc, node.path[:-1], None).location.line


@frozen
class _NoProbe:
    """Stands in for a probe the schema rejected (the spec is never run)."""

    key: ClassVar[str] = "probe"
    location: Location


def _missing(node: DocNode) -> StepSpec:
    return _NoProbe(node.location)


def run(spec: WaitForSpec, ctx: StepContext) -> StepOutcome:
    probe = PROBES[spec.probe.key]
    clock = ctx.clock
    started = clock.monotonic()
    deadline = started + spec.timeout
    last = "not checked"
    for check in range(1, MAX_CHECKS + 1):
        try:
            outcome = probe.run(spec.probe, ctx)
        except StepFailed as exc:
            # Out of tolerance: polled again. Any other error (the API refusing the
            # request, say) will not go away by waiting, and fails the step at once.
            last = str(exc)
        else:
            if outcome.result == "passed":
                waited = clock.monotonic() - started
                ctx.metrics.wait_for_seconds(ctx.scenario, spec.name, waited)
                log.info(
                    "waitFor %s: held after %.1fs (%d check(s))",
                    spec.name,
                    waited,
                    check,
                    extra={"action": "waitFor", "outcome": "success"},
                )
                return StepOutcome(
                    "passed",
                    f"held after {waited:.1f}s ({check} check(s)): {outcome.reason}",
                    seconds=waited,
                )
            last = outcome.reason
            if ctx.dry_run:
                return StepOutcome.skipped(f"dry run: does not hold now: {last}")
        remaining = deadline - clock.monotonic()
        if remaining <= 0:
            break
        clock.sleep(min(spec.interval, remaining))
    waited = clock.monotonic() - started
    raise StepFailed(
        f"waitFor {spec.name}: did not hold within {spec.timeout:g}s "
        f"(waited {waited:.1f}s); last: {last}"
    )


def api_calls(spec: WaitForSpec) -> tuple[ApiCall, ...]:
    return PROBES[spec.probe.key].calls(spec.probe) if spec.probe.key in PROBES else ()


DESCRIPTION = "poll a probe until its tolerance holds; fail at the timeout"
STEP = StepType(
    key="waitFor",
    spec=WaitForSpec,
    schema=obj(
        {
            "probe": one_key(
                "probe",
                {key: step.schema for key, step in PROBES.items()},
                description="the probe polled: exactly one of " + ", ".join(PROBES),
            ),
            "timeout": number("seconds before the step fails", minimum=0),
            "interval": number("seconds between two checks", exclusiveMinimum=0),
            "name": string(
                "the step label of seal_wait_for_seconds (default: probe@line<N>)", minLength=1
            ),
        },
        required=["probe", "timeout"],
        description=DESCRIPTION,
    ),
    builder=build,
    runner=run,
    description=DESCRIPTION,
    api_calls=api_calls,
)
