"""The flags that choose a cloud driver, defined once for every command that needs one,
and `driver_from_options`, which builds the driver (importing its SDK only then).

Attach `@cloud_options` to a click command: its function then receives one
`cloud_options: CloudOptions` argument instead of the individual flags.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from seal.cli.options import option
from seal.errors import UsageError
from seal.frozen import frozen

if TYPE_CHECKING:
    from seal.adapters.kubeconfig import ClusterConnection
    from seal.cloud import CloudDriver

F = TypeVar("F", bound=Callable[..., Any])

CLOUDS = ("aws", "gcp", "azure", "openstack", "sandbox", "none")
#: the kubeconfig context `seal sandbox` and `--sandbox` write.
SANDBOX_CONTEXT = "seal-sandbox"
#: shorthand flag -> the cloud it picks.
_SHORTHANDS = {
    "cloud_aws": "aws",
    "cloud_gcp": "gcp",
    "cloud_azure": "azure",
    "cloud_openstack": "openstack",
    "no_cloud": "none",
}


@frozen
class CloudOptions:
    """What the user said about the cloud. `name` is None when no cloud was chosen."""

    name: str | None = None
    aws_region: str | None = None
    aws_profile: str | None = None
    gcp_project: str | None = None
    gcp_zones: tuple[str, ...] = ()
    gcp_config_file: str | None = None
    azure_subscription: str | None = None
    azure_resource_groups: tuple[str, ...] = ()
    azure_deallocate: bool = False
    openstack_cloud_name: str | None = None


_OPTIONS: list[Callable[[Any], Any]] = [
    option(
        "--cloud",
        "cloud_name",
        type=click.Choice(CLOUDS),
        help="The cloud whose machines node actions stop and start "
        "(default: sandbox on a sandbox cluster, else none).",
    ),
    option(
        "--aws", "cloud_aws", is_flag=True, legacy_env=["AWS_CLOUD"], help="Same as --cloud aws."
    ),
    option(
        "--gcp", "cloud_gcp", is_flag=True, legacy_env=["GCP_CLOUD"], help="Same as --cloud gcp."
    ),
    option(
        "--azure",
        "cloud_azure",
        is_flag=True,
        legacy_env=["AZURE_CLOUD"],
        help="Same as --cloud azure.",
    ),
    option(
        "--openstack",
        "cloud_openstack",
        is_flag=True,
        legacy_env=["OPENSTACK_CLOUD"],
        help="Same as --cloud openstack.",
    ),
    option("--no-cloud", is_flag=True, legacy_env=["NO_CLOUD"], help="Same as --cloud none."),
    option("--aws-region", help="AWS region (else the SDK's: AWS_REGION, the profile...)."),
    option("--aws-profile", help="AWS profile of the shared config files (else AWS_PROFILE)."),
    option("--gcp-project", help="Google Cloud project (else the credentials' project)."),
    option(
        "--gcp-zone",
        "gcp_zones",
        multiple=True,
        help="Only these zones (repeatable; default: every zone of the project).",
    ),
    option(
        "--gcp-config-file",
        type=click.Path(dir_okay=False),
        legacy_env=["GCP_CONFIG_FILE"],
        help="A service-account key file (JSON) instead of the application default credentials.",
    ),
    option("--azure-subscription", help="Azure subscription ID (else AZURE_SUBSCRIPTION_ID)."),
    option(
        "--azure-resource-group-name",
        legacy_env=["AZURE_RESORUCE_GROUP_NAME", "AZURE_RESOURCE_GROUP_NAME"],
        help="Only machines of this resource group (with the node resource group, if given).",
    ),
    option(
        "--azure-node-resource-group-name",
        legacy_env=["AZURE_NODE_RESORUCE_GROUP_NAME", "AZURE_NODE_RESOURCE_GROUP_NAME"],
        help="The resource group of the cluster's nodes (AKS: MC_...).",
    ),
    option(
        "--azure-deallocate",
        is_flag=True,
        help="Stop Azure machines by deallocating them (no compute billing while down).",
    ),
    option(
        "--openstack-cloud-name",
        legacy_env=["OPENSTACK_CLOUD_NAME"],
        help="The cloud of clouds.yaml to use (else the OS_* environment variables).",
    ),
]

_NAMES = (
    "cloud_name",
    *_SHORTHANDS,
    "aws_region",
    "aws_profile",
    "gcp_project",
    "gcp_zones",
    "gcp_config_file",
    "azure_subscription",
    "azure_resource_group_name",
    "azure_node_resource_group_name",
    "azure_deallocate",
    "openstack_cloud_name",
)


def options_from_flags(**flags: Any) -> CloudOptions:
    """The flags' values as `CloudOptions`; `UsageError` when two clouds are chosen."""
    chosen = {flags["cloud_name"]} if flags.get("cloud_name") else set()
    chosen |= {cloud for flag, cloud in _SHORTHANDS.items() if flags.get(flag)}
    if len(chosen) > 1:
        raise UsageError(f"choose one cloud, not {' and '.join(sorted(chosen))}")
    groups = (flags.get("azure_resource_group_name"), flags.get("azure_node_resource_group_name"))
    return CloudOptions(
        name=chosen.pop() if chosen else None,
        aws_region=flags.get("aws_region"),
        aws_profile=flags.get("aws_profile"),
        gcp_project=flags.get("gcp_project"),
        gcp_zones=tuple(flags.get("gcp_zones") or ()),
        gcp_config_file=flags.get("gcp_config_file"),
        azure_subscription=flags.get("azure_subscription"),
        azure_resource_groups=tuple(g for g in groups if g),
        azure_deallocate=bool(flags.get("azure_deallocate")),
        openstack_cloud_name=flags.get("openstack_cloud_name"),
    )


def cloud_options(function: F) -> F:
    """Add the cloud flags to a click command; it receives `cloud_options: CloudOptions`."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        flags = {name: kwargs.pop(name, None) for name in _NAMES}
        return function(*args, cloud_options=options_from_flags(**flags), **kwargs)

    decorated: Any = wrapper
    for decorator in reversed(_OPTIONS):
        decorated = decorator(decorated)
    return decorated  # type: ignore[no-any-return]


def chosen_cloud(
    options: CloudOptions, *, connection: ClusterConnection | None = None, sandbox: bool = False
) -> str:
    """The cloud asked for; else `sandbox` when the cluster is a sandbox; else `none`."""
    if options.name:
        return options.name
    if sandbox or (connection is not None and connection.context == SANDBOX_CONTEXT):
        return "sandbox"
    return "none"


def _driver_arguments(name: str, options: CloudOptions) -> dict[str, Any]:
    if name == "aws":
        return {"region": options.aws_region, "profile": options.aws_profile}
    if name == "gcp":
        return {
            "project": options.gcp_project,
            "zones": options.gcp_zones,
            "credentials_file": options.gcp_config_file,
        }
    if name == "azure":
        return {
            "subscription": options.azure_subscription,
            "resource_groups": options.azure_resource_groups,
            "deallocate": options.azure_deallocate,
        }
    if name == "openstack":
        return {"cloud": options.openstack_cloud_name}
    return {}


def driver_from_options(
    options: CloudOptions,
    *,
    connection: ClusterConnection | None = None,
    sandbox: bool = False,
) -> CloudDriver:
    """Build the chosen driver, importing its module (and SDK) only now.

    The sandbox driver talks to the cluster's own server: `connection`, else the
    cluster found the usual way (KUBECONFIG, ~/.kube/config). A missing SDK is a
    `UsageError` with the `pip install` line that fixes it.
    """
    from drivers import load_driver

    name = chosen_cloud(options, connection=connection, sandbox=sandbox)
    arguments = _driver_arguments(name, options)
    if name == "sandbox":
        if connection is None:
            from seal.adapters.kubeconfig import resolve

            connection = resolve()
        arguments = {
            "server": connection.server,
            "token": connection.token,
            "token_file": connection.token_file,
            "ca_file": connection.ca_file,
            "insecure": connection.insecure,
        }
    return load_driver(name, **arguments)
