"""The typed policy: frozen specs built once by the loader. No I/O."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal, Protocol

from seal.frozen import frozen
from seal.policy.problems import Location

if TYPE_CHECKING:
    from seal.policy.background import BackgroundLoad
    from seal.policy.docnode import DocNode
    from seal.policy.schedule import Schedule
    from seal.policy.schema import Schema

RunStrategyName = Literal["round-robin", "random"]
ExitStrategyName = Literal["report", "fail-fast"]

#: Namespaces seal leaves alone unless a policy says otherwise.
DEFAULT_PROTECTED_NAMESPACES = ("kube-system",)


@frozen
class RunStrategy:
    """config.runStrategy: how scenarios are picked and how long to sleep between loops."""

    strategy: RunStrategyName = "round-robin"
    runs: int | None = None
    min_seconds: float = 0.0
    max_seconds: float = 300.0


@frozen
class ExitStrategy:
    """config.exitStrategy: report failures and go on, or stop at the first."""

    strategy: ExitStrategyName = "report"

    @property
    def fail_fast(self) -> bool:
        return self.strategy == "fail-fast"


@frozen
class Safety:
    """config.safety: dry run, protected namespaces and the per-step target limit."""

    dry_run: bool = False
    protected_namespaces: tuple[str, ...] = DEFAULT_PROTECTED_NAMESPACES
    max_targets_per_step: int | None = None
    fail_on_empty_match: bool = False


@frozen
class Config:
    """The policy's config section, with every default filled in."""

    run_strategy: RunStrategy = RunStrategy()
    exit_strategy: ExitStrategy = ExitStrategy()
    safety: Safety = Safety()
    #: config.schedule: when chaos may run (None: at any time)
    schedule: Schedule | None = None


class StepSpec(Protocol):
    """What every step's spec has: its policy key and where it was written."""

    key: ClassVar[str]

    @property
    def location(self) -> Location: ...


class StepBuilder(Protocol):
    """What the loader needs of a step type: its key, its schema fragment, its builder."""

    @property
    def key(self) -> str: ...

    @property
    def schema(self) -> Schema: ...

    def build(self, node: DocNode) -> StepSpec:
        """The step's spec from its schema-valid body; semantic problems go on `node`."""
        ...


@frozen
class SteadyState:
    """A scenario's steady-state hypothesis: probes that must pass before and after it."""

    title: str
    probes: tuple[StepSpec, ...]
    location: Location = Location("-")


@frozen
class ScenarioSpec:
    """One scenario: a name and its steps, run in order."""

    name: str
    steps: tuple[StepSpec, ...]
    description: str = ""
    location: Location = Location("-")
    steady_state: SteadyState | None = None
    #: steps run once the steps started, whatever became of them, before the undos
    #: (`rollbacks:`, as a Chaos Toolkit experiment's rollbacks)
    rollbacks: tuple[StepSpec, ...] = ()
    #: simulated users sending requests while the steps run (`background:`)
    background: BackgroundLoad | None = None
    #: probes polled while the steps run; one failing aborts the scenario (`abortWhen:`)
    abort_when: tuple[StepSpec, ...] = ()
    abort_check_seconds: float = 5.0


@frozen
class Policy:
    """A whole validated policy, with the warnings loading it produced."""

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
