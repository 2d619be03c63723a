"""Show results: a rich table for people, stable JSON or the reply XML for scripts.

Data goes to stdout; warnings and notes to stderr. JSON never passes through rich, which
would wrap lines and interpret markup.
"""

from __future__ import annotations

import json
import re
import sys
from enum import StrEnum
from typing import TYPE_CHECKING

from smsp_cli.models import format_nhs_number
from smsp_cli.operations import BY_NAME, Reply
from smsp_cli.output.jsonshape import outcome_json
from smsp_cli.results import Address, Outcome, Patient

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

CONFIDENTIAL = "NHS Confidential: personal data about a patient"
SYNTHETIC_NOTE = "sandbox: synthetic data from the embedded provider, not from PDS"
ABSENT = "—"


class OutputFormat(StrEnum):
    """--output choices."""

    table = "table"
    json = "json"
    xml = "xml"


def stderr_console() -> Console:
    """The console for everything that is not data."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def emit(outcome: Outcome, output: OutputFormat) -> None:
    """Write the outcome to stdout in the chosen format, and its warnings to stderr."""
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(outcome_json(outcome), indent=2, ensure_ascii=False) + "\n")
    elif output is OutputFormat.xml:
        sys.stdout.write(outcome.reply.payload.decode("utf-8").rstrip("\n") + "\n")
    else:
        _print_table(outcome)
    sys.stdout.flush()
    _print_notes(outcome)


def _print_notes(outcome: Outcome) -> None:
    console = stderr_console()
    for warning in outcome.warnings:
        from rich.text import Text

        # A warning may quote the provider's data (a new NHS number): never read as markup.
        console.print(Text.assemble(("warning:", "bold yellow"), f" {warning}"), soft_wrap=True)
    if outcome.synthetic:
        console.print(f"[dim]{SYNTHETIC_NOTE}[/]", soft_wrap=True)


def _print_table(outcome: Outcome) -> None:
    from rich.console import Console

    # markup=False: a patient's name such as "[bold]" must print as written.
    console = Console(highlight=False, soft_wrap=False, markup=False, emoji=False)
    table = _result_table(outcome)
    console.print(table)


def _result_table(outcome: Outcome) -> Table:
    from rich.table import Table

    reply = outcome.reply
    title = f"{outcome.operation}: {reply.response_code} {outcome.response_text}"
    table = Table(
        title=f"{CONFIDENTIAL}\n{title}",
        caption=CONFIDENTIAL,
        show_header=False,
        title_justify="left",
    )
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    kind = BY_NAME[outcome.operation].reply
    if kind is Reply.VERIFY:
        verified = {True: "yes", False: "NO"}
        table.add_row("Verified", ABSENT if reply.verified is None else verified[reply.verified])
        table.add_row("NHS number", _nhs(reply.nhs_number))
    elif kind is Reply.NHS_NUMBER:
        table.add_row("NHS number", _nhs(reply.nhs_number))
        table.add_row("Local id", _text(reply.local_identifier))
    elif reply.patient is None:
        table.add_row("Patient", "no patient returned")
    else:
        _patient_rows(table, reply.patient, superseded=reply.response_code == "DEMOG-0017")
    for warning in outcome.warnings:
        table.add_row("WARNING", warning)
    if outcome.synthetic:
        table.add_row("Source", "SANDBOX (synthetic data)")
    table.add_row("Message ID", outcome.message_id)
    return table


def _patient_rows(table: Table, patient: Patient, *, superseded: bool = False) -> None:
    number = _nhs(patient.nhs_number)
    # DEMOG-0017: the number shown replaces the one the user typed (MSCA-DQ-03).
    table.add_row(
        "NHS number",
        f"{number}  << NEW NUMBER: replaces the one you gave" if superseded else number,
    )
    if patient.local_identifier is not None:
        table.add_row("Local id", _text(patient.local_identifier))
    table.add_row("Name", _name(patient))
    table.add_row("Gender", _text(patient.gender))
    table.add_row("Date of birth", _text(patient.birth_date))
    if patient.death_date is not None:
        table.add_row("Date of death", _text(patient.death_date))
    for address in patient.addresses:
        table.add_row(f"Address ({address.use or 'unknown use'})", _address(address))
    if not patient.addresses:
        table.add_row("Address", ABSENT)
    for telecom in patient.telecoms:
        table.add_row(_telecom_label(telecom.use, telecom.value), _text(telecom.value))
    practice = patient.gp_practice
    if practice is None:
        table.add_row("GP practice", ABSENT)
    else:
        code_and_name = " ".join(p for p in (practice.code, practice.name) if p)
        table.add_row("GP practice", _text(code_and_name) if code_and_name else ABSENT)
        if practice.address is not None:
            table.add_row("GP address", _address(practice.address))
        if practice.telephone is not None:
            table.add_row("GP telephone", _text(practice.telephone))


_TELECOM_USES = {
    "H": "home",
    "HP": "home",
    "HV": "holiday",
    "WP": "work",
    "MC": "mobile",
    "PG": "pager",
    "AS": "answering service",
    "EC": "emergency",
}


def _telecom_label(use: str | None, value: str) -> str:
    kind = "Email" if value.lower().startswith("mailto:") else "Phone"
    return f"{kind} ({_TELECOM_USES.get(use or '', use or 'unknown use')})"


def _nhs(number: str | None) -> str:
    return format_nhs_number(number) if number else ABSENT


# Terminal control characters and bidi overrides in provider data must not reach the screen.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _text(value: str | None) -> str:
    # Keep blank (PDS holds an empty value) distinct from absent (nothing returned).
    if value is None:
        return ABSENT
    return _UNPRINTABLE.sub("\ufffd", value) if value.strip() else "(blank)"


def _name(patient: Patient) -> str:
    parts = [patient.title or "", *patient.given_names, patient.family_name or ""]
    text = " ".join(part for part in parts if part)
    return _text(text) if text else ABSENT


def _address(address: Address) -> str:
    parts = [*address.lines, address.postcode or ""]
    return _text(", ".join(part for part in parts if part))
