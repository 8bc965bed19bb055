"""The one exception tree of seal. No I/O.

Adapters re-raise third-party errors as one of these, `from` the original, with
the reason in the message; the CLI turns them into messages and exit codes.
"""

from __future__ import annotations


class SealError(Exception):
    """Root of every error seal raises on purpose."""


class ShutdownRequested(Exception):
    """A sleep was cut short because seal is shutting down.

    Not a `SealError`, so that no step or retry loop mistakes it for a failure
    and carries on.
    """


class ScenarioAborted(ShutdownRequested):
    """A wait of one scenario's steps was cut short because the scenario is aborted (its
    background load breached a threshold, or an abortWhen probe failed).

    A `ShutdownRequested`, so that every step lets it through as it does a shutdown;
    the scenario's executor stops it there, runs the undos, and the daemon carries on.
    """


class FrozenInstanceError(AttributeError):
    """Raised on an attempt to change a frozen object."""


class SelectorError(SealError, ValueError):
    """A label selector that does not parse; the message says what and where."""


class UsageError(SealError):
    """The command line or a configuration file is wrong (exit code 2)."""


class DocumentError(SealError):
    """A YAML or JSON file that cannot be read as a document: not UTF-8, not valid YAML,
    or beyond a bound (size, nesting depth, number of values, alias expansion).

    `line` and `column` are 1-based; 0 when the problem has no position.
    """

    def __init__(self, reason: str, *, line: int = 0, column: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.column = column

    def located(self, source: str) -> str:
        """`source:line:column: reason` (`source:1:1:` when there is no position)."""
        return f"{source}:{self.line or 1}:{self.column or 1}: {self.reason}"


class PolicyError(SealError):
    """A policy file is invalid. `problems` holds one located line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class KubeError(SealError):
    """The Kubernetes API answered with an error or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class ClusterUnreachable(KubeError):
    """seal could not talk to the cluster at all (wrong address, credentials, or down)."""


class NotFoundError(KubeError):
    """The object asked for does not exist (HTTP 404)."""


class ConflictError(KubeError):
    """The object changed or already exists (HTTP 409)."""


class EvictionRefused(KubeError):
    """The Eviction API said no (a PodDisruptionBudget would be broken: HTTP 429)."""


class PermissionsMissing(SealError):
    """The cluster would deny requests a run needs (preflight; exit code 4)."""


class CloudError(SealError):
    """A cloud driver could not do what was asked."""


class ProbeError(SealError):
    """A probe request got no answer (refused, timed out, name not found, TLS...)."""


class ExecutionError(SealError):
    """A command on a node, or a local program such as kubectl, failed."""


class StepFailed(SealError):
    """A step ran and its check did not hold; the scenario fails."""


class SafetyError(SealError):
    """A step would touch more, or other, than the safety rules allow."""


class UndoError(SealError):
    """An undo could not be carried out (it stays in the journal)."""
