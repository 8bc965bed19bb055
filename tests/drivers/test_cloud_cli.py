"""`seal cloud check` and the shared cloud flags, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import click
import pytest
from click.testing import CliRunner

from sandbox.sandbox import CONTEXT, Sandbox
from seal.cli.cloud_options import (
    SANDBOX_CONTEXT,
    CloudOptions,
    cloud_options,
    driver_from_options,
)
from seal.errors import UsageError
from tests.drivers.conftest import moto_admin

REPO = Path(__file__).resolve().parents[2]


def run_seal(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SEAL_", "KUBECONFIG"))}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "seal", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
        env=environment,
    )


def test_check_a_sandbox_found_from_the_kubeconfig(sandbox: Sandbox) -> None:
    result = run_seal("cloud", "check", "--kubeconfig", str(sandbox.kubeconfig_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "cloud driver: sandbox",
        f"ok   list machines: {len(sandbox.machines.by_id)} machines",
        "ok   read one machine: sandbox://vm-00000",
        "ok   stop and start: the sandbox has no permissions to miss",
    ]


def test_check_a_sandbox_with_a_stale_token_fails(sandbox: Sandbox, tmp_path: Path) -> None:
    stale = tmp_path / "kubeconfig"
    stale.write_text(sandbox.kubeconfig_path.read_text())
    sandbox.rotate_token()
    result = run_seal("cloud", "check", "--cloud", "sandbox", "--kubeconfig", str(stale))
    assert result.returncode == 1
    assert result.stdout.splitlines()[1].startswith("FAIL list machines:")
    assert "HTTP 401" in result.stdout


def test_check_with_no_cloud_fails_clearly(tmp_path: Path) -> None:
    result = run_seal("cloud", "check", "--no-cloud", env={"HOME": str(tmp_path)})
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "cloud driver: none",
        "FAIL cloud driver: no cloud driver: pass --cloud aws|gcp|azure|openstack|sandbox "
        "to act on machines",
    ]


def test_two_clouds_are_a_usage_error() -> None:
    result = run_seal("cloud", "check", "--aws", "--cloud", "gcp")
    assert result.returncode == 2
    assert result.stderr.strip() == "seal: error: choose one cloud, not aws and gcp"


def _aws_env(url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        **extra,
    }


def test_check_aws_through_the_legacy_environment_flag(aws_env: str, tmp_path: Path) -> None:
    ec2 = boto3.client("ec2", endpoint_url=aws_env, region_name="eu-west-1")
    ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)
    env = _aws_env(aws_env, tmp_path, AWS_CLOUD="true")
    result = run_seal("cloud", "check", "--aws-region", "eu-west-1", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "cloud driver: aws"
    assert [line.split()[:2] for line in lines[1:]] == [
        ["ok", "credentials:"],
        ["ok", "ec2:DescribeInstances:"],
        ["ok", "ec2:StopInstances:"],
        ["ok", "ec2:StartInstances:"],
    ]
    assert "1 instances" in lines[2]


def test_check_aws_names_a_missing_permission(aws_env: str, tmp_path: Path) -> None:
    iam = boto3.client("iam", endpoint_url=aws_env, region_name="us-east-1")
    iam.create_user(UserName="viewer")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["ec2:Describe*", "sts:*"], "Resource": "*"}],
    }
    iam.put_user_policy(UserName="viewer", PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="viewer")["AccessKey"]
    moto_admin(aws_env, "reset-auth", "0")
    env = _aws_env(
        aws_env,
        tmp_path,
        AWS_ACCESS_KEY_ID=key["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"],
        AWS_MAX_ATTEMPTS="1",
    )
    result = run_seal("cloud", "check", "--cloud", "aws", "--aws-region", "us-east-1", env=env)
    assert result.returncode == 1
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert [line.split(":")[0] + ":" + line.split(":")[1] for line in failed] == [
        "FAIL ec2:StopInstances",
        "FAIL ec2:StartInstances",
    ]


def test_a_missing_sdk_gives_a_one_line_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    monkeypatch.delitem(sys.modules, "drivers.aws", raising=False)
    with pytest.raises(UsageError) as caught:
        driver_from_options(CloudOptions(name="aws"))
    message = str(caught.value)
    assert "\n" not in message
    assert message.endswith("pip install 'seal-chaos[aws]'")


def _probe() -> click.Command:
    seen: list[CloudOptions] = []

    @click.command()
    @cloud_options
    @click.option("--other", default="x")
    def probe(cloud_options: CloudOptions, other: str) -> None:
        seen.append(cloud_options)
        click.echo(other)

    probe.seen = seen  # type: ignore[attr-defined]
    return probe


def _options(*args: str, env: dict[str, str] | None = None) -> Any:
    command = _probe()
    result = CliRunner().invoke(command, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return command.seen[0]  # type: ignore[attr-defined]


def test_the_flags_reach_the_command_as_one_value() -> None:
    options = _options(
        "--azure",
        "--azure-resource-group-name",
        "shop",
        "--azure-node-resource-group-name",
        "MC_shop",
        "--azure-deallocate",
        "--other",
        "y",
    )
    assert options == CloudOptions(
        name="azure", azure_resource_groups=("shop", "MC_shop"), azure_deallocate=True
    )
    assert _options("--gcp", "--gcp-zone", "a", "--gcp-zone", "b").gcp_zones == ("a", "b")
    assert _options().name is None


def test_the_legacy_environment_names_are_read() -> None:
    env = {"OPENSTACK_CLOUD": "1", "OPENSTACK_CLOUD_NAME": "lab"}
    assert _options(env=env) == CloudOptions(name="openstack", openstack_cloud_name="lab")
    env = {"AZURE_RESORUCE_GROUP_NAME": "shop", "GCP_CONFIG_FILE": "/key.json"}
    options = _options(env=env)
    assert options.azure_resource_groups == ("shop",) and options.gcp_config_file == "/key.json"


def test_the_sandbox_is_the_default_on_a_sandbox_cluster(sandbox: Sandbox) -> None:
    from seal.adapters.kubeconfig import resolve

    assert SANDBOX_CONTEXT == CONTEXT
    connection = resolve(str(sandbox.kubeconfig_path))
    driver = driver_from_options(CloudOptions(), connection=connection)
    assert driver.name == "sandbox" and len(driver.list_machines()) == len(sandbox.machines.by_id)
    assert driver_from_options(CloudOptions()).name == "none"


def test_check_openstack_named_in_clouds_yaml(tmp_path: Path) -> None:
    from tests.drivers.fake_openstack import FakeOpenStack
    from tests.drivers.http_fake import serving

    fake = FakeOpenStack()
    fake.add("0a1b2c3d-0000-4000-8000-00000000000a", "node-a", "nova", "10.1.0.5")
    with serving(fake):
        clouds = tmp_path / "clouds.yaml"
        clouds.write_text(
            "clouds:\n  lab:\n    auth:\n"
            f"      auth_url: {fake.url}/identity/v3\n"
            f"      username: seal\n      password: {fake.password}\n"
            "      project_name: shop\n      user_domain_name: Default\n"
            "      project_domain_name: Default\n"
        )
        env = {"OS_CLIENT_CONFIG_FILE": str(clouds), "OPENSTACK_CLOUD_NAME": "lab"}
        result = run_seal("cloud", "check", "--openstack", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "cloud driver: openstack",
        "ok   credentials: project shop, roles: member, reader",
        "ok   list servers: 1 servers",
        "skip stop and start servers: not checked: Nova has no dry run",
    ]
