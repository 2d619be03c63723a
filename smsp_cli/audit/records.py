"""The records of the audit trail (spec §7.2, MSCA-AUD-01..07): one JSON object per line.

Every record starts with ``seq`` (one more than the record before it, across every file of the
trail) and ``prev`` (the SHA-256, in hex, of the previous record's line; ``null`` for the first),
then ``time`` (UTC), ``event`` and who made it: ``user`` (the operating system's user) and
``host``. The events:

* ``sent``: written and flushed before a request leaves: ``api`` (smsp or fhir), ``username``
  (the wsse:Username sent; for PDS FHIR the API key), ``profile``, ``environment``,
  ``endpoint``, ``operation``, ``message_id`` (PDS FHIR: the X-Request-ID), ``tracking_id``,
  ``attempt``, ``batch_row`` (in a batch), ``audit_identity`` (the itk:id entries sent),
  ``nhs_numbers`` (those in the request) and ``writer`` (the writing process's token);
* ``received``: the same call fields, ``reply_message_id``, ``http_status``, ``response_code``
  or ``fault_code``, and ``nhs_numbers`` in the reply; for DEMOG-0017 also the number the
  request gave, named again in ``superseded_nhs_number``; PDS FHIR adds ``issue_code``;
* ``failed``: an attempt with no usable reply: ``http_status`` when there was one,
  ``exit_code`` and ``error`` (its class, as the JSON error object names it); for a call
  given up (the batch stopped, or its process ended), ``reason`` in words; for a reply
  that did not answer the request, ``reason`` says what did not match (``relates_to``,
  ``several_patients``, ``other_nhs_number``, ``no_nhs_number``, ``other_local_identifier``);
* ``config``: a change by ``config set/unset/use/init`` or ``auth set/delete``, or a rejected
  passphrase (``action``, ``profile``, ``key`` and the non-secret ``value``);
* ``token``: a PDS FHIR sign-in: ``token_url``, ``outcome`` (issued, refused or failed),
  ``http_status``; never the token or the JWT;
* ``integrity``: what the writer found wrong with the trail and did about it (``problem``).

The NHS number is the patient identifier MSCA-AUD asks for; names, dates of birth, addresses
and every other demographic are never recorded.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Mapping
from typing import Any

# The event names live on the ground floor (the audit table reads them too); callers of the
# trail keep naming them records.SENT and so on.
from smsp_cli.domain.audit_events import CONFIG as CONFIG
from smsp_cli.domain.audit_events import FAILED as FAILED
from smsp_cli.domain.audit_events import INTEGRITY as INTEGRITY
from smsp_cli.domain.audit_events import RECEIVED as RECEIVED
from smsp_cli.domain.audit_events import SENT as SENT
from smsp_cli.domain.audit_events import TOKEN as TOKEN
from smsp_cli.system.account import os_user

# Integrity problems the writer records; verify treats every one but TORN as damage.
TORN = "torn"  # a line cut short by a crash: set aside, nothing lost
CUT = "cut"  # records missing from the end (the checkpoint was ahead of the trail)
CHECKPOINT_MISMATCH = "checkpoint-mismatch"  # the last record is not the one checkpointed
CHECKPOINT_MISSING = "checkpoint-missing"  # the checkpoint was deleted or unreadable
UNREADABLE_HEAD = "unreadable-head"  # the last line is not a record

# A provider's reply MessageID is untrusted text: kept, but bounded.
MAX_FOREIGN_TEXT = 200


def utc_timestamp(now: dt.datetime | None = None) -> str:
    """``2025-01-04T10:11:12.123456Z``: UTC, as ITK header timestamps are (MSCA-AUD-07)."""
    moment = dt.datetime.now(dt.UTC) if now is None else now.astimezone(dt.UTC)
    # isoformat, not strftime (which goes through the C library's): the same text, in half
    # the time, twice a batch row.
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


@functools.cache
def host_name() -> str:
    """This machine's name (the originating system, spec §7.2)."""
    import socket

    return socket.gethostname()


def stamped(event: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` headed by the time, the event and who made it."""
    return {"time": utc_timestamp(), "event": event, "user": os_user(), "host": host_name(),
            **fields}


# What json.dumps(record, ensure_ascii=False, separators=(",", ":")) would build for every
# record (options other than the defaults make it build a new encoder each call): built once.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def encode(seq: int, prev: str | None, fields: Mapping[str, Any]) -> bytes:
    """One record as its line: compact JSON, UTF-8, ending in a newline (never inside)."""
    record = {"seq": seq, "prev": prev, **fields}
    return (_ENCODER.encode(record) + "\n").encode("utf-8")


def digest(line: bytes) -> str:
    """The SHA-256 of one record's line (without its newline), as the next record's ``prev``."""
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def decode(line: bytes) -> dict[str, Any] | None:
    """The record on ``line``, or None when it is not a JSON object with a whole ``seq``."""
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(record, dict):
        return None
    seq = record.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        return None
    prev = record.get("prev")
    if prev is not None and not isinstance(prev, str):
        return None
    return record


def bounded(text: str | None) -> str | None:
    """Untrusted text cut to a length a record can carry."""
    if text is None:
        return None
    return text if len(text) <= MAX_FOREIGN_TEXT else text[: MAX_FOREIGN_TEXT - 1] + "…"


def span(first: int, last: int) -> str:
    """``record 8 is`` or ``records 8 to 10 are``: the subject of a sentence about records."""
    return f"record {first} is" if first == last else f"records {first} to {last} are"


def integrity(problem: str, detail: str, **facts: Any) -> dict[str, Any]:
    """An integrity record's fields: what the writer found, in words and as facts."""
    return stamped(INTEGRITY, {"problem": problem, "detail": detail, **facts})


def config_change(action: str, *, profile: str | None, **facts: Any) -> dict[str, Any]:
    """A config record's fields (never a secret: the config file holds none)."""
    return stamped(CONFIG, {"action": action, "profile": profile, **facts})
