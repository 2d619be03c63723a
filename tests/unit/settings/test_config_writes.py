"""Config writes are safe: locked read-modify-write, atomic replacement, no control characters."""

from __future__ import annotations

import fcntl
import os
import stat
import subprocess
import threading
import time
import tomllib
from pathlib import Path

import pytest

from smsp_cli.settings import config
from tests.lib.cli import smsp
from tests.lib.measure import SMSP


def _config_file() -> Path:
    return Path(os.environ["SMSP_CONFIG_DIR"]) / "config.toml"


def _set(key: str, value: str, profile: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [SMSP, "config", "set", key, value, "--profile", profile],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


def test_concurrent_config_set_processes_lose_no_write_and_readers_see_whole_files() -> None:
    path = _config_file()
    writes = {
        (f"clinic{n}", key): value
        for n in range(8)
        for key, value in (
            ("endpoint", f"https://clinic{n}.example/smsp/pds"),
            ("audit_id", f"86800000{n:04d}"),
        )
    }
    seen: list[str] = []
    broken: list[str] = []
    writers_done = threading.Event()

    def read_while_writing() -> None:
        while not writers_done.is_set():
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                continue
            try:
                tomllib.loads(text)
            except tomllib.TOMLDecodeError:
                broken.append(text)
            if not text.startswith("# smsp configuration"):
                broken.append(text)
            seen.append(text)

    reader = threading.Thread(target=read_while_writing, daemon=True)
    reader.start()
    processes = [_set(key, value, profile) for (profile, key), value in writes.items()]
    try:
        results = [process.communicate(timeout=120) for process in processes]
    finally:
        writers_done.set()
        reader.join(timeout=10)
    assert [process.returncode for process in processes] == [0] * len(writes), results
    assert broken == []
    assert seen, "the reader never saw the file"
    written = config.load(path)
    for (profile, key), value in writes.items():
        assert written.profiles[profile][key] == value
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_writer_waits_for_the_lock_before_reading_the_file() -> None:
    path = _config_file()
    assert smsp("config", "set", "audit_id", "868000003114", "--profile", "first").exit_code == 0
    lock = os.open(path.with_name(config.LOCK_FILE_NAME), os.O_RDWR)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        waiting = _set("audit_id", "868000009999", "second")
        time.sleep(1.5)
        assert waiting.poll() is None, "the writer did not wait for the lock"
        assert "second" not in config.load(path).profiles
        # Written while the other writer waits: it must not be lost when that one goes on.
        config.save(config.load(path).with_value("third", "audit_id", "868000001234"))
    finally:
        os.close(lock)
    _, stderr = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, stderr
    profiles = config.load(path).profiles
    assert set(profiles) == {"first", "second", "third"}


@pytest.mark.parametrize(
    "value",
    [
        "ev\x1b[31mil",  # ESC: a terminal colour sequence
        "tab\there",  # C0
        "next\x85line",  # C1
        "del\x7f",  # DEL
        "\u202eevil",  # bidi override
        "\u2066isolate\u2069",  # bidi isolates
    ],
    ids=["escape", "tab", "c1", "del", "override", "isolate"],
)
def test_config_set_refuses_a_control_character_and_leaves_the_file_alone(value: str) -> None:
    assert smsp("config", "set", "username", "clinic", "--profile", "live").exit_code == 0
    path = _config_file()
    before = path.read_bytes()
    run = smsp("config", "set", "username", value, "--profile", "live")
    assert run.exit_code == 6
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("smsp: error: username: ")
    assert "control or bidi character" in lines[0]
    assert all(character.isprintable() for character in lines[0])
    assert path.read_bytes() == before


def test_config_init_refuses_a_control_character_in_a_flag_too(tmp_path: Path) -> None:
    run = smsp(
        "config", "init", "--profile", "live", "--no-input", "--endpoint",
        "https://provider.example/\x1b[2J", "--cert", str(tmp_path / "c.pem"),
        "--key", str(tmp_path / "k.pem"), "--ca-bundle", str(tmp_path / "ca.pem"),
        "--audit-id", "868000003114",
    )
    assert run.exit_code == 6
    assert run.stderr.startswith("smsp: error: endpoint: ")
    assert not _config_file().exists()
