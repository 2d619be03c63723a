"""One exception tree for everything smsp can report; each class owns its exit code.

Domain code raises these and never prints or exits. :mod:`smsp_cli.cli.reporting` is the single
place that turns them into one line on stderr and the exit code below (documented in the
README; a test keeps the two equal).

    SmspError
    ├── UsageError            2  bad input: nothing was sent
    ├── ProviderRejected      3  the provider refused the request (fault 1000/3000, SMSP-0001...)
    ├── ProviderFailed        4  the provider failed, or answered unusably
    │   ├── UnsafeReply       4  a reply we refuse to parse (DOCTYPE, entities, oversized)
    │   ├── MalformedHttp     4  HTTP framing broken or over its limits (never retried)
    │   └── MismatchedReply   4  a reply that does not answer the request sent
    ├── Unreachable           5  DNS, connect, TLS handshake, certificate verification, timeout
    │   ├── UntrustedServer   5  the server's certificate failed verification
    │   └── CertificateRefused 5 the server refused our client certificate (a TLS alert)
    └── ConfigError           6  local configuration or credentials
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smsp_cli.domain.results import Fault


class ExitCode(IntEnum):
    """Process exit codes; scripts depend on these numbers."""

    OK = 0
    NEGATIVE = 1
    USAGE = 2
    REJECTED = 3
    PROVIDER_FAILED = 4
    UNREACHABLE = 5
    CONFIG = 6


EXIT_CODE_MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "success (also DEMOG-0017 and SMSP-0003, with a warning)",
    ExitCode.NEGATIVE: (
        "negative business answer (DEMOG-0001, DEMOG-0007, DEMOG-0040 or not verified, "
        "DEMOG-0022, DEMOG-0042)"
    ),
    ExitCode.USAGE: "usage or validation error; nothing was sent",
    ExitCode.REJECTED: (
        "provider rejected the request (SMSP-0001, SMSP-0002, SMSP-0005, fault 1000 or 3000, "
        "HTTP 4xx)"
    ),
    ExitCode.PROVIDER_FAILED: (
        "provider failed or answered unusably (SMSP-0004, SMSP-9999, DEMOG-9999, unknown code, "
        "fault 2100 or 2200, HTTP 5xx without a fault, malformed, oversized or unsafe XML, "
        "malformed or oversized HTTP framing, a reply that does not answer the request sent)"
    ),
    ExitCode.UNREACHABLE: (
        "could not reach the provider (DNS, connect, TLS handshake, certificate verification, "
        "the provider refused our client certificate, timeout)"
    ),
    ExitCode.CONFIG: "local configuration or credential problem",
}


class SmspError(Exception):
    """Base of every error smsp reports to the user as one line."""

    exit_code: ExitCode = ExitCode.PROVIDER_FAILED
    # The data a command printed before failing (`auth status`): with -o json the error object
    # is merged into it, so a script reads one object, as a lookup's failing result is one.
    result: dict[str, object] | None = None

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        fault: Fault | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.fault = fault  # the SOAP fault behind the error, when the provider sent one
        self.http_status = http_status  # the HTTP status that carried no SOAP answer, if any
        # The MessageID of every attempt sent before the failure, in order (none: nothing was
        # sent), so a user can quote the call to the provider.
        self.message_ids: tuple[str, ...] = ()

    def one_line(self) -> str:
        """The message and, when there is one, what to do next, on a single line."""
        text = self.message if not self.hint else f"{self.message} ({self.hint})"
        return " ".join(text.split())


class UsageError(SmspError):
    """The user's input breaks a rule; the request was not sent."""

    exit_code = ExitCode.USAGE


# A field as the messages name it -> its batch column (and option) name, for ``fields``.
FIELD_COLUMNS: dict[str, str] = {
    "NHS number": "nhs_number",
    "date of birth": "dob",
    "family name": "family",
    "given name": "given",
    "name": "family",
    "gender": "gender",
    "postcode": "postcode",
    "local id": "local_id",
}


def column_name(field: str) -> str:
    """The batch column name of a field named as messages name it (``date of birth``: dob)."""
    return FIELD_COLUMNS.get(field, "_".join(field.split()).lower())


class ValidationError(UsageError):
    """A field fails a client-side rule (spec §3.2-3.3, §7.4).

    ``fields`` lists each field at fault by its batch column name, with the rule as the message
    states it: what ``-o json`` and batch rows carry as ``fields``.
    """

    def __init__(
        self,
        field: str,
        rule: str,
        *,
        message: str | None = None,
        fields: tuple[tuple[str, str], ...] | None = None,
    ) -> None:
        super().__init__(message or f"{field}: {rule}")
        self.field = field
        self.rule = rule
        self.fields = fields if fields is not None else ((column_name(field), rule),)

    @classmethod
    def combined(cls, problems: list[ValidationError]) -> ValidationError:
        """One error for every problem found, on one line: ``date of birth: ...; gender: ...``."""
        if len(problems) == 1:
            return problems[0]
        return cls(
            ", ".join(problem.field for problem in problems),
            "; ".join(problem.rule for problem in problems),
            message="; ".join(problem.message for problem in problems),
            fields=tuple(entry for problem in problems for entry in problem.fields),
        )


class ProviderRejected(SmspError):
    """The provider refused the request (fault 1000/3000, SMSP-0001/0002/0005, HTTP 4xx)."""

    exit_code = ExitCode.REJECTED


class ProviderFailed(SmspError):
    """The provider failed, or its reply could not be used."""

    exit_code = ExitCode.PROVIDER_FAILED


class UnsafeReply(ProviderFailed):
    """The reply was refused before parsing: DOCTYPE, entity, oversized or not XML."""


class MalformedHttp(ProviderFailed):
    """The reply's HTTP framing is broken or over its limits: a header line, header section,
    chunk-size line or trailers too long, a status line that is not HTTP/1.x, an unasked-for
    101. Never retried: the provider did answer, and would answer the same way again.
    """

    reason = "malformed_http"  # for its `failed` record


class MismatchedReply(ProviderFailed):
    """The reply does not answer the request sent: another message, patient or number.

    ``reason`` is the short word the audit trail's failed record names it by (see
    :mod:`smsp_cli.domain.correlation`). Never retried: the provider did answer.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message, hint="nothing of it was used; report it to the provider")
        self.reason = reason


class Unreachable(SmspError):
    """The provider could not be reached: DNS, connect, TLS, certificate or timeout."""

    exit_code = ExitCode.UNREACHABLE


class UntrustedServer(Unreachable):
    """The server's certificate failed verification: no retry or other request can pass."""


class CertificateRefused(Unreachable):
    """The server refused our client certificate with a TLS alert (unknown CA, expired...).

    Never retried, and a batch stops at once: every request on this certificate would be
    refused the same way. ``alert`` is the alert's name, as OpenSSL spells it.
    """

    reason = "client_certificate_refused"  # for its `failed` record

    def __init__(self, message: str, *, alert: str) -> None:
        super().__init__(message)
        self.alert = alert


class ConfigError(SmspError):
    """Local configuration or credentials are missing, unreadable or inconsistent."""

    exit_code = ExitCode.CONFIG


class PassphraseRejected(ConfigError):
    """A passphrase did not unlock a key or PKCS#12 file: a failed login (spec §7.2).

    It says what was locked, where the passphrase came from and for which profile, so the
    caller can record it in the audit trail: settings code loads keys and records nothing.
    """

    def __init__(
        self, message: str, *, what: str, source: str, profile: str | None, hint: str | None
    ) -> None:
        super().__init__(message, hint=hint)
        self.what = what
        self.source = source
        self.profile = profile
