"""Passphrases for an encrypted client key or PKCS#12 file, and nothing else secret.

A passphrase comes from, in this order:

1. a passphrase file (``--passphrase-file``, ``SMSP_PASSPHRASE_FILE`` or the profile's
   ``passphrase_file``), which must not be readable by others;
2. the keyring, one entry per profile (service ``smsp``, user name = the profile name);
3. a hidden prompt, only on a terminal and never with ``--no-input``.

Never from argv, never printed, never in an exception message. When none of them can answer,
the error names the command that fixes it. This is the only module that imports ``keyring``:
every keyring call runs in a daemon thread with a deadline, because a locked desktop keyring
or a D-Bus session that nobody answers would otherwise hang smsp forever. A headless server
usually has no backend at all (``keyring.backends.fail``); that is said plainly, and smsp
never falls back to storing a passphrase in plain text.
"""

from __future__ import annotations

import os
import stat
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from smsp_cli.domain.errors import ConfigError
from smsp_cli.domain.notices import Notice, report
from smsp_cli.fastclasses import dataclass

if TYPE_CHECKING:
    from smsp_cli.settings.connection import ConnectionSettings

SERVICE = "smsp"
# Long enough for a desktop keyring to answer, short enough that a stuck one is noticed.
KEYRING_TIMEOUT = 10.0
MAX_PASSPHRASE_FILE_BYTES = 4096

_T = TypeVar("_T")


class Secret:
    """A passphrase and where it came from; its repr and str never show the value."""

    __slots__ = ("_value", "hint", "profile", "source")

    def __init__(self, value: str, source: str, hint: str, *, profile: str | None = None) -> None:
        self._value = value
        self.source = source  # e.g. "the keyring entry for profile live"
        self.hint = hint  # what to do if this passphrase turns out to be wrong
        self.profile = profile  # whose passphrase it is meant to be, for the audit trail

    def reveal(self) -> str:
        """The passphrase itself: only for handing to cryptography."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret(<hidden>, from {self.source})"

    __str__ = __repr__


class KeyringUnavailable(Exception):
    """No usable keyring: none installed, locked, plain text, or not answering in time."""


# --- the keyring, behind a deadline -------------------------------------------------------------


def keyring_get(profile: str, *, timeout: float | None = None) -> str | None:
    """The stored passphrase for ``profile``, or None; KeyringUnavailable if no keyring works."""

    def get() -> str | None:
        return _backend().get_password(SERVICE, profile)  # type: ignore[no-any-return]

    return _bounded(get, timeout, "read")


def keyring_set(profile: str, passphrase: str, *, timeout: float | None = None) -> str:
    """Store ``passphrase`` for ``profile``; returns the backend's name."""

    def store() -> str:
        backend = _backend()
        backend.set_password(SERVICE, profile, passphrase)
        return _name(backend)

    return _bounded(store, timeout, "write")


def keyring_delete(profile: str, *, timeout: float | None = None) -> bool:
    """Remove ``profile``'s entry; False when there was none."""

    def delete() -> bool:
        from keyring.errors import PasswordDeleteError

        backend = _backend()
        if backend.get_password(SERVICE, profile) is None:
            return False
        try:
            backend.delete_password(SERVICE, profile)
        except PasswordDeleteError:
            return False
        return True

    return _bounded(delete, timeout, "delete")


def keyring_backend(*, timeout: float | None = None) -> str:
    """The usable backend's name; KeyringUnavailable says why there is none."""
    return _bounded(lambda: _name(_backend()), timeout, "open")


def _backend() -> Any:
    import keyring

    backend = keyring.get_keyring()
    problem = _unusable(backend)
    if problem:
        raise KeyringUnavailable(problem)
    return backend


def _unusable(backend: Any) -> str | None:
    from keyring.backends import fail, null

    name = _name(backend)
    if isinstance(backend, fail.Keyring | null.Keyring):
        return f"no keyring backend is available ({name})"
    # keyrings.alt can store passphrases unencrypted in a file: that is plain text on disk.
    if "plaintext" in name.lower() or "keyrings.alt.file" in type(backend).__module__:
        return f"the keyring backend {name} keeps secrets in plain text; smsp will not use it"
    members = getattr(backend, "backends", None)
    if isinstance(members, list):
        usable = [member for member in members if not _unusable(member)]
        if not usable:
            return f"no keyring backend is available ({name} has none usable)"
    return None


def _name(backend: Any) -> str:
    kind = type(backend)
    return f"{kind.__module__}.{kind.__qualname__}"


def _bounded(call: Callable[[], _T], timeout: float | None, action: str) -> _T:
    """Run a keyring call in a daemon thread; give up after ``timeout`` seconds."""
    limit = KEYRING_TIMEOUT if timeout is None else timeout
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="smsp-keyring", daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        # The thread is abandoned; being a daemon, it cannot keep smsp from exiting.
        raise KeyringUnavailable(
            f"the keyring did not answer within {limit:g}s (is it locked, or waiting for an "
            "unlock dialog nobody can see?)"
        )
    error = outcome.get("error")
    if error is not None:
        raise _translated(error, action) from None
    return outcome["value"]  # type: ignore[no-any-return]


def _translated(error: BaseException, action: str) -> BaseException:
    if isinstance(error, KeyringUnavailable):
        return error
    from keyring.errors import InitError, KeyringError, KeyringLocked

    if isinstance(error, KeyringLocked):
        return KeyringUnavailable("the keyring is locked")
    if isinstance(error, InitError):
        return KeyringUnavailable("the keyring could not be opened")
    if isinstance(error, KeyringError | OSError | RuntimeError):
        # Only the type: a backend's message might echo what it was given.
        return KeyringUnavailable(f"the keyring failed to {action} ({type(error).__name__})")
    return error


# --- files and the prompt --------------------------------------------------------------------


def read_passphrase_file(path: Path, *, source: str) -> Secret:
    """The first line of a passphrase file that only its owner can read."""
    try:
        info = path.stat()
        if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"passphrase file {path} (from {source}) is readable by others "
                f"(mode {stat.S_IMODE(info.st_mode):04o})",
                hint=f"chmod 600 {path}",
            )
        if info.st_size > MAX_PASSPHRASE_FILE_BYTES:
            raise ConfigError(f"passphrase file {path} (from {source}) is too large to be one")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"passphrase file {path} (from {source}) does not exist") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read passphrase file {path} (from {source}): {exc.strerror}"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"passphrase file {path} (from {source}) is not UTF-8 text") from None
    lines = text.splitlines()
    value = lines[0] if lines else ""
    if not value:
        raise ConfigError(f"passphrase file {path} (from {source}) is empty")
    return Secret(value, f"passphrase file {path}", f"check the passphrase in {path}")


def stdin_is_terminal() -> bool:
    """True when someone can be asked (a test replaces this)."""
    from smsp_cli.system.streams import is_terminal

    return is_terminal(sys.stdin)


def prompt_hidden(prompt: str) -> str:
    """Ask without echo on the terminal (a test replaces this)."""
    import getpass

    return getpass.getpass(prompt)


def can_prompt(no_input: bool) -> bool:
    """A prompt is allowed: a terminal, and neither --no-input nor SMSP_NO_INPUT forbids it."""
    return not no_input and not no_input_from_environment() and stdin_is_terminal()


def no_input_from_environment() -> bool:
    """SMSP_NO_INPUT is set to a true value."""
    return os.environ.get("SMSP_NO_INPUT", "").strip().lower() in ("1", "true", "yes", "on")


# --- where a profile's passphrase comes from ----------------------------------------------------


@dataclass
class PassphraseSource:
    """Finds the passphrase at most once, and only when a key turns out to need one."""

    profile: str | None
    passphrase_file: Path | None = None
    file_source: str = "--passphrase-file"
    no_input: bool = False
    keyring_timeout: float | None = None
    _found: Secret | None = None

    @classmethod
    def for_settings(cls, settings: ConnectionSettings) -> PassphraseSource:
        """The source the resolved settings describe."""
        return cls(
            profile=settings.profile,
            passphrase_file=settings.passphrase_file,
            file_source=settings.sources.get("passphrase_file", "--passphrase-file"),
            no_input=settings.no_input,
        )

    def __call__(self, what: str) -> Secret:
        """The passphrase that unlocks ``what`` (e.g. ``client key /x/key.pem``)."""
        if self._found is None:
            self._found = self._find(what)
            self._found.profile = self.profile
        return self._found

    def _find(self, what: str) -> Secret:
        if self.passphrase_file is not None:
            return read_passphrase_file(self.passphrase_file, source=self.file_source)
        lookup = self._keyring_lookup()
        if isinstance(lookup, Secret):
            return lookup
        if can_prompt(self.no_input):
            if lookup.kind == _UNAVAILABLE:
                report(Notice(f"{lookup.reason}; asking for the passphrase instead"))
            return self._ask(what)
        forbidden = self.no_input or no_input_from_environment()
        why = "--no-input forbids asking" if forbidden else "there is no terminal to ask on"
        raise ConfigError(
            f"{what} needs a passphrase and none is available: {lookup.reason}; {why}",
            hint=self._fix(lookup),
        )

    def _keyring_lookup(self) -> Secret | _Missing:
        from smsp_cli.settings.connection import SANDBOX_PROFILE

        if self.profile is None:
            return _Missing(_NO_PROFILE, "no profile is selected, so no keyring entry to read")
        if self.profile == SANDBOX_PROFILE:
            return _Missing(_NO_PROFILE, "the built-in sandbox profile has no keyring entry")
        try:
            stored = keyring_get(self.profile, timeout=self.keyring_timeout)
        except KeyringUnavailable as unavailable:
            return _Missing(_UNAVAILABLE, str(unavailable))
        if stored is None:
            return _Missing(_NO_ENTRY, f"the keyring has no entry for profile {self.profile}")
        return Secret(
            stored,
            f"the keyring entry for profile {self.profile}",
            f"store the right one with `smsp auth set --profile {self.profile}`",
        )

    def _fix(self, missing: _Missing) -> str:
        """The command that makes the next run work without a prompt."""
        if missing.kind == _NO_ENTRY:
            return (
                f"run `smsp auth set --profile {self.profile}` on a terminal, "
                "or pass --passphrase-file FILE"
            )
        if missing.kind == _UNAVAILABLE:
            return (
                "pass --passphrase-file FILE, or run "
                f"`smsp config set passphrase_file FILE --profile {self.profile}`"
            )
        return "pass --passphrase-file FILE or set SMSP_PASSPHRASE_FILE"

    def _ask(self, what: str) -> Secret:
        value = prompt_hidden(f"Passphrase for {what}: ")
        if not value:
            raise ConfigError(f"no passphrase given for {what}")
        hint = "type it again"
        if self.profile is not None:
            hint += f", or store it with `smsp auth set --profile {self.profile}`"
        return Secret(value, "the prompt", hint)

    def describe(self) -> tuple[str, str]:
        """Where the passphrase would come from, and why, for `config show` (never the value)."""
        if self.passphrase_file is not None:
            return f"file {self.passphrase_file}", self.file_source
        lookup = self._keyring_lookup()
        if isinstance(lookup, Secret):
            return "keyring", lookup.source
        if can_prompt(self.no_input):
            return "prompt", f"asked when needed ({lookup.reason})"
        return "not set", lookup.reason


_NO_PROFILE = "no profile"
_NO_ENTRY = "no entry"
_UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class _Missing:
    """Why the keyring gave no passphrase."""

    kind: str  # _NO_PROFILE, _NO_ENTRY or _UNAVAILABLE
    reason: str
