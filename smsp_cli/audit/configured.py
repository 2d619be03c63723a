"""The trail as the settings configure it: where, how large a file grows, and syslog or not."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from smsp_cli.audit.paths import trail_dir
from smsp_cli.audit.trail import DEFAULT_MAX_BYTES, Trail

if TYPE_CHECKING:
    from smsp_cli.audit.forward import Send
    from smsp_cli.settings.connection import ConnectionSettings


@dataclass(frozen=True)
class TrailOptions:
    """The audit settings: ``audit_max_bytes`` and ``audit_syslog``."""

    max_bytes: int = DEFAULT_MAX_BYTES
    syslog: bool = False

    @classmethod
    def from_settings(cls, settings: ConnectionSettings) -> TrailOptions:
        """The options resolved with the rest of a lookup's settings."""
        return cls(max_bytes=settings.audit_max_bytes, syslog=settings.audit_syslog)


def open_trail(
    options: TrailOptions | None = None,
    *,
    fsync_interval: float = 0.0,
    directory: Path | None = None,
    syslog_send: Send | None = None,
    sync: Callable[[int], None] | None = None,
) -> Trail:
    """Open the trail in the data directory (or ``directory``); close it when done.

    ``fsync_interval`` 0 forces every record to the disk before ``append`` returns (single
    lookups); a batch passes e.g. 1.0. ``syslog_send`` replaces the real syslog and ``sync`` the
    fsync of the trail file (tests).
    """
    options = options or TrailOptions()
    forward = None
    if options.syslog:
        from smsp_cli.audit.forward import SyslogForwarder

        forward = SyslogForwarder(syslog_send)
    return Trail(
        directory or trail_dir(),
        max_bytes=options.max_bytes,
        fsync_interval=fsync_interval,
        forward=forward,
        sync=sync,
    )


def options_for_profile(profile: str | None) -> TrailOptions:
    """The options for changes made outside a lookup: the environment over the profile named
    (or the default profile), over the defaults.

    A profile not created yet, or a config file being repaired, must not stop its change from
    being recorded: the environment alone then applies, and failing that the defaults.
    """
    from smsp_cli.domain.errors import ConfigError
    from smsp_cli.settings import config
    from smsp_cli.settings.connection import Sourced, audit_settings, gather

    def with_profile() -> Mapping[str, Sourced]:
        return config.layered(config.load(), {"profile": profile})

    def environment_only() -> Mapping[str, Sourced]:
        return gather({})

    for merged in (with_profile, environment_only):
        try:
            max_bytes, syslog = audit_settings(merged())
        except ConfigError:
            continue
        return TrailOptions(max_bytes=max_bytes, syslog=syslog)
    return TrailOptions()
