"""Cloud drivers, one module per cloud, imported lazily by name.

Only the command line loads a driver, and only the one the user picked, so
that `seal validate` never pays for a cloud SDK. Importing this package does
no I/O.
"""

from __future__ import annotations

import importlib
from typing import Any

from seal.errors import UsageError

#: driver name -> module under `drivers` that defines `create_driver(**options)`.
DRIVER_MODULES: dict[str, str] = {}


def available_drivers() -> list[str]:
    """The names a user may pass to `--cloud`."""
    return sorted(DRIVER_MODULES)


def load_driver(name: str, **options: Any) -> Any:
    """Import the module of driver `name` and build the driver from `options`."""
    try:
        module_name = DRIVER_MODULES[name]
    except KeyError:
        known = ", ".join(available_drivers()) or "none yet"
        raise UsageError(f"unknown cloud driver {name!r} (known: {known})") from None
    try:
        module = importlib.import_module(f"drivers.{module_name}")
    except ImportError as exc:
        raise UsageError(
            f"cloud driver {name!r} needs an extra that is not installed: "
            f"pip install 'seal-chaos[{name}]' ({exc})"
        ) from exc
    return module.create_driver(**options)
