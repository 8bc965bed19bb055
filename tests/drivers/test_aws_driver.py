"""The EC2 driver with the real boto3 against moto's server on loopback."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from drivers import load_driver
from drivers._common import Pacing
from drivers.aws import AwsDriver, create_driver, instance_id
from seal.errors import CloudError
from seal.model import Machine, NodeState
from tests.drivers.conftest import moto_admin

IMAGE = "ami-12c6146b"  # one of moto's built-in images


def _ec2(url: str, region: str = "us-east-1") -> Any:
    return boto3.client("ec2", endpoint_url=url, region_name=region)


def _launch(url: str, zone: str, count: int = 1) -> list[str]:
    """`count` instances, one reservation each (EC2 pages count reservations)."""
    launched = []
    for _ in range(count):
        answer = _ec2(url).run_instances(
            ImageId=IMAGE,
            MinCount=1,
            MaxCount=1,
            Placement={"AvailabilityZone": zone},
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": f"node-{zone}"}]}
            ],
        )
        launched.extend(i["InstanceId"] for i in answer["Instances"])
    return launched


def _driver(url: str, **options: Any) -> AwsDriver:
    return create_driver(endpoint_url=url, pacing=Pacing.fast(), **options)


def test_lists_every_page_of_instances_with_kubernetes_provider_ids(aws_env: str) -> None:
    east_a = _launch(aws_env, "us-east-1a", 7)
    east_b = _launch(aws_env, "us-east-1b", 5)
    gone = _launch(aws_env, "us-east-1b")[0]
    _ec2(aws_env).terminate_instances(InstanceIds=[gone])
    driver = _driver(aws_env, page_size=5)
    pages: list[int] = []
    driver._ec2.meta.events.register(
        "after-call.ec2.DescribeInstances", lambda **kwargs: pages.append(1)
    )
    machines = driver.list_machines()
    assert len(pages) >= 3  # 13 reservations, 5 a page
    by_id = {m.provider_id: m for m in machines}
    expected = {f"aws:///us-east-1a/{i}" for i in east_a} | {
        f"aws:///us-east-1b/{i}" for i in east_b
    }
    assert set(by_id) == expected
    sample = by_id[f"aws:///us-east-1a/{east_a[0]}"]
    assert sample.id == east_a[0] and sample.zone == "us-east-1a"
    assert sample.name == "node-us-east-1a" and sample.state is NodeState.UP
    assert sample.private_ips and sample.private_ips[0].count(".") == 3
    assert sample.cloud_state == "running"


def test_region_and_endpoint_come_from_the_environment(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    [ident] = _launch(aws_env, "us-east-1c")
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env)
    driver = load_driver("aws")
    assert [m.id for m in driver.list_machines()] == [ident]
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert load_driver("aws").list_machines() == []


def test_stop_force_then_start_with_waiting(aws_env: str) -> None:
    [ident] = _launch(aws_env, "us-east-1a")
    driver = _driver(aws_env)
    machine = driver.get_machine(f"aws:///us-east-1a/{ident}")
    driver.stop(machine, force=True)
    assert driver.wait_for(machine, NodeState.DOWN, timeout=5).cloud_state == "stopped"
    state = _ec2(aws_env).describe_instances(InstanceIds=[ident])
    assert state["Reservations"][0]["Instances"][0]["State"]["Name"] == "stopped"
    driver.start(machine)
    assert driver.wait_for(machine, NodeState.UP, timeout=5).state is NodeState.UP


def test_waiting_is_bounded_and_names_the_machine(aws_env: str) -> None:
    [ident] = _launch(aws_env, "us-east-1a")
    driver = _driver(aws_env)
    machine = driver.get_machine(f"aws:///us-east-1a/{ident}")
    with pytest.raises(CloudError, match=rf"{ident}\).*still running after 0.05s"):
        driver.wait_for(machine, NodeState.DOWN, timeout=0.05)


def test_errors_name_the_machine_and_the_reason(aws_env: str) -> None:
    driver = _driver(aws_env)
    ghost = Machine(
        id="i-0abc",
        provider_id="aws:///us-east-1a/i-0abcdef0123456789",
        name="n",
        state=NodeState.UP,
    )
    with pytest.raises(CloudError, match=r"cannot stop machine n \(aws:///.*InvalidInstanceID"):
        driver.stop(ghost)
    with pytest.raises(CloudError, match="not a aws machine"):
        instance_id("gce://p/z/n")


def test_no_region_is_a_clear_error(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(CloudError, match="no AWS region"):
        create_driver(endpoint_url=None).list_machines()


def test_check_with_full_rights(aws_env: str) -> None:
    [ident] = _launch(aws_env, "us-east-1a")
    checks = _driver(aws_env).check()
    assert [(c.name, c.ok) for c in checks] == [
        ("credentials", True),
        ("ec2:DescribeInstances", True),
        ("ec2:StopInstances", True),
        ("ec2:StartInstances", True),
    ]
    assert f"dry run on {ident}" in checks[2].detail
    state = _ec2(aws_env).describe_instances(InstanceIds=[ident])
    assert state["Reservations"][0]["Instances"][0]["State"]["Name"] == "running"


def test_check_names_the_missing_permissions(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _launch(aws_env, "us-east-1a")
    iam = boto3.client("iam", endpoint_url=aws_env, region_name="us-east-1")
    iam.create_user(UserName="looker")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["ec2:DescribeInstances", "ec2:StartInstances", "sts:*"],
                "Resource": "*",
            }
        ],
    }
    iam.put_user_policy(UserName="looker", PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="looker")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    moto_admin(aws_env, "reset-auth", "0")
    checks = {c.name: c for c in _driver(aws_env, max_attempts=1).check()}
    assert checks["credentials"].ok and "looker" in checks["credentials"].detail
    assert checks["ec2:DescribeInstances"].ok
    assert checks["ec2:StartInstances"].ok
    stop = checks["ec2:StopInstances"]
    assert not stop.ok and stop.detail.startswith("missing:")


def test_bad_credentials_fail_the_first_check(aws_env: str) -> None:
    moto_admin(aws_env, "reset-auth", "0")
    checks = _driver(aws_env, max_attempts=1).check()
    assert [(c.name, c.ok) for c in checks] == [("credentials", False)]
    assert "InvalidClientTokenId" in checks[0].detail


def test_throttling_is_retried_by_the_sdk_a_bounded_number_of_times(aws_env: str) -> None:
    from tests.drivers.http_fake import FakeServer, serving

    throttled = (
        b"<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
        b"<Message>Request limit exceeded.</Message></Error></Errors></Response>"
    )
    fake = FakeServer()
    fake.fail_next("POST /", 503, throttled, times=10)
    with serving(fake):
        driver = create_driver(endpoint_url=fake.url, max_attempts=3, pacing=Pacing.fast())
        with pytest.raises(CloudError, match="cannot list EC2 instances: RequestLimitExceeded"):
            driver.list_machines()
    assert fake.calls == ["POST /"] * 3
