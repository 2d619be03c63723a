"""The config file: named provider profiles and a default profile, in TOML.

It lives in the platform's user config directory (``SMSP_CONFIG_DIR`` overrides it) and is
always written whole, atomically, with mode 0600::

    default_profile = "opentest"

    [profiles.opentest]
    kind = "test"
    endpoint = "https://msg.opentest.hscic.gov.uk/smsp/pds"
    cert = "/home/me/nhs/opentest.p12"
    ca_bundle = "/home/me/nhs/opentest-ca.pem"
    audit_id = "868000003114"

Profile keys are the setting names of :data:`settings.KEYS`. Passphrases are never kept here
(they live in the keyring, see :mod:`smsp_cli.settings.credentials`). Any key smsp does not know
is an error naming the file and the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from smsp_cli.errors import ConfigError
from smsp_cli.settings.connection import (
    KEYS,
    PROFILE_KEYS,
    SANDBOX_PROFILE,
    Sourced,
    check_value,
    gather,
)

CONFIG_DIR_VARIABLE = "SMSP_CONFIG_DIR"
CONFIG_FILE_NAME = "config.toml"
FILE_MODE = 0o600
DIR_MODE = 0o700

# Bare TOML keys, so that [profiles.NAME] needs no quoting and never reads as a dotted key.
PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")

Value = str | bool | int | float

# How each key is typed in the file; anything not listed is a string.
_BOOLEAN_KEYS = frozenset({"soap_action_quoted", "no_input"})
_INTEGER_KEYS = frozenset({"max_attempts", "concurrency"})
_NUMBER_KEYS = frozenset(
    {"timeout", "connect_timeout", "read_timeout", "retry_backoff", "rate_limit"}
)
PATH_KEYS = frozenset({"cert", "key", "ca_bundle", "passphrase_file"})
_SECRET_WORDS = ("passphrase", "password", "secret", "pin")

_HEADER = (
    "# smsp configuration: profiles of SMSP providers (see `smsp config --help`).\n"
    "# Written by smsp with mode 0600; passphrases are never stored here (`smsp auth set`).\n"
)


def config_dir() -> Path:
    """``$SMSP_CONFIG_DIR`` when set, else the platform's user config directory for smsp."""
    override = os.environ.get(CONFIG_DIR_VARIABLE, "").strip()
    if override:
        return Path(override).expanduser()
    import platformdirs  # only needed without the override

    return Path(platformdirs.user_config_dir("smsp"))


def config_path() -> Path:
    """The config file's path (it may not exist yet)."""
    return config_dir() / CONFIG_FILE_NAME


@dataclass(frozen=True)
class Config:
    """The parsed config file: its path, the default profile and each profile's values."""

    path: Path
    default_profile: str | None = None
    profiles: Mapping[str, Mapping[str, Value]] = field(default_factory=dict)

    def source(self, name: str) -> str:
        """How a value from profile ``name`` is described: ``profile live (/x/config.toml)``."""
        return f"profile {name} ({self.path})"

    def values(self, name: str) -> dict[str, str]:
        """Profile ``name``'s values as the strings settings.gather layers."""
        if name not in self.profiles:
            raise ConfigError(f"unknown profile {name!r}", hint=self.known_profiles())
        return {key: text_of(value) for key, value in self.profiles[name].items()}

    def known_profiles(self) -> str:
        """A hint listing the profiles there are."""
        if not self.profiles:
            return (
                f"no profiles in {self.path}; create one with `smsp config init`, "
                f"or use the built-in '{SANDBOX_PROFILE}'"
            )
        names = ", ".join(sorted(self.profiles))
        return f"profiles in {self.path}: {names}; built in: {SANDBOX_PROFILE}"

    def with_value(self, name: str, key: str, value: Value) -> Config:
        """A copy with ``key`` set in profile ``name`` (created if need be)."""
        check_profile_name(name)
        profiles = {n: dict(v) for n, v in self.profiles.items()}
        profiles.setdefault(name, {})[key] = value
        return Config(self.path, self.default_profile, profiles)

    def without_value(self, name: str, key: str) -> Config:
        """A copy with ``key`` removed from profile ``name``."""
        profiles = {n: dict(v) for n, v in self.profiles.items()}
        profiles.get(name, {}).pop(key, None)
        return Config(self.path, self.default_profile, profiles)

    def with_default(self, name: str | None) -> Config:
        """A copy whose default profile is ``name``."""
        return Config(self.path, name, self.profiles)


def check_profile_name(name: str) -> None:
    """Profile names are bare TOML keys; ``sandbox`` is built in and cannot be redefined."""
    if name == SANDBOX_PROFILE:
        raise ConfigError(
            f"the '{SANDBOX_PROFILE}' profile is built in and cannot be changed",
            hint="choose another name",
        )
    if not PROFILE_NAME.match(name):
        raise ConfigError(
            f"profile name {name!r} must be 1-64 letters, digits, '-' or '_' "
            "(starting with a letter or digit)"
        )


def load(path: Path | None = None) -> Config:
    """Read and check the config file; a missing file is an empty config."""
    import tomllib

    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config(path)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise ConfigError(f"cannot read config file {path}: {reason}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return _checked(path, document)


def _checked(path: Path, document: Mapping[str, object]) -> Config:
    for key in document:
        if key not in ("default_profile", "profiles"):
            raise ConfigError(
                f"{path}: unknown key {key!r}",
                hint="the file holds default_profile and [profiles.NAME] tables",
            )
    default = document.get("default_profile")
    if default is not None and not isinstance(default, str):
        raise ConfigError(f"{path}: default_profile must be a profile name in quotes")
    tables = document.get("profiles", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: profiles must be tables, [profiles.NAME]")
    profiles: dict[str, dict[str, Value]] = {}
    for name, table in tables.items():
        where = f"{path}: [profiles.{name}]"
        try:
            check_profile_name(name)
        except ConfigError as error:
            raise ConfigError(f"{where}: {error.message}", hint=error.hint) from None
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table of settings")
        profiles[name] = {key: _checked_value(where, name, key, value) for key, value in
                          table.items()}
    return Config(path, default, profiles)


def _checked_value(where: str, name: str, key: str, value: object) -> Value:
    if key not in PROFILE_KEYS:
        raise ConfigError(f"{where}: unknown key {key!r}", hint=_unknown_key_hint(key, name))
    if not isinstance(value, str | bool | int | float):
        raise ConfigError(f"{where}: {key} must be a string, a number or true/false")
    return value


def _unknown_key_hint(key: str, profile: str | None) -> str:
    if any(word in key.lower() for word in _SECRET_WORDS):
        command = "smsp auth set" + (f" --profile {profile}" if profile else "")
        return f"passphrases are never kept in the config file; use `{command}`"
    return "known keys: " + ", ".join(PROFILE_KEYS)


def typed(key: str, text: str, *, source: str) -> Value:
    """A value given as text (a flag or `config set`), checked and typed for the file."""
    if key not in PROFILE_KEYS:
        raise ConfigError(f"unknown setting {key!r}", hint=_unknown_key_hint(key, None))
    check_value(key, Sourced(text, source))
    if key in _BOOLEAN_KEYS:
        return text.strip().lower() in ("true", "yes", "on", "1")
    if key in _INTEGER_KEYS:
        return int(text)
    if key in _NUMBER_KEYS:
        number = float(text)
        return int(number) if number.is_integer() else number
    if key in PATH_KEYS:
        # A relative path would mean something else from another directory.
        return str(Path(text).expanduser().resolve())
    return text.strip()


def text_of(value: Value) -> str:
    """A file value as the text settings.gather expects."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def choose_profile(
    config: Config, flags: Mapping[str, str | None], env: Mapping[str, str] | None = None
) -> Sourced | None:
    """The profile to use: --profile > SMSP_PROFILE > the file's default_profile."""
    found = gather({"profile": flags.get("profile")}, env).get("profile")
    if found is not None:
        return found
    if config.default_profile:
        return Sourced(config.default_profile, f"default_profile ({config.path})")
    return None


def layered(
    config: Config,
    flags: Mapping[str, str | None],
    env: Mapping[str, str] | None = None,
    *,
    sandbox_values: Mapping[str, str] | None = None,
) -> dict[str, Sourced]:
    """Every setting with its source: flag > environment > profile > default.

    ``sandbox_values`` are the built-in sandbox profile's values, used when it is selected.
    """
    profile = choose_profile(config, flags, env)
    values: Mapping[str, str] | None = None
    source = "profile"
    if profile is not None and profile.value == SANDBOX_PROFILE:
        values = {**(sandbox_values or {}), "kind": SANDBOX_PROFILE}
        source = f"profile {SANDBOX_PROFILE} (built in)"
    elif profile is not None:
        values = config.values(profile.value)
        source = config.source(profile.value)
    merged = gather(flags, env, values, source)
    if profile is not None:
        merged["profile"] = profile
    return merged


def dumps(config: Config) -> str:
    """The config as TOML text (tomllib reads back exactly these values)."""
    lines = [_HEADER]
    if config.default_profile is not None:
        lines.append(f"default_profile = {_toml(config.default_profile)}\n")
    for name in sorted(config.profiles):
        check_profile_name(name)
        lines.append(f"\n[profiles.{name}]\n")
        values = config.profiles[name]
        # Settings order, so files read alike.
        for key in sorted(values, key=lambda k: list(KEYS).index(k) if k in KEYS else len(KEYS)):
            lines.append(f"{key} = {_toml(values[key])}\n")
    return "".join(lines)


def save(config: Config) -> None:
    """Write the config atomically with mode 0600 (its directory 0700)."""
    path = config.path
    text = dumps(config)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        # O_EXCL and the mode at creation: the file is never readable by others, not even
        # for a moment, whatever the umask.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, FILE_MODE)
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigError(f"cannot write config file {path}: {exc.strerror or exc}") from None


def _toml(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("config numbers must be finite")
        return repr(value)
    return _basic_string(value)


# TOML basic strings: backslash, quote and control characters must be escaped.
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}


def _basic_string(text: str) -> str:
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def profile_to_edit(config: Config, flag: str | None, env: Mapping[str, str] | None = None) -> str:
    """The profile a `config set` or `auth` command acts on: --profile, SMSP_PROFILE, default."""
    chosen = choose_profile(config, {"profile": flag}, env)
    if chosen is None:
        raise ConfigError(
            "no profile selected",
            hint="pass --profile NAME, or create one with `smsp config init`",
        )
    return chosen.value
