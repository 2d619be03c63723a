"""What ``verify`` answers: one table from the response code and ``validIdentifier``.

| reply | ``verified`` | table | exit |
|---|---|---|---|
| SMSP-0000, SMSP-0003 or DEMOG-0017 with validIdentifier true | true | yes | 0 |
| a success code with validIdentifier false | false | no: not verified | 1 |
| DEMOG-0040, DEMOG-0001, DEMOG-0022, DEMOG-0042 (any validIdentifier) | false | no: why | 1 |
| a success code with no validIdentifier | null | unknown: the provider did not say | 4 |
| any other code | null | not checked: the code's text | the code's |

Faults and failed calls never reach here: they have no verdict (``verified`` null, "not
checked"). The point of the table: ``smsp verify ... && use-the-number`` must never go on when
the answer is unknown or contradicts itself. Plain values, the same for every provider API.
"""

from __future__ import annotations

from smsp_cli.domain.errors import ExitCode
from smsp_cli.fastclasses import dataclass

# The codes that say the call succeeded, so validIdentifier decides.
SUCCESS_CODES = frozenset({"SMSP-0000", "SMSP-0003", "DEMOG-0017"})

# The codes that say "not verified" whatever validIdentifier claims, and why.
NOT_VERIFIED_REASONS = {
    "DEMOG-0040": "the details do not match this NHS number",
    "DEMOG-0001": "no patient has this NHS number and date of birth",
    "DEMOG-0022": "this NHS number has been invalidated",
    "DEMOG-0042": "this is not a new-style NHS number",
}

NOT_VERIFIED = "the NHS number was not verified against these details; do not use it"
UNKNOWN = (
    "the provider did not say whether the NHS number is verified; treat it as not verified"
)


@dataclass(frozen=True)
class Verdict:
    """``verified`` as JSON gives it, the table's words, and the exit code it means."""

    verified: bool | None
    shown: str
    exit_code: ExitCode
    warning: str | None = None  # a warning the verdict adds, when the code has none


def verdict(response_code: str, valid_identifier: bool | None, code_text: str,
            code_exit: ExitCode) -> Verdict:
    """The verdict for a verify reply with this code and validIdentifier (None: absent)."""
    reason = NOT_VERIFIED_REASONS.get(response_code)
    if reason is not None:
        return Verdict(False, f"no: {reason}", ExitCode.NEGATIVE)
    if response_code not in SUCCESS_CODES:
        return Verdict(None, f"not checked: {code_text}", code_exit)
    if valid_identifier is True:
        return Verdict(True, "yes", ExitCode.OK)
    if valid_identifier is False:
        return Verdict(False, "no: not verified", ExitCode.NEGATIVE, NOT_VERIFIED)
    return Verdict(None, "unknown: the provider did not say", ExitCode.PROVIDER_FAILED, UNKNOWN)
