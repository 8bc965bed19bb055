"""The command that kills a container on its node, from a template. No I/O.

A template names the container as `{container_id}` and the signal as `{signal}`;
nothing else in it is touched (so `{{.info.pid}}` of a crictl Go template stays as it
is). Both values are checked before they are put in, and shell-quoted.
"""

from __future__ import annotations

import re
import shlex

from seal.errors import ExecutionError, UsageError

#: containerd (and CRI-O) nodes: the signal goes to the container's first process, found by
#: crictl, so that TERM and KILL both mean what they say.
CRICTL_KILL_COMMAND = (
    "sudo kill -s {signal} "
    "$(sudo crictl inspect --output go-template --template '{{.info.pid}}' {container_id})"
)
#: nodes whose runtime is Docker.
DOCKER_KILL_COMMAND = "sudo docker kill -s {signal} {container_id}"

_PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")
_KNOWN = {"container_id", "signal"}
_RUNTIME_PREFIX = re.compile(r"^[a-z][a-z0-9.+-]*://")
_CONTAINER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_SIGNAL_NAME = re.compile(r"^[A-Z][A-Z0-9+-]{0,15}$")


class KillCommand:
    """A checked kill-command template."""

    def __init__(self, template: str) -> None:
        unknown = sorted(set(_PLACEHOLDER.findall(template)) - _KNOWN)
        if unknown:
            raise UsageError(
                f"the kill command {template!r} has unknown placeholder(s) "
                + ", ".join("{" + name + "}" for name in unknown)
                + "; only {container_id} and {signal} are filled in"
            )
        if "{container_id}" not in template:
            raise UsageError(
                f"the kill command {template!r} must contain {{container_id}}, "
                "where the container's ID goes"
            )
        self.template = template

    def render(self, container_id: str, signal: str) -> str:
        """The command for one container, e.g. `containerd://4f2a...` and `KILL`."""
        return self.template.replace(
            "{container_id}", shlex.quote(container_ref(container_id))
        ).replace("{signal}", shlex.quote(signal_name(signal)))

    def __repr__(self) -> str:
        return f"KillCommand({self.template!r})"


def container_ref(container_id: str) -> str:
    """A container's ID without its runtime prefix (`containerd://abc` -> `abc`)."""
    bare = _RUNTIME_PREFIX.sub("", container_id.strip())
    if not _CONTAINER_ID.match(bare):
        raise ExecutionError(
            f"{container_id!r} is not a container ID (expected letters, digits, '_', '.' "
            "or '-', optionally after a runtime prefix such as containerd://)"
        )
    return bare


def signal_name(signal: str) -> str:
    """`SIGKILL`, `kill` and `KILL` -> `KILL`; a number stays a number."""
    text = signal.strip().upper()
    if text.isdigit() and 0 < int(text) < 65:
        return str(int(text))
    text = text.removeprefix("SIG")
    if not _SIGNAL_NAME.match(text):
        raise ExecutionError(
            f"{signal!r} is not a signal: give a name such as KILL or TERM, or a number"
        )
    return text
