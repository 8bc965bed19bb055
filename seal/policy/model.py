"""The typed policy: frozen specs built once by the loader. No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal, Protocol

from seal.policy.problems import Location

RunStrategyName = Literal["round-robin", "random"]
ExitStrategyName = Literal["report", "fail-fast"]

#: Namespaces seal leaves alone unless a policy says otherwise.
DEFAULT_PROTECTED_NAMESPACES = ("kube-system",)


@dataclass(frozen=True)
class RunStrategy:
    strategy: RunStrategyName = "round-robin"
    runs: int | None = None
    min_seconds: float = 0.0
    max_seconds: float = 300.0


@dataclass(frozen=True)
class ExitStrategy:
    strategy: ExitStrategyName = "report"

    @property
    def fail_fast(self) -> bool:
        return self.strategy == "fail-fast"


@dataclass(frozen=True)
class Safety:
    dry_run: bool = False
    protected_namespaces: tuple[str, ...] = DEFAULT_PROTECTED_NAMESPACES
    max_targets_per_step: int | None = None


@dataclass(frozen=True)
class Config:
    run_strategy: RunStrategy = field(default_factory=RunStrategy)
    exit_strategy: ExitStrategy = field(default_factory=ExitStrategy)
    safety: Safety = field(default_factory=Safety)


class StepSpec(Protocol):
    """What every step's spec has: its policy key and where it was written."""

    key: ClassVar[str]

    @property
    def location(self) -> Location: ...


@dataclass(frozen=True)
class ScenarioSpec:
    name: str
    steps: tuple[StepSpec, ...]
    description: str = ""
    location: Location = field(default_factory=lambda: Location("-"))


@dataclass(frozen=True)
class Policy:
    source: str
    config: Config
    scenarios: tuple[ScenarioSpec, ...]
    warnings: tuple[str, ...] = ()

    @property
    def run_strategy(self) -> RunStrategy:
        return self.config.run_strategy

    @property
    def fail_fast(self) -> bool:
        return self.config.exit_strategy.fail_fast

    @property
    def safety(self) -> Safety:
        return self.config.safety
