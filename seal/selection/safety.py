"""Safety rules: what seal must never touch, and how many targets a step may have.

Pure logic; the caller supplies the environment and the protected namespaces it
looked up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from seal.errors import SafetyError, StepFailed
from seal.model import Node, Pod

PROTECTED_LABEL = "seal/protected"


def is_protected_label(labels: Mapping[str, str]) -> bool:
    return labels.get(PROTECTED_LABEL, "").strip().lower() == "true"


class SafetySettings(Protocol):
    """Safety as a policy's config.safety or the command line's flags state it."""

    @property
    def dry_run(self) -> bool: ...

    @property
    def protected_namespaces(self) -> Sequence[str]: ...

    @property
    def max_targets_per_step(self) -> int | None: ...

    @property
    def fail_on_empty_match(self) -> bool: ...


@dataclass(frozen=True)
class SafetyRules:
    """What is off limits. `own_*` come from the downward API (POD_NAME, NODE_NAME, HOST_IP)."""

    own_pod_name: str = ""
    own_pod_namespace: str = ""
    own_node_name: str = ""
    own_host_ip: str = ""
    protected_namespaces: frozenset[str] = field(default_factory=frozenset)
    max_targets_per_step: int | None = None
    dry_run: bool = False
    fail_on_empty_match: bool = False

    @classmethod
    def from_environment(
        cls,
        environ: Mapping[str, str],
        *,
        protected_namespaces: Iterable[str] = (),
        max_targets_per_step: int | None = None,
        dry_run: bool = False,
        fail_on_empty_match: bool = False,
    ) -> SafetyRules:
        return cls(
            own_pod_name=environ.get("POD_NAME", ""),
            own_pod_namespace=environ.get("POD_NAMESPACE", ""),
            own_node_name=environ.get("NODE_NAME", ""),
            own_host_ip=environ.get("HOST_IP", ""),
            protected_namespaces=frozenset(protected_namespaces),
            max_targets_per_step=max_targets_per_step,
            dry_run=dry_run,
            fail_on_empty_match=fail_on_empty_match,
        )

    @classmethod
    def merge(
        cls, policy: SafetySettings, flags: SafetySettings, environ: Mapping[str, str]
    ) -> SafetyRules:
        """The rules of a run: the policy's, tightened by the flags, plus seal's own pod
        and node from the downward API. Flags only ever add protection."""
        limits = [
            limit
            for limit in (flags.max_targets_per_step, policy.max_targets_per_step)
            if limit is not None
        ]
        return cls.from_environment(
            environ,
            protected_namespaces=set(flags.protected_namespaces)
            | set(policy.protected_namespaces),
            max_targets_per_step=min(limits) if limits else None,
            dry_run=flags.dry_run or policy.dry_run,
            fail_on_empty_match=flags.fail_on_empty_match or policy.fail_on_empty_match,
        )

    def pod_protection(self, pod: Pod, labelled_namespaces: frozenset[str]) -> str | None:
        """Why `pod` must not be touched, or None when it may be."""
        if (
            self.own_pod_name
            and pod.name == self.own_pod_name
            and (not self.own_pod_namespace or pod.namespace == self.own_pod_namespace)
        ):
            return "it is seal's own pod"
        if pod.namespace in self.protected_namespaces:
            return f"namespace {pod.namespace} is in protectedNamespaces"
        if pod.namespace in labelled_namespaces:
            return f"namespace {pod.namespace} is labelled {PROTECTED_LABEL}=true"
        if is_protected_label(pod.labels):
            return f"it is labelled {PROTECTED_LABEL}=true"
        return None

    def node_protection(self, node: Node) -> str | None:
        """Why `node` must not be touched, or None when it may be."""
        if self.own_node_name and node.name == self.own_node_name:
            return "seal runs on it"
        if self.own_host_ip and node.ip == self.own_host_ip:
            return "seal runs on it (HOST_IP)"
        if is_protected_label(node.labels):
            return f"it is labelled {PROTECTED_LABEL}=true"
        return None

    def empty_match(self, log: logging.Logger, reason: str) -> None:
        """A matcher found nothing: a warning saying why, or with failOnEmptyMatch a
        `SafetyError` that fails the step."""
        if self.fail_on_empty_match:
            raise StepFailed(f"{reason} (config.safety.failOnEmptyMatch is on)")
        log.warning("%s", reason, extra={"outcome": "empty-match"})

    def check_target_count(self, count: int, what: str) -> None:
        """Raise `SafetyError` when a step is left with more targets than allowed."""
        limit = self.max_targets_per_step
        if limit is not None and count > limit:
            raise SafetyError(
                f"{count} {what} selected, more than maxTargetsPerStep={limit}; nothing was "
                "touched. Narrow the matchers or filters, or raise config.safety.maxTargetsPerStep"
            )


def screen_pods(
    pods: Sequence[Pod], rules: SafetyRules, labelled_namespaces: frozenset[str]
) -> tuple[list[Pod], list[tuple[Pod, str]]]:
    """Split pods into those seal may touch and those it must not (with the reason)."""
    kept: list[Pod] = []
    removed: list[tuple[Pod, str]] = []
    for pod in pods:
        reason = rules.pod_protection(pod, labelled_namespaces)
        if reason is None:
            kept.append(pod)
        else:
            removed.append((pod, reason))
    return kept, removed


def screen_nodes(
    nodes: Sequence[Node], rules: SafetyRules
) -> tuple[list[Node], list[tuple[Node, str]]]:
    """Split nodes into those seal may touch and those it must not (with the reason)."""
    kept: list[Node] = []
    removed: list[tuple[Node, str]] = []
    for node in nodes:
        reason = rules.node_protection(node)
        if reason is None:
            kept.append(node)
        else:
            removed.append((node, reason))
    return kept, removed


def log_left_alone(
    log: logging.Logger,
    removed: Iterable[tuple[Pod | Node, str]],
    *,
    level: int = logging.INFO,
) -> None:
    """One structured line for each target the safety rules took out of a step."""
    for target, reason in removed:
        name = target.key if isinstance(target, Pod) else f"node {target.name}"
        log.log(
            level,
            "leaving %s alone: %s",
            name,
            reason,
            extra={
                "target": target.key if isinstance(target, Pod) else target.name,
                "action": "skip",
                "outcome": "protected",
                "reason": reason,
            },
        )
