"""``smsp audit``: search the audit trail, verify that it is whole, say where it lives."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from smsp_cli.cli.usage import SmspTyper
from smsp_cli.system.streams import note

if TYPE_CHECKING:
    from pathlib import Path

    from smsp_cli.audit.search import Tally

app = SmspTyper(
    help="The audit trail: who looked up which patient, when, with which message.",
    no_args_is_help=True,
)


class AuditFormat(StrEnum):
    """How records are shown."""

    table = "table"
    json = "json"


class Environment(StrEnum):
    """The environments a record can name."""

    live = "live"
    test = "test"
    sandbox = "sandbox"


OutputOpt = Annotated[
    AuditFormat,
    typer.Option("--output", "-o", help="table for people, json for scripts.",
                 case_sensitive=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Same as --output json.")]


@app.command()
def search(
    nhs_number: Annotated[
        str | None,
        typer.Option("--nhs-number", metavar="NHS_NUMBER",
                     help="Records naming this NHS number, in the request or the reply."),
    ] = None,
    message_id: Annotated[
        str | None,
        typer.Option("--message-id", metavar="ID",
                     help="Records of this MessageID: the one sent or the reply's."),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option("--user", metavar="USER",
                     help="Records made by this OS user or configured username."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="TIME",
                     help="At or after this ISO 8601 date or date-time (UTC unless an offset)."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", metavar="TIME",
                     help="At or before this date (the whole day) or date-time."),
    ] = None,
    environment: Annotated[
        Environment | None,
        typer.Option("--environment", help="Records of calls to this environment.",
                     case_sensitive=False),
    ] = None,
    output: OutputOpt = AuditFormat.table,
    as_json: JsonOpt = False,
) -> None:
    """Find records by NHS number, MessageID, user, time and environment (all must match)."""
    json_lines = as_json or output is AuditFormat.json
    from smsp_cli.audit.paths import trail_dir
    from smsp_cli.audit.search import Filters, Tally, normal_message_id, parse_time, search

    filters = Filters(
        nhs_number=_nhs_number(nhs_number) if nhs_number else None,
        message_id=normal_message_id(message_id),
        user=user.strip() if user else None,
        since=parse_time(since, "--since", end_of_day=False) if since else None,
        until=parse_time(until, "--until", end_of_day=True) if until else None,
        environment=environment.value if environment else None,
    )
    directory = trail_dir()
    tally = Tally()
    found = 0
    # A reader that goes away (`| head`) ends the search: the error boundary exits 141.
    for hit in search(directory, filters, tally):
        found += 1
        if json_lines:
            # The line as the trail holds it: exact, and its hash can be checked.
            sys.stdout.write(hit.raw.decode("utf-8", "replace") + "\n")
        else:
            _table_rows(hit.record, first=found == 1)
    sys.stdout.flush()
    _search_notes(directory, tally, found)


def _nhs_number(text: str) -> str:
    # Imported only for a search by number: the models module is a tenth of a search's start-up.
    from smsp_cli.domain.models import parse_nhs_number

    return parse_nhs_number(text, "--nhs-number")


def _table_rows(record: dict[str, object], *, first: bool) -> None:
    from smsp_cli.audit.search import record_time
    from smsp_cli.output.audit import HEADER, rows

    if first:
        sys.stdout.write(HEADER + "\n")
    sys.stdout.write("\n".join(rows(record, record_time(record))) + "\n")


def _search_notes(directory: Path, tally: Tally, found: int) -> None:
    if tally.records == 0 and tally.skipped == 0:
        note(f"no audit trail yet in {directory}")
    elif found == 0:
        note(f"no record matches ({tally.records} searched)")
    if tally.skipped:
        note(f"{tally.skipped} line(s) that are not audit records were skipped; "
              "run `smsp audit verify`")


@app.command()
def verify(output: OutputOpt = AuditFormat.table, as_json: JsonOpt = False) -> None:
    """Check every file's hash chain and sequence, and the end against the checkpoint.

    Exit 0 when the trail is whole, 1 when it is not (the first bad sequence number and what is
    wrong: edited, deleted, inserted, reordered, torn or cut from the end).
    """
    from smsp_cli.audit.paths import trail_dir
    from smsp_cli.audit.verify import verify as verify_trail
    from smsp_cli.output.audit import print_verify, verify_json

    report = verify_trail(trail_dir())
    if as_json or output is AuditFormat.json:
        import json

        sys.stdout.write(json.dumps(verify_json(report), indent=2) + "\n")
    else:
        print_verify(report)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def path(output: OutputOpt = AuditFormat.table, as_json: JsonOpt = False) -> None:
    """Print the audit trail's current file (SMSP_DATA_DIR moves it)."""
    from smsp_cli.audit.paths import CURRENT_NAME, legacy_access_record, trail_dir

    current = trail_dir() / CURRENT_NAME
    legacy = legacy_access_record()
    if as_json or output is AuditFormat.json:
        import json

        sys.stdout.write(json.dumps({
            "path": str(current),
            "legacy_access_record": str(legacy) if legacy.exists() else None,
        }) + "\n")
        return
    sys.stdout.write(f"{current}\n")
    if legacy.exists():
        note(f"the access record kept before the audit trail existed is {legacy} "
              "(left as it was, no longer written)")


