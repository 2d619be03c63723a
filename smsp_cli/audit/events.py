"""``config`` records: changes to the settings and rejected passphrases (spec §7.2: configuration
changes and failed logins are audited too).

A change is recorded with its key and, since the config file never holds a secret, its new
value; a passphrase never is, not even a wrong one. The trail is opened before the change is
made, so a change that could not be recorded is not made.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from smsp_cli.audit import records
from smsp_cli.audit.configured import open_trail, options_for_profile
from smsp_cli.audit.trail import Trail
from smsp_cli.domain.notices import Notice, report


class ChangeRecorder:
    """Records config changes for one command, in a trail opened before anything changes."""

    def __init__(self, trail: Trail, profile: str | None) -> None:
        self._trail = trail
        self.profile = profile

    def record(self, action: str, *, profile: str | None = None, **facts: Any) -> None:
        """One change: ``action`` (e.g. ``set``) on ``profile`` (default: the command's)."""
        self._trail.append(records.config_change(action, profile=profile or self.profile,
                                                 **facts))


@contextlib.contextmanager
def config_change(profile: str | None) -> Iterator[ChangeRecorder]:
    """Open the trail for a change to ``profile``'s settings; record the change inside."""
    with open_trail(options_for_profile(profile)) as trail:
        yield ChangeRecorder(trail, profile)


@contextlib.contextmanager
def rejections_recorded() -> Iterator[None]:
    """Record a passphrase the block's key loading rejected, then let the error go on."""
    from smsp_cli.domain.errors import PassphraseRejected

    try:
        yield
    except PassphraseRejected as rejected:
        passphrase_rejected(rejected.what, source=rejected.source, profile=rejected.profile)
        raise


def passphrase_rejected(what: str, *, source: str, profile: str | None) -> None:
    """A passphrase did not unlock ``what`` (e.g. ``client key /x/key.pem``): a failed login.

    Best effort: the passphrase error itself is what the user must see, so a trail that cannot
    be written is only reported as a notice.
    """
    from smsp_cli.domain.errors import SmspError

    fields = records.config_change(
        "passphrase-rejected",
        profile=profile,
        what=what,
        passphrase_source=source,
    )
    try:
        with open_trail(options_for_profile(profile)) as trail:
            trail.append(fields)
    except SmspError as error:
        report(Notice(f"could not record the rejected passphrase: {error.one_line()}"))
