"""One SMSP call end to end: envelope, mutual TLS POST, reply, judgement."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from smsp_cli import codes
from smsp_cli.errors import ExitCode
from smsp_cli.models import format_nhs_number
from smsp_cli.operations import VERIFY, Operation
from smsp_cli.results import Outcome, Reply

if TYPE_CHECKING:
    import httpx

    from smsp_cli.envelope import BuiltRequest
    from smsp_cli.models import Query
    from smsp_cli.settings import ConnectionSettings


def prepare(query: Query, settings: ConnectionSettings) -> BuiltRequest:
    """Build the envelope this query would send with these settings."""
    from smsp_cli.certinfo import common_name
    from smsp_cli.envelope import EnvelopeSettings, build_request
    from smsp_cli.identity import parse_audit_identity

    envelope_settings = EnvelopeSettings(
        endpoint=settings.endpoint,
        # ITK-WS WS-SEC-02: Username carries the client certificate's Subject CN.
        username=settings.username or common_name(settings.cert),
        audit_identity=parse_audit_identity(settings.audit_id),
    )
    return build_request(query, envelope_settings)


def call(
    query: Query,
    settings: ConnectionSettings,
    *,
    transport: httpx.BaseTransport | None = None,
) -> Outcome:
    """Send the query to the provider and judge its reply."""
    from smsp_cli import transport as http
    from smsp_cli.replies import parse_reply

    context = http.ssl_context(settings.ca_bundle, settings.cert, settings.key)
    request = prepare(query, settings)
    answer = http.post(
        settings.endpoint,
        request.body,
        soap_action=request.soap_action,
        context=context,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        transport=transport,
    )
    reply = parse_reply(
        answer.status_code,
        answer.body,
        expected=query.operation.reply,
        content_type=answer.headers.get("content-type"),
    )
    synthetic = settings.is_sandbox or _from_sandbox(answer.headers)
    return judge(query.operation, reply, request.message_id, synthetic=synthetic)


# The embedded provider names itself in the Server header, so its answers are labelled
# synthetic even when reached through `smsp sandbox serve` and plain settings.
SANDBOX_SERVER_HEADER = "smsp-sandbox"


def _from_sandbox(headers: Mapping[str, str]) -> bool:
    return headers.get("server", "").split("/")[0].strip() == SANDBOX_SERVER_HEADER


def judge(operation: Operation, reply: Reply, message_id: str, *, synthetic: bool) -> Outcome:
    """Map the reply's response code to its text, warnings and exit code (spec §6)."""
    info = codes.lookup(reply.response_code)
    exit_code = info.exit_code
    warnings: list[str] = []
    if info.warning:
        new_number = reply.patient.nhs_number if reply.patient else reply.nhs_number
        if "{nhs}" not in info.warning:
            warnings.append(info.warning)
        elif new_number:
            warnings.append(info.warning.format(nhs=format_nhs_number(new_number)))
        else:
            # getPatientDetails given a superseded number answers without a record.
            warnings.append(info.warning.split(":")[0] + ": use verify to find the new number")
    if operation is VERIFY and reply.verified is False and exit_code == ExitCode.OK:
        # A provider may say "not verified" in validIdentifier alone, with a success code.
        exit_code = ExitCode.NEGATIVE
        warnings.append("the NHS number was not verified against these details; do not use it")
    return Outcome(
        operation=operation.name,
        reply=reply,
        response_text=info.text,
        exit_code=int(exit_code),
        message_id=message_id,
        warnings=tuple(warnings),
        synthetic=synthetic,
    )
