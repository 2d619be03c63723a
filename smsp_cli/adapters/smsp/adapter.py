"""The SMSP adapter: SOAP envelopes from templates, posted with a SOAPAction, replies parsed.

It implements :class:`smsp_cli.adapters.Adapter` for SMSP; :mod:`smsp_cli.service` drives it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsp_cli.adapters.smsp.envelope import BuiltRequest, EnvelopeSettings, build_request
from smsp_cli.settings.identity import parse_audit_identity

if TYPE_CHECKING:
    import datetime as dt

    from smsp_cli.domain.models import Query
    from smsp_cli.domain.results import Reply
    from smsp_cli.settings.connection import ConnectionSettings
    from smsp_cli.transport.http import HttpReply, Session
    from smsp_cli.transport.trace import Trace


class SmspAdapter:
    """SMSP over SOAP 1.1 and ITK (spec §3, §5): one POST per attempt."""

    def build(
        self,
        query: Query,
        settings: ConnectionSettings,
        *,
        username: str,
        now: dt.datetime | None = None,
    ) -> BuiltRequest:
        """The SOAP request for this query (fresh MessageID, trackingid and timestamp)."""
        envelope_settings = EnvelopeSettings(
            endpoint=settings.endpoint,
            # ITK-WS WS-SEC-02: Username carries the client certificate's Subject CN.
            username=username,
            audit_identity=parse_audit_identity(settings.audit_id),
            sender_address=settings.sender_address,  # optional wsa:From (WS-ADR-05)
        )
        return build_request(query, envelope_settings, now=now)

    def send(
        self,
        session: Session,
        request: BuiltRequest,
        settings: ConnectionSettings,
        *,
        trace: Trace | None,
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

    def read(self, query: Query, answer: HttpReply) -> Reply:
        """The reply in the order of checks :func:`~.replies.parse_reply` documents."""
        # Imported here: a dry run builds envelopes and never reads a reply.
        from smsp_cli.adapters.smsp.replies import parse_reply

        return parse_reply(
            answer.status_code,
            answer.body,
            expected=query.operation.reply,
            content_type=answer.headers.get("content-type"),
        )


SMSP = SmspAdapter()
"""The one SMSP adapter: it keeps no state between calls."""
