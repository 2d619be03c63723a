"""The batch settings, concurrency and rate_limit: layered like every other, and checked."""

from __future__ import annotations

import pytest

from smsp_cli.domain.errors import ConfigError, UsageError
from smsp_cli.settings import config
from smsp_cli.settings.connection import gather, resolve
from tests.lib.cli import smsp

COMPLETE = {
    "endpoint": "https://profile.example/smsp/pds",
    "cert": "/p/cert.pem",
    "key": "/p/key.pem",
    "ca_bundle": "/p/ca.pem",
    "audit_id": "868000003114",
}


def test_concurrency_defaults_to_4_and_rate_limit_to_none() -> None:
    settings = resolve(gather({}, {}, COMPLETE))
    assert settings.concurrency == 4
    assert settings.rate_limit is None


@pytest.mark.parametrize(
    ("flags", "env", "profile", "expected"),
    [
        ({"concurrency": "8"}, {"SMSP_CONCURRENCY": "6"}, {"concurrency": "2"},
         (8, "--concurrency")),
        ({}, {"SMSP_CONCURRENCY": "6"}, {"concurrency": "2"}, (6, "SMSP_CONCURRENCY")),
        ({}, {}, {"concurrency": "2"}, (2, "profile")),
    ],
)
def test_concurrency_layers_flag_variable_profile(
    flags: dict[str, str], env: dict[str, str], profile: dict[str, str],
    expected: tuple[int, str],
) -> None:
    settings = resolve(gather(flags, env, {**COMPLETE, **profile}))
    assert (settings.concurrency, settings.sources["concurrency"]) == expected


@pytest.mark.parametrize(
    ("flags", "env", "profile", "expected"),
    [
        ({"rate_limit": "50"}, {"SMSP_RATE_LIMIT": "20"}, {"rate_limit": "5"}, 50.0),
        ({}, {"SMSP_RATE_LIMIT": "2.5"}, {"rate_limit": "5"}, 2.5),
        ({}, {}, {"rate_limit": "5"}, 5.0),
    ],
)
def test_rate_limit_layers_flag_variable_profile(
    flags: dict[str, str], env: dict[str, str], profile: dict[str, str], expected: float
) -> None:
    assert resolve(gather(flags, env, {**COMPLETE, **profile})).rate_limit == expected


@pytest.mark.parametrize("value", ["0", "65", "four", "-1", "2.5"])
def test_bad_concurrency_flag_is_a_usage_error(value: str) -> None:
    with pytest.raises(UsageError, match=r"concurrency .* from --concurrency .* 1 to 64"):
        resolve(gather({"concurrency": value}, {}, COMPLETE))


@pytest.mark.parametrize("value", ["0", "-3", "fast", "nan", "inf", "10001"])
def test_bad_rate_limit_variable_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError, match=r"rate_limit .* from SMSP_RATE_LIMIT"):
        resolve(gather({}, {"SMSP_RATE_LIMIT": value}, COMPLETE))


def test_config_set_stores_typed_batch_settings() -> None:
    assert smsp("config", "set", "concurrency", "8", "--profile", "p").exit_code == 0
    assert smsp("config", "set", "rate_limit", "12.5", "--profile", "p").exit_code == 0
    loaded = config.load()
    assert loaded.profiles["p"]["concurrency"] == 8
    assert loaded.profiles["p"]["rate_limit"] == 12.5


def test_config_set_refuses_a_bad_concurrency() -> None:
    run = smsp("config", "set", "concurrency", "0", "--profile", "p")
    assert run.exit_code == 6
    assert run.stdout == ""
    assert "concurrency '0'" in run.stderr
