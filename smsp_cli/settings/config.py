"""The config file: named provider profiles and a default profile, in TOML.

It lives in the platform's user config directory (``SMSP_CONFIG_DIR`` overrides it) and is
always written whole, atomically, with mode 0600, keeping the comments a person wrote in it::

    default_profile = "opentest"

    [profiles.opentest]
    kind = "test"
    endpoint = "https://msg.opentest.hscic.gov.uk/smsp/pds"
    cert = "/home/me/nhs/opentest.p12"
    ca_bundle = "/home/me/nhs/opentest-ca.pem"
    audit_id = "868000003114"

Profile keys are the setting names of :data:`smsp_cli.settings.connection.KEYS`. Passphrases
are never kept here (they live in the keyring, see :mod:`smsp_cli.settings.credentials`). Any
key smsp does not know is an error naming the file and the key, so a typo never silently
falls back to a default.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import field
from pathlib import Path

from smsp_cli.domain.errors import ConfigError
from smsp_cli.fastclasses import dataclass
from smsp_cli.settings import tomlwrite
from smsp_cli.settings.connection import (
    PROFILE_KEYS,
    SANDBOX_PROFILE,
    Sourced,
    byte_count,
    check_value,
    gather,
)
from smsp_cli.settings.tomlwrite import render
from smsp_cli.system.safefiles import LockBusy, UnsafeFile, files

CONFIG_DIR_VARIABLE = "SMSP_CONFIG_DIR"
CONFIG_FILE_NAME = "config.toml"
FILE_MODE = 0o600
DIR_MODE = 0o700
LOCK_FILE_NAME = ".config.toml.lock"
LOCK_WAIT = 30.0  # seconds a writer waits for another to finish before giving up

# Bare TOML keys, so that [profiles.NAME] needs no quoting and never reads as a dotted key.
PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")

Value = tomlwrite.Value

# How each key is typed in the file; anything not listed is a string.
_BOOLEAN_KEYS = frozenset({"soap_action_quoted", "no_input", "audit_syslog"})
_INTEGER_KEYS = frozenset({"max_attempts", "concurrency"})
_NUMBER_KEYS = frozenset(
    {"timeout", "connect_timeout", "read_timeout", "retry_backoff", "rate_limit"}
)
PATH_KEYS = frozenset({"cert", "key", "ca_bundle", "passphrase_file", "signing_key"})
_SECRET_WORDS = ("passphrase", "password", "secret", "pin")


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
    path = path or config_path()
    try:
        text = _read(path)
    except FileNotFoundError:
        return Config(path)
    except UnsafeFile as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.what}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise ConfigError(f"cannot read config file {path}: {reason}") from None
    import tomllib  # only when there is a file to read

    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return _checked(path, document)


def _read(path: Path) -> str:
    # Never through a link, never a FIFO that would hang every lookup: the file layer refuses.
    descriptor = files().open_file(path, os.O_RDONLY, create=False)
    with os.fdopen(descriptor, "rb") as handle:
        return handle.read().decode("utf-8")


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
    # A setting holds no control, format or bidi character: one shown later could drive the
    # terminal or reorder a line. The sanitiser's own list decides.
    from smsp_cli.untrusted.sanitize import first_unsafe, visible

    unsafe = first_unsafe(text)
    if unsafe is not None:
        raise ConfigError(
            f"{key}: the value from {source} has a control or bidi character "
            f"({visible(unsafe)}); nothing was saved",
            hint="type the value without it",
        )
    check_value(key, Sourced(text, source))
    if key in _BOOLEAN_KEYS:
        return text.strip().lower() in ("true", "yes", "on", "1")
    if key in _INTEGER_KEYS:
        return int(text)
    if key == "audit_max_bytes":
        return byte_count(text)  # written as bytes, however it was given
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


def dumps(config: Config, previous: str | None = None) -> str:
    """The config as TOML text (tomllib reads back exactly these values): ``previous``, the
    file as it is, edited so that the user's comments and layout survive, else a new file."""
    for name in config.profiles:
        check_profile_name(name)
    return render(config.default_profile, config.profiles, previous)


@contextlib.contextmanager
def locked(path: Path | None = None) -> Iterator[Config]:
    """Hold the config file's lock and yield it freshly read: read-modify-write under the lock.

    Every command that changes the file edits it inside this block and calls :func:`save`
    before leaving it, so concurrent writers queue instead of losing each other's changes.
    The lock is ``flock`` on a lock file beside the config (never the config itself, which
    :func:`save` replaces); readers take no lock, since they only ever see a whole file.
    """
    path = path or config_path()
    layer = files()
    try:
        path = layer.base_directory(path.parent) / path.name
        descriptor = layer.open_file(path.with_name(LOCK_FILE_NAME), os.O_RDWR)
    except UnsafeFile as exc:
        raise ConfigError(f"cannot lock config file {path}: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot lock config file {path}: {exc.strerror or exc}") from None
    try:
        _wait_for_lock(descriptor, path)
        yield load(path)
    finally:
        os.close(descriptor)  # releases the lock


def _wait_for_lock(descriptor: int, path: Path) -> None:
    layer = files()
    waited_until = time.monotonic() + LOCK_WAIT
    while True:
        try:
            layer.lock(descriptor, wait=False)
            return
        except LockBusy:
            if time.monotonic() > waited_until:
                raise ConfigError(
                    f"config file {path} stayed locked for {LOCK_WAIT:g}s by another smsp",
                    hint="try again when the other `smsp config` or `smsp auth` has finished",
                ) from None
            time.sleep(0.01)


def save(config: Config) -> None:
    """Replace the config file atomically with mode 0600 (its directory 0700).

    A temporary file in the same folder is written, flushed to disk, renamed over the file and
    the folder flushed too: a reader sees the old file or the new one, never half of one, and
    a crash leaves one of them whole. The file there is edited, not rewritten, so the user's
    comments survive (:mod:`smsp_cli.settings.tomlwrite`). Call it inside :func:`locked`.
    """
    path = config.path
    text = dumps(config, _existing_text(path))
    layer = files()
    try:
        directory = layer.base_directory(path.parent)
        layer.write_atomically(directory / path.name, text.encode("utf-8"))
    except UnsafeFile as exc:
        raise ConfigError(f"cannot write config file {path}: {exc.what}") from None
    except OSError as exc:
        raise ConfigError(f"cannot write config file {path}: {exc.strerror or exc}") from None


def _existing_text(path: Path) -> str | None:
    """The file as it is now (None when there is none, or it cannot be read as text)."""
    try:
        return _read(path)
    except (OSError, UnicodeDecodeError):
        return None  # written afresh; a file that cannot be replaced fails in save


def profile_to_edit(config: Config, flag: str | None, env: Mapping[str, str] | None = None) -> str:
    """The profile a `config set` or `auth` command acts on: --profile, SMSP_PROFILE, default."""
    chosen = choose_profile(config, {"profile": flag}, env)
    if chosen is None:
        raise ConfigError(
            "no profile selected",
            hint="pass --profile NAME, or create one with `smsp config init`",
        )
    return chosen.value
