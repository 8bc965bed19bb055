"""Amazon EC2 through boto3. Talks to the EC2 API (and STS for `check`).

Credentials and region come the SDK's usual way (environment, shared config and
credentials files, profiles, instance roles), unless given. Provider IDs are
`aws:///<availability zone>/<instance id>`, as Kubernetes nodes on EC2 carry them.
"""

from __future__ import annotations

from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import botocore.parsers

from drivers._common import Pacing, failure, parse_provider_id, wait_for_state
from seal.cloud import Check
from seal.errors import CloudError
from seal.model import Machine, NodeState

SCHEME = "aws"
#: bounds the listing: EC2 pages hold up to 1000 instances.
MAX_PAGES = 1000
_STATES = {"running": NodeState.UP, "stopped": NodeState.DOWN, "terminated": NodeState.DOWN}
#: what the SDK raises: its own errors, the service's answers, and unreadable answers.
_ERRORS = (
    botocore.exceptions.BotoCoreError,
    botocore.exceptions.ClientError,
    botocore.parsers.ResponseParserError,
)
_DENIED = ("UnauthorizedOperation", "AccessDenied", "AccessDeniedException")
#: a syntactically valid ID that names no instance, for permission checks with nothing to try on.
_NO_INSTANCE = "i-00000000000000000"


def instance_id(provider_id: str) -> str:
    """`aws:///us-east-1a/i-0123` -> `i-0123`."""
    rest = parse_provider_id(provider_id, SCHEME)
    last = rest.rsplit("/", 1)[-1]
    if not last.startswith("i-"):
        raise CloudError(f"provider ID {provider_id!r} names no EC2 instance (i-...)")
    return last


def _reason(exc: Exception) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return "no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID, or use a role)"
    if isinstance(exc, botocore.exceptions.NoRegionError):
        return "no AWS region (set AWS_REGION or AWS_DEFAULT_REGION, or pass --aws-region)"
    return str(exc)


def _code(exc: Exception) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


class AwsDriver:
    """EC2 instances: listed with pagination, stopped (optionally forced) and started."""

    name = "aws"

    def __init__(
        self, ec2: Any, sts: Any, *, page_size: int = 1000, pacing: Pacing | None = None
    ) -> None:
        self._ec2 = ec2
        self._sts = sts
        self._page_size = page_size
        self._pacing = pacing or Pacing()

    def list_machines(self) -> list[Machine]:
        paginator = self._ec2.get_paginator("describe_instances")
        machines: list[Machine] = []
        try:
            pages = paginator.paginate(PaginationConfig={"PageSize": self._page_size})
            for count, page in enumerate(pages, start=1):
                for reservation in page.get("Reservations", []):
                    machines.extend(_machine(i) for i in reservation.get("Instances", []))
                if count >= MAX_PAGES:
                    raise CloudError(f"more than {MAX_PAGES} pages of instances")
        except _ERRORS as exc:
            raise CloudError(f"cannot list EC2 instances: {_reason(exc)}") from exc
        return [m for m in machines if m.cloud_state != "terminated"]

    def get_machine(self, provider_id: str) -> Machine:
        ident = instance_id(provider_id)
        try:
            answer = self._ec2.describe_instances(InstanceIds=[ident])
        except _ERRORS as exc:
            raise failure(provider_id, "read", _reason(exc)) from exc
        for reservation in answer.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                return _machine(instance)
        raise failure(provider_id, "read", "EC2 does not know this instance")

    def stop(self, machine: Machine, *, force: bool = False) -> None:
        ident = instance_id(machine.provider_id)
        try:
            self._ec2.stop_instances(InstanceIds=[ident], Force=force)
        except _ERRORS as exc:
            raise failure(machine, "stop", _reason(exc)) from exc

    def start(self, machine: Machine) -> None:
        ident = instance_id(machine.provider_id)
        try:
            self._ec2.start_instances(InstanceIds=[ident])
        except _ERRORS as exc:
            raise failure(machine, "start", _reason(exc)) from exc

    def wait_for(self, machine: Machine, state: NodeState, *, timeout: float) -> Machine:
        return wait_for_state(
            self.get_machine, machine, state, timeout=timeout, pacing=self._pacing
        )

    def check(self) -> list[Check]:
        checks: list[Check] = []
        try:
            who = self._sts.get_caller_identity()
            checks.append(Check("credentials", True, str(who.get("Arn", ""))))
        except _ERRORS as exc:
            return [Check("credentials", False, _reason(exc))]
        try:
            machines = self.list_machines()
        except CloudError as exc:
            return [*checks, Check("ec2:DescribeInstances", False, str(exc))]
        checks.append(Check("ec2:DescribeInstances", True, f"{len(machines)} instances"))
        target = instance_id(machines[0].provider_id) if machines else _NO_INSTANCE
        checks.append(self._dry_run("ec2:StopInstances", self._ec2.stop_instances, target))
        checks.append(self._dry_run("ec2:StartInstances", self._ec2.start_instances, target))
        return checks

    def _dry_run(self, permission: str, call: Any, target: str) -> Check:
        """Ask EC2 whether the call would be allowed, changing nothing (DryRun)."""
        try:
            call(InstanceIds=[target], DryRun=True)
        except botocore.exceptions.ClientError as exc:
            code = _code(exc)
            if code == "DryRunOperation":
                return Check(permission, True, f"allowed (dry run on {target})")
            if code in _DENIED:
                return Check(permission, False, f"missing: {_reason(exc)}")
            return Check(permission, None, f"not checked: {_reason(exc)}")
        except _ERRORS as exc:
            return Check(permission, None, f"not checked: {_reason(exc)}")
        return Check(permission, False, "EC2 carried out a dry run instead of refusing it")


def _machine(instance: dict[str, Any]) -> Machine:
    ident = str(instance["InstanceId"])
    zone = str(instance.get("Placement", {}).get("AvailabilityZone", ""))
    raw_state = str(instance.get("State", {}).get("Name", ""))
    tags = {t.get("Key"): t.get("Value") for t in instance.get("Tags", []) or []}
    private = [
        str(a["PrivateIpAddress"])
        for eni in instance.get("NetworkInterfaces", []) or []
        for a in eni.get("PrivateIpAddresses", []) or []
        if a.get("PrivateIpAddress")
    ] or ([str(instance["PrivateIpAddress"])] if instance.get("PrivateIpAddress") else [])
    public = [str(instance["PublicIpAddress"])] if instance.get("PublicIpAddress") else []
    return Machine(
        id=ident,
        provider_id=f"{SCHEME}:///{zone}/{ident}",
        name=str(tags.get("Name") or instance.get("PrivateDnsName") or ident),
        state=_STATES.get(raw_state, NodeState.UNKNOWN),
        zone=zone,
        private_ips=tuple(dict.fromkeys(private)),
        public_ips=tuple(public),
        cloud_state=raw_state,
    )


def create_driver(
    *,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
    max_attempts: int = 5,
    page_size: int = 1000,
    pacing: Pacing | None = None,
) -> AwsDriver:
    """An EC2 driver; `region` and `profile` default to the SDK's usual lookup. Throttling
    and transient errors are retried by the SDK, at most `max_attempts` times."""
    config = botocore.config.Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=10,
        read_timeout=30,
    )
    try:
        session = boto3.session.Session(region_name=region, profile_name=profile)
        ec2 = session.client("ec2", endpoint_url=endpoint_url, config=config)
        sts = session.client("sts", endpoint_url=endpoint_url, config=config)
    except botocore.exceptions.BotoCoreError as exc:
        raise CloudError(f"cannot set up the AWS driver: {_reason(exc)}") from exc
    return AwsDriver(ec2, sts, page_size=page_size, pacing=pacing)
