"""The sandbox's objects kept out of the cyclic garbage collector's full passes. No I/O.

A large sandbox's store holds millions of small containers (its objects are JSON trees,
which form no cycles and are freed when their last reference goes). Every full pass of
the collector walks all of them, and one starts each time their number grew by a quarter:
a busy sandbox spent a third of its time there. After a full pass that left many objects
behind, those survivors are moved out of the collector's view (`gc.freeze`), as seeding
does, so the next passes walk only what was made since. Frozen objects are still freed
when their last reference goes; only a cycle among them that becomes garbage later stays
(the passes are rare: one per `FREEZE_AFTER` new long-lived objects).

The youngest generation is also collected less often (every `YOUNG_THRESHOLD`
allocations, not 700): the store's copies and requests' objects mostly go with their last
reference before a pass comes, instead of being walked while still in use.
"""

from __future__ import annotations

import gc
import threading
from typing import Any

#: survivors of a full pass from which they are frozen
FREEZE_AFTER = 50_000
#: allocations (less deallocations) between two passes over the youngest generation
YOUNG_THRESHOLD = 10_000

_lock = threading.Lock()
_users = [0]
#: the collector's thresholds before the first sandbox changed them
_thresholds: list[tuple[int, int, int]] = []


def _after_collection(phase: str, info: dict[str, Any]) -> None:
    full = phase == "stop" and info.get("generation") == 2
    if full and len(gc.get_objects(generation=2)) >= FREEZE_AFTER:
        gc.freeze()


def keep_out_of_full_passes() -> None:
    """From now until as many `release()` calls, freeze the survivors of large full passes."""
    with _lock:
        _users[0] += 1
        if _after_collection not in gc.callbacks:
            gc.callbacks.append(_after_collection)
        if not _thresholds:
            young, middle, old = gc.get_threshold()
            _thresholds.append((young, middle, old))
            gc.set_threshold(max(young, YOUNG_THRESHOLD), middle, old)


def release() -> None:
    with _lock:
        _users[0] = max(0, _users[0] - 1)
        if not _users[0] and _after_collection in gc.callbacks:
            gc.callbacks.remove(_after_collection)
        if not _users[0] and _thresholds:
            gc.set_threshold(*_thresholds.pop())
