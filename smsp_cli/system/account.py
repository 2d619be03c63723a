"""Who runs smsp, as the operating system knows them (the audit trail and the live banner)."""

from __future__ import annotations

import functools


@functools.cache
def os_user() -> str:
    """The local user name, as the operating system knows it."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
