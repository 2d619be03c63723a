"""Application-restricted sign-in: a signed JWT traded for an access token (pds-fhir §1).

The JWT is made by PyJWT over cryptography (RS512, ``kid`` in the header; ``iss`` = ``sub`` =
the API key, ``aud`` = the token URL exactly, a fresh ``jti`` every time, ``exp`` at most five
minutes ahead) and POSTed as ``client_credentials`` with a ``jwt-bearer`` client assertion.
The identity service's refusals are read into one line each, with the next step: exit 6.
Neither the JWT nor the token ever reaches output, logs or the audit trail.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from smsp_cli.domain.errors import ConfigError, ProviderFailed
from smsp_cli.fastclasses import dataclass

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    from smsp_cli.settings.clientcert import PassphraseGetter

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# pds-fhir §1: exp <= now + 300 s; a little under, so a clock a second fast still passes.
ASSERTION_LIFETIME = 290
MIN_KEY_BITS = 2048
MAX_TOKEN_REPLY = 64 * 1024


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and when it expires (seconds since the epoch); repr never shows it."""

    value: str = field(repr=False)
    expires_at: float

    def usable(self, now: float | None = None, margin: float = 30.0) -> bool:
        """True until ``margin`` seconds before it expires (reused until then)."""
        return (now if now is not None else time.time()) < self.expires_at - margin


class TokenRefused(ConfigError):
    """The identity service refused the signed JWT: a set-up problem, exit 6."""


def load_signing_key(path: Path, passphrase: PassphraseGetter | None) -> RSAPrivateKey:
    """The RSA private key (PEM, maybe encrypted) of at least 2048 bits, or ConfigError."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from smsp_cli.settings.clientcert import warn_if_readable_by_others

    what = f"signing key {path}"
    try:
        data = path.read_bytes()
    except OSError:
        raise ConfigError(f"{what} does not exist or is not readable",
                          hint="set --signing-key or SMSP_SIGNING_KEY to the PEM file") from None
    warn_if_readable_by_others(path, "signing key")
    try:
        key = serialization.load_pem_private_key(data, None)
    except TypeError:
        if passphrase is None:
            raise ConfigError(f"{what} is encrypted and no passphrase source was given",
                              hint="pass --passphrase-file FILE") from None
        secret = passphrase(what)
        try:
            key = serialization.load_pem_private_key(data, secret.reveal().encode("utf-8"))
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise ConfigError(f"the passphrase from {secret.source} does not unlock {what}",
                              hint=secret.hint) from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError(f"{what} is not a readable PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{what} is not an RSA key", hint="PDS FHIR signs with RS512")
    if key.key_size < MIN_KEY_BITS:
        raise ConfigError(f"{what} has {key.key_size} bits; at least {MIN_KEY_BITS} are needed")
    return key


def client_assertion(
    key: RSAPrivateKey, *, api_key: str, key_id: str, token_url: str,
    now: float | None = None, lifetime: int = ASSERTION_LIFETIME,
) -> str:
    """A fresh signed JWT for the token request (a new jti every time)."""
    import jwt

    issued = int(now if now is not None else time.time())
    claims = {
        "iss": api_key,
        "sub": api_key,
        "aud": token_url,
        "jti": str(uuid.uuid4()),
        "exp": issued + lifetime,
    }
    return jwt.encode(claims, key, algorithm="RS512", headers={"kid": key_id})


def token_form(assertion: str) -> bytes:
    """The form body of the token request."""
    return urlencode({
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }).encode("ascii")


def read_token_reply(
    status: int, body: bytes, token_url: str, now: float | None = None,
    headers: Mapping[str, str] | None = None,
) -> AccessToken:
    """The access token from the reply, or the refusal explained (exit 6), or ProviderFailed.

    408, 429 and 5xx are a busy or failing service: ProviderFailed with the status (and the
    Retry-After given), which the sign-in retries as a call's retries.
    """
    document = _json(body)
    if status == 200:
        token = document.get("access_token") if document is not None else None
        expires = document.get("expires_in") if document is not None else None
        try:
            seconds = float(str(expires))
        except ValueError:
            seconds = -1.0
        if not isinstance(token, str) or not token or not token.isascii() or seconds <= 0:
            raise ProviderFailed(f"the token service at {token_url} answered without a usable "
                                 "access token", http_status=status)
        return AccessToken(token, (now if now is not None else time.time()) + seconds)
    description = ""
    error = ""
    if document is not None:
        description = str(document.get("error_description") or document.get("message") or "")
        error = str(document.get("error") or "")
    if status >= 500 or status in (408, 429):
        from smsp_cli.adapters.fhir.replies import retry_after

        failed = ProviderFailed(f"the token service at {token_url} failed: HTTP {status}",
                                http_status=status)
        failed.retry_after = retry_after(headers or {})  # type: ignore[attr-defined]
        raise failed
    if status not in (400, 401, 403):
        raise ProviderFailed(
            f"the token URL {token_url} answered HTTP {status}, not a token",
            hint="check token_url (SMSP_TOKEN_URL): it must be the environment's token URL",
            http_status=status)
    cause, step = refusal(error, description)
    raise TokenRefused(f"sign-in refused by {token_url} (HTTP {status}): {cause}", hint=step,
                       http_status=status)


# The identity service's error descriptions, by the words that tell them apart, with the
# cause in plain words and the next step (identity-service-api e2e tests; pds-fhir §1).
_REFUSALS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("register", "public key"), "no public key is registered for this application",
     "publish the public key for the signing key (JWKS) in the developer portal"),
    (("public_key error",), "no public key is registered for this application",
     "publish the public key for the signing key (JWKS) in the developer portal"),
    (("'kid'", "no matching"), "no public key is registered under this signing key id (kid)",
     "check signing_key_id against the kid published in the application's JWKS"),
    (("missing 'kid'",), "the JWT has no kid", "set signing_key_id (SMSP_SIGNING_KEY_ID)"),
    (("'iss'",), "the API key (the JWT's iss and sub) is not a known application",
     "check api_key (SMSP_API_KEY) against the application's key in the developer portal"),
    (("'sub'",), "the API key (the JWT's iss and sub) is not a known application",
     "check api_key (SMSP_API_KEY) against the application's key in the developer portal"),
    (("'aud'",), "the JWT's audience is not this token URL",
     "check token_url (SMSP_TOKEN_URL): it must be the environment's token URL exactly"),
    (("non-unique", "jti"), "the JWT's jti was used before",
     "try again (every request gets a new jti); if it persists, report it"),
    (("'jti'",), "the JWT has no jti", "report it: smsp sends one every time"),
    (("expired",), "the JWT had expired when it arrived",
     "check the computer's clock (smsp doctor checks it)"),
    (("5 minutes",), "the JWT's exp is more than 5 minutes ahead of the service's clock",
     "check the computer's clock (smsp doctor checks it)"),
    (("future",), "the JWT's exp is more than 5 minutes ahead of the service's clock",
     "check the computer's clock (smsp doctor checks it)"),
    (("'alg'",), "the JWT is not signed with RS512", "report it: smsp signs with RS512"),
    (("invalid_client", ), "the application is not recognised",
     "check api_key (SMSP_API_KEY) and that the application is approved for this API"),
)


def refusal(error: str, description: str) -> tuple[str, str]:
    """(cause, next step) for an identity service refusal."""
    words = f"{error} {description}".lower()
    for needles, cause, step in _REFUSALS:
        if all(needle in words for needle in needles):
            return cause, step
    from smsp_cli.untrusted.sanitize import visible

    said = visible(" ".join(description.split())[:200]) or error or "no reason given"
    return f"{said}", "check api_key, signing_key, signing_key_id and token_url"


def _json(body: bytes) -> dict[str, object] | None:
    if len(body) > MAX_TOKEN_REPLY:
        return None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None
