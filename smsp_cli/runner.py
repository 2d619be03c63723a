"""Run one lookup: resolve settings (starting the embedded sandbox if asked), send, render."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import typer

from smsp_cli import settings as settings_module
from smsp_cli.errors import ConfigError
from smsp_cli.render import OutputFormat

if TYPE_CHECKING:
    from smsp_cli.models import Query
    from smsp_cli.options import ConnectionOptions, OutputOptions
    from smsp_cli.settings import ConnectionSettings


@contextlib.contextmanager
def connection(conn: ConnectionOptions) -> Iterator[ConnectionSettings]:
    """Settings for this run; with the sandbox profile, a live embedded provider behind them."""
    flags = conn.flags()
    profile = settings_module.selected_profile(flags)
    if profile is None:
        yield settings_module.resolve(settings_module.gather(flags))
        return
    if profile != settings_module.SANDBOX_PROFILE:
        raise ConfigError(
            f"unknown profile {profile!r}",
            hint=f"the built-in profile is '{settings_module.SANDBOX_PROFILE}'",
        )
    from smsp_cli.sandbox.embedded import running_sandbox

    with running_sandbox() as profile_values:
        merged = settings_module.gather(
            flags, profile_values=profile_values, profile_source="profile sandbox (built in)"
        )
        yield settings_module.resolve(merged)


def run(query: Query, conn: ConnectionOptions, out: OutputOptions) -> None:
    """Send one validated query and show the result; exit with the outcome's code."""
    from smsp_cli import render, service

    with connection(conn) as settings:
        if out.dry_run:
            request = service.prepare(query, settings)
            sys.stdout.write(_pretty(request.body))
            render.stderr_console().print(
                f"dry run: nothing sent to {settings.endpoint} (SOAPAction {request.soap_action})",
                markup=False,
                soft_wrap=True,
            )
            return
        outcome = service.call(query, settings)
    render.emit(outcome, out.output)
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


def _pretty(body: bytes) -> str:
    from lxml import etree

    from smsp_cli import xmlsafe

    root = xmlsafe.parse(body)
    etree.indent(root)
    text = etree.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n"


__all__ = ["OutputFormat", "connection", "run"]
