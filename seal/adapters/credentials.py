"""The bearer token of a cluster connection, kept fresh as it rotates or expires.

Reads token files and runs exec credential plugins.
"""

from __future__ import annotations

import json
import logging
import threading

from seal.adapters.kubeconfig import ClusterConnection, exec_credential, read_token
from seal.clock import Clock

log = logging.getLogger(__name__)


class Credentials:
    """The bearer token to send, fetched again from its file or exec plugin when it may
    have changed: a token file is re-read every minute, an exec plugin is run again shortly
    before its token expires, and either is refreshed at once after a 401."""

    FILE_RECHECK_SECONDS = 60.0
    EXPIRY_MARGIN_SECONDS = 30.0

    def __init__(self, connection: ClusterConnection, clock: Clock) -> None:
        self._connection = connection
        self._clock = clock
        self._token = connection.token
        self._expiry = connection.token_expiry
        self._read_at = clock.monotonic()
        self._lock = threading.Lock()

    @property
    def refreshable(self) -> bool:
        return bool(self._connection.token_file or self._connection.token_exec)

    def header(self) -> str | None:
        with self._lock:
            if self._stale():
                self._refresh()
            return f"Bearer {self._token}" if self._token else None

    def refresh(self) -> None:
        with self._lock:
            self._refresh()

    def _stale(self) -> bool:
        if self._connection.token_exec:
            return self._expiry is not None and self._clock.now() > (
                self._expiry - self.EXPIRY_MARGIN_SECONDS
            )
        if self._connection.token_file:
            return self._clock.monotonic() - self._read_at > self.FILE_RECHECK_SECONDS
        return False

    def _refresh(self) -> None:
        if self._connection.token_exec:
            self._token, self._expiry = exec_credential(json.loads(self._connection.token_exec))
        elif self._connection.token_file:
            self._token = read_token(self._connection.token_file)
        else:
            return
        self._read_at = self._clock.monotonic()
        log.debug("fetched a fresh token for %s", self._connection.server)
