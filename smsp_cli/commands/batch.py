"""``smsp batch OPERATION INPUT``: many lookups from a file, one JSON line per row."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from smsp_cli.batch import InputFormat
from smsp_cli.cli.flagtable import BATCH_PANEL
from smsp_cli.cli.options import ConnectionOptions, batch_options


class LookupName(StrEnum):
    """The lookups a batch can run: the lookup commands' names."""

    verify = "verify"
    get = "get"
    search = "search"
    trace = "trace"
    details = "details"


@batch_options
def batch(
    operation: Annotated[
        LookupName,
        typer.Argument(metavar="OPERATION", help="verify, get, search, trace or details.",
                       show_default=False),
    ],
    input_name: Annotated[
        str,
        typer.Argument(metavar="INPUT", help="CSV with a header row, JSON lines, or - for stdin.",
                       show_default=False),
    ],
    input_format: Annotated[
        InputFormat | None,
        typer.Option("--format", help="csv or jsonl (default: by extension, else by content).",
                     rich_help_panel=BATCH_PANEL, show_default=False),
    ] = None,
    column: Annotated[
        list[str] | None,
        typer.Option("--column", metavar="FIELD=HEADER",
                     help='Read FIELD from the sheet\'s own column, e.g. nhs_number="NHS No".',
                     rich_help_panel=BATCH_PANEL, show_default=False),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="FILE", help="Write the rows to FILE (default: stdout).",
                     rich_help_panel=BATCH_PANEL, show_default=False),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Skip the rows already in --out FILE; append the rest.",
                     rich_help_panel=BATCH_PANEL),
    ] = False,
    skip_row: Annotated[
        int | None,
        typer.Option("--skip-row", metavar="N", min=1,
                     help="With --resume: record row N, the row that stopped the batch, as "
                          "failed with that failure, and go on from row N+1.",
                     rich_help_panel=BATCH_PANEL, show_default=False),
    ] = None,
    *,
    conn: ConnectionOptions,
) -> None:
    """Look up every row of a CSV or JSON-lines file; one JSON line per row, in input order."""
    from smsp_cli.batch.run import BatchRequest, run_batch
    from smsp_cli.domain import operations

    request = BatchRequest(
        operation=operations.BY_COMMAND[operation.value],
        input_name=input_name,
        input_format=input_format,
        column_options=tuple(column or ()),
        out=out,
        resume=resume,
        skip_row=skip_row,
    )
    # --concurrency and --rate-limit are in conn: they layer like every other setting.
    code = run_batch(request, conn.setting_flags())
    if code:
        raise typer.Exit(code)
