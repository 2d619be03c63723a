"""The audit trail as users meet it: separate smsp processes over real mutual TLS, a process
killed mid-call, ten lookups at once, config changes, rejected passphrases, doctor, syslog."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smsp_cli.sandbox.certs import SandboxCredentials
from smsp_cli.sandbox.server import SandboxServer, server_context
from tests.lib.cli import smsp
from tests.lib.measure import SMSP

FOUND = ("9991000003", "--dob", "1984-03-14")


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SMSP_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def _trail(data: Path) -> list[dict[str, Any]]:
    text = (data / "audit" / "audit.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def _env(data: Path, settings: dict[str, str]) -> dict[str, str]:
    # Only the settings given, but never the user's config (the test's own folder).
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SMSP_") or k == "SMSP_CONFIG_DIR"}
    return env | settings | {"SMSP_DATA_DIR": str(data), "NO_COLOR": "1"}


class _SilentProvider:
    """A mutual-TLS server that reads one request and never answers it."""

    def __init__(self, credentials: SandboxCredentials) -> None:
        self.context = server_context(credentials)  # the sandbox's: client certificate required
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.request = b""
        self.arrived = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):  # the test closes the listener when it is done
            raw, _ = self.listener.accept()
            connection = self.context.wrap_socket(raw, server_side=True)
            self._held.append(connection)
            while b"Envelope>" not in self.request:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                self.request += chunk
            self.arrived.set()  # the request has left the client; it never gets an answer

    def close(self) -> None:
        for held in self._held:
            held.close()
        self.listener.close()


@pytest.fixture
def memory_keyring() -> Iterator[object]:
    from tests.unit.settings.test_credentials import MemoryKeyring, use_keyring

    yield from use_keyring(MemoryKeyring())


@pytest.fixture
def silent_provider(credentials: SandboxCredentials) -> Iterator[_SilentProvider]:
    provider = _SilentProvider(credentials)
    yield provider
    provider.close()


def test_a_lookup_killed_before_its_reply_leaves_its_sent_record(
    data: Path, silent_provider: _SilentProvider, credentials: SandboxCredentials
) -> None:
    from smsp_cli.sandbox.embedded import variables_for

    url = f"https://127.0.0.1:{silent_provider.port}/smsp/pds"
    settings = variables_for(url, credentials)
    process = subprocess.Popen(
        [SMSP, "get", *FOUND, "--json", "--read-timeout", "120"],
        env=_env(data, settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert silent_provider.arrived.wait(60), "the request never reached the provider"
    finally:
        process.kill()  # SIGKILL: no handler, no cleanup, no chance to write anything more
        process.wait(timeout=30)
    assert process.returncode == -9
    found = _trail(data)
    assert [r["event"] for r in found] == ["sent"]
    message_id = re.search(rb"<wsa:MessageID>([^<]+)<", silent_provider.request)
    assert message_id is not None
    assert found[0]["message_id"] == message_id.group(1).decode()
    assert found[0]["nhs_numbers"] == ["9991000003"]


def test_ten_lookups_at_once_append_an_intact_gapless_chain(
    data: Path, sandbox: SandboxServer, credentials: SandboxCredentials
) -> None:
    from smsp_cli.sandbox.embedded import variables_for

    settings = variables_for(sandbox.url, credentials)
    processes = [
        subprocess.Popen([SMSP, "verify", *FOUND, "--json"], env=_env(data, settings),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(10)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0] * 10, outputs
    found = _trail(data)
    assert sorted(r["seq"] for r in found) == list(range(1, 21))
    assert [r["seq"] for r in found] == list(range(1, 21))  # in file order too
    message_ids = {json.loads(out)["message_id"] for out, _ in outputs}
    assert {r["message_id"] for r in found} == message_ids
    trail_file = data / "audit" / "audit.jsonl"
    assert stat.S_IMODE(trail_file.stat().st_mode) == 0o600
    verified = subprocess.run([SMSP, "audit", "verify"], env=_env(data, {}), capture_output=True,
                              text=True, timeout=60, check=False)
    assert verified.returncode == 0, verified.stdout
    assert "records     20 (sequence 1 to 20) checked" in verified.stdout


def test_a_batch_beside_single_lookups_appends_an_intact_gapless_chain(
    data: Path, tmp_path: Path, sandbox: SandboxServer, credentials: SandboxCredentials
) -> None:
    from smsp_cli.sandbox.embedded import variables_for

    settings = variables_for(sandbox.url, credentials)
    rows = 60
    sheet = tmp_path / "patients.csv"
    sheet.write_text("id,nhs_number,dob\n" + "".join(
        f"r{n},9991000003,1984-03-14\n" for n in range(1, rows + 1)), encoding="utf-8")
    batch = subprocess.Popen(
        [SMSP, "batch", "verify", str(sheet), "--concurrency", "4"], env=_env(data, settings),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    singles = [subprocess.Popen([SMSP, "verify", *FOUND, "--json"], env=_env(data, settings),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for _ in range(4)]
    out, err = batch.communicate(timeout=120)
    assert batch.returncode == 0, err
    for single in singles:
        single.communicate(timeout=120)
        assert single.returncode == 0
    found = _trail(data)
    total = 2 * (rows + len(singles))
    assert [r["seq"] for r in found] == list(range(1, total + 1))  # unique, gapless, in order
    from_batch = [r for r in found if "batch_row" in r]
    assert sorted(r["batch_row"] for r in from_batch if r["event"] == "sent") == list(
        range(1, rows + 1))
    batch_ids = {json.loads(line)["result"]["message_id"] for line in out.splitlines()}
    assert {r["message_id"] for r in from_batch} == batch_ids
    verified = subprocess.run([SMSP, "audit", "verify"], env=_env(data, {}), capture_output=True,
                              text=True, timeout=60, check=False)
    assert verified.returncode == 0, verified.stdout


def test_config_changes_are_recorded(data: Path, credentials: SandboxCredentials) -> None:
    init = smsp("config", "init", "--no-input", "--profile", "clinic", "--kind", "test",
                "--endpoint", "https://provider.test/smsp/pds", "--cert",
                str(credentials.client_cert), "--key", str(credentials.client_key),
                "--ca-bundle", str(credentials.ca_cert), "--audit-id", "868000003114")
    assert init.exit_code == 0, init.stderr
    assert smsp("config", "set", "read_timeout", "20", "--profile", "clinic").exit_code == 0
    assert smsp("config", "set", "audit_max_bytes", "1MiB", "--profile", "clinic").exit_code == 0
    assert smsp("config", "unset", "read_timeout", "--profile", "clinic").exit_code == 0
    assert smsp("config", "use", "clinic").exit_code == 0
    found = _trail(data)
    assert [(r["event"], r["action"], r["profile"]) for r in found] == [
        ("config", "init", "clinic"), ("config", "set", "clinic"), ("config", "set", "clinic"),
        ("config", "unset", "clinic"), ("config", "use", "clinic"),
    ]
    assert found[0]["values"]["endpoint"] == "https://provider.test/smsp/pds"
    assert found[0]["default"] is True
    assert (found[1]["key"], found[1]["value"]) == ("read_timeout", 20)
    assert (found[2]["key"], found[2]["value"]) == ("audit_max_bytes", 1048576)
    assert found[3]["key"] == "read_timeout"
    assert found[4]["previous"] == "clinic"
    run = smsp("audit", "search", "--user", found[0]["user"])
    assert run.exit_code == 0
    assert "set read_timeout" in run.stdout


def test_a_change_that_cannot_be_recorded_is_not_made(
    data: Path, credentials: SandboxCredentials
) -> None:
    (data / "audit" / "audit.jsonl").mkdir(parents=True)
    run = smsp("config", "set", "endpoint", "https://provider.test/smsp/pds", "--profile", "p")
    assert run.exit_code == 6
    assert "cannot write the audit trail" in run.stderr
    from smsp_cli.settings import config

    assert "p" not in config.load().profiles


def test_keyring_changes_and_a_rejected_passphrase_are_recorded(
    data: Path, credentials: SandboxCredentials, tmp_path: Path, memory_keyring: object,
) -> None:
    from tests.unit.settings.test_clientcert import encrypted_pem
    from tests.unit.settings.test_credentials import passphrase_file

    secret = "correct horse battery staple"
    key = encrypted_pem(credentials, tmp_path / "key.enc.pem", secret)
    assert smsp("config", "init", "--no-input", "--profile", "live", "--kind", "test",
                "--endpoint", "https://provider.test/smsp/pds", "--cert",
                str(credentials.client_cert), "--key", str(key), "--ca-bundle",
                str(credentials.ca_cert), "--audit-id", "868000003114").exit_code == 0
    right = passphrase_file(tmp_path, secret)
    assert smsp("auth", "set", "--passphrase-file", str(right)).exit_code == 0
    wrong_dir = tmp_path / "wrong"
    wrong_dir.mkdir()
    wrong = passphrase_file(wrong_dir, "Tr0ub4dor&3")
    refused = smsp("auth", "set", "--passphrase-file", str(wrong))
    assert refused.exit_code == 6
    assert smsp("auth", "delete").exit_code == 0
    found = _trail(data)
    assert [r.get("action") for r in found] == [
        "init", "auth-set", "passphrase-rejected", "auth-delete"]
    assert found[1]["keyring"]
    rejected = found[2]
    assert rejected["profile"] == "live"
    assert rejected["what"] == f"client key {key}"
    assert rejected["passphrase_source"] == f"passphrase file {wrong}"
    assert found[3]["removed"] is True
    text = (data / "audit" / "audit.jsonl").read_text(encoding="utf-8")
    assert secret not in text
    assert "Tr0ub4dor" not in text


def test_a_rejected_passphrase_on_a_lookup_is_recorded(
    data: Path, sandbox_env: dict[str, str], credentials: SandboxCredentials, tmp_path: Path,
) -> None:
    from tests.unit.settings.test_clientcert import encrypted_pem
    from tests.unit.settings.test_credentials import passphrase_file

    key = encrypted_pem(credentials, tmp_path / "key.enc.pem", "the right one")
    wrong = passphrase_file(tmp_path, "not the right one")
    run = smsp("get", *FOUND, "--key", str(key), "--passphrase-file", str(wrong), "--json")
    assert run.exit_code == 6
    assert [(r["event"], r["action"]) for r in _trail(data)] == [
        ("config", "passphrase-rejected")]  # and nothing was sent


def test_the_doctor_probe_is_audited(data: Path, sandbox_env: dict[str, str]) -> None:
    run = smsp("doctor", "--json")
    assert run.exit_code == 0, run.stdout
    found = _trail(data)
    assert [(r["event"], r["operation"]) for r in found] == [
        ("sent", "verifyNHSNumber"), ("received", "verifyNHSNumber")]
    assert found[0]["nhs_numbers"] == ["9991000003"]


def test_every_record_also_goes_to_syslog_when_asked(
    data: Path, sandbox_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import syslog

    opened: list[tuple[str, int, int]] = []
    sent: list[tuple[int, str]] = []
    monkeypatch.setattr(syslog, "openlog", lambda *args: opened.append(args))
    monkeypatch.setattr(syslog, "syslog", lambda priority, message: sent.append(
        (priority, message)))
    monkeypatch.setenv("SMSP_AUDIT_SYSLOG", "true")
    run = smsp("verify", *FOUND, "--json")
    assert run.exit_code == 0
    lines = (data / "audit" / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    assert [message for _, message in sent] == lines
    assert {priority for priority, _ in sent} == {syslog.LOG_INFO}
    assert opened[0][0] == "smsp"
    assert opened[0][2] == syslog.LOG_AUTHPRIV


def test_records_go_to_syslog_only_when_asked(
    data: Path, sandbox_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import syslog

    sent: list[str] = []
    monkeypatch.setattr(syslog, "syslog", lambda priority, message: sent.append(message))
    assert smsp("verify", *FOUND, "--json").exit_code == 0
    assert sent == []


def test_audit_path_names_the_trail_and_the_old_access_record(data: Path) -> None:
    run = smsp("audit", "path")
    assert run.exit_code == 0
    assert run.stdout == f"{data / 'audit' / 'audit.jsonl'}\n"
    assert run.stderr == ""
    data.mkdir(parents=True, exist_ok=True)
    (data / "access.jsonl").write_text('{"seq":1}\n', encoding="utf-8")
    again = smsp("audit", "path")
    assert again.stdout == run.stdout
    assert f"{data / 'access.jsonl'}" in again.stderr
    assert (data / "access.jsonl").read_text(encoding="utf-8") == '{"seq":1}\n'


def test_help_lists_the_audit_commands() -> None:
    top = smsp("--help")
    assert top.exit_code == 0
    assert "audit" in top.stdout
    group = smsp("audit", "--help")
    assert group.exit_code == 0
    for command in ("search", "verify", "path"):
        assert command in group.stdout


def test_an_unreadable_trail_file_is_one_line_and_exit_6(data: Path) -> None:
    (data / "audit" / "audit.000001.jsonl").mkdir(parents=True)  # not a file
    for args in (("audit", "search"), ("audit", "verify")):
        run = smsp(*args)
        assert run.exit_code == 6
        assert run.stdout == ""
        assert run.stderr.startswith("smsp: error: cannot read the audit trail ")
        assert run.stderr.count("\n") == 1


def test_a_bad_audit_setting_in_the_profile_can_still_be_unset_and_recorded(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smsp_cli.settings import config

    config.save(config.Config(config.config_path(), "live",
                              {"live": {"audit_max_bytes": "lots", "audit_syslog": True}}))
    import syslog

    sent: list[str] = []
    monkeypatch.setattr(syslog, "syslog", lambda priority, message: sent.append(message))
    monkeypatch.setenv("SMSP_AUDIT_SYSLOG", "true")
    run = smsp("config", "unset", "audit_max_bytes")
    assert run.exit_code == 0, run.stderr
    assert [(r["action"], r["key"]) for r in _trail(data)] == [("unset", "audit_max_bytes")]
    assert len(sent) == 1  # the environment's syslog setting still applied
