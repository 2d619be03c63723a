"""Connection settings: flag > environment variable > profile > built-in default.

Every value remembers where it came from, so errors can name the flag or variable to fix.
The only profile built in is ``sandbox``, which points smsp at the embedded provider.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from smsp_cli.errors import ConfigError, UsageError

SANDBOX_PROFILE = "sandbox"
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 30.0

# setting name -> (flag, environment variable)
KEYS: dict[str, tuple[str, str]] = {
    "profile": ("--profile", "SMSP_PROFILE"),
    "endpoint": ("--endpoint", "SMSP_ENDPOINT"),
    "cert": ("--cert", "SMSP_CERT"),
    "key": ("--key", "SMSP_KEY"),
    "ca_bundle": ("--ca-bundle", "SMSP_CA_BUNDLE"),
    "audit_id": ("--audit-id", "SMSP_AUDIT_ID"),
    "username": ("--username", "SMSP_USERNAME"),
    "timeout": ("--timeout", "SMSP_TIMEOUT"),
}


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
    key: Path
    ca_bundle: Path
    audit_id: str
    username: str | None  # None: use the client certificate's CN (ITK-WS WS-SEC-02)
    connect_timeout: float
    read_timeout: float
    sources: Mapping[str, str]

    @property
    def is_sandbox(self) -> bool:
        """True when talking to the embedded sandbox provider."""
        return self.profile == SANDBOX_PROFILE


def gather(
    flags: Mapping[str, str | None],
    env: Mapping[str, str] | None = None,
    profile_values: Mapping[str, str] | None = None,
    profile_source: str = "profile",
) -> dict[str, Sourced]:
    """Merge the layers for every known key: flag > environment variable > profile."""
    env = os.environ if env is None else env
    merged: dict[str, Sourced] = {}
    for key, (flag, variable) in KEYS.items():
        flag_value = flags.get(key)
        if flag_value is not None and flag_value != "":
            merged[key] = Sourced(flag_value, flag)
        elif env.get(variable):
            merged[key] = Sourced(env[variable], variable)
        elif profile_values and profile_values.get(key):
            merged[key] = Sourced(profile_values[key], profile_source)
    return merged


def selected_profile(
    flags: Mapping[str, str | None], env: Mapping[str, str] | None = None
) -> str | None:
    """The profile named by --profile or SMSP_PROFILE, if any."""
    found = gather({"profile": flags.get("profile")}, env).get("profile")
    return found.value if found else None


def resolve(values: Mapping[str, Sourced]) -> ConnectionSettings:
    """Turn merged values into settings, or raise ConfigError naming what is missing."""

    def required(key: str, what: str) -> Sourced:
        found = values.get(key)
        if found is None:
            flag, variable = KEYS[key]
            raise ConfigError(
                f"no {what} configured",
                hint=f"pass {flag}, set {variable}, or try --profile sandbox",
            )
        return found

    endpoint = required("endpoint", "endpoint")
    if not endpoint.value.lower().startswith("https://"):
        raise ConfigError(
            f"endpoint {endpoint.value!r} from {endpoint.source} is not an https:// URL",
            hint="SMSP requires mutual TLS",
        )
    connect_timeout, read_timeout = DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT
    timeout = values.get("timeout")
    if timeout is not None:
        connect_timeout = read_timeout = _seconds(timeout)
    profile = values.get("profile")
    username = values.get("username")
    return ConnectionSettings(
        profile=profile.value if profile else None,
        endpoint=endpoint.value,
        cert=_path(required("cert", "client certificate")),
        key=_path(required("key", "client private key")),
        ca_bundle=_path(required("ca_bundle", "CA bundle")),
        audit_id=required("audit_id", "audit identity").value,
        username=username.value if username else None,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        sources={key: found.source for key, found in values.items()},
    )


def _path(found: Sourced) -> Path:
    return Path(found.value).expanduser()


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
