"""Connection settings: flag > environment variable > profile > built-in default.

Every value remembers where it came from, so errors can name the flag or variable to fix.
The only profile built in is ``sandbox``, which points smsp at the embedded provider; the
others come from the config file (:mod:`smsp_cli.settings.config`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NoReturn, TypeVar

from smsp_cli.domain.errors import ConfigError, UsageError
from smsp_cli.domain.wording import listed
from smsp_cli.fastclasses import dataclass
from smsp_cli.settings.fhir import API_FHIR, FhirSettings

_T = TypeVar("_T")

SANDBOX_PROFILE = "sandbox"
DEFAULT_SOURCE = "default"
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 30.0
MAX_CONCURRENCY = 64
MAX_RATE_LIMIT = 10_000.0

# setting name -> (flag, environment variable)
KEYS: dict[str, tuple[str, str]] = {
    "profile": ("--profile", "SMSP_PROFILE"),
    # Which API the profile speaks: smsp (SOAP/ITK, mutual TLS) or fhir (PDS FHIR, signed JWT).
    "api": ("--api", "SMSP_API"),
    "endpoint": ("--endpoint", "SMSP_ENDPOINT"),
    "cert": ("--cert", "SMSP_CERT"),
    "key": ("--key", "SMSP_KEY"),
    "ca_bundle": ("--ca-bundle", "SMSP_CA_BUNDLE"),
    "audit_id": ("--audit-id", "SMSP_AUDIT_ID"),
    "username": ("--username", "SMSP_USERNAME"),
    "timeout": ("--timeout", "SMSP_TIMEOUT"),
    # The keys below are set in a profile or the environment; the lookup commands do not (yet)
    # have flags for all of them, but `smsp config show` takes every flag named here.
    "kind": ("--kind", "SMSP_KIND"),
    "sender_address": ("--from", "SMSP_FROM"),
    "soap_action_quoted": ("--soap-action-quoted", "SMSP_SOAP_ACTION_QUOTED"),
    "connect_timeout": ("--connect-timeout", "SMSP_CONNECT_TIMEOUT"),
    "read_timeout": ("--read-timeout", "SMSP_READ_TIMEOUT"),
    "min_tls_version": ("--min-tls-version", "SMSP_MIN_TLS_VERSION"),
    "max_attempts": ("--max-attempts", "SMSP_MAX_ATTEMPTS"),
    "retry_backoff": ("--retry-backoff", "SMSP_RETRY_BACKOFF"),
    # Where a passphrase comes from; the passphrase itself is never a setting (credentials.py).
    "passphrase_file": ("--passphrase-file", "SMSP_PASSPHRASE_FILE"),
    "no_input": ("--no-input", "SMSP_NO_INPUT"),
    # The audit trail (spec §7.2): when its file rotates, and whether syslog gets each record.
    "audit_max_bytes": ("--audit-max-bytes", "SMSP_AUDIT_MAX_BYTES"),
    "audit_syslog": ("--audit-syslog", "SMSP_AUDIT_SYSLOG"),
    # smsp batch: lookups in flight at once, and at most this many lookups a second (the
    # transactions-per-second limit agreed with the provider, spec §5.9).
    "concurrency": ("--concurrency", "SMSP_CONCURRENCY"),
    "rate_limit": ("--rate-limit", "SMSP_RATE_LIMIT"),
    # PDS FHIR (api = "fhir", settings/fhir.py). The API key is an identifier, not a secret,
    # but it is kept out of argv like one: a variable and a profile key, no flag ("").
    "api_key": ("", "SMSP_API_KEY"),
    "signing_key": ("--signing-key", "SMSP_SIGNING_KEY"),
    "signing_key_id": ("--signing-key-id", "SMSP_SIGNING_KEY_ID"),
    "token_url": ("--token-url", "SMSP_TOKEN_URL"),
    "ods_code": ("--ods-code", "SMSP_ODS_CODE"),
}

# Settings only one API reads.
SMSP_ONLY_KEYS = frozenset({"cert", "key", "audit_id", "username", "sender_address",
                            "soap_action_quoted"})
FHIR_ONLY_KEYS = frozenset({"api_key", "signing_key", "signing_key_id", "token_url",
                            "ods_code"})

KINDS = ("live", "test", "sandbox")
TLS_VERSIONS = ("1.2", "1.3")
PKCS12_SUFFIXES = (".p12", ".pfx")

# The built-in default layer, below the profile. Anything unknown is treated as live: the
# guard rails (spec §7.3) are on unless a profile says otherwise.
DEFAULTS: dict[str, str] = {
    "api": "smsp",
    "kind": "live",
    # Spec §5.5: the NHS examples send SOAPAction unquoted; quoting is configurable.
    "soap_action_quoted": "false",
    # Spec §5.9 recommends configurable timeouts, e.g. 10 s connect and 30 s read.
    "connect_timeout": f"{DEFAULT_CONNECT_TIMEOUT:g}",
    "read_timeout": f"{DEFAULT_READ_TIMEOUT:g}",
    # Spec §5.8 recommends TLS 1.2 or later.
    "min_tls_version": "1.2",
    "max_attempts": "3",
    "retry_backoff": "0.5",
    "no_input": "false",
    "audit_max_bytes": str(64 * 1024 * 1024),
    "audit_syslog": "false",
    "concurrency": "4",
}

# audit_max_bytes: bytes, or with a binary suffix (64MiB, 64M); at least one record must fit.
MIN_AUDIT_BYTES = 4096
MAX_AUDIT_BYTES = 1 << 40
_BYTE_UNITS = {"": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20,
               "g": 1 << 30, "gib": 1 << 30}


@dataclass(frozen=True)
class Sourced:
    """A setting's value and where it came from (e.g. ``--endpoint`` or ``SMSP_ENDPOINT``)."""

    value: str
    source: str


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything needed to reach one SMSP provider."""

    profile: str | None
    endpoint: str
    cert: Path
    key: Path | None  # None: the key is inside the PKCS#12 certificate file
    ca_bundle: Path
    audit_id: str
    username: str | None  # None: use the client certificate's CN (ITK-WS WS-SEC-02)
    connect_timeout: float
    read_timeout: float
    sources: Mapping[str, str]
    kind: str = "live"  # live | test | sandbox: decides the banner and labels (spec §7.3)
    sender_address: str | None = None  # optional wsa:From/wsa:Address (WS-ADR-05)
    soap_action_quoted: bool = False  # spec §5.5: unquoted, as the NHS examples send it
    min_tls_version: str = "1.2"
    passphrase_file: Path | None = None  # where a key or PKCS#12 passphrase is read from
    no_input: bool = False  # never prompt for anything
    max_attempts: int = 3  # spec §5.9: bounded retries of transient failures
    retry_backoff: float = 0.5  # seconds before the first retry; doubles, with jitter
    audit_max_bytes: int = 64 * 1024 * 1024  # the audit trail's file rotates at this size
    audit_syslog: bool = False  # also send every audit record to the system log
    concurrency: int = 4  # smsp batch: lookups in flight at once
    rate_limit: float | None = None  # smsp batch: lookups a second at most; None: no limit
    api: str = "smsp"  # smsp | fhir: which adapter speaks to the provider
    fhir: FhirSettings | None = None  # set when api is fhir (cert, key, audit_id unused then)

    @property
    def is_sandbox(self) -> bool:
        """True when talking to the embedded sandbox provider."""
        return self.profile == SANDBOX_PROFILE

    @property
    def environment(self) -> str:
        """live, test or sandbox: the built-in sandbox profile is always sandbox."""
        return SANDBOX_PROFILE if self.is_sandbox else self.kind


def gather(
    flags: Mapping[str, str | None],
    env: Mapping[str, str] | None = None,
    profile_values: Mapping[str, str] | None = None,
    profile_source: str = "profile",
) -> dict[str, Sourced]:
    """Merge the layers for every known key: flag > environment variable > profile > default."""
    env = os.environ if env is None else env
    merged: dict[str, Sourced] = {}
    for key, (flag, variable) in KEYS.items():
        flag_value = flags.get(key) if flag else None  # no flag: never taken from argv
        if flag_value is not None and flag_value != "":
            merged[key] = Sourced(flag_value, flag)
        elif env.get(variable):
            merged[key] = Sourced(env[variable], variable)
        elif profile_values and profile_values.get(key):
            merged[key] = Sourced(profile_values[key], profile_source)
        elif key in DEFAULTS:
            merged[key] = Sourced(DEFAULTS[key], DEFAULT_SOURCE)
    return merged


def selected_profile(
    flags: Mapping[str, str | None], env: Mapping[str, str] | None = None
) -> str | None:
    """The profile named by --profile or SMSP_PROFILE, if any."""
    found = gather({"profile": flags.get("profile")}, env).get("profile")
    return found.value if found else None


def resolve(
    values: Mapping[str, Sourced], *, profile_file: str | None = None
) -> ConnectionSettings:
    """Turn merged values into settings, or raise ConfigError naming what is missing.

    ``profile_file`` is the config file the selected profile came from, so that a missing
    value's error can name the file and the command that adds it.
    """
    profile = values.get("profile")
    if _parsed(values, "api", _api) == API_FHIR:
        return _resolve_fhir(values)
    _require_all(values, profile.value if profile else None, profile_file)
    endpoint = values["endpoint"]
    if not endpoint.value.lower().startswith("https://"):
        raise ConfigError(
            f"endpoint {endpoint.value!r} from {endpoint.source} is not an https:// URL",
            hint="SMSP requires mutual TLS",
        )
    cert = _path(values["cert"])
    key = values.get("key")
    connect_timeout, read_timeout = _timeouts(values)
    username = values.get("username")
    sender = values.get("sender_address")
    passphrase_file = values.get("passphrase_file")
    return ConnectionSettings(
        profile=profile.value if profile else None,
        endpoint=endpoint.value,
        cert=cert,
        key=_path(key) if key is not None else None,
        ca_bundle=_path(values["ca_bundle"]),
        audit_id=values["audit_id"].value,
        username=username.value if username else None,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        sources={key: found.source for key, found in values.items()},
        kind=_parsed(values, "kind", _kind),
        sender_address=sender.value if sender else None,
        soap_action_quoted=_parsed(values, "soap_action_quoted", _boolean),
        min_tls_version=_parsed(values, "min_tls_version", _tls_version),
        passphrase_file=_path(passphrase_file) if passphrase_file else None,
        no_input=_parsed(values, "no_input", _boolean),
        max_attempts=_parsed(values, "max_attempts", _attempts),
        retry_backoff=_parsed(values, "retry_backoff", _backoff),
        audit_max_bytes=_parsed(values, "audit_max_bytes", _byte_count),
        audit_syslog=_parsed(values, "audit_syslog", _boolean),
        concurrency=_parsed(values, "concurrency", _concurrency),
        rate_limit=_rate_limit(values["rate_limit"]) if "rate_limit" in values else None,
    )


def _resolve_fhir(values: Mapping[str, Sourced]) -> ConnectionSettings:
    """Settings for a PDS FHIR profile: no client certificate or audit identity, a signing key."""
    from smsp_cli.settings import fhir

    missing = [key for key in fhir.REQUIRED if values.get(key) is None]
    if missing:
        message, hint = fhir.missing_message(missing, KEYS)
        raise ConfigError(message, hint=hint)
    endpoint = values["endpoint"]
    if not endpoint.value.lower().startswith("https://"):
        raise ConfigError(
            f"endpoint {endpoint.value!r} from {endpoint.source} is not an https:// URL",
            hint="PDS FHIR is reached over TLS",
        )
    token = values.get("token_url")
    token_url = token.value if token is not None else fhir.default_token_url(endpoint.value)
    if token_url is None:
        raise ConfigError(
            f"no token URL configured for the endpoint {endpoint.value!r}",
            hint="only int.api.service.nhs.uk and api.service.nhs.uk have a default: set "
            "--token-url or SMSP_TOKEN_URL, or `smsp config set token_url URL`",
        )
    if token is not None and not token.value.lower().startswith("https://"):
        _invalid(token, f"token_url {token.value!r} from {token.source} is not an https:// URL")
    ods = values.get("ods_code")
    ca_bundle = values.get("ca_bundle")
    passphrase_file = values.get("passphrase_file")
    rate = values.get("rate_limit")
    connect_timeout, read_timeout = _timeouts(values)
    profile = values.get("profile")
    return ConnectionSettings(
        profile=profile.value if profile else None,
        endpoint=endpoint.value.rstrip("/"),
        cert=Path(),  # not used: PDS FHIR signs in with a JWT, not a client certificate
        key=None,
        ca_bundle=_path(ca_bundle) if ca_bundle else Path(),
        audit_id="",
        username=None,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        sources={key: found.source for key, found in values.items()},
        kind=_parsed(values, "kind", _kind),
        min_tls_version=_parsed(values, "min_tls_version", _tls_version),
        passphrase_file=_path(passphrase_file) if passphrase_file else None,
        no_input=_parsed(values, "no_input", _boolean),
        max_attempts=_parsed(values, "max_attempts", _attempts),
        retry_backoff=_parsed(values, "retry_backoff", _backoff),
        audit_max_bytes=_parsed(values, "audit_max_bytes", _byte_count),
        audit_syslog=_parsed(values, "audit_syslog", _boolean),
        concurrency=_parsed(values, "concurrency", _concurrency),
        rate_limit=_rate_limit(rate) if rate is not None else fhir.DEFAULT_FHIR_RATE,
        api=API_FHIR,
        fhir=FhirSettings(
            api_key=values["api_key"].value.strip(),
            signing_key=_path(values["signing_key"]),
            signing_key_id=values["signing_key_id"].value.strip(),
            token_url=token_url,
            ods_code=ods.value.strip() if ods else None,
            ca_bundle=_path(ca_bundle) if ca_bundle else None,
        ),
    )


def audit_settings(values: Mapping[str, Sourced]) -> tuple[int, bool]:
    """``audit_max_bytes`` and ``audit_syslog`` from merged values (for commands that change
    settings rather than send: they need no endpoint or certificate)."""
    return _parsed(values, "audit_max_bytes", _byte_count), _parsed(values, "audit_syslog",
                                                                     _boolean)


def byte_count(text: str) -> int:
    """``67108864``, ``64MiB`` or ``64M`` as a number of bytes; ValueError if it is none."""
    import re

    match = re.fullmatch(r"\s*(\d{1,16})\s*([a-z]*)\s*", text.lower())
    if not match or match.group(2) not in _BYTE_UNITS:
        raise ValueError(text)
    return int(match.group(1)) * _BYTE_UNITS[match.group(2)]


# The settings every provider call needs, as errors name them.
_REQUIRED = {
    "endpoint": "endpoint",
    "cert": "client certificate",
    "key": "client private key",
    "ca_bundle": "CA bundle",
    "audit_id": "audit identity",
}


def _require_all(
    values: Mapping[str, Sourced], profile: str | None, profile_file: str | None
) -> None:
    """Raise one ConfigError naming every required setting that is missing, or return."""
    cert = values.get("cert")
    missing = [
        key
        for key in _REQUIRED
        # A PKCS#12 file, as NHS issues them (spec §5.8), carries its own key; with no
        # certificate at all, whether a key is needed is not known yet.
        if values.get(key) is None
        and not (key == "key" and (cert is None or _path(cert).suffix.lower() in PKCS12_SUFFIXES))
    ]
    if not missing:
        return
    what = listed([_REQUIRED[key] for key in missing], "or")
    flags = listed([KEYS[key][0] for key in missing])
    variables = listed([KEYS[key][1] for key in missing])
    if profile is not None and profile_file is not None:
        keys = ", ".join(repr(key) for key in missing)
        command = (
            f"`smsp config set {missing[0]} VALUE --profile {profile}`"
            if len(missing) == 1
            else f"`smsp config set KEY VALUE --profile {profile}` for each"
        )
        raise ConfigError(
            f"no {what} configured: profile {profile!r} in {profile_file} has no {keys}",
            hint=f"pass {flags}, set {variables}, or run {command}",
        )
    raise ConfigError(
        f"no {what} configured", hint=f"pass {flags}, set {variables}, run 'smsp config init' to "
        "create a profile, or try --profile sandbox"
    )


def check_value(key: str, found: Sourced) -> None:
    """Raise UsageError or ConfigError if ``found`` is not a valid value for ``key``."""
    if key not in KEYS or key == "profile":
        raise ConfigError(f"unknown setting {key!r}", hint="known: " + ", ".join(PROFILE_KEYS))
    parser = _PARSERS.get(key)
    if parser is not None:
        parser(found)
    elif key == "endpoint" and not found.value.lower().startswith("https://"):
        _invalid(found, f"endpoint {found.value!r} from {found.source} is not an https:// URL")
    elif not found.value.strip():
        _invalid(found, f"{key} from {found.source} is blank")


def layer_rank(source: str) -> int:
    """0 for a flag, 1 for an environment variable, 2 for a profile, 3 for the default."""
    if source.startswith("--"):
        return 0
    if source.startswith("SMSP_"):
        return 1
    return 3 if source == DEFAULT_SOURCE else 2


def _timeouts(values: Mapping[str, Sourced]) -> tuple[float, float]:
    # --timeout sets both; a specific timeout wins only from the same or a higher layer, so
    # SMSP_TIMEOUT still beats a profile's connect_timeout.
    both = values.get("timeout")
    chosen: list[float] = []
    for key, default in (("connect_timeout", DEFAULT_CONNECT_TIMEOUT), ("read_timeout",
                                                                         DEFAULT_READ_TIMEOUT)):
        specific = values.get(key)
        if both is not None and (
            specific is None or layer_rank(both.source) < layer_rank(specific.source)
        ):
            chosen.append(_seconds(both))
        elif specific is not None:
            chosen.append(_seconds(specific))
        else:
            chosen.append(default)
    return chosen[0], chosen[1]


def _parsed(values: Mapping[str, Sourced], key: str, parser: Callable[[Sourced], _T]) -> _T:
    found = values.get(key) or Sourced(DEFAULTS[key], DEFAULT_SOURCE)
    return parser(found)


def _path(found: Sourced) -> Path:
    return Path(found.value).expanduser()


def _invalid(found: Sourced, message: str) -> NoReturn:
    # A bad flag is a usage error; a bad variable or profile value is configuration.
    raise UsageError(message) if found.source.startswith("--") else ConfigError(message)


def _seconds(found: Sourced) -> float:
    try:
        seconds = float(found.value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 600:
        message = (
            f"timeout {found.value!r} from {found.source} is not a number of seconds in (0, 600]"
        )
        # A bad flag is a usage error; a bad variable or profile value is configuration.
        raise UsageError(message) if found.source.startswith("--") else ConfigError(message)
    return seconds


_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def _boolean(found: Sourced) -> bool:
    text = found.value.strip().lower()
    if text not in _TRUE | _FALSE:
        _invalid(found, f"{found.value!r} from {found.source} is not true or false")
    return text in _TRUE


def _api(found: Sourced) -> str:
    from smsp_cli.settings.fhir import check_api

    return check_api(found.value, found.source)


def _url(found: Sourced) -> str:
    if not found.value.lower().startswith("https://"):
        _invalid(found, f"{found.value!r} from {found.source} is not an https:// URL")
    return found.value


def _kind(found: Sourced) -> str:
    text = found.value.strip().lower()
    if text not in KINDS:
        _invalid(found, f"kind {found.value!r} from {found.source} is not one of "
                 + ", ".join(KINDS))
    return text


def _tls_version(found: Sourced) -> str:
    text = found.value.strip().lower().removeprefix("tlsv").removeprefix("tls")
    if text not in TLS_VERSIONS:
        _invalid(found, f"minimum TLS version {found.value!r} from {found.source} is not one of "
                 + ", ".join(TLS_VERSIONS))
    return text


def _whole_number(found: Sourced, key: str, highest: int) -> int:
    text = found.value.strip()
    if not text.isdigit() or not 1 <= int(text) <= highest:
        _invalid(found, f"{key} {found.value!r} from {found.source} is not a whole number "
                 f"from 1 to {highest}")
    return int(text)


def _attempts(found: Sourced) -> int:
    return _whole_number(found, "max_attempts", 10)


def _backoff(found: Sourced) -> float:
    try:
        seconds = float(found.value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 60:
        _invalid(found, f"retry_backoff {found.value!r} from {found.source} is not a number of "
                 "seconds in [0, 60]")
    return seconds


def _byte_count(found: Sourced) -> int:
    try:
        size = byte_count(found.value)
    except ValueError:
        size = -1
    if not MIN_AUDIT_BYTES <= size <= MAX_AUDIT_BYTES:
        _invalid(found, f"audit_max_bytes {found.value!r} from {found.source} is not a size "
                 f"from {MIN_AUDIT_BYTES} bytes to 1TiB (e.g. 67108864 or 64MiB)")
    return size


def _concurrency(found: Sourced) -> int:
    return _whole_number(found, "concurrency", MAX_CONCURRENCY)


def _rate_limit(found: Sourced) -> float:
    try:
        rate = float(found.value)
    except ValueError:
        rate = -1.0
    if not 0 < rate <= MAX_RATE_LIMIT:  # also refuses nan and inf
        _invalid(found, f"rate_limit {found.value!r} from {found.source} is not a number of "
                 f"lookups per second in (0, {MAX_RATE_LIMIT:g}]")
    return rate


_PARSERS: dict[str, Callable[[Sourced], object]] = {
    "api": _api,
    "token_url": _url,
    "timeout": _seconds,
    "connect_timeout": _seconds,
    "read_timeout": _seconds,
    "kind": _kind,
    "soap_action_quoted": _boolean,
    "min_tls_version": _tls_version,
    "no_input": _boolean,
    "max_attempts": _attempts,
    "retry_backoff": _backoff,
    "audit_max_bytes": _byte_count,
    "audit_syslog": _boolean,
    "concurrency": _concurrency,
    "rate_limit": _rate_limit,
}

# Every setting a config-file profile may hold (the profile itself is chosen, not held).
PROFILE_KEYS: tuple[str, ...] = tuple(key for key in KEYS if key != "profile")
