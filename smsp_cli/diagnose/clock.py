"""Layer 8: our clock against the server's, read from the reply's Date header.

The local clock is a parameter (:data:`Clock`), so a test can stand a wrong clock in front of
a real server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from smsp_cli.diagnose.report import Check, Layer, Status

Clock = Callable[[], dt.datetime]

# WS-DSC-03 asks for 250 ms, but the Date header has one-second resolution and the reply
# takes time to arrive, so only a few seconds are visible at all.
CLOCK_WARN = dt.timedelta(seconds=5)
# Timestamps are valid for 10 minutes (spec §5.3). A clock behind the server's loses that much
# of the window; one ahead makes wsu:Created lie in the future, which hosts refuse beyond a
# small allowance (60 s in the sandbox, as in common WS-Security stacks).
CLOCK_FAIL = dt.timedelta(seconds=60)


def utc_now() -> dt.datetime:
    """The local clock, in UTC."""
    return dt.datetime.now(dt.UTC)


def check_clock(headers: list[tuple[str, str]], received_at: dt.datetime) -> Check:
    """Our clock against the server's Date header."""
    from email.utils import parsedate_to_datetime

    date = next((value for name, value in headers if name.lower() == "date"), None)
    if date is None:
        return Check(
            Layer.CLOCK,
            Status.WARN,
            "the server sent no Date header: clock not checked",
            cause="a clock more than a few minutes off makes every message expire or be refused",
            next_step="make sure NTP keeps this clock right (WS-DSC-03 asks for 250 ms)",
        )
    try:
        server = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return Check(Layer.CLOCK, Status.WARN, f"unreadable Date header {date!r}: not checked")
    if server.tzinfo is None:
        server = server.replace(tzinfo=dt.UTC)
    # Date is truncated to the second: the server's clock was, on average, half a second on.
    skew = received_at - (server + dt.timedelta(milliseconds=500))
    facts = (
        ("server Date", date),
        ("local clock", received_at.astimezone(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")),
        ("difference", _skew_text(skew)),
    )
    size = abs(skew)
    if size <= CLOCK_WARN:
        return Check(
            Layer.CLOCK, Status.PASS, f"in step with the server ({_skew_text(skew)})", facts
        )
    cause = (
        "wsu:Created lies in the server's future; hosts refuse it beyond a small allowance"
        if skew > dt.timedelta(0)
        else "messages reach the server already part-way through their 10-minute validity "
        "(spec §5.3), and expired once behind by 10 minutes"
    )
    step = "synchronise the clock with NTP (timedatectl set-ntp true; w32tm /resync)"
    status = Status.FAIL if size > CLOCK_FAIL else Status.WARN
    return Check(Layer.CLOCK, status, f"local clock is {_skew_text(skew)}", facts, cause, step)


def _skew_text(skew: dt.timedelta) -> str:
    seconds = skew.total_seconds()
    if abs(seconds) < 1:
        return "within 1 s of the server"
    direction = "ahead of" if seconds > 0 else "behind"
    size = abs(seconds)
    amount = f"{size / 60:.1f} min" if size >= 120 else f"{size:.0f} s"
    return f"{amount} {direction} the server"
