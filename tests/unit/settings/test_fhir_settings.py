"""PDS FHIR profile settings: api, the signing-in settings, token URL defaults, trust store."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsp_cli.domain.errors import ConfigError, UsageError
from smsp_cli.settings.connection import gather, resolve

INT = "https://int.api.service.nhs.uk/personal-demographics/FHIR/R4"
FHIR_PROFILE = {
    "api": "fhir",
    "endpoint": INT,
    "api_key": "app-key-123",
    "signing_key": "/p/signing.pem",
    "signing_key_id": "key-1",
}


def test_api_defaults_to_smsp() -> None:
    assert gather({}, {})["api"].value == "smsp"


def test_api_comes_from_flag_over_variable_over_profile() -> None:
    merged = gather({"api": "fhir"}, {"SMSP_API": "smsp"}, {"api": "smsp"})
    assert (merged["api"].value, merged["api"].source) == ("fhir", "--api")
    merged = gather({}, {"SMSP_API": "fhir"}, {"api": "smsp"})
    assert (merged["api"].value, merged["api"].source) == ("fhir", "SMSP_API")


def test_fhir_profile_resolves_without_certificate_or_audit_id() -> None:
    settings = resolve(gather({}, {}, FHIR_PROFILE))
    assert settings.api == "fhir"
    assert settings.endpoint == INT
    assert settings.fhir is not None
    assert settings.fhir.api_key == "app-key-123"
    assert settings.fhir.signing_key == Path("/p/signing.pem")
    assert settings.fhir.signing_key_id == "key-1"
    assert settings.fhir.token_url == "https://int.api.service.nhs.uk/oauth2/token"
    assert settings.fhir.ods_code is None
    assert settings.fhir.ca_bundle is None  # the operating system's trust store


def test_production_endpoint_has_the_production_token_url() -> None:
    profile = {**FHIR_PROFILE, "endpoint": "https://api.service.nhs.uk/personal-demographics/FHIR/R4"}
    settings = resolve(gather({}, {}, profile))
    assert settings.fhir is not None
    assert settings.fhir.token_url == "https://api.service.nhs.uk/oauth2/token"


def test_other_endpoint_needs_a_token_url() -> None:
    profile = {**FHIR_PROFILE, "endpoint": "https://pds.example.org/FHIR/R4"}
    with pytest.raises(ConfigError, match="no token URL configured") as caught:
        resolve(gather({}, {}, profile))
    assert "SMSP_TOKEN_URL" in (caught.value.hint or "")
    settings = resolve(gather({}, {"SMSP_TOKEN_URL": "https://id.example.org/token"}, profile))
    assert settings.fhir is not None
    assert settings.fhir.token_url == "https://id.example.org/token"


def test_api_key_has_a_variable_and_no_flag() -> None:
    merged = gather({"api_key": "from-argv"}, {"SMSP_API_KEY": "from-env"}, FHIR_PROFILE)
    assert (merged["api_key"].value, merged["api_key"].source) == ("from-env", "SMSP_API_KEY")


def test_missing_fhir_settings_are_named_with_their_variables() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(gather({}, {}, {"api": "fhir", "endpoint": INT}))
    assert caught.value.message == (
        "no API key, signing key or signing key id configured for PDS FHIR"
    )
    assert "SMSP_API_KEY, --signing-key or SMSP_SIGNING_KEY" in (caught.value.hint or "")


def test_ods_code_and_ca_bundle_are_carried() -> None:
    profile = {**FHIR_PROFILE, "ods_code": "Y12345", "ca_bundle": "/p/proxy-ca.pem"}
    settings = resolve(gather({}, {}, profile))
    assert settings.fhir is not None
    assert settings.fhir.ods_code == "Y12345"
    assert settings.fhir.ca_bundle == Path("/p/proxy-ca.pem")


def test_fhir_batch_rate_defaults_to_five_a_second_and_can_be_overridden() -> None:
    assert resolve(gather({}, {}, FHIR_PROFILE)).rate_limit == 5.0
    assert resolve(gather({"rate_limit": "2"}, {}, FHIR_PROFILE)).rate_limit == 2.0
    smsp = {"endpoint": "https://p/", "cert": "/c.pem", "key": "/k.pem", "ca_bundle": "/ca.pem",
            "audit_id": "868000003114"}
    assert resolve(gather({}, {}, smsp)).rate_limit is None


def test_unknown_api_is_usage_from_a_flag_and_config_from_a_profile() -> None:
    with pytest.raises(UsageError, match="api 'soap' from --api is not one of smsp, fhir"):
        resolve(gather({"api": "soap"}, {}, FHIR_PROFILE))
    with pytest.raises(ConfigError, match="api 'rest' from profile is not one of smsp, fhir"):
        resolve(gather({}, {}, {**FHIR_PROFILE, "api": "rest"}))


def test_plain_http_token_url_is_refused() -> None:
    with pytest.raises(ConfigError, match="is not an https:// URL"):
        resolve(gather({}, {"SMSP_TOKEN_URL": "http://id.example.org/token"}, FHIR_PROFILE))
