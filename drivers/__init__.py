"""Cloud drivers, one module per cloud, imported lazily by name.

Only the command line loads a driver, and only the one the user picked, so
that `seal validate` never pays for a cloud SDK. Importing this package does
no I/O.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, cast

from seal.errors import UsageError

if TYPE_CHECKING:
    from seal.cloud import CloudDriver

#: driver name -> module under `drivers` that defines `create_driver(**options)`.
DRIVER_MODULES: dict[str, str] = {
    "aws": "aws",
    "gcp": "gcp",
    "azure": "azure",
    "openstack": "openstack",
    "sandbox": "sandbox",
    "none": "none",
}

#: driver name -> the extra of seal-chaos that installs its SDK.
EXTRAS: dict[str, str] = {"aws": "aws", "gcp": "gcp", "azure": "azure", "openstack": "openstack"}


def available_drivers() -> list[str]:
    """The names a user may pass to `--cloud`."""
    return sorted(DRIVER_MODULES)


def load_driver(name: str, **options: Any) -> CloudDriver:
    """Import the module of driver `name` and build the driver from `options`."""
    try:
        module_name = DRIVER_MODULES[name]
    except KeyError:
        known = ", ".join(available_drivers()) or "none yet"
        raise UsageError(f"unknown cloud driver {name!r} (known: {known})") from None
    try:
        module = importlib.import_module(f"drivers.{module_name}")
    except ImportError as exc:
        extra = EXTRAS.get(name, name)
        missing = exc.name or str(exc)
        raise UsageError(
            f"cloud driver {name!r} needs {missing}, which is not installed: "
            f"pip install 'seal-chaos[{extra}]'"
        ) from exc
    return cast("CloudDriver", module.create_driver(**options))
