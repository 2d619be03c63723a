"""One lookup, once its command line is read: validated query in, result shown, exit code out.

Shared by the Typer commands of :mod:`smsp_cli.commands.lookups` and the plain command lines
:mod:`smsp_cli.cli.plainargs` reads without Typer, so both run exactly the same steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsp_cli.output.formats import OutputFormat

if TYPE_CHECKING:
    from typing import Any

    from smsp_cli.cli.plainargs import PlainLookup
    from smsp_cli.cli.settingflags import ConnectionOptions, OutputOptions
    from smsp_cli.domain.models import Query
    from smsp_cli.domain.operations import Operation


def run_fields(operation: Operation, fields: dict[str, Any], conn: ConnectionOptions,
               out: OutputOptions) -> int:
    """Validate the patient fields given, then :func:`run` the query they make.

    A verify that ends in an error (bad input, a fault, no connection...) still answers the
    question scripts ask of it: its error object carries ``verified: null``, never no key, so
    ``jq .verified`` can only be true after a verify that said so.
    """
    from smsp_cli.domain.errors import SmspError
    from smsp_cli.domain.models import build_query
    from smsp_cli.domain.operations import VERIFY

    try:
        return run(build_query(operation, **fields), conn, out)
    except SmspError as error:
        if operation is VERIFY and error.result is None:
            # "api" first, as in every object; the error's own shape fills it in.
            error.result = {"api": None, "verified": None}
        raise


def run(query: Query, conn: ConnectionOptions, out: OutputOptions) -> int:
    """Send one validated query and show the result; the exit code its outcome gives."""
    from smsp_cli import service

    # Only -o xml and --dry-run depend on the API before the call; the call itself reads the
    # configuration once more, so the plain path does not read it twice.
    fhir = (out.output is OutputFormat.xml or out.dry_run) and (
        service.chosen_api(conn.setting_flags()) == "fhir")
    if out.output is OutputFormat.xml and fhir:
        from smsp_cli.domain.errors import UsageError

        # Checked before anything is sent: PDS FHIR has no XML payload to show.
        raise UsageError("-o xml has no meaning for PDS FHIR (its replies are JSON)",
                         hint="use -o json, or the table")
    if out.dry_run and fhir:
        from smsp_cli.output import dryrun

        dryrun.show_http(service.dry_run_fhir(query, conn.setting_flags()))
        return 0
    if out.dry_run:
        from smsp_cli.output import dryrun

        dryrun.show(*service.dry_run(query, conn.setting_flags()))
        return 0
    from smsp_cli.output import banner, render

    outcome, settings = service.lookup(
        query,
        conn.setting_flags(),
        verbose=out.verbose,
        trace_file=out.trace_file,
        reveal=out.reveal,
    )
    # Test and sandbox output never passes for live data: the label goes with the result.
    render.emit(outcome, out.output, label=banner.label(outcome.environment, settings.profile))
    return int(outcome.exit_code)


def run_plain(plain: PlainLookup) -> int:
    """A lookup whose command line :mod:`smsp_cli.cli.plainargs` read: the same validation,
    call and output as its Typer command (the face runs it inside the same error boundary)."""
    from smsp_cli.domain.operations import BY_COMMAND

    return run_fields(BY_COMMAND[plain.command], plain.fields, plain.conn, plain.out)
