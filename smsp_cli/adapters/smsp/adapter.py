"""The SMSP adapter: SOAP envelopes from templates, posted with a SOAPAction, replies parsed.

It implements :class:`smsp_cli.adapters.Adapter` for SMSP; :mod:`smsp_cli.service` drives it.
SMSP needs no sign-in (mutual TLS is the authentication), and every attempt is a new message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from smsp_cli.adapters import Reading
from smsp_cli.adapters.smsp.envelope import BuiltRequest, EnvelopeSettings, build_request
from smsp_cli.settings.identity import parse_audit_identity

if TYPE_CHECKING:
    import datetime as dt

    import httpx

    from smsp_cli.adapters import Authorisation, TokenEvent
    from smsp_cli.domain.errors import SmspError
    from smsp_cli.domain.models import Query
    from smsp_cli.settings.clientcert import PassphraseGetter
    from smsp_cli.settings.connection import ConnectionSettings
    from smsp_cli.settings.credentials import Secret
    from smsp_cli.transport.http import HttpReply, Session
    from smsp_cli.transport.retry import RetryPolicy
    from smsp_cli.transport.trace import Trace


class _MutualTls:
    """SMSP's authorisation is the client certificate the session presents: no headers."""

    def headers(self) -> Mapping[str, str]:
        return {}

    def renew(self, error: SmspError) -> bool:
        return False


_NO_SIGN_IN = _MutualTls()


class SmspAdapter:
    """SMSP over SOAP 1.1 and ITK (spec §3, §5): one POST per attempt."""

    api = "smsp"

    def open_session(
        self, settings: ConnectionSettings, *, transport: httpx.BaseTransport | None = None,
        max_connections: int = 10,
    ) -> Session:
        """Mutual TLS: the client certificate and key loaded once, for every call of the pool."""
        from smsp_cli.settings import clientcert
        from smsp_cli.transport import http

        client = clientcert.for_tls(settings.cert, settings.key, passphrase_source(settings))
        # A server would refuse an expired or not yet valid certificate: exit 6, nothing sent.
        clientcert.refuse_out_of_date(client)
        context = http.ssl_context(
            settings.ca_bundle,
            settings.cert,
            settings.key,
            client=client,
            min_tls_version=settings.min_tls_version,
        )
        return http.Session(
            context, transport=transport, client=client, max_connections=max_connections
        )

    def sender(self, settings: ConnectionSettings, session: Session | None = None) -> str:
        """wsse:Username: the setting, else the client certificate's CN (ITK-WS WS-SEC-02)."""
        if settings.username:
            return settings.username
        client = session.client if session is not None else None
        if client is not None:
            return client.common_name
        from smsp_cli.settings import clientcert

        # A PEM certificate is read without its key; a PKCS#12 file may need its passphrase.
        return clientcert.common_name(settings.cert, settings.key, passphrase_source(settings))

    def load_credentials(self, settings: ConnectionSettings) -> None:
        """Nothing beyond the session's client certificate, loaded when the session opens."""

    def authorise(
        self, settings: ConnectionSettings, session: Session, *, policy: RetryPolicy,
        on_token: TokenEvent,
    ) -> Authorisation:
        """Mutual TLS authenticates every exchange: nothing to sign in to."""
        return _NO_SIGN_IN

    def build(
        self,
        query: Query,
        settings: ConnectionSettings,
        *,
        username: str,
        now: dt.datetime | None = None,
    ) -> BuiltRequest:
        """The SOAP request for this query (fresh MessageID, trackingid and timestamp)."""
        return build_request(query, _envelope_settings(settings, username), now=now)

    def again(self, request: BuiltRequest, query: Query, settings: ConnectionSettings, *,
              username: str) -> BuiltRequest:
        """Spec §5.9: each attempt is a new message, with a fresh MessageID, trackingid and
        timestamp; nothing of a failed attempt is reused."""
        return self.build(query, settings, username=username)

    def send(
        self,
        session: Session,
        request: BuiltRequest,
        settings: ConnectionSettings,
        *,
        trace: Trace | None,
        authorisation: Authorisation,
    ) -> HttpReply:
        """POST the envelope; each attempt has its own deadline: connect + read timeout."""
        return session.post(
            settings.endpoint,
            request.body,
            soap_action=request.soap_action,
            quote_soap_action=settings.soap_action_quoted,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            trace=trace,
        )

    def read(self, query: Query, request: BuiltRequest, answer: HttpReply, *,
             before: Reading | None = None) -> Reading:
        """The reply in the order of checks :func:`~.replies.parse_reply` documents."""
        # Imported here: a dry run builds envelopes and never reads a reply.
        from smsp_cli.adapters.smsp.replies import parse_reply

        reply = parse_reply(
            answer.status_code,
            answer.body,
            expected=query.operation.reply,
            content_type=answer.headers.get("content-type"),
        )
        return Reading(reply, request.message_id, server_certificate=answer.server_certificate)

    def retry_wait(self, error: SmspError, attempt: int, http_status: int | None,
                   policy: RetryPolicy) -> float | None:
        """Spec §5.9: what may pass is tried again, after the policy's backoff."""
        return policy.delay(attempt) if policy.should_retry(error, attempt, http_status) else None


def _envelope_settings(settings: ConnectionSettings, username: str) -> EnvelopeSettings:
    return EnvelopeSettings(
        endpoint=settings.endpoint,
        # ITK-WS WS-SEC-02: Username carries the client certificate's Subject CN.
        username=username,
        audit_identity=parse_audit_identity(settings.audit_id),  # read once a run (cached)
        sender_address=settings.sender_address,  # optional wsa:From (WS-ADR-05)
    )


def passphrase_source(settings: ConnectionSettings) -> PassphraseGetter:
    """The settings' passphrase source, set up only if a file turns out to be encrypted."""
    found: list[PassphraseGetter] = []

    def passphrase(what: str) -> Secret:
        if not found:
            # The keyring and prompt machinery load only for an encrypted key or PKCS#12.
            from smsp_cli.settings.credentials import PassphraseSource

            found.append(PassphraseSource.for_settings(settings))
        return found[0](what)

    return passphrase


SMSP = SmspAdapter()
"""The one SMSP adapter: it keeps no state between calls."""
