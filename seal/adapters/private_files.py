"""Secrets that a library or a program wants as a file path, kept off the disk.

CA certificates, client keys and the kubeconfig seal hands to kubectl come from a
kubeconfig's `*-data` fields or from seal's own connection; TLS libraries and kubectl
read them from a path. On Linux they live in anonymous memory files (`memfd`), mode
0600, reached as /proc/self/fd/N and gone with seal however it ends. Elsewhere they
are 0600 files in a 0700 directory of their own, removed when seal exits normally.

Creates those memory files or files; nothing else.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field

_lock = threading.Lock()
_directory: list[str] = []


@dataclass(frozen=True)
class PrivateFile:
    """Secret bytes readable at `path` by seal, and by a child given `fds` (pass_fds)."""

    path: str
    fds: tuple[int, ...] = field(default=())

    def close(self) -> None:
        """Forget the secret (seal's exit does it too)."""
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        if not self.fds:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


def private_file(data: bytes, name: str) -> PrivateFile:
    """`data` at a path only this user can read, never written to disk where possible."""
    in_memory = _in_memory(data, name)
    return in_memory if in_memory is not None else _on_disk(data, name)


def _in_memory(data: bytes, name: str) -> PrivateFile | None:
    create = getattr(os, "memfd_create", None)
    if create is None or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        fd = create(f"seal-{name}", os.MFD_CLOEXEC)
    except OSError:
        return None
    try:
        os.fchmod(fd, 0o600)
        _write_all(fd, data)
    except OSError:
        os.close(fd)
        return None
    return PrivateFile(f"/proc/self/fd/{fd}", (fd,))


def _on_disk(data: bytes, name: str) -> PrivateFile:
    handle, path = tempfile.mkstemp(prefix=f"seal-{name}-", dir=_private_directory())
    try:
        os.fchmod(handle, 0o600)
        _write_all(handle, data)
    finally:
        os.close(handle)
    return PrivateFile(path)


def _private_directory() -> str:
    """One 0700 directory per seal process, removed when it exits."""
    with _lock:
        if not _directory:
            _directory.append(tempfile.mkdtemp(prefix="seal-private-"))
            atexit.register(shutil.rmtree, _directory[0], ignore_errors=True)
        return _directory[0]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
