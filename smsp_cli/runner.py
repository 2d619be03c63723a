"""Run one lookup: resolve settings (starting the embedded sandbox if asked), send, render.

The profile is --profile, else SMSP_PROFILE, else the config file's default_profile; the
built-in ``sandbox`` profile starts the embedded provider, any other comes from the config file.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import typer

from smsp_cli.domain.errors import SmspError
from smsp_cli.settings import connection as settings_module
from smsp_cli.untrusted.sanitize import hide_values, visible

if TYPE_CHECKING:
    from smsp_cli.cli.options import ConnectionOptions, OutputOptions
    from smsp_cli.domain.models import Query
    from smsp_cli.settings.connection import ConnectionSettings, Sourced
    from smsp_cli.transport.retry import AttemptEvent


@contextlib.contextmanager
def connection(conn: ConnectionOptions) -> Iterator[ConnectionSettings]:
    """Settings for this run; with the sandbox profile, a live embedded provider behind them."""
    with layered(conn) as (values, profile_file):
        yield settings_module.resolve(values, profile_file=profile_file)


@contextlib.contextmanager
def layered(conn: ConnectionOptions) -> Iterator[tuple[dict[str, Sourced], str | None]]:
    """Every setting with its source, and the config file its profile came from (if any)."""
    from smsp_cli.settings import config

    flags = setting_flags(conn)
    loaded = config.load()
    profile = config.choose_profile(loaded, flags)
    if profile is None or profile.value != settings_module.SANDBOX_PROFILE:
        yield config.layered(loaded, flags), str(loaded.path) if profile else None
        return
    from smsp_cli.sandbox.embedded import running_sandbox

    with running_sandbox() as profile_values:
        yield config.layered(loaded, flags, sandbox_values=profile_values), None


def setting_flags(conn: ConnectionOptions) -> dict[str, str | None]:
    """Every setting given as a flag, by setting name."""
    flags = conn.flags()
    # --passphrase-file and --no-input are settings too (SMSP_PASSPHRASE_FILE, SMSP_NO_INPUT).
    flags["passphrase_file"] = conn.passphrase_file
    flags["no_input"] = "true" if conn.no_input else None
    return flags


def run(query: Query, conn: ConnectionOptions, out: OutputOptions) -> None:
    """Send one validated query and show the result; exit with the outcome's code."""
    if out.dry_run:
        _dry_run(query, conn)
        return
    from smsp_cli import service
    from smsp_cli.output import banner, render
    from smsp_cli.output import tracefile as tracing

    with connection(conn) as settings:
        banner.announce(settings)  # spec §7.3: the Computer Misuse Act banner, live only
        # -v / --trace-file: the report goes to stderr and the file also when the call fails.
        # service.call records every attempt in the audit trail (spec §7.2).
        hidden = query.identifying_values()
        with tracing.session(out, hidden=hidden) as trace:
            try:
                outcome = service.call(
                    query, settings, trace=trace, on_attempt=_attempts(out.verbose, hidden)
                )
            except SmspError as error:
                # A provider may echo the patient in a fault: never on stderr.
                error.message = hide_values(error.message, hidden, "***")
                raise
    # Test and sandbox output never passes for live data: the label goes with the result.
    render.emit(outcome, out.output, label=banner.label(settings))
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


def _dry_run(query: Query, conn: ConnectionOptions) -> None:
    """Print the envelope; nothing secret is read, nothing is sent, nobody is asked."""
    from smsp_cli.adapters.smsp.dryrun import envelope_settings
    from smsp_cli.adapters.smsp.envelope import build_request

    with layered(conn) as (values, _):
        settings = envelope_settings(values)  # placeholders for what it cannot know
        request = build_request(query, settings)
    sys.stdout.write(_pretty(request.body))
    sys.stdout.flush()
    endpoint = settings.endpoint
    # A plain line, sanitised: written directly rather than loading rich to write it as is.
    sys.stderr.write(
        f"dry run: nothing sent to {visible(endpoint)} (SOAPAction {request.soap_action})\n"
    )
    sys.stderr.flush()


def _attempts(verbose: int, hidden: tuple[str, ...]) -> Callable[[AttemptEvent], None] | None:
    if not verbose:
        return None

    def observe(event: AttemptEvent) -> None:
        # Spec §5.9: log every attempt (ids only, no patient data).
        line = visible(hide_values(event.describe(), hidden, "***"))
        sys.stderr.write(f"smsp: {line}\n")
        sys.stderr.flush()

    return observe


def _pretty(body: bytes) -> str:
    from lxml import etree

    from smsp_cli.adapters.smsp import xmlsafe

    root = xmlsafe.parse(body)
    etree.indent(root)
    text = etree.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n"


__all__ = ["connection", "layered", "run", "setting_flags"]
