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

from smsp_cli.errors import SmspError
from smsp_cli.output.render import OutputFormat
from smsp_cli.output.sanitize import hide_values, visible
from smsp_cli.settings import connection as settings_module

if TYPE_CHECKING:
    from smsp_cli.models import Query
    from smsp_cli.options import ConnectionOptions, OutputOptions
    from smsp_cli.output.banner import CallRecord
    from smsp_cli.settings.connection import ConnectionSettings
    from smsp_cli.wire.retry import AttemptEvent


@contextlib.contextmanager
def connection(conn: ConnectionOptions) -> Iterator[ConnectionSettings]:
    """Settings for this run; with the sandbox profile, a live embedded provider behind them."""
    from smsp_cli.settings import config

    flags = setting_flags(conn)
    loaded = config.load()
    profile = config.choose_profile(loaded, flags)
    if profile is None or profile.value != settings_module.SANDBOX_PROFILE:
        merged = config.layered(loaded, flags)
        yield settings_module.resolve(merged, profile_file=str(loaded.path) if profile else None)
        return
    from smsp_cli.sandbox.embedded import running_sandbox

    with running_sandbox() as profile_values:
        yield settings_module.resolve(config.layered(loaded, flags, sandbox_values=profile_values))


def setting_flags(conn: ConnectionOptions) -> dict[str, str | None]:
    """Every setting given as a flag, by setting name."""
    flags = conn.flags()
    # --passphrase-file and --no-input are settings too (SMSP_PASSPHRASE_FILE, SMSP_NO_INPUT).
    flags["passphrase_file"] = conn.passphrase_file
    flags["no_input"] = "true" if conn.no_input else None
    return flags


def run(query: Query, conn: ConnectionOptions, out: OutputOptions) -> None:
    """Send one validated query and show the result; exit with the outcome's code."""
    from smsp_cli import tracing
    from smsp_cli.output import banner, render
    from smsp_cli.wire import service

    with connection(conn) as settings:
        banner.announce(settings)  # spec §7.3: the Computer Misuse Act banner, live only
        if out.dry_run:
            request = service.prepare(query, settings)
            sys.stdout.write(_pretty(request.body))
            render.stderr_console().print(
                f"dry run: nothing sent to {settings.endpoint} (SOAPAction {request.soap_action})",
                markup=False,
                soft_wrap=True,
            )
            return
        # -v / --trace-file: the report goes to stderr and the file also when the call fails.
        hidden = query.identifying_values()
        with (
            banner.recorded(settings, query.operation.name) as record,
            tracing.session(out, hidden=hidden) as trace,
        ):
            try:
                outcome = service.call(
                    query, settings, trace=trace,
                    on_attempt=_attempts(record, out.verbose, hidden),
                )
            except SmspError as error:
                # A provider may echo the patient in a fault: never on stderr.
                error.message = hide_values(error.message, hidden, "***")
                raise
            record.outcome = outcome.reply.response_code
    # Test and sandbox output never passes for live data: the label goes with the result.
    render.emit(outcome, out.output, label=banner.label(settings))
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


def _attempts(
    record: CallRecord, verbose: int, hidden: tuple[str, ...]
) -> Callable[[AttemptEvent], None]:
    def observe(event: AttemptEvent) -> None:
        record.attempt(event)
        if verbose:
            # Spec §5.9: log every attempt (ids only, no patient data).
            line = visible(hide_values(event.describe(), hidden, "***"))
            sys.stderr.write(f"smsp: {line}\n")
            sys.stderr.flush()

    return observe


def _pretty(body: bytes) -> str:
    from lxml import etree

    from smsp_cli.wire import xmlsafe

    root = xmlsafe.parse(body)
    etree.indent(root)
    text = etree.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n"


__all__ = ["OutputFormat", "connection", "run"]
