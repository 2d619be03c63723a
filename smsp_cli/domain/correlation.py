"""Every answer belongs to its question: the rule that ties a reply to the request sent.

A plain function over domain values, the same for every provider API: the SMSP adapter and a
PDS FHIR adapter each read their reply into a :class:`~smsp_cli.domain.results.Reply` (its
``relates_to``, ``nhs_numbers`` and ``records`` filled from what the wire carried), and the
orchestrator (:mod:`smsp_cli.service`) calls :func:`correlate` with the query it sent and the
id it sent it under, before anything of the reply is judged, shown or recorded as received.

A reply is used only if all of these hold:

1. ``relates_to``: every id the reply says it answers equals the id we sent, compared
   case-insensitively, with or without a ``uuid:`` or ``urn:uuid:`` prefix. A reply may omit it
   (SMSP: WS-ADR-09 lets a synchronous reply leave out wsa:RelatesTo), so this cannot be the
   only guard;
2. it holds at most one patient record (SMSP never returns lists: spec §1, MSCA-DQ-06), for
   every operation, search and trace included;
3. asked by NHS number (verify, get, details by number), every number the reply carries is the
   number asked for; or, with DEMOG-0017 only, one other number, which is then the successor;
4. asked by NHS number, a patient record that carries no NHS number at all cannot be tied to
   the question, and is refused too;
5. asked with a local identifier, a reply that echoes a different one answers someone else.

Anything else raises :class:`~smsp_cli.domain.errors.MismatchedReply` (exit 4, never retried),
whose message says what did not match without naming any patient, and whose ``reason`` is the
short word the audit trail's ``failed`` record carries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsp_cli.domain.errors import MismatchedReply
from smsp_cli.fastclasses import dataclass

if TYPE_CHECKING:
    from smsp_cli.domain.models import Query
    from smsp_cli.domain.results import Reply

SUPERSEDED = "DEMOG-0017"

# Reasons, as the audit trail's failed record names them (a public contract, like JSON keys).
RELATES_TO = "relates_to"
SEVERAL_PATIENTS = "several_patients"
OTHER_NHS_NUMBER = "other_nhs_number"
NO_NHS_NUMBER = "no_nhs_number"
OTHER_LOCAL_IDENTIFIER = "other_local_identifier"


@dataclass(frozen=True)
class Correlation:
    """What the rule learnt: the number asked for, and its successor, when superseded."""

    superseded: str | None = None  # the number asked for, when the reply is DEMOG-0017
    successor: str | None = None  # the other number a DEMOG-0017 reply carries, if any


def correlate(query: Query, reply: Reply, message_id: str) -> Correlation:
    """Check that ``reply`` answers ``query`` sent as ``message_id``; else MismatchedReply."""
    _check_relates_to(reply.relates_to, message_id)
    records = _records(reply)
    if records > 1:
        raise MismatchedReply(
            f"the reply holds {records} patient records where one at most answers the request",
            reason=SEVERAL_PATIENTS,
        )
    _check_local_identifier(query, reply)
    superseded = reply.response_code == SUPERSEDED
    asked = query.nhs_number
    if asked is None:
        return Correlation()
    carried = list(dict.fromkeys(carried_numbers(reply)))
    if reply.patient is not None and reply.patient.nhs_number is None:
        raise MismatchedReply(
            "the reply's patient record carries no NHS number, so it cannot be tied to the "
            "number asked for",
            reason=NO_NHS_NUMBER,
        )
    others = [number for number in carried if _digits(number) != asked]
    if not others:
        return Correlation(superseded=asked if superseded else None)
    if superseded and len(others) == 1 and len(carried) == 1:
        return Correlation(superseded=asked, successor=others[0])
    what = "another NHS number than the one asked for"
    if superseded:
        what = "more than one NHS number besides the one asked for"
    raise MismatchedReply(f"the reply carries {what}", reason=OTHER_NHS_NUMBER)


def carried_numbers(reply: Reply) -> tuple[str, ...]:
    """Every NHS number the reply carries, whatever the adapter filled in."""
    found = list(reply.nhs_numbers)
    for number in (reply.nhs_number, reply.patient.nhs_number if reply.patient else None):
        if number is not None and number not in found:
            found.append(number)
    return tuple(found)


def same_message_id(theirs: str, ours: str) -> bool:
    """``uuid:ABC...``, ``urn:uuid:abc...`` and ``ABC...`` name the same message."""
    return _bare_id(theirs) == _bare_id(ours)


def _check_relates_to(relates_to: tuple[str, ...], message_id: str) -> None:
    for theirs in relates_to:
        if not same_message_id(theirs, message_id):
            raise MismatchedReply(
                "the reply answers another message: its RelatesTo is not the MessageID sent",
                reason=RELATES_TO,
            )


def _records(reply: Reply) -> int:
    if reply.records is not None:
        return reply.records
    return 1 if reply.patient is not None or reply.nhs_number is not None else 0


def _check_local_identifier(query: Query, reply: Reply) -> None:
    sent = query.local_id.extension if query.local_id is not None else None
    echoed = reply.local_identifier
    if echoed is None and reply.patient is not None:
        echoed = reply.patient.local_identifier
    if sent is not None and echoed is not None and echoed.strip() != sent:
        raise MismatchedReply(
            "the reply echoes another local identifier than the one sent",
            reason=OTHER_LOCAL_IDENTIFIER,
        )


def _bare_id(value: str) -> str:
    bare = value.strip().lower()
    for prefix in ("urn:", "uuid:"):
        bare = bare.removeprefix(prefix)
    return bare


def _digits(number: str) -> str:
    # A provider may space the number as people write it (943 476 5919).
    return "".join(number.split())
