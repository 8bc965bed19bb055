"""Child processes that do not outlive seal.

On Linux each child asks the kernel to SIGKILL it when seal dies, however seal dies
(SIGKILL included), with `prctl(PR_SET_PDEATHSIG)`: a kubectl apply left running by a
killed seal could otherwise land after `seal cleanup` deleted its objects. Elsewhere
there is no such request; callers still kill their children on timeouts and errors.
Starts nothing itself.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

#: linux/prctl.h
PR_SET_PDEATHSIG = 1


def _find_prctl() -> Any | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


# Looked up once, here: the child runs `preexec_fn` between fork and exec, where it
# should do as little as possible.
_PRCTL = _find_prctl()


def dies_with_seal() -> Callable[[], None] | None:
    """A `preexec_fn` for `subprocess.Popen` that has the child SIGKILLed when seal dies;
    None where the platform cannot ask for that.

    The kernel sends the signal when the *thread* that started the child ends, so the
    thread must wait for the child (as `subprocess.run` and `communicate` do). The flag
    survives `exec` of kubectl and of anything it `exec`s in turn.
    """
    prctl = _PRCTL
    if prctl is None:
        return None
    parent = os.getpid()
    kill = ctypes.c_ulong(signal.SIGKILL)
    zero = ctypes.c_ulong(0)

    def preexec() -> None:
        if prctl(PR_SET_PDEATHSIG, kill, zero, zero, zero) != 0:
            os.write(2, b"seal: cannot tie this process to seal's life (prctl failed)\n")
            os._exit(126)
        if os.getppid() != parent:
            # seal died between fork and prctl: the signal will never come.
            os._exit(125)

    return preexec
