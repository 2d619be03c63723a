"""Guard rails for real providers (spec §7.2, §7.3): the Computer Misuse Act banner, labels that
keep test and sandbox output from passing for live data, and a local record of who called.

* A ``live`` profile shows the banner on stderr, only on a terminal (CLI-COMMON App. A 3.1.11),
  with the identity the call is made as (MSCA-IG-03): scripts' output stays clean.
* ``test`` and ``sandbox`` output carries a label, printed once with the result: in the table
  on a terminal, else on stderr (:mod:`smsp_cli.output.render`).
* Every call to a provider that is not a sandbox appends one JSON line to ``access.jsonl`` in
  the user data directory (``SMSP_DATA_DIR`` overrides it): who, when, profile, endpoint,
  audit identity, operation, each attempt's MessageID and trackingid, and the outcome. No
  patient data: spec §7.2 asks for the NHS number, but this file is not the secure, queryable
  audit store MSCA-AUD describes, so it holds nothing a reader could use to learn about a
  patient. Each line carries a sequence number and the SHA-256 of the line before it, so a
  deleted or edited line shows.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from smsp_cli.errors import ConfigError, SmspError
from smsp_cli.sandbox.paths import DATA_DIR_VARIABLE

if TYPE_CHECKING:
    from smsp_cli.settings.connection import ConnectionSettings
    from smsp_cli.wire.retry import AttemptEvent

# The wording of CLI-COMMON App. A 3.1.11, with its en dash.
CMA_BANNER = "Computer Misuse Act 1990 \u2013 Unauthorised access to this system is an offence"
ACCESS_RECORD_FILE = "access.jsonl"
_TAIL_BYTES = 64 * 1024  # enough to hold the last line


def caller() -> str:
    """The local user name, as the operating system knows it."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def announce(settings: ConnectionSettings, *, stream: TextIO | None = None) -> None:
    """Before a call to a live provider, on a terminal: the banner and who is calling."""
    stream = stream or sys.stderr
    if settings.environment != "live" or not _is_terminal(stream):
        return
    stream.write(
        f"{CMA_BANNER}\n"
        f"Calling {_host(settings.endpoint)} (profile {settings.profile or 'none'}, live) as "
        f"{caller()} with audit identity {settings.audit_id}\n"
    )
    stream.flush()


def label(settings: ConnectionSettings) -> str | None:
    """The line that marks output from a test or sandbox provider, or None for live."""
    if settings.environment == "test":
        return (
            f"TEST environment (profile {settings.profile or 'none'}): data from a test "
            "provider, not live patient data"
        )
    if settings.environment == "sandbox" and not settings.is_sandbox:
        # The built-in sandbox's answers are marked synthetic with the result instead.
        return f"SANDBOX environment (profile {settings.profile or 'none'}): synthetic data"
    return None


def access_record_path() -> Path:
    """``$SMSP_DATA_DIR/access.jsonl``, else in the platform's user data directory."""
    override = os.environ.get(DATA_DIR_VARIABLE, "").strip()
    if override:
        return Path(override).expanduser() / ACCESS_RECORD_FILE
    import platformdirs

    return Path(platformdirs.user_data_dir("smsp")) / ACCESS_RECORD_FILE


@dataclass
class CallRecord:
    """One call's entry in the access record, filled in as the attempts happen."""

    settings: ConnectionSettings
    operation: str
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    attempts: list[dict[str, str]] = field(default_factory=list)
    outcome: str = "answered"  # the response code, once there is one

    def attempt(self, event: AttemptEvent) -> None:
        """Note one attempt's ids (the retry loop calls this)."""
        self.attempts.append({"message_id": event.message_id, "tracking_id": event.tracking_id})

    def entry(self, outcome: str) -> dict[str, object]:
        """The JSON object for this call."""
        settings = self.settings
        return {
            "time": self.started.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "user": caller(),
            "host": _hostname(),
            "profile": settings.profile,
            "environment": settings.environment,
            "endpoint": settings.endpoint,
            "audit_id": settings.audit_id,
            "operation": self.operation,
            "attempts": self.attempts,
            "outcome": outcome,
        }


@contextlib.contextmanager
def recorded(settings: ConnectionSettings, operation: str) -> Iterator[CallRecord]:
    """Record the call made inside the block; a sandbox call is not recorded.

    The record file is opened before the call, so a call that could not be recorded is never
    made (MSCA-AUD: the audit trail must always be enabled).
    """
    record = CallRecord(settings, operation)
    if settings.environment == "sandbox":
        yield record
        return
    path = access_record_path()
    handle = _open_record(path)
    try:
        try:
            yield record
        except SmspError as error:
            _append(handle, record.entry(f"error (exit {int(error.exit_code)})"))
            raise
        except BaseException:
            _append(handle, record.entry("interrupted"))
            raise
        _append(handle, record.entry(record.outcome))
    finally:
        handle.close()


def _open_record(path: Path) -> TextIO:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as exc:
        raise ConfigError(
            f"cannot open the access record {path}: {exc.strerror}",
            hint=f"smsp records every call to a real provider; fix the file or set "
            f"{DATA_DIR_VARIABLE}",
        ) from None
    return os.fdopen(descriptor, "r+", encoding="utf-8")


def _append(handle: TextIO, entry: dict[str, object]) -> None:
    with _locked(handle):
        previous = _last_line(handle)
        sequence = 1
        if previous:
            with contextlib.suppress(ValueError, TypeError):
                sequence = int(json.loads(previous)["seq"]) + 1
        digest = hashlib.sha256(previous.encode("utf-8")).hexdigest() if previous else None
        line = json.dumps({"seq": sequence, "prev": digest, **entry}, ensure_ascii=False)
        handle.seek(0, os.SEEK_END)
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _last_line(handle: TextIO) -> str:
    size = os.fstat(handle.fileno()).st_size
    if size == 0:
        return ""
    with open(handle.fileno(), "rb", closefd=False) as raw:
        raw.seek(max(0, size - _TAIL_BYTES))
        tail = raw.read()
    lines = tail.decode("utf-8", "replace").rstrip("\n").split("\n")
    return lines[-1] if lines else ""


@contextlib.contextmanager
def _locked(handle: TextIO) -> Iterator[None]:
    # Two smsp processes appending at once must not interleave or share a sequence number.
    try:
        import fcntl
    except ImportError:  # not POSIX: O_APPEND alone
        yield
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _hostname() -> str:
    import socket

    return socket.gethostname()


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc or url


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
