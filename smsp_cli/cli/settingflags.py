"""The option bundles a command hands on: the connection flags as given, and how to show.

Declared apart from their Typer options (:mod:`smsp_cli.cli.options`) so that a lookup whose
command line needs no Typer to read (:mod:`smsp_cli.cli.plainargs`) builds the same bundles.
"""

from __future__ import annotations

from dataclasses import dataclass

from smsp_cli.output.formats import OutputFormat


@dataclass(frozen=True)
class ConnectionOptions:
    """The connection flags as given (None when not given); settings.connection layers them."""

    profile: str | None = None
    endpoint: str | None = None
    cert: str | None = None
    key: str | None = None
    ca_bundle: str | None = None
    audit_id: str | None = None
    username: str | None = None
    timeout: str | None = None
    passphrase_file: str | None = None  # where an encrypted key's passphrase is read from
    no_input: bool = False  # never prompt; fail with the command that fixes it
    kind: str | None = None
    sender_address: str | None = None
    soap_action_quoted: bool | None = None
    connect_timeout: str | None = None
    read_timeout: str | None = None
    min_tls_version: str | None = None
    max_attempts: str | None = None
    retry_backoff: str | None = None
    concurrency: str | None = None  # smsp batch only: lookups in flight at once
    rate_limit: str | None = None  # smsp batch only: lookups a second at most
    api: str | None = None  # smsp or fhir
    signing_key: str | None = None  # PDS FHIR: the RSA private key that signs the JWT
    signing_key_id: str | None = None  # PDS FHIR: the JWT's kid
    token_url: str | None = None  # PDS FHIR: the identity service's token URL
    ods_code: str | None = None  # PDS FHIR: NHSD-End-User-Organisation-ODS

    def flags(self) -> dict[str, str | None]:
        """The setting flags by setting name (not the credential-handling switches)."""
        flags: dict[str, str | None] = {}
        for key, value in self.__dict__.items():
            if key in ("passphrase_file", "no_input"):
                continue
            flags[key] = ("true" if value else "false") if isinstance(value, bool) else value
        return flags

    def setting_flags(self) -> dict[str, str | None]:
        """Every setting given as a flag, by setting name, the credential switches included."""
        flags = self.flags()
        # --passphrase-file and --no-input are settings too (SMSP_PASSPHRASE_FILE, SMSP_NO_INPUT).
        flags["passphrase_file"] = self.passphrase_file
        flags["no_input"] = "true" if self.no_input else None
        return flags


@dataclass(frozen=True)
class OutputOptions:
    """How to show the result."""

    output: OutputFormat = OutputFormat.table
    dry_run: bool = False
    verbose: int = 0  # -v: phase timings, headers and redacted envelopes on stderr
    trace_file: str | None = None  # the full exchange, written with mode 0600
    reveal: bool = False  # show patient data in -v output and traces unredacted
