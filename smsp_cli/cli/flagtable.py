"""Every connection, provider and output flag, and each lookup's own fields: declared here once.

Plain data, no Typer, so that both readers of a command line use the one table:
:mod:`smsp_cli.cli.options` builds the Typer options from it (help text, metavar, panel) and
:mod:`smsp_cli.cli.plainargs` reads a plain lookup command line with it, without Typer. A new
flag is one row here (a new setting also needs its flag and variable in
:data:`smsp_cli.settings.connection.KEYS`, which the settings layer names in its errors; the
rows of settings take both from there, so neither is spelt twice).
"""

from __future__ import annotations

from enum import StrEnum

from smsp_cli.output.formats import OutputFormat
from smsp_cli.settings.connection import KEYS

CONNECTION_PANEL = "Connection"
TUNING_PANEL = "Provider tuning"
OUTPUT_PANEL = "Output"
PATIENT_PANEL = "Patient"
BATCH_PANEL = "Batch"

VALUE = "value"  # takes one value: --endpoint URL, --endpoint=URL
SWITCH = "switch"  # takes none: --json; with an ``off`` spelling it is on, off or not given
COUNT = "count"  # may be repeated: -v -v


class Flag:
    """One option: how it is spelt, what it sets and how its help shows it.

    A plain class, not a dataclass: a plain lookup loads this table on every call, and making
    Flag and Field dataclasses cost that about 2.6 ms (the whole table takes 0.15 ms so).
    """

    __slots__ = ("choices", "completes", "kind", "metavar", "name", "off", "panel",
                 "profile_text", "spellings", "text", "variable")

    def __init__(
        self,
        name: str,  # the parameter it sets (a field of ConnectionOptions or OutputOptions)
        spellings: tuple[str, ...],  # "--output", "-o"
        text: str,  # the help text
        panel: str,
        metavar: str | None = None,
        variable: str | None = None,  # the environment variable, named after the help text
        kind: str = VALUE,
        off: str | None = None,  # a switch's spelling that gives False: --no-soap-action-quoted
        *,
        choices: type[StrEnum] | None = None,  # the values it takes, in any case
        completes: str | None = None,  # what the shell completes its value to (cli/completion)
        # How `smsp config` describes the profile key a setting's flag sets (its defaults,
        # ranges), when that differs from the text above.
        profile_text: str = "",
    ) -> None:
        self.name = name
        self.spellings = spellings
        self.text = text
        self.panel = panel
        self.metavar = metavar
        self.variable = variable
        self.kind = kind
        self.off = off
        self.choices = choices
        self.completes = completes
        self.profile_text = profile_text

    def __repr__(self) -> str:
        return f"Flag({self.name!r}, {self.spellings!r})"

    @property
    def profile_help(self) -> str:
        """The text `smsp config init` and `smsp config show` give the flag."""
        return self.profile_text or self.text

    @property
    def help(self) -> str:
        """The help text, the variable named when there is one."""
        return f"{self.text} (env {self.variable})" if self.variable else self.text

    @property
    def default(self) -> object:
        """What the command gets when the flag is not given."""
        if self.kind == COUNT:
            return 0
        if self.kind == SWITCH:
            return None if self.off else False
        if self.choices:
            return next(iter(self.choices))  # the first choice: OutputFormat.table
        return None


def _setting(name: str, text: str, metavar: str | None, panel: str, *, kind: str = VALUE,
             named: bool = True, completes: str | None = None, profile: str = "") -> Flag:
    """The flag of the setting ``name``; its spelling and variable are those of KEYS.

    ``named``: its help names its variable (and a switch has a --no- spelling, so that a flag
    can turn off what the profile turns on).
    """
    flag, variable = KEYS[name]
    off = flag.replace("--", "--no-", 1) if kind == SWITCH and named else None
    return Flag(name, (flag,), text, panel, metavar, variable if named else None, kind, off,
                completes=completes, profile_text=profile)


# The connection and provider flags of every command that reaches the provider (the lookups,
# batch and doctor), in the order their help lists them.
CONNECTION_FLAGS: tuple[Flag, ...] = (
    _setting("profile", "Connection profile ('sandbox' = embedded provider).", "NAME",
             CONNECTION_PANEL, completes="profile"),
    _setting("endpoint", "Provider URL (https://...).", "URL", CONNECTION_PANEL),
    _setting("cert", "Client certificate: PEM, or PKCS#12 (.p12/.pfx).", "FILE", CONNECTION_PANEL,
             profile="Client certificate: PEM, or PKCS#12 (.p12/.pfx) as NHS issues it."),
    _setting("key", "Client private key (PEM); none with PKCS#12.", "FILE", CONNECTION_PANEL,
             profile="Client private key (PEM, plain or encrypted); not needed with PKCS#12."),
    _setting("ca_bundle", "CA certificates that sign the provider (PEM).", "FILE",
             CONNECTION_PANEL),
    _setting("audit_id", "Audit identity: an ASID (digits) or urn:nhs-uk:identity:...", "ID",
             CONNECTION_PANEL, profile="ASID, urn:nhs-uk:identity:..., or "
             "urp=..,user=..,role=..,org=.. (smartcard)."),
    _setting("username", "wsse:Username (default: the client certificate's CN).", "NAME",
             CONNECTION_PANEL),
    _setting("timeout", "Connect and read timeout in seconds.", "SECONDS", CONNECTION_PANEL),
    _setting("api", "smsp (SOAP, the default) or fhir (PDS FHIR).", "API", CONNECTION_PANEL,
             profile="smsp (SOAP/ITK, the default) or fhir (PDS FHIR)."),
    _setting("signing_key", "PDS FHIR: RSA private key that signs (PEM).", "FILE",
             CONNECTION_PANEL, profile="PDS FHIR: the RSA private key that signs the JWT (PEM)."),
    _setting("signing_key_id", "PDS FHIR: the key's id (JWT kid).", "KID", CONNECTION_PANEL,
             profile="PDS FHIR: the kid its public key is published under."),
    # The two credential-handling settings: their help names no variable.
    _setting("passphrase_file",
             "Read the key or PKCS#12 passphrase from this file (never from argv).", "FILE",
             CONNECTION_PANEL, named=False,
             profile="File holding the key or PKCS#12 passphrase (mode 0600)."),
    _setting("no_input", "Never prompt; fail instead.", None, CONNECTION_PANEL, kind=SWITCH,
             named=False),
    _setting("kind", "live, test or sandbox: how results are labelled.", "KIND", TUNING_PANEL,
             profile="live, test or sandbox: banner and labels follow it."),
    _setting("sender_address", "wsa:From address to send (optional).", "ADDRESS", TUNING_PANEL,
             profile="wsa:From address (optional)."),
    _setting("soap_action_quoted", "Quote SOAPAction (default unquoted).", None, TUNING_PANEL,
             kind=SWITCH, profile="Send SOAPAction in quotes (default: unquoted)."),
    _setting("connect_timeout", "Connect timeout in seconds.", "SECONDS", TUNING_PANEL,
             profile="Connect timeout in seconds (default 10)."),
    _setting("read_timeout", "Read timeout in seconds.", "SECONDS", TUNING_PANEL,
             profile="Read timeout in seconds (default 30)."),
    _setting("min_tls_version", "Lowest TLS version: 1.2 or 1.3.", "VER", TUNING_PANEL,
             profile="Minimum TLS version: 1.2 (default) or 1.3."),
    _setting("max_attempts", "Attempts for retryable failures.", "N", TUNING_PANEL,
             profile="Attempts for a transient failure, 1-10 (default 3)."),
    _setting("retry_backoff", "First retry delay in seconds.", "SECONDS", TUNING_PANEL,
             profile="Seconds before the first retry; doubles, with jitter (default 0.5)."),
    _setting("token_url", "PDS FHIR: token URL (default by endpoint).", "URL", TUNING_PANEL,
             profile="PDS FHIR: the token URL (default: the endpoint's environment's)."),
    _setting("ods_code", "PDS FHIR: your organisation's ODS code.", "CODE", TUNING_PANEL,
             profile="PDS FHIR: sent as NHSD-End-User-Organisation-ODS."),
)

# The settings only `smsp batch` takes as flags (it takes the connection flags too)...
BATCH_FLAGS: tuple[Flag, ...] = (
    _setting("concurrency", "Lookups in flight at once, 1-64 (default 4).", "N", BATCH_PANEL,
             profile="smsp batch: lookups in flight at once, 1-64 (default 4)."),
    _setting("rate_limit", "At most R lookups a second (default: no limit).", "R", BATCH_PANEL,
             profile="smsp batch: at most this many lookups a second (default: no limit; "
             "PDS FHIR 5)."),
)
# ... and those only `smsp config` does (the audit trail's, set once per profile).
PROFILE_ONLY_FLAGS: tuple[Flag, ...] = (
    _setting("audit_max_bytes", "Audit trail file size before it rotates (default 64MiB).",
             None, ""),
    _setting("audit_syslog", "Also send every audit record to the system log.", None, "",
             kind=SWITCH),
)
# Every setting that has a flag, by setting name (`smsp config` lists them in KEYS' order).
SETTING_FLAGS: dict[str, Flag] = {
    flag.name: flag for flag in (*CONNECTION_FLAGS, *BATCH_FLAGS, *PROFILE_ONLY_FLAGS)
}

# How a lookup shows its result (OutputOptions; --json sets its output to json).
OUTPUT_FLAGS: tuple[Flag, ...] = (
    Flag("output", ("--output", "-o"), "table for people, json or xml for scripts.",
         OUTPUT_PANEL, choices=OutputFormat),
    Flag("as_json", ("--json",), "Same as --output json.", OUTPUT_PANEL, kind=SWITCH),
    Flag("dry_run", ("--dry-run",), "Print the envelope that would be sent; send nothing.",
         OUTPUT_PANEL, kind=SWITCH),
    Flag("verbose", ("--verbose", "-v"),
         "Show phase timings, headers and redacted envelopes on stderr.", OUTPUT_PANEL,
         kind=COUNT),
    Flag("trace_file", ("--trace-file",), "Write the full exchange to FILE (mode 0600).",
         OUTPUT_PANEL, metavar="FILE"),
    Flag("reveal", ("--reveal",), "Do not redact patient data in -v output and traces.",
         OUTPUT_PANEL, kind=SWITCH),
)


class Field:
    """One patient field a lookup takes: an option in the Patient panel, or an argument."""

    __slots__ = ("completes", "flag", "metavar", "name", "required", "text")

    def __init__(
        self,
        name: str,  # the parameter of build_query it fills
        flag: str | None,  # None: a positional argument
        metavar: str,
        text: str,  # the help text
        *,
        required: bool = False,
        completes: str | None = None,
    ) -> None:
        self.name = name
        self.flag = flag
        self.metavar = metavar
        self.text = text
        self.required = required
        self.completes = completes

    def __repr__(self) -> str:
        return f"Field({self.name!r}, {self.flag!r})"


_NHS_NUMBER_ARGUMENT = Field("nhs_number", None, "NHS_NUMBER",
                             "10 digits: 9434765919, 943 476 5919 or 943-476-5919.",
                             required=True)
_NHS_NUMBER = Field("nhs_number", "--nhs-number", "NHS_NUMBER",
                    "NHS number, to verify and retrieve.")
_FULL_DOB = Field("dob", "--dob", "DATE", "Date of birth: YYYY-MM-DD, YYYYMMDD or DD/MM/YYYY.",
                  required=True)
_ANY_DOB = Field("dob", "--dob", "DATE",
                 "Date of birth: YYYY-MM-DD, YYYYMMDD, DD/MM/YYYY, YYYY-MM, YYYYMM or YYYY.",
                 required=True)
_FAMILY = Field("family", "--family", "NAME", "Family name (surname).")
_REQUIRED_FAMILY = Field("family", "--family", "NAME",
                         "Family name; '*' after 2+ characters is a wildcard.", required=True)
_GIVEN = Field("given", "--given", "NAME", "Given name (forename).")
_GENDER_TEXT = "male|female|not-known|not-specified, m|f, or 0|1|2|9."
_GENDER = Field("gender", "--gender", "GENDER", _GENDER_TEXT, completes="gender")
_REQUIRED_GENDER = Field("gender", "--gender", "GENDER", _GENDER_TEXT, required=True,
                         completes="gender")
_POSTCODE = Field("postcode", "--postcode", "POSTCODE",
                  "Postcode, e.g. 'LS17 7TR' (the space may be left out).")
_LOCAL_ID = Field("local_id", "--local-id", "[OID:]ID",
                  "Your local patient id, echoed back in the reply.")

# Each lookup command's own fields, in the order its help lists them.
LOOKUP_FIELDS: dict[str, tuple[Field, ...]] = {
    "verify": (_NHS_NUMBER_ARGUMENT, _FULL_DOB, _FAMILY, _GIVEN),
    "get": (_NHS_NUMBER_ARGUMENT, _FULL_DOB, _FAMILY, _GIVEN, _LOCAL_ID),
    "search": (_REQUIRED_FAMILY, _FULL_DOB, _REQUIRED_GENDER, _GIVEN, _POSTCODE, _LOCAL_ID),
    "trace": (_REQUIRED_FAMILY, _ANY_DOB, _REQUIRED_GENDER, _GIVEN, _POSTCODE, _LOCAL_ID),
    "details": (_FULL_DOB, _NHS_NUMBER, _FAMILY, _GIVEN, _GENDER, _POSTCODE, _LOCAL_ID),
}
