"""Signing in to PDS FHIR (application-restricted, pds-fhir §1): tokens for one profile.

A token is reused within the process and across processes (the cache) until 30 s before it
expires. The token POST is retried as a call is: on a connection failure and on HTTP 408, 429
and 5xx, within the call's retry policy (a Retry-After honoured, capped). Each attempt is told
to ``on_token`` for the audit trail's ``token`` record: the token URL and the outcome, never
the token or the JWT.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from smsp_cli.domain.errors import ProviderFailed, SmspError

if TYPE_CHECKING:
    from smsp_cli.adapters import TokenEvent
    from smsp_cli.adapters.fhir.signin import AccessToken
    from smsp_cli.settings.connection import ConnectionSettings
    from smsp_cli.settings.fhir import FhirSettings
    from smsp_cli.transport.http import Session
    from smsp_cli.transport.retry import RetryPolicy

RETRY_AFTER_CAP = 60.0  # seconds: the longest a Retry-After is waited for


def fhir_settings(settings: ConnectionSettings) -> FhirSettings:
    """The PDS FHIR part of these settings (a programming error without one)."""
    if settings.fhir is None:
        raise ValueError("not a PDS FHIR profile")
    return settings.fhir


class Tokens:
    """Access tokens for one profile: cached in-process and on disk, fetched when needed."""

    def __init__(self, settings: ConnectionSettings, session: Session, *,
                 policy: RetryPolicy | None = None, on_token: TokenEvent | None = None) -> None:
        from smsp_cli.adapters.fhir import tokencache
        from smsp_cli.transport.retry import RetryPolicy

        fhir = fhir_settings(settings)
        self._settings = settings
        self._session = session
        self._policy = policy or RetryPolicy(attempts=1)
        self._on_token = on_token
        self.key = tokencache.cache_key(settings.profile, fhir.api_key, fhir.token_url)

    def current(self) -> str:
        """A token usable for 30 s more: the cached one, else a new one."""
        from smsp_cli.adapters.fhir import tokencache

        token = tokencache.cached(self.key)
        return (token or self.fresh()).value

    def fresh(self) -> AccessToken:
        """Sign in now (the cached token is dropped first), retrying what may pass."""
        from smsp_cli.adapters.fhir import tokencache

        tokencache.drop(self.key)
        attempt = 0
        while True:
            attempt += 1
            try:
                token = self._ask()
            except SmspError as error:
                wait = self._retry_wait(error, attempt)
                if wait is None:
                    raise
                self._policy.sleep(wait)
                continue
            tokencache.store(self.key, token)
            return token

    def after_refusal(self, refused: str) -> str:
        """A token to try after ``refused`` got a 401: one another thread has already got, or
        a new one."""
        return self.replacement(refused)[0]

    def replacement(self, refused: str) -> tuple[str, bool]:
        """As :meth:`after_refusal`, and whether the token is one this call signed in for
        (False: another thread's, which may itself have been refused meanwhile)."""
        from smsp_cli.adapters.fhir import tokencache

        token = tokencache.cached(self.key)
        if token is not None and token.value != refused:
            return token.value, False
        return self.fresh().value, True

    def _ask(self) -> AccessToken:
        """One token request: a fresh JWT (a new jti every time), POSTed to the token URL."""
        from smsp_cli.adapters.fhir import signin

        fhir = fhir_settings(self._settings)
        assertion = signin.client_assertion(
            signing_key(self._settings), api_key=fhir.api_key, key_id=fhir.signing_key_id,
            token_url=fhir.token_url,
        )
        status: int | None = None
        try:
            # Never traced: the body is the signed JWT, the reply the token.
            answer = self._session.send(
                "POST", fhir.token_url,
                headers={"Content-Type": "application/x-www-form-urlencoded",
                         "Accept": "application/json"},
                content=signin.token_form(assertion),
                connect_timeout=self._settings.connect_timeout,
                read_timeout=self._settings.read_timeout,
                max_bytes=signin.MAX_TOKEN_REPLY,
            )
            status = answer.status_code
            token = signin.read_token_reply(answer.status_code, answer.body, fhir.token_url,
                                            headers=answer.headers)
        except signin.TokenRefused as refused:
            self._record("refused", status, refused)
            raise
        except SmspError as error:
            self._record("failed", status, error)
            raise
        self._record("issued", status, None)
        return token

    def _retry_wait(self, error: SmspError, attempt: int) -> float | None:
        from smsp_cli.adapters.fhir.replies import is_retryable_status
        from smsp_cli.transport.http import TransientNetworkError

        retryable = isinstance(error, TransientNetworkError) or (
            isinstance(error, ProviderFailed) and is_retryable_status(error.http_status))
        if not retryable or attempt >= self._policy.attempts:
            return None
        after = getattr(error, "retry_after", None)
        return min(after, RETRY_AFTER_CAP) if after is not None else self._policy.delay(attempt)

    def _record(self, outcome: str, status: int | None, error: SmspError | None) -> None:
        if self._on_token is None:
            return
        fields: dict[str, Any] = {"token_url": fhir_settings(self._settings).token_url,
                                  "outcome": outcome, "http_status": status}
        if error is not None:
            fields["exit_code"] = int(error.exit_code)
        self._on_token(fields)


_keys: dict[str, Any] = {}
_keys_lock = threading.Lock()


def signing_key(settings: ConnectionSettings) -> Any:
    """The profile's signing key, loaded once a process (so its passphrase is asked once)."""
    from smsp_cli.adapters.fhir import signin

    path = fhir_settings(settings).signing_key
    with _keys_lock:
        key = _keys.get(str(path))
        if key is None:
            key = _keys[str(path)] = signin.load_signing_key(path, _passphrase(settings))
        return key


def _passphrase(settings: ConnectionSettings) -> Callable[[str], Any]:
    def ask(what: str) -> Any:
        from smsp_cli.settings.credentials import PassphraseSource

        return PassphraseSource.for_settings(settings)(what)

    return ask
