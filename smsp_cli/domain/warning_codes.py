"""The stable codes of every warning smsp can give: a public contract, like the exit codes.

A result's ``warnings`` are prose for people and may be reworded; ``warning_codes`` carries one
of these codes for each, in the same order, for scripts to branch on. A new warning gets a new
code here (with its one-line meaning, which the README lists); a code is never renamed or
reused for something else.
"""

from __future__ import annotations

SUPERSEDED = "superseded"  # DEMOG-0017: the number given was replaced; the new one is shown
NOT_VERIFIED = "not-verified"  # DEMOG-0040, or verify answered "not verified"
VERIFICATION_UNKNOWN = "verification-unknown"  # verify: the provider did not say
DECEASED = "deceased"  # the record carries a date of death
INVALIDATED = "invalidated"  # DEMOG-0022
RESTRICTED = "restricted"  # PDS marks the record restricted: address, telecom and GP withheld
REDUCED_RECORD = "reduced-record"  # a search's reduced record: the full read found nothing
NO_CURRENT_ADDRESS = "no-current-address"  # every address held has ended
NO_CURRENT_TELECOM = "no-current-telecom"  # every telecom held has ended
NO_CURRENT_GP = "no-current-gp"  # every GP registration held has ended
CACHED = "cached"  # SMSP-0003: from the provider's local store, Spine unavailable
NO_MATCH = "no-match"  # DEMOG-0001
SEVERAL_MATCHES = "several-matches"  # DEMOG-0007
NOT_NEW_STYLE = "not-new-style"  # DEMOG-0042
RESPONSE_INVALID = "response-invalid"  # SMSP-0002
SPINE_UNREACHABLE = "spine-unreachable"  # SMSP-0004
CREDENTIALS_REJECTED = "credentials-rejected"  # SMSP-0005
UNKNOWN_CODE = "unknown-response-code"  # a response code smsp does not know

# Code -> what it means, in the order the README lists them (a test keeps the two equal).
WARNING_CODES: dict[str, str] = {
    SUPERSEDED: "the NHS number given has been replaced; use the new one the result shows",
    NOT_VERIFIED: "the NHS number was not verified against the details given; do not use it",
    VERIFICATION_UNKNOWN: "the provider did not say whether the NHS number is verified",
    DECEASED: "the patient is recorded as deceased (the date of death is in the result)",
    INVALIDATED: "the NHS number has been invalidated; treat the record's data with caution",
    RESTRICTED: "the provider marks the record restricted: some details are withheld",
    REDUCED_RECORD: "the provider returned less of the record than PDS holds",
    NO_CURRENT_ADDRESS: "the record has no address in use today",
    NO_CURRENT_TELECOM: "the record has no telephone number or email address in use today",
    NO_CURRENT_GP: "the record has no GP practice registration in force today",
    CACHED: "Spine was unavailable: the data came from the provider's cache and may be stale",
    NO_MATCH: "no patient matched the details given",
    SEVERAL_MATCHES: "more than one patient matched the details given",
    NOT_NEW_STYLE: "the NHS number is not a new-style (10-digit) number",
    RESPONSE_INVALID: "PDS returned data the provider could not turn into a valid reply",
    SPINE_UNREACHABLE: "the provider could not reach Spine",
    CREDENTIALS_REJECTED: "the provider rejected the audit identity or credentials",
    UNKNOWN_CODE: "the provider answered with a response code smsp does not know",
}

# What an ended-only list is called in warnings and tables, by its code.
NO_CURRENT: dict[str, str] = {
    "address": NO_CURRENT_ADDRESS,
    "telecom": NO_CURRENT_TELECOM,
    "gp": NO_CURRENT_GP,
}


def known(code: str) -> str:
    """``code`` itself, refusing one that is not in :data:`WARNING_CODES` (a programming slip)."""
    if code not in WARNING_CODES:
        raise ValueError(f"undeclared warning code {code!r}: add it to WARNING_CODES")
    return code
