"""Response codes (spec §6): display text, exit class and the warnings each code demands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsp_cli.domain import warning_codes as wc
from smsp_cli.domain.errors import ExitCode
from smsp_cli.domain.wording import listed
from smsp_cli.fastclasses import dataclass

if TYPE_CHECKING:
    from smsp_cli.domain.models import Query


@dataclass(frozen=True)
class CodeInfo:
    """How smsp treats one business response code."""

    code: str
    text: str
    exit_code: ExitCode
    warning: str | None = None
    warning_code: str | None = None  # the stable code of ``warning`` (domain/warning_codes)


_CODES = (
    CodeInfo("SMSP-0000", "Success", ExitCode.OK),
    CodeInfo("SMSP-0001", "Input message validation error", ExitCode.REJECTED),
    CodeInfo(
        "SMSP-0002",
        "Response message validation error",
        ExitCode.REJECTED,
        "PDS returned data SMSP could not turn into a valid response; the record cannot be "
        "retrieved through SMSP",
        wc.RESPONSE_INVALID,
    ),
    CodeInfo(
        "SMSP-0003",
        "Data returned from local store, Spine unavailable",
        ExitCode.OK,
        "Spine was unavailable: this data came from the provider's cache and may be stale",
        wc.CACHED,
    ),
    CodeInfo(
        "SMSP-0004",
        "Could not connect to Spine",
        ExitCode.PROVIDER_FAILED,
        "the provider could not reach Spine; try again later",
        wc.SPINE_UNREACHABLE,
    ),
    CodeInfo(
        "SMSP-0005",
        "Author Credentials Error",
        ExitCode.REJECTED,
        "the provider rejected the audit identity or credentials; check the audit id",
        wc.CREDENTIALS_REJECTED,
    ),
    CodeInfo(
        "SMSP-9999",
        "Generic Spine Mini Service Provider software failure",
        ExitCode.PROVIDER_FAILED,
    ),
    CodeInfo(
        "DEMOG-0001",
        "No Match",
        ExitCode.NEGATIVE,
        "no patient matched; refine the search (check spelling, add postcode or given name)",
        wc.NO_MATCH,
    ),
    CodeInfo(
        "DEMOG-0007",
        "Multiple matches found",
        ExitCode.NEGATIVE,
        "more than one patient matched; refine the search (add postcode or given name)",
        wc.SEVERAL_MATCHES,
    ),
    CodeInfo(
        "DEMOG-0017",
        "Superceding NHS number returned",
        ExitCode.OK,
        "the NHS number you supplied has been superseded: use the new NHS number {nhs}",
        wc.SUPERSEDED,
    ),
    CodeInfo(
        "DEMOG-0022",
        "NHS Number of response record has been invalidated",
        ExitCode.NEGATIVE,
        "this NHS number has been invalidated: it is no longer in use, the record is "
        "referred to the back office, and all its data must be treated with caution",
        wc.INVALIDATED,
    ),
    CodeInfo(
        "DEMOG-0040",
        "NHS number not verified",
        ExitCode.NEGATIVE,
        "the NHS number was not verified against these details; do not use it",
        wc.NOT_VERIFIED,
    ),
    CodeInfo(
        "DEMOG-0042",
        "NHS Number is not a new style number",
        ExitCode.NEGATIVE,
        "this is an old-style NHS number; ask for the patient's 10-digit NHS number",
        wc.NOT_NEW_STYLE,
    ),
    CodeInfo("DEMOG-9999", "Generic Spine Service Error", ExitCode.PROVIDER_FAILED),
)

RESPONSE_CODES: dict[str, CodeInfo] = {info.code: info for info in _CODES}

FAULT_CODES: dict[str, tuple[str, ExitCode]] = {
    "1000": ("Invalid Message", ExitCode.REJECTED),
    "2100": ("Processing Error (Retryable)", ExitCode.PROVIDER_FAILED),
    "2200": ("Processing Error (Not Retryable)", ExitCode.PROVIDER_FAILED),
    "3000": ("Access Denied", ExitCode.REJECTED),
}


def lookup(code: str) -> CodeInfo:
    """The treatment of a response code; an unknown code is a provider failure shown raw."""
    known = RESPONSE_CODES.get(code)
    if known is not None:
        return known
    return CodeInfo(
        code,
        f"Unknown response code {code}",
        ExitCode.PROVIDER_FAILED,
        "smsp does not know this code, so the reply is treated as a failure",
        wc.UNKNOWN_CODE,
    )


def match_advice(code: str, query: Query) -> str | None:
    """After DEMOG-0001 (no match) or DEMOG-0007 (several): what to try, for the command run.

    ``get`` and ``verify`` look a patient up by NHS number and date of birth, so a postcode
    or a given name is no help there; ``search``, ``trace`` and ``details`` without a number
    match demographics, where the advice depends on what was given.
    """
    if code not in ("DEMOG-0001", "DEMOG-0007"):
        return None
    by_number = query.nhs_number is not None
    if code == "DEMOG-0001":
        if by_number:
            names = " and the names given" if query.family or query.given else ""
            return f"no patient matched this NHS number and date of birth; check both{names}"
        return "no patient matched; " + _widen(query)
    if by_number:
        return "more than one patient matched; check the NHS number and date of birth"
    return "more than one patient matched; " + _narrow(query)


def _widen(query: Query) -> str:
    tips = ["check the spelling and the date of birth"]
    if query.postcode is not None:
        tips.append("leave out the postcode if it may be out of date")
    if query.operation.wildcards and not _has_wildcard(query):
        tips.append("a name ending in * matches its start (e.g. Fair*)")
    return "; ".join(tips)


def _narrow(query: Query) -> str:
    # Only what the query left out can narrow it. A request carries one given name, and PDS
    # matches it against every given name a record holds: when a forename matched several,
    # another of the patient's given names (a middle name) may single one out.
    more = []
    if query.given is None and "Person.Name" in query.operation.items:
        more.append("a given name")
    if query.postcode is None and "Person.Postcode" in query.operation.items:
        more.append("a postcode")
    if not query.dob.is_full:
        more.append("the full date of birth")
    tips = [f"add {listed(more, 'or')}"] if more else []
    if _has_wildcard(query):
        tips.append("spell out the names instead of using *")
    elif query.given is not None:
        tips.append("give another of the patient's given names, such as a middle name")
    if tips:
        return f"refine the search ({', or '.join(tips)})"
    return "the details given fit more than one record; check them with the patient"


def _has_wildcard(query: Query) -> bool:
    return any("*" in (value or "") for value in (query.family, query.given, query.postcode))
