"""A lookup's result as a table for people: one row per field, bounded and sanitised.

Every value comes from the provider, so each passes through :mod:`smsp_cli.untrusted.bounds`
(cut to 200 characters, lists to 20 entries, made visible by the one sanitiser) before rich
sees it, and rich gets it as ``Text``, never as markup. The table carries the confidentiality
label once, at the top (MSCA-IG-04), and NHS numbers 3-3-4 (MSCA-PDS-06).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsp_cli.domain.models import format_nhs_number
from smsp_cli.domain.operations import ReplyKind
from smsp_cli.output import telecom
from smsp_cli.untrusted import bounds

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import RenderableType

    from smsp_cli.domain.results import Address, Outcome, Patient

CONFIDENTIAL = "NHS Confidential: personal data about a patient"
ABSENT = "—"
BLANK = "(blank)"
# Providers leave out the addresses and telecoms of a restricted (sensitive) record, and the
# reply carries no flag that says so (spec §3.7): a bare dash would mislead.
WITHHELD = "none returned (the record may be restricted)"
RESTRICTED = "withheld (the record is restricted)"
_LABEL_LIMIT = 24  # a provider's use code in a row label, e.g. "Address (home)"

Row = tuple[str, str]


# DEMOG-0017's row: the number typed, then the one that replaces it. An encoding that cannot
# carry the arrow (a Windows code page, ASCII) gets its two-character form.
ARROW = "→"
ASCII_ARROW = "->"


def arrow_for(encoding: str | None) -> str:
    """The arrow that ``encoding`` (the terminal's, as Python names it) can write."""
    try:
        ARROW.encode(encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return ASCII_ARROW
    return ARROW


def result_table(
    outcome: Outcome, width: int, *, note: str | None = None, arrow: str = ARROW
) -> RenderableType:
    """The whole result as a field/value table fitted to ``width`` terminal cells."""
    from smsp_cli.output.fit import Column, fitted_table

    title = f"{outcome.operation.name}: {bounds.cut(outcome.reply.response_code)} " + bounds.cut(
        outcome.response_text
    )
    rows = result_rows(outcome, note=note, arrow=arrow)
    table, _ = fitted_table(
        (Column("field", whole=True, style="bold", label=True), Column("value")),
        rows,
        width,
        title=f"{CONFIDENTIAL}\n{title}",
        title_justify="left",
        show_header=False,
    )
    return table


def result_rows(outcome: Outcome, *, note: str | None = None, arrow: str = ARROW) -> list[Row]:
    """The rows of the table: the answer, then warnings, where it came from, the MessageID."""
    reply = outcome.reply
    kind = outcome.operation.reply
    rows: list[Row]
    if kind is ReplyKind.VERIFY:
        # The verdict's words: yes, no (why), unknown or not checked (smsp_cli/domain/verdict.py).
        verified = outcome.verification or ("yes" if outcome.verified else "no")
        rows = [("Verified", verified),
                ("NHS number", _renumbered(outcome, reply.nhs_number, arrow))]
    elif kind is ReplyKind.NHS_NUMBER:
        rows = [("NHS number", nhs(reply.nhs_number)), ("Local id", text(reply.local_identifier))]
    elif reply.patient is None:
        rows = [("Patient", "no patient returned")]
    else:
        asked = outcome.superseded_nhs_number
        # DEMOG-0017: only a number other than the one asked for is new.
        renumbered = reply.response_code == "DEMOG-0017" and (
            asked is None or reply.patient.nhs_number != asked)
        rows = patient_rows(reply.patient, superseded=renumbered)
        if renumbered and asked is not None:
            rows[0] = ("NHS number", _renumbered(outcome, reply.patient.nhs_number, arrow))
    rows += [("WARNING", bounds.cut(warning)) for warning in outcome.warnings]
    if note:
        rows.append(("Source", note))
    rows.append(("Message ID", outcome.message_id))
    return rows


def patient_rows(patient: Patient, *, superseded: bool = False) -> list[Row]:
    """A patient's fields, each list shown to its first 20 entries."""
    number = nhs(patient.nhs_number)
    # DEMOG-0017: the number shown replaces the one the user typed (MSCA-DQ-03).
    if superseded:
        number += "  << NEW NUMBER: replaces the one you gave"
    rows = [("NHS number", number)]
    if patient.local_identifier is not None:
        rows.append(("Local id", text(patient.local_identifier)))
    rows += _name_rows(patient)
    rows.append(("Gender", text(patient.gender)))
    rows.append(("Date of birth", text(patient.birth_date)))
    if patient.death_date is not None:
        rows.append(("Date of death", text(patient.death_date)))
    ended = dict(patient.ended_only)
    rows += _address_rows(patient.addresses, _none_shown(patient, ended.get("address")))
    rows += _telecom_rows(patient, _none_shown(patient, ended.get("telecom")))
    rows += _practice_rows(patient, _none_shown(patient, ended.get("gp"), ABSENT))
    return rows


def _renumbered(outcome: Outcome, number: str | None, arrow: str) -> str:
    """``old → new`` when DEMOG-0017 replaced the number asked for (MSCA-DQ-03), else the number.

    Both stay whole units in the table (output/fit.py), the arrow a word between them.
    """
    asked = outcome.superseded_nhs_number
    if asked is None or not number or number == asked:
        return nhs(number)
    return f"{nhs(asked)} {arrow} {nhs(number)}"


def _none_shown(patient: Patient, ended: str | None, otherwise: str = WITHHELD) -> str:
    """What an empty list shows: ended entries only, a restricted record, or maybe withheld."""
    if ended is not None:
        return f"none current (the last ended on {text(ended)})"
    if patient.restricted:
        return RESTRICTED
    if patient.restricted is False:
        return ABSENT  # the API says the record is not restricted: there is none
    return otherwise


def _name_rows(patient: Patient) -> list[Row]:
    given = patient.given_names
    shown = bounds.first(given)
    parts = [patient.title or "", *given[:shown], patient.family_name or ""]
    parts = [part for part in parts if part]
    rows = [("Name", bounds.joined(parts, " ") if parts else ABSENT)]
    if len(given) > shown:
        rows.append(("", bounds.more(len(given) - shown, "given names")))
    return rows


def _address_rows(addresses: Sequence[Address], empty: str = WITHHELD) -> list[Row]:
    if not addresses:
        return [("Address", empty)]
    shown = bounds.first(addresses)
    rows = [
        (f"Address ({bounds.label(address.use or 'unknown use', _LABEL_LIMIT)})",
         address_text(address))
        for address in addresses[:shown]
    ]
    if len(addresses) > shown:
        rows.append(("Address", bounds.more(len(addresses) - shown)))
    return rows


def _telecom_rows(patient: Patient, empty: str = WITHHELD) -> list[Row]:
    telecoms = patient.telecoms
    if not telecoms:
        return [("Phone, email", empty)]
    shown = bounds.first(telecoms)
    rows = [
        (telecom.kind(entry.value[:_LABEL_LIMIT]), _telecom_text(entry.value, entry.use))
        for entry in telecoms[:shown]
    ]
    if len(telecoms) > shown:
        rows.append(("Phone, email", bounds.more(len(telecoms) - shown)))
    return rows


def _practice_rows(patient: Patient, empty: str = ABSENT) -> list[Row]:
    practice = patient.gp_practice
    if practice is None:
        return [("GP practice", empty)]
    code_and_name = [part for part in (practice.code, practice.name) if part]
    rows = [("GP practice", bounds.joined(code_and_name, " ") if code_and_name else ABSENT)]
    if practice.address is not None:
        rows.append(("GP address", address_text(practice.address)))
    if practice.telephone is not None:
        rows.append(("GP telephone", _telecom_text(practice.telephone, None)))
    return rows


def _telecom_text(value: str, use: str | None) -> str:
    # Only a value short enough to be shown whole is worth reading as a phone number.
    if len(value) > bounds.FIELD_LIMIT:
        return text(value)
    return text(telecom.display(value, (use or "")[: bounds.FIELD_LIMIT] or None))


def nhs(number: str | None) -> str:
    """An NHS number 3-3-4 (MSCA-PDS-06), or the dash for none."""
    if not number:
        return ABSENT
    # Digits come back 3-3-4; anything else a provider sent is shown bounded and visible.
    return bounds.cut(format_nhs_number(number))


def text(value: str | None) -> str:
    """A value as shown: bounded and visible; blank (PDS holds "") kept apart from absent."""
    if value is None:
        return ABSENT
    return bounds.cut(value) if value.strip() else BLANK


def address_text(address: Address) -> str:
    """Lines and postcode on one line; at most 20 lines, then how many more."""
    lines = tuple(line for line in address.lines if line)  # blanks keep JSON's positions only
    shown = bounds.first(lines)
    parts = [line for line in (*lines[:shown], address.postcode or "") if line]
    joined = bounds.joined(parts, ", ") if parts else BLANK
    if len(lines) > shown:
        joined += " " + bounds.more(len(lines) - shown, "lines")
    return joined
