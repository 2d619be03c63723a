"""One-line texts about an outcome, shared by stderr and the JSON error object.

stderr never carries the patient's NHS number, names or date of birth: the warnings have a
form for stderr (:attr:`smsp_cli.domain.results.Outcome.stderr_warnings`) that points at the output
instead, and an outcome built without one has its identifiers masked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsp_cli.domain.errors import ExitCode
from smsp_cli.untrusted.bounds import cut
from smsp_cli.untrusted.sanitize import mask_identifiers, visible

if TYPE_CHECKING:
    from smsp_cli.domain.results import Outcome


def stderr_warnings(outcome: Outcome) -> tuple[str, ...]:
    """The warnings as stderr shows them: visible, and without the patient's identifiers."""
    if len(outcome.stderr_warnings) == len(outcome.warnings):
        return tuple(visible(text) for text in outcome.stderr_warnings)
    return tuple(visible(mask_identifiers(text)) for text in outcome.warnings)


def error_message(outcome: Outcome) -> str | None:
    """For a reply that exits 2-6, the one line saying so (code, text, warnings); else None."""
    if outcome.exit_code < ExitCode.USAGE:
        return None
    code = outcome.reply.response_code
    text = outcome.response_text
    head = text if code in text else f"{code} {text}"
    warnings = stderr_warnings(outcome)
    line = cut(head) + (": " + "; ".join(warnings) if warnings else "")
    # The call is named, so the user can quote it to the provider.
    return " ".join(line.split()) + f" (MessageID {visible(outcome.message_id)})"
