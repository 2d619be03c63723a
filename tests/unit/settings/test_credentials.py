"""Passphrases: keyring (in memory here), no backend, bounded waits, files, prompt, `smsp auth`."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import KeyringLocked, PasswordDeleteError

from smsp_cli.domain import notices
from smsp_cli.domain.errors import ConfigError, ExitCode
from smsp_cli.settings import credentials
from smsp_cli.settings.credentials import KeyringUnavailable, PassphraseSource, Secret
from tests.lib.cli import smsp

if TYPE_CHECKING:
    from smsp_cli.sandbox.certs import SandboxCredentials

PASSPHRASE = "correct horse battery staple 42"


class MemoryKeyring(KeyringBackend):
    """A keyring that lives in a dict: the tests' stand-in for a desktop keyring."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError("not found")


class StuckKeyring(MemoryKeyring):
    """A keyring that never answers until released (a locked keyring's unlock dialog)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        self.release.wait(30)
        return None


class LockedKeyring(MemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked(f"locked while reading {username}")


class PlaintextKeyring(MemoryKeyring):
    """Named like keyrings.alt's unencrypted file backend."""


def use_keyring(backend: Any) -> Iterator[Any]:
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    yield from use_keyring(MemoryKeyring())


@pytest.fixture
def no_keyring() -> Iterator[fail.Keyring]:
    """A headless server: keyring's fail backend."""
    yield from use_keyring(fail.Keyring())


@pytest.fixture
def never_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(prompt: str) -> str:
        raise AssertionError("smsp prompted although it must not")

    monkeypatch.setattr(credentials, "prompt_hidden", refuse)


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Pretend stdin is a terminal whose user types PASSPHRASE; returns the prompts shown."""
    asked: list[str] = []

    def answer(prompt: str) -> str:
        asked.append(prompt)
        return PASSPHRASE

    monkeypatch.setattr(credentials, "stdin_is_terminal", lambda: True)
    monkeypatch.setattr(credentials, "prompt_hidden", answer)
    return asked


def passphrase_file(directory: Path, text: str = PASSPHRASE + "\n") -> Path:
    path = directory / "passphrase"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


# --- the keyring -------------------------------------------------------------------------------


def test_keyring_round_trip_one_entry_per_profile(memory_keyring: MemoryKeyring) -> None:
    assert credentials.keyring_set("live", PASSPHRASE).endswith("MemoryKeyring")
    credentials.keyring_set("test", "other")
    assert credentials.keyring_get("live") == PASSPHRASE
    assert memory_keyring.entries[("smsp", "test")] == "other"
    assert credentials.keyring_delete("live") is True
    assert credentials.keyring_delete("live") is False
    assert credentials.keyring_get("live") is None


def test_no_backend_is_said_plainly(no_keyring: fail.Keyring) -> None:
    with pytest.raises(KeyringUnavailable, match=r"no keyring backend is available \(keyring"):
        credentials.keyring_get("live")
    with pytest.raises(KeyringUnavailable):
        credentials.keyring_set("live", PASSPHRASE)


def test_a_keyring_that_never_answers_is_abandoned_in_time() -> None:
    stuck = StuckKeyring()
    for _ in use_keyring(stuck):
        started = time.monotonic()
        with pytest.raises(KeyringUnavailable, match=r"did not answer within 0\.2s"):
            credentials.keyring_get("live", timeout=0.2)
        assert time.monotonic() - started < 2
    stuck.release.set()


def test_a_locked_keyring_is_unavailable_and_its_message_not_echoed() -> None:
    for _ in use_keyring(LockedKeyring()):
        with pytest.raises(KeyringUnavailable, match="the keyring is locked"):
            credentials.keyring_get("live")


def test_a_plain_text_keyring_is_refused() -> None:
    for _ in use_keyring(PlaintextKeyring()):
        with pytest.raises(KeyringUnavailable, match="plain text"):
            credentials.keyring_set("live", PASSPHRASE)


# --- where a passphrase comes from -----------------------------------------------------------


def test_secret_never_shows_its_value() -> None:
    secret = Secret(PASSPHRASE, "the prompt", "")
    assert PASSPHRASE not in repr(secret)
    assert PASSPHRASE not in str(secret)
    assert PASSPHRASE not in f"{secret}"
    assert secret.reveal() == PASSPHRASE


def test_the_file_beats_the_keyring(memory_keyring: MemoryKeyring, tmp_path: Path) -> None:
    credentials.keyring_set("live", "from the keyring")
    source = PassphraseSource("live", passphrase_file(tmp_path))
    found = source("client key k.pem")
    assert found.reveal() == PASSPHRASE
    assert found.source == f"passphrase file {tmp_path / 'passphrase'}"


def test_the_keyring_is_read_once(memory_keyring: MemoryKeyring, never_prompt: None) -> None:
    credentials.keyring_set("live", PASSPHRASE)
    source = PassphraseSource("live")
    assert source("a").reveal() == PASSPHRASE
    memory_keyring.entries.clear()
    assert source("b").reveal() == PASSPHRASE  # memoised: one look-up per run


def test_no_entry_and_no_terminal_names_the_auth_command(
    memory_keyring: MemoryKeyring, never_prompt: None
) -> None:
    with pytest.raises(ConfigError) as caught:
        PassphraseSource("live")("client key /k.pem")
    line = caught.value.one_line()
    assert "client key /k.pem needs a passphrase" in line
    assert "`smsp auth set --profile live`" in line
    assert "--passphrase-file" in line
    assert caught.value.exit_code == ExitCode.CONFIG


def test_no_backend_and_no_terminal_points_to_a_passphrase_file(
    no_keyring: fail.Keyring, never_prompt: None
) -> None:
    with pytest.raises(ConfigError) as caught:
        PassphraseSource("live")("client key /k.pem")
    line = caught.value.one_line()
    assert "no keyring backend is available" in line
    assert "--passphrase-file FILE" in line
    assert "smsp config set passphrase_file FILE --profile live" in line


def test_no_backend_on_a_terminal_says_so_and_asks(
    no_keyring: fail.Keyring, terminal: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with notices.collected() as reported:
        found = PassphraseSource("live")("client key /k.pem")
    assert found.reveal() == PASSPHRASE
    assert terminal == ["Passphrase for client key /k.pem: "]
    [notice] = reported
    assert "no keyring backend is available" in notice.text
    assert notice.text.endswith("; asking for the passphrase instead")
    assert PASSPHRASE not in notice.text
    assert PASSPHRASE not in capsys.readouterr().err


def test_no_input_never_prompts_even_on_a_terminal(
    memory_keyring: MemoryKeyring, terminal: list[str]
) -> None:
    with pytest.raises(ConfigError, match="--no-input forbids asking") as caught:
        PassphraseSource("live", no_input=True)("client key /k.pem")
    assert terminal == []
    assert "smsp auth set --profile live" in caught.value.one_line()


def test_an_empty_answer_is_refused(monkeypatch: pytest.MonkeyPatch, no_keyring: object) -> None:
    monkeypatch.setattr(credentials, "stdin_is_terminal", lambda: True)
    monkeypatch.setattr(credentials, "prompt_hidden", lambda prompt: "")
    with pytest.raises(ConfigError, match="no passphrase given"):
        PassphraseSource("live")("client key /k.pem")


def test_without_a_profile_there_is_no_keyring_entry(never_prompt: None) -> None:
    with pytest.raises(ConfigError, match="no profile is selected") as caught:
        PassphraseSource(None)("client key /k.pem")
    assert "--passphrase-file FILE or set SMSP_PASSPHRASE_FILE" in caught.value.one_line()


@pytest.mark.parametrize(
    ("content", "mode", "expected"),
    [
        (PASSPHRASE, 0o644, "readable by others"),
        ("", 0o600, "is empty"),
        ("\n" + PASSPHRASE, 0o600, "is empty"),
    ],
)
def test_bad_passphrase_files_are_refused(
    tmp_path: Path, content: str, mode: int, expected: str
) -> None:
    path = passphrase_file(tmp_path, content)
    path.chmod(mode)
    with pytest.raises(ConfigError, match=expected) as caught:
        credentials.read_passphrase_file(path, source="--passphrase-file")
    assert PASSPHRASE not in caught.value.one_line()


def test_a_missing_passphrase_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist") as caught:
        credentials.read_passphrase_file(tmp_path / "nope", source="SMSP_PASSPHRASE_FILE")
    assert "SMSP_PASSPHRASE_FILE" in caught.value.one_line()


def test_only_the_first_line_of_the_file_counts(tmp_path: Path) -> None:
    path = passphrase_file(tmp_path, f"{PASSPHRASE}\nsecond line\n")
    assert credentials.read_passphrase_file(path, source="x").reveal() == PASSPHRASE


# --- smsp auth -----------------------------------------------------------------------------


@pytest.fixture
def encrypted_profile(credentials: SandboxCredentials, tmp_path: Path) -> Path:
    """Profile 'live' whose key is the sandbox client key encrypted with PASSPHRASE."""
    from cryptography.hazmat.primitives import serialization

    from smsp_cli.settings import config

    key = serialization.load_pem_private_key(credentials.client_key.read_bytes(), None)
    encrypted = tmp_path / "client-key.enc.pem"
    encrypted.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE.encode()),
    ))
    config.save(config.Config(config.config_path(), "live", {"live": {
        "endpoint": "https://provider.example/smsp/pds",
        "cert": str(credentials.client_cert),
        "key": str(encrypted),
        "ca_bundle": str(credentials.ca_cert),
        "audit_id": "868000003114",
    }}))
    return encrypted


def test_auth_set_from_a_file_checks_and_stores(
    memory_keyring: MemoryKeyring, encrypted_profile: Path, tmp_path: Path
) -> None:
    run = smsp("auth", "set", "--passphrase-file", str(passphrase_file(tmp_path)))
    assert run.exit_code == 0, run.stderr
    assert memory_keyring.entries == {("smsp", "live"): PASSPHRASE}
    assert "stored the passphrase for profile live" in run.stderr
    status = smsp("auth", "status")
    assert status.exit_code == 0, status.stderr
    assert "stored" in status.stdout
    assert "the stored passphrase unlocks it" in status.stdout
    for output in (run.stdout, run.stderr, status.stdout, status.stderr):
        assert PASSPHRASE not in output
    deleted = smsp("auth", "delete")
    assert deleted.exit_code == 0
    assert memory_keyring.entries == {}
    assert smsp("auth", "status").exit_code == 6  # encrypted key, nothing stored


def test_auth_set_refuses_a_wrong_passphrase(
    memory_keyring: MemoryKeyring, encrypted_profile: Path, tmp_path: Path
) -> None:
    wrong = passphrase_file(tmp_path, "not it\n")
    run = smsp("auth", "set", "--passphrase-file", str(wrong))
    assert run.exit_code == 6
    assert f"does not unlock client key {encrypted_profile}" in run.stderr
    assert "not it" not in run.stderr
    assert memory_keyring.entries == {}


def test_auth_set_on_a_terminal_prompts(
    memory_keyring: MemoryKeyring, encrypted_profile: Path, terminal: list[str]
) -> None:
    run = smsp("auth", "set")
    assert run.exit_code == 0, run.stderr
    assert terminal == ["Passphrase for profile live: "]  # checked against the key: asked once
    assert memory_keyring.entries[("smsp", "live")] == PASSPHRASE


def test_auth_set_without_terminal_or_file_says_how(
    memory_keyring: MemoryKeyring, encrypted_profile: Path, never_prompt: None
) -> None:
    run = smsp("auth", "set", "--no-input")
    assert run.exit_code == 6
    assert "smsp auth set --profile live --passphrase-file FILE" in run.stderr


def test_auth_set_without_a_keyring_stores_nothing_anywhere(
    no_keyring: fail.Keyring, encrypted_profile: Path, tmp_path: Path
) -> None:
    from smsp_cli.settings import config

    before = config.config_path().read_bytes()
    run = smsp("auth", "set", "--passphrase-file", str(passphrase_file(tmp_path)))
    assert run.exit_code == 6
    assert "no keyring backend is available" in run.stderr
    assert "nothing was stored" in run.stderr
    assert config.config_path().read_bytes() == before  # no plain-text fallback
    assert PASSPHRASE not in run.stderr
    status = smsp("auth", "status")
    assert "unavailable: no keyring backend" in status.stdout


def test_auth_needs_a_profile() -> None:
    run = smsp("auth", "status")
    assert run.exit_code == 6
    assert "no profile selected" in run.stderr


def test_smsp_no_input_forbids_prompts_too(
    memory_keyring: MemoryKeyring, terminal: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMSP_NO_INPUT", "1")
    assert not credentials.can_prompt(False)
    with pytest.raises(ConfigError, match="--no-input forbids asking"):
        PassphraseSource("live")("client key /k.pem")
    assert terminal == []


@pytest.mark.parametrize(
    ("module", "name", "expected"),
    [
        ("keyring.backends.Windows", "WinVaultKeyring", "keyring.backends.Windows.WinVaultKeyring"),
        ("keyring.backends.macOS", "Keyring", "keyring.backends.macOS.Keyring"),
        ("keyring.backends.SecretService", "Keyring", "keyring.backends.SecretService.Keyring"),
    ],
)
def test_the_desktop_keyrings_of_each_system_are_used(
    module: str, name: str, expected: str
) -> None:
    # Windows Credential Manager, macOS Keychain and the Linux Secret Service, as keyring ships
    # them: smsp takes each as a usable backend (none is the fail, null or plain text kind).
    import importlib

    backend = getattr(importlib.import_module(module), name)()
    for _ in use_keyring(backend):
        assert credentials.keyring_backend() == expected
