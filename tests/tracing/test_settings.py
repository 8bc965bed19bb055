"""Where traces go: `--otlp-endpoint` and the standard OTEL_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from seal.errors import UsageError
from seal.tracing import settings_from
from tests.autonomous.helpers import seal


def test_without_flag_or_variable_tracing_is_off() -> None:
    settings = settings_from(None, {"OTEL_SERVICE_NAME": "x", "HOME": "/root"})
    assert settings.endpoint is None


@pytest.mark.parametrize(
    ("flag", "url"),
    [
        ("http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/traces"),
        ("http://127.0.0.1:4318/", "http://127.0.0.1:4318/v1/traces"),
        ("https://otel.example:443/tenant-a", "https://otel.example:443/tenant-a/v1/traces"),
        ("http://127.0.0.1:4318/v1/traces", "http://127.0.0.1:4318/v1/traces"),
    ],
)
def test_the_flag_is_a_base_url(flag: str, url: str) -> None:
    assert settings_from(flag, {}).endpoint == url


def test_the_flag_wins_over_the_variables_and_over_sdk_disabled() -> None:
    environ = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.2:1",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.3:1/t",
        "OTEL_SDK_DISABLED": "true",
    }
    assert settings_from("http://127.0.0.1:9", environ).endpoint == "http://127.0.0.1:9/v1/traces"


def test_the_traces_variable_is_used_as_it_is_and_wins_over_the_general_one() -> None:
    environ = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.2:1",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.3:1/custom/path",
    }
    assert settings_from(None, environ).endpoint == "http://127.0.0.3:1/custom/path"
    general = settings_from(None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.2:1"})
    assert general.endpoint == "http://127.0.0.2:1/v1/traces"


def test_sdk_disabled_turns_the_variables_off() -> None:
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.2:1", "OTEL_SDK_DISABLED": "TRUE"}
    assert settings_from(None, environ).endpoint is None


def test_service_name_and_headers() -> None:
    environ = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.2:1",
        "OTEL_SERVICE_NAME": "chaos-nightly",
        "OTEL_EXPORTER_OTLP_HEADERS": "general=1",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "api-key=a%3Db%2Cc, tenant = ops",
    }
    settings = settings_from(None, environ)
    assert settings.service_name == "chaos-nightly"
    assert settings.headers == {"api-key": "a=b,c", "tenant": "ops"}
    assert settings_from("http://127.0.0.1:1", {}).service_name == "seal"


@pytest.mark.parametrize(
    ("flag", "environ", "message"),
    [
        ("127.0.0.1:4318", {}, "--otlp-endpoint '127.0.0.1:4318': expected an http:// or https://"),
        ("ftp://h/x", {}, "--otlp-endpoint 'ftp://h/x': expected an http"),
        ("http://h:99999", {}, "--otlp-endpoint 'http://h:99999': Port out of range"),
        (
            None,
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "localhost"},
            "OTEL_EXPORTER_OTLP_ENDPOINT 'localhost': expected an http:// or https:// URL",
        ),
        (
            None,
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://"},
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT 'http://': expected",
        ),
        (
            "http://127.0.0.1:1",
            {"OTEL_EXPORTER_OTLP_HEADERS": "ok=1,s3cr3t-token"},
            "OTEL_EXPORTER_OTLP_HEADERS: entry 2 is not key=value",
        ),
        (
            "http://127.0.0.1:1",
            {"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "=value"},
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS: entry 1 is not key=value",
        ),
    ],
)
def test_malformed_settings_are_usage_errors(
    flag: str | None, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        settings_from(flag, environ)
    assert message in str(caught.value)
    assert "s3cr3t" not in str(caught.value), "header values may be secrets"


def test_messages_show_the_endpoint_without_its_credentials() -> None:
    settings = settings_from("https://ops:s3cr3t@otel.example:4318/x", {})
    assert settings.endpoint == "https://ops:s3cr3t@otel.example:4318/x/v1/traces"
    assert settings.shown_endpoint == "https://otel.example:4318/x/v1/traces"
    plain = settings_from("http://127.0.0.1:4318", {})
    assert plain.shown_endpoint == plain.endpoint


@pytest.mark.parametrize(
    ("flag", "environ", "message"),
    [
        ("http://[::1", {}, "--otlp-endpoint 'http://[::1': Invalid IPv6 URL"),
        (
            None,
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://ops:s3cr3t@[::1"},
            "OTEL_EXPORTER_OTLP_ENDPOINT 'http://ops:***@[::1': Invalid IPv6 URL",
        ),
        (
            "https://user:s3cr3t@collector:99999",
            {},
            "--otlp-endpoint 'https://user:***@collector:99999': Port out of range",
        ),
        (
            None,
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "grpc://tenant:s3cr3t@collector:4317"},
            "OTEL_EXPORTER_OTLP_ENDPOINT 'grpc://tenant:***@collector:4317': expected an http",
        ),
        (
            None,
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "s3cr3t-token@collector:4318"},
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT '***@collector:4318': expected an http",
        ),
        # a password holding a '/' does not parse: still masked, and its start not echoed
        ("https://ops:s3/cr3t@collector/x", {}, "'https://ops:***@collector/x': the port is not"),
        ("http://h:s3cr3t", {}, "--otlp-endpoint 'http://h:s3cr3t': the port is not a number"),
    ],
)
def test_endpoint_errors_are_usage_errors_that_mask_credentials(
    flag: str | None, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        settings_from(flag, environ)
    assert message in str(caught.value)
    if "@" in (flag or "".join(environ.values())):
        assert "s3cr3t" not in str(caught.value)
        assert "cr3t" not in str(caught.value)


def test_a_bad_endpoint_exits_2_without_traceback_or_password(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("scenarios: []\n")
    for endpoint in ("http://[::1", "https://user:hunter2@collector:99999"):
        result = seal("autonomous", "--policy-file", str(policy), "--otlp-endpoint", endpoint)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr and "hunter2" not in result.stderr
        assert "--otlp-endpoint" in result.stderr
