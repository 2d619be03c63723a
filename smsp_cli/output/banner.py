"""Guard rails for real providers (spec §7.3): the Computer Misuse Act banner, and labels that
keep test and sandbox output from passing for live data.

* A ``live`` profile shows the banner on stderr, only on a terminal (CLI-COMMON App. A 3.1.11),
  with the identity the call is made as (MSCA-IG-03): scripts' output stays clean.
* ``test`` and ``sandbox`` output carries a label, printed once with the result: in the table
  on a terminal, else on stderr (:mod:`smsp_cli.output.render`). Which one follows the answer,
  not the profile: only a server holding a certificate from the sandbox CA in smsp's data
  directory gives synthetic data (:mod:`smsp_cli.sandbox.provenance`).

Who called, when and about which patient is the audit trail's job (:mod:`smsp_cli.audit`).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from smsp_cli.system.account import os_user
from smsp_cli.system.streams import is_terminal

if TYPE_CHECKING:
    from smsp_cli.settings.connection import ConnectionSettings

# The wording of CLI-COMMON App. A 3.1.11, with its en dash.
CMA_BANNER = "Computer Misuse Act 1990 \u2013 Unauthorised access to this system is an offence"


def caller() -> str:
    """The local user name, as the operating system knows it."""
    return os_user()


def announce(settings: ConnectionSettings, *, stream: TextIO | None = None) -> None:
    """Before a call to a live provider, on a terminal: the banner and who is calling."""
    stream = stream or sys.stderr
    if settings.environment != "live" or not is_terminal(stream):
        return
    stream.write(
        f"{CMA_BANNER}\n"
        f"Calling {_host(settings.endpoint)} (profile {settings.profile or 'none'}, live) as "
        f"{caller()} with audit identity {settings.audit_id}\n"
    )
    stream.flush()


def label(environment: str, profile: str | None) -> str | None:
    """The line that marks output from a test provider, or None.

    ``environment`` is the answer's (:func:`smsp_cli.service.answered_environment`): a
    sandbox answer is marked synthetic with the result instead (``render.SYNTHETIC_NOTE``),
    and live data carries no label.
    """
    return test_label(profile) if environment == "test" else None


def test_label(profile: str | None) -> str:
    """The line that marks output from the test provider a profile of kind ``test`` names."""
    return (
        f"TEST environment (profile {profile or 'none'}): data from a test "
        "provider, not live patient data"
    )


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc or url


