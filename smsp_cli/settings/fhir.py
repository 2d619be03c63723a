"""The settings of a PDS FHIR profile (``api = "fhir"``): who signs in, where, and how.

Application-restricted access signs a JWT with the application's private key and trades it at
the identity service's token URL for an access token (docs: pds-fhir §1). ``token_url`` follows
from the endpoint for NHS England's two environments; any other endpoint must name its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from smsp_cli.domain.errors import ConfigError
from smsp_cli.domain.wording import listed
from smsp_cli.fastclasses import dataclass

API_SMSP = "smsp"
API_FHIR = "fhir"
APIS = (API_SMSP, API_FHIR)

# pds-fhir §1: the identity service's token URL for each environment, by endpoint host.
TOKEN_URLS: Mapping[str, str] = {
    "int.api.service.nhs.uk": "https://int.api.service.nhs.uk/oauth2/token",
    "api.service.nhs.uk": "https://api.service.nhs.uk/oauth2/token",
}

# The API's default per-application limit (spec: 5 transactions a second): a FHIR batch's
# rate unless the profile says otherwise.
DEFAULT_FHIR_RATE = 5.0

# Settings a FHIR call needs, as errors name them (api_key has no flag: kept out of argv).
REQUIRED: Mapping[str, str] = {
    "endpoint": "endpoint",
    "api_key": "API key",
    "signing_key": "signing key",
    "signing_key_id": "signing key id",
}


@dataclass(frozen=True)
class FhirSettings:
    """What signing in and calling PDS FHIR needs, beyond the shared connection settings."""

    api_key: str  # the JWT's iss and sub: an identifier, kept out of argv like a secret
    signing_key: Path  # RSA private key, PEM (maybe encrypted)
    signing_key_id: str  # the JWT header's kid
    token_url: str  # the JWT's aud, exactly
    ods_code: str | None = None  # NHSD-End-User-Organisation-ODS, when set
    ca_bundle: Path | None = None  # None: the operating system's trust store (truststore)


def default_token_url(endpoint: str) -> str | None:
    """The token URL of the environment an endpoint belongs to, or None when unknown."""
    return TOKEN_URLS.get((urlsplit(endpoint).hostname or "").lower())


def check_api(value: str, source: str) -> str:
    """``smsp`` or ``fhir`` (any case), or the error naming where the value came from."""
    text = value.strip().lower()
    if text not in APIS:
        message = f"api {value!r} from {source} is not one of {', '.join(APIS)}"
        from smsp_cli.domain.errors import UsageError

        raise UsageError(message) if source.startswith("--") else ConfigError(message)
    return text


def missing_message(missing: list[str], keys: Mapping[str, tuple[str, str]]) -> tuple[str, str]:
    """The error and its hint for FHIR settings that are not set."""
    what = listed([REQUIRED[key] for key in missing], "or")
    ways = []
    for key in missing:
        flag, variable = keys[key]
        ways.append(f"{flag} or {variable}" if flag else variable)
    return (
        f"no {what} configured for PDS FHIR",
        f"set {listed(ways)}, or `smsp config set KEY VALUE` in the profile; "
        "or try --profile sandbox --api fhir",
    )
