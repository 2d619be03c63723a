"""Each record also to the system log, for a trail its user cannot delete (spec §7.2, MSCA-AUD).

A local file is always within its owner's reach; the system log (the C library's ``syslog``,
which journald or rsyslog collects) is the operating system's store that a SIEM reads. With
``audit_syslog = true`` every record is sent there too, whole, as the JSON line the trail holds,
under the ident ``smsp`` and the facility for security and authorisation messages.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from typing import Any

from smsp_cli.domain.errors import ConfigError

IDENT = "smsp"

# (priority, message) -> None: the standard library's syslog.syslog, or a test's capture.
Send = Callable[[int, str], None]


def _syslog() -> types.ModuleType:
    try:
        import syslog
    except ImportError:  # not POSIX
        raise ConfigError(
            "audit_syslog is set but this system has no syslog",
            hint="unset audit_syslog (SMSP_AUDIT_SYSLOG)",
        ) from None
    return syslog


class SyslogForwarder:
    """Sends each record line to the system log; ``send`` replaces the real syslog in tests."""

    def __init__(self, send: Send | None = None) -> None:
        self._send = send
        self._opened = False

    def __call__(self, fields: Mapping[str, Any], line: str) -> None:
        """Forward one record; integrity findings and rejected passphrases as warnings."""
        syslog = _syslog()
        warning = fields.get("event") == "integrity" or fields.get("action") == (
            "passphrase-rejected"
        )
        priority: int = syslog.LOG_WARNING if warning else syslog.LOG_INFO
        if self._send is not None:
            self._send(priority, line)
            return
        if not self._opened:
            syslog.openlog(IDENT, syslog.LOG_PID, getattr(syslog, "LOG_AUTHPRIV", syslog.LOG_USER))
            self._opened = True
        syslog.syslog(priority, line)
