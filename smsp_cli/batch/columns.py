"""Which input columns an operation reads, and how a sheet's own headers map onto them.

Column (or JSON key) names are the lookup commands' option names in snake case, plus ``id``,
which the output echoes. ``--column FIELD=HEADER`` maps a sheet's header onto a field. The
required columns follow the operations' rules (spec §3.3): ``details`` needs ``dob`` and either
``nhs_number`` or all of ``family``, ``given`` and ``gender``, its two modes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from smsp_cli.domain import operations
from smsp_cli.domain.errors import UsageError
from smsp_cli.domain.operations import Operation

ID_COLUMN = "id"

# Per operation: the fields it takes (build_query's keywords, the commands' option names).
FIELDS: Mapping[str, tuple[str, ...]] = {
    operations.VERIFY.command: ("nhs_number", "dob", "family", "given"),
    operations.GET.command: ("nhs_number", "dob", "family", "given", "local_id"),
    operations.SEARCH.command: ("family", "dob", "gender", "given", "postcode", "local_id"),
    operations.TRACE.command: ("family", "dob", "gender", "given", "postcode", "local_id"),
    operations.DETAILS.command: (
        "dob", "nhs_number", "family", "given", "gender", "postcode", "local_id",
    ),
}
ALL_FIELDS: tuple[str, ...] = (
    "nhs_number", "dob", "family", "given", "gender", "postcode", "local_id",
)

# Each alternative is a set of columns that together satisfy the operation.
_REQUIRED: Mapping[str, tuple[tuple[str, ...], ...]] = {
    operations.VERIFY.command: (("nhs_number", "dob"),),
    operations.GET.command: (("nhs_number", "dob"),),
    operations.SEARCH.command: (("family", "dob", "gender"),),
    operations.TRACE.command: (("family", "dob", "gender"),),
    # getPatientDetails: with an NHS number it verifies; without, it searches (spec §3.3).
    operations.DETAILS.command: (("dob", "nhs_number"), ("dob", "family", "given", "gender")),
}


@dataclass(frozen=True)
class ColumnPlan:
    """Where each field is read from: field name -> the input's column (or key) name."""

    sources: Mapping[str, str]
    ignored: tuple[str, ...]  # input columns no field reads, in input order

    def fields(self, record: Mapping[str, object]) -> dict[str, object]:
        """The record's values by field name, for the columns the record has."""
        return {field: record[column] for field, column in self.sources.items()
                if column in record}


def parse_mapping(options: Iterable[str]) -> dict[str, str]:
    """``--column FIELD=HEADER`` options as {field: header}; exit 2 on a malformed one."""
    mapping: dict[str, str] = {}
    for option in options:
        field, sep, header = option.partition("=")
        field, header = field.strip(), header.strip()
        if not sep or not field or not header:
            raise UsageError(f"--column {option!r} is not FIELD=HEADER",
                             hint='e.g. --column nhs_number="NHS No"')
        if field not in (*ALL_FIELDS, ID_COLUMN):
            raise UsageError(f"--column {option!r}: {field!r} is not a field",
                             hint="fields: " + ", ".join((*ALL_FIELDS, ID_COLUMN)))
        if field in mapping:
            raise UsageError(f"--column maps {field} twice")
        mapping[field] = header
    return mapping


def plan(
    operation: Operation, columns: Sequence[str], mapping: Mapping[str, str], *,
    open_keys: bool = False,
) -> ColumnPlan:
    """Map the input's columns to the operation's fields, or exit 2 naming a missing column.

    ``columns`` are the CSV header (or the first JSON record's keys) as written in the input.
    ``open_keys`` (JSON lines, which have no header): a later record may hold a key the first
    lacks, so every field the operation takes is read wherever a record has it.
    """
    present = set(columns)
    wanted = (*FIELDS[operation.command], ID_COLUMN)
    for field, header in mapping.items():
        if header not in present:
            raise UsageError(f"--column {field}={header}: the input has no column {header!r}")
        if field not in wanted:
            raise UsageError(f"--column {field}=...: {operation.command} does not use {field}",
                             hint=f"{operation.command} reads " + ", ".join(wanted))
    sources = {field: mapping.get(field, field) for field in wanted
               if mapping.get(field, field) in present}
    alternatives = _REQUIRED[operation.command]
    if not any(all(field in sources for field in needed) for needed in alternatives):
        missing = " or ".join(
            ", ".join(field for field in needed if field not in sources) for needed in alternatives
        )
        needs = " or ".join(" + ".join(needed) for needed in alternatives)
        raise UsageError(
            f"the input has no {missing} column ({operation.command} needs {needs})",
            hint="name the columns in the header row, or map them with --column FIELD=HEADER",
        )
    if open_keys:
        sources = {field: mapping.get(field, field) for field in wanted}
    used = set(sources.values())
    return ColumnPlan(sources, tuple(column for column in columns if column not in used))
