"""Connection settings: flag > environment variable > profile > default, with sources."""

from __future__ import annotations

import pytest

from smsp_cli.domain.errors import ConfigError, ExitCode, UsageError
from smsp_cli.settings.connection import (
    DEFAULT_READ_TIMEOUT,
    gather,
    resolve,
    selected_profile,
)

COMPLETE = {
    "endpoint": "https://profile.example/smsp/pds",
    "cert": "/p/cert.pem",
    "key": "/p/key.pem",
    "ca_bundle": "/p/ca.pem",
    "audit_id": "868000003114",
}


@pytest.mark.parametrize(
    ("flag", "env", "profile", "expected", "source"),
    [
        ("https://flag/", "https://env/", "https://profile/", "https://flag/", "--endpoint"),
        (None, "https://env/", "https://profile/", "https://env/", "SMSP_ENDPOINT"),
        (None, None, "https://profile/", "https://profile/", "profile"),
        ("https://flag/", None, None, "https://flag/", "--endpoint"),
        ("", "https://env/", None, "https://env/", "SMSP_ENDPOINT"),
    ],
)
def test_precedence_flag_env_profile(
    flag: str | None, env: str | None, profile: str | None, expected: str, source: str
) -> None:
    merged = gather(
        {"endpoint": flag},
        {"SMSP_ENDPOINT": env} if env else {},
        {"endpoint": profile} if profile else None,
    )
    assert merged["endpoint"].value == expected
    assert merged["endpoint"].source == source


def test_defaults_apply_when_nothing_sets_a_value() -> None:
    settings = resolve(gather({}, {}, COMPLETE))
    assert settings.read_timeout == DEFAULT_READ_TIMEOUT
    assert settings.username is None
    assert settings.sources["audit_id"] == "profile"


def test_timeout_sets_connect_and_read() -> None:
    settings = resolve(gather({"timeout": "2.5"}, {}, COMPLETE))
    assert (settings.connect_timeout, settings.read_timeout) == (2.5, 2.5)


def test_bad_timeout_flag_is_usage_bad_variable_is_config() -> None:
    with pytest.raises(UsageError, match="--timeout"):
        resolve(gather({"timeout": "soon"}, {}, COMPLETE))
    with pytest.raises(ConfigError, match="SMSP_TIMEOUT") as caught:
        resolve(gather({}, {"SMSP_TIMEOUT": "-1"}, COMPLETE))
    assert caught.value.exit_code == ExitCode.CONFIG


@pytest.mark.parametrize(
    ("missing", "names"),
    [
        ("endpoint", "--endpoint, set SMSP_ENDPOINT"),
        ("cert", "--cert, set SMSP_CERT"),
        ("key", "--key, set SMSP_KEY"),
        ("ca_bundle", "--ca-bundle, set SMSP_CA_BUNDLE"),
        ("audit_id", "--audit-id, set SMSP_AUDIT_ID"),
    ],
)
def test_missing_setting_names_the_flag_and_variable(missing: str, names: str) -> None:
    values = {k: v for k, v in COMPLETE.items() if k != missing}
    with pytest.raises(ConfigError) as caught:
        resolve(gather({}, {}, values))
    assert names in caught.value.one_line()
    assert caught.value.exit_code == ExitCode.CONFIG


def test_plain_http_endpoint_refused() -> None:
    with pytest.raises(ConfigError, match="https"):
        resolve(gather({"endpoint": "http://insecure/"}, {}, COMPLETE))


def test_profile_comes_from_flag_or_environment() -> None:
    assert selected_profile({"profile": None}, {"SMSP_PROFILE": "sandbox"}) == "sandbox"
    assert selected_profile({"profile": "live"}, {"SMSP_PROFILE": "sandbox"}) == "live"
    assert selected_profile({}, {}) is None


# --- the audit trail's settings (spec §7.2) -----------------------------------------------------


def test_audit_settings_default_to_64_mib_and_no_syslog() -> None:
    settings = resolve(gather({}, {}, COMPLETE))
    assert settings.audit_max_bytes == 64 * 1024 * 1024
    assert settings.audit_syslog is False


@pytest.mark.parametrize(
    ("text", "size"),
    [("67108864", 64 << 20), ("64MiB", 64 << 20), ("64M", 64 << 20), ("512 KiB", 512 << 10),
     ("1gib", 1 << 30), ("4096", 4096)],
)
def test_audit_max_bytes_takes_bytes_or_a_binary_suffix(text: str, size: int) -> None:
    settings = resolve(gather({}, {"SMSP_AUDIT_MAX_BYTES": text}, COMPLETE))
    assert settings.audit_max_bytes == size


@pytest.mark.parametrize("text", ["4095", "64MB", "-1", "lots", "2TiB", "1.5M"])
def test_a_bad_audit_max_bytes_names_its_source(text: str) -> None:
    with pytest.raises(ConfigError, match=f"audit_max_bytes '{text}' from SMSP_AUDIT_MAX_BYTES"):
        resolve(gather({}, {"SMSP_AUDIT_MAX_BYTES": text}, COMPLETE))


def test_audit_syslog_from_the_profile_or_the_environment() -> None:
    assert resolve(gather({}, {}, {**COMPLETE, "audit_syslog": "true"})).audit_syslog is True
    assert resolve(gather({}, {"SMSP_AUDIT_SYSLOG": "1"}, COMPLETE)).audit_syslog is True
    with pytest.raises(ConfigError, match="not true or false"):
        resolve(gather({}, {"SMSP_AUDIT_SYSLOG": "maybe"}, COMPLETE))
