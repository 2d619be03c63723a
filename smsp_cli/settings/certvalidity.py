"""Is our client certificate in date? One rule for doctor's certificate layer and every lookup.

A server refuses a certificate that has expired or is not yet valid (spec §5.8, WS-SEC-01), so
a lookup checks the dates before it sends anything (exit 6: a local credential problem) and
doctor's layer 2 fails on the same facts with the same words.
"""

from __future__ import annotations

import datetime as dt

from smsp_cli.domain.errors import ConfigError
from smsp_cli.fastclasses import dataclass

DOCTOR_STEP = "run 'smsp doctor'"


@dataclass(frozen=True)
class OutOfDate:
    """Why the certificate cannot be used now: what, why it matters, what to do."""

    summary: str
    cause: str
    next_step: str


def moment(when: dt.datetime) -> str:
    """``2027-01-01 12:00 UTC``."""
    return when.strftime("%Y-%m-%d %H:%M UTC")


def out_of_date(
    not_before: dt.datetime, not_after: dt.datetime, now: dt.datetime,
    *, what: str = "client certificate",
) -> OutOfDate | None:
    """Why a certificate valid from ``not_before`` to ``not_after`` is unusable at ``now``."""
    if now < not_before:
        return OutOfDate(
            f"{what} is not valid until {moment(not_before)}",
            "the certificate is not yet valid, or this computer's clock is behind",
            "check the clock (NTP); if it is right, wait or use the current certificate",
        )
    if now >= not_after:
        return OutOfDate(
            f"{what} expired on {moment(not_after)}",
            "servers refuse expired certificates (spec §5.8, WS-SEC-01)",
            "renew the endpoint certificate (NHS endpoint registration) and configure the new one",
        )
    return None


def refuse_out_of_date(
    not_before: dt.datetime, not_after: dt.datetime, *, what: str,
    now: dt.datetime | None = None,
) -> None:
    """Raise the exit-6 error a lookup gives, before sending, for an out-of-date certificate."""
    problem = out_of_date(not_before, not_after, now or dt.datetime.now(dt.UTC), what=what)
    if problem is not None:
        raise ConfigError(f"{problem.summary}: {problem.cause}; nothing was sent",
                          hint=f"{problem.next_step}; {DOCTOR_STEP}")
