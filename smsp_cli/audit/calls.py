"""What ``service.call`` tells the trail about each attempt (spec §7.2, MSCA-AUD-01..05).

``service.call`` takes an optional :class:`CallAudit` (one per trail, shared by every call and
thread of a batch) and, for one call, asks it to :meth:`CallAudit.begin`; the
:class:`CallRecorder` it gets writes, per attempt:

* ``sent`` right before the request leaves; if it cannot be written the request is not sent
  (``TrailUnavailable``, exit 6);
* then ``received`` (a business reply or a SOAP fault) or ``failed`` (no usable reply).

Without a CallAudit, each record goes to the trail the settings configure, opened for the
record and closed after it, every record forced to the disk.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from smsp_cli.audit import records

if TYPE_CHECKING:
    from smsp_cli.adapters import Request
    from smsp_cli.audit.trail import Trail
    from smsp_cli.domain.errors import SmspError
    from smsp_cli.domain.models import Query
    from smsp_cli.domain.results import Reply
    from smsp_cli.settings.connection import ConnectionSettings

SUPERSEDED = "DEMOG-0017"


class CallAudit:
    """Records SMSP calls in one trail; ``trail`` None: the one the call's settings configure."""

    def __init__(self, trail: Trail | None = None) -> None:
        self.trail = trail
        self._opened: Trail | None = None  # the settings' trail, opened on first write
        # Attempts with a `sent` record and no outcome yet, so that a batch that stops can
        # give each its outcome with the true reason (settle), and none gets two.
        self._pending: dict[tuple[str, int], tuple[CallRecorder, Request]] = {}
        self._pending_lock = threading.Condition()
        self._sending = 0  # `sent` records being written now
        self._closing = 0  # outcomes being written now (taken from _pending, not yet written)
        self._settled = False
        self.stop_reason: Ending | None = None  # set when the batch stops: why

    def settle(self, ending: Ending) -> int:
        """Write ``failed`` with ``ending``'s reason for every attempt still without an outcome
        (a batch that stops, before closing its trail); return how many there were."""
        self.stop_reason = ending
        with self._pending_lock:
            self._settled = True  # no call may begin now
            while self._sending or self._closing:
                # A `sent` being written is in flight too; an outcome being written must reach
                # the trail before the batch closes it.
                self._pending_lock.wait()
            waiting = list(self._pending.values())
            self._pending.clear()
        for recorder, request in waiting:
            with contextlib.suppress(Exception):
                recorder.write_ending(request, ending)
        return len(waiting)

    @property
    def pending(self) -> int:
        """How many attempts have a `sent` record and no outcome yet."""
        with self._pending_lock:
            return len(self._pending) + self._closing

    @contextlib.contextmanager
    def _sending_attempt(self, recorder: CallRecorder, request: Request,
                         attempt: int) -> Iterator[None]:
        """Around writing a `sent` record: refused once settled, then open until its outcome."""
        from smsp_cli.audit.trail import TrailUnavailable

        with self._pending_lock:
            if self._settled:
                raise TrailUnavailable("the batch has stopped: no more calls are made")
            self._sending += 1
        try:
            yield
            with self._pending_lock:
                self._pending[(request.message_id, attempt)] = (recorder, request)
        finally:
            with self._pending_lock:
                self._sending -= 1
                self._pending_lock.notify_all()

    @contextlib.contextmanager
    def _closing_attempt(self, request: Request, attempt: int) -> Iterator[bool]:
        """Around writing an attempt's outcome: True (once) while it still needs one. The
        attempt counts as pending until its outcome is written, so a stopping batch waits for
        the write instead of closing the trail under it."""
        with self._pending_lock:
            needed = self._pending.pop((request.message_id, attempt), None) is not None
            if needed:
                self._closing += 1
        try:
            yield needed
        finally:
            if needed:
                with self._pending_lock:
                    self._closing -= 1
                    self._pending_lock.notify_all()

    def close(self) -> None:
        """Close the trail this audit opened itself (one given to it stays open)."""
        if self._opened is not None:
            self._opened.close()
            self._opened = None

    def begin(
        self,
        query: Query,
        settings: ConnectionSettings,
        *,
        username: str,
        batch_row: int | None = None,
    ) -> CallRecorder:
        """The recorder for one call: its attempts share these details."""
        from smsp_cli.settings.identity import parse_audit_identity

        details: dict[str, Any] = {
            "api": settings.api,
            "username": username,
            "profile": settings.profile,
            "environment": settings.environment,
            "endpoint": settings.endpoint,
            "operation": query.operation.name,
        }
        if batch_row is not None:
            details["batch_row"] = batch_row
        # PDS FHIR sends no audit identity (the API's proxy adds the application's ASID).
        identity = [{"type": item.type, "uri": item.uri}
                    for item in parse_audit_identity(settings.audit_id)
                    ] if settings.audit_id else []
        return CallRecorder(self, settings, query, details, identity)

    def write(self, settings: ConnectionSettings, fields: Mapping[str, Any]) -> None:
        """Append one record: to this audit's trail, or to the one ``settings`` configure."""
        if self.trail is not None:
            self.trail.append(fields)
            return
        if self._opened is None:
            # Opened once for a call's records (sent, then received), not once for each.
            from smsp_cli.audit.configured import TrailOptions, open_trail

            self._opened = open_trail(TrailOptions.from_settings(settings))
        self._opened.append(fields)

    def token(self, settings: ConnectionSettings, fields: Mapping[str, Any]) -> None:
        """A PDS FHIR token request: the token URL and its outcome (never the token or JWT)."""
        self.write(settings, records.stamped(records.TOKEN, {
            "api": settings.api,
            "profile": settings.profile,
            "environment": settings.environment,
            **fields,
        }))


@dataclass(frozen=True)
class Ending:
    """Why calls in flight were given up: the outcome their `failed` records carry."""

    exit_code: int
    error: str  # the error's class, as the JSON error object names them
    reason: str  # in words


INTERRUPTED = Ending(130, "interrupted", "interrupted (Ctrl-C)")
OUTPUT_CLOSED = Ending(141, "output_closed", "the reader of the output went away")


class CallRecorder:
    """One call's records: ``sent`` before each attempt, then ``received`` or ``failed``."""

    def __init__(
        self,
        audit: CallAudit,
        settings: ConnectionSettings,
        query: Query,
        details: Mapping[str, Any],
        identity: list[dict[str, str | None]],
    ) -> None:
        self._audit = audit
        self._settings = settings
        self._query = query
        self._details = details
        self._identity = identity
        self._attempt = 0

    def sent(self, request: Request, attempt: int) -> None:
        """Before the request leaves: who, where, which message, which patient."""
        self._attempt = attempt
        with self._audit._sending_attempt(self, request, attempt):
            self._write(records.SENT, request, {
                "tracking_id": request.tracking_id,
                "audit_identity": self._identity,
                "nhs_numbers": self._requested(),
            })

    def received(
        self, request: Request, reply: Reply, http_status: int | None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """A business reply: its MessageID, the response code, the NHS numbers it names.

        ``extra``: what the API adds (PDS FHIR: ``issue_code``).
        """
        with self._audit._closing_attempt(request, self._attempt) as needed:
            if needed:  # else already given its outcome when the batch stopped
                self._received(request, reply, http_status, extra)

    def _received(
        self, request: Request, reply: Reply, http_status: int | None,
        extra: Mapping[str, Any] | None,
    ) -> None:
        numbers = [n for n in (reply.nhs_number, reply.patient and reply.patient.nhs_number) if n]
        fields: dict[str, Any] = {
            "reply_message_id": records.bounded(reply.message_id),
            "http_status": http_status,
            "response_code": records.bounded(reply.response_code),
            **{key: records.bounded(value) if isinstance(value, str) else value
               for key, value in (extra or {}).items()},
        }
        given = self._query.nhs_number
        if reply.response_code == SUPERSEDED and given:
            # DEMOG-0017: the number asked for is superseded; both find this call.
            fields["superseded_nhs_number"] = given
            numbers.insert(0, given)
        fields["nhs_numbers"] = list(dict.fromkeys(numbers))
        self._write(records.RECEIVED, request, fields)

    def failed(self, request: Request, error: SmspError, http_status: int | None) -> None:
        """No business reply: a SOAP fault is still a reply (received, with its fault code)."""
        ending = self._audit.stop_reason
        with self._audit._closing_attempt(request, self._attempt) as needed:
            if needed:  # else already given its outcome when the batch stopped
                self._no_reply(request, error, http_status, ending)

    def _no_reply(self, request: Request, error: SmspError, http_status: int | None,
                  ending: Ending | None) -> None:
        if ending is not None and error.fault is None and error.http_status is None:
            # No answer came because the batch stopped (its connections were closed): the
            # stop is the true reason.
            self.write_ending(request, ending)
            return
        if error.fault is not None:
            fault = error.fault
            self._write(records.RECEIVED, request, {
                "reply_message_id": None,
                "http_status": http_status,
                "fault_code": records.bounded(fault.error_code or fault.faultcode),
                "nhs_numbers": [],
            })
            return
        self._failed(request, int(error.exit_code), _error_type(int(error.exit_code)),
                     http_status, getattr(error, "issue_code", None),
                     reason=getattr(error, "reason", None))

    def interrupted(self, request: Request) -> None:
        """The attempt was stopped (Ctrl-C, or the batch it belongs to stopped): best effort,
        never hiding the interruption, with the batch's reason when it stopped."""
        from smsp_cli.domain.errors import SmspError

        with self._audit._closing_attempt(request, self._attempt) as needed, \
                contextlib.suppress(SmspError, OSError):
            if needed:
                self.write_ending(request, self._audit.stop_reason or INTERRUPTED)

    def write_ending(self, request: Request, ending: Ending) -> None:
        """The attempt's `failed` record for a call given up: ``ending`` says why."""
        self._failed(request, ending.exit_code, ending.error, None, reason=ending.reason)

    def _failed(
        self, request: Request, exit_code: int, error: str, http_status: int | None,
        issue_code: str | None = None, *, reason: str | None = None,
    ) -> None:
        fields: dict[str, Any] = {"http_status": http_status, "exit_code": exit_code,
                                  "error": error}
        if issue_code is not None:
            fields["issue_code"] = records.bounded(issue_code)
        if reason is not None:
            # A reply that did not answer the request: what did not match (never the patient).
            fields["reason"] = reason
        self._write(records.FAILED, request, fields)

    def _requested(self) -> list[str]:
        return [self._query.nhs_number] if self._query.nhs_number else []

    def _write(self, event: str, request: Request, fields: Mapping[str, Any]) -> None:
        self._audit.write(self._settings, records.stamped(event, {
            **self._details,
            "message_id": request.message_id,
            "attempt": self._attempt,
            **fields,
        }))


def _error_type(exit_code: int) -> str:
    from smsp_cli.output.jsonshape import ERROR_TYPES

    return ERROR_TYPES.get(exit_code, "provider_failed")
