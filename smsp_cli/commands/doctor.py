"""``smsp doctor``: which layer of the connection to the provider fails, why, and what next.

The checks live in :mod:`smsp_cli.diagnose`; this module turns options into a report, which
:mod:`smsp_cli.output.doctor` draws as a checklist with a timing waterfall (people) or stable
JSON (``--json``), and exits with the failing layer's code.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from smsp_cli.cli.options import ConnectionOptions, DataOutputOpt, connection_options, wants_json
from smsp_cli.output.doctor import print_report, report_json
from smsp_cli.output.formats import DataFormat

_PROBE_PANEL = "Test patient"


@connection_options
def doctor(
    *,
    conn: ConnectionOptions,
    nhs_number: Annotated[
        str | None,
        typer.Option(
            "--nhs-number",
            metavar="NHS_NUMBER",
            help="Test patient for the SMSP check (default: 9991000003, a test-range number).",
            rich_help_panel=_PROBE_PANEL,
        ),
    ] = None,
    dob: Annotated[
        str | None,
        typer.Option(
            "--dob",
            metavar="DATE",
            help="The test patient's date of birth (with --nhs-number).",
            rich_help_panel=_PROBE_PANEL,
        ),
    ] = None,
    output: DataOutputOpt = DataFormat.table,
    as_json: Annotated[bool, typer.Option("--json", help="A stable JSON report "
                                          "(same as --output json).")] = False,
) -> None:
    """Check the connection layer by layer; explain the first failure and what to do next.

    It takes every connection flag a lookup takes (declared once, in cli/options).
    """
    from smsp_cli import diagnose

    query = diagnose.probe_query(nhs_number, dob)
    report = diagnose.diagnose(conn.setting_flags(), query=query)
    if wants_json(output, as_json):
        sys.stdout.write(json.dumps(report_json(report), indent=2, ensure_ascii=False) + "\n")
    else:
        print_report(report)
    if report.exit_code:
        raise typer.Exit(report.exit_code)
