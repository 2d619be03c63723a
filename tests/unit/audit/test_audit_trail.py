"""The audit trail writer: chain, sequence, locking, torn lines, checkpoint, rotation, fsync."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from smsp_cli.audit import records
from smsp_cli.audit.checkpoint import Checkpoint, read
from smsp_cli.audit.trail import Trail, TrailUnavailable

CHAIN_FIELDS = ("seq", "prev")


def _fields(n: int) -> dict[str, Any]:
    return records.stamped("sent", {"message_id": f"MSG-{n}", "nhs_numbers": ["9434765919"]})


def _raw_lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def _records(directory: Path) -> list[dict[str, Any]]:
    from smsp_cli.audit.paths import trail_files

    found = []
    for path in trail_files(directory):
        found += [json.loads(line) for line in _raw_lines(path)]
    return found


def _assert_chained(directory: Path) -> None:
    """Sequence 1..n without a gap, each prev the SHA-256 of the line before."""
    from smsp_cli.audit.paths import trail_files

    previous: bytes | None = None
    expected = 1
    for path in trail_files(directory):
        for line in _raw_lines(path):
            record = json.loads(line)
            assert record["seq"] == expected
            wanted = hashlib.sha256(previous).hexdigest() if previous is not None else None
            assert record["prev"] == wanted
            previous, expected = line, expected + 1


def test_records_are_numbered_and_each_holds_the_hash_of_the_line_before(tmp_path: Path) -> None:
    with Trail(tmp_path) as trail:
        seqs = [trail.append(_fields(n)) for n in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    _assert_chained(tmp_path)
    first = _records(tmp_path)[0]
    assert list(first)[:4] == ["seq", "prev", "time", "event"]
    assert first["time"].endswith("Z")


def test_the_trail_and_its_files_are_private(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    with Trail(directory) as trail:
        trail.append(_fields(1))
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for name in ("audit.jsonl", "checkpoint.json", "audit.lock"):
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600, name


def test_a_looser_mode_on_an_existing_trail_is_tightened(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    directory.mkdir(mode=0o755)
    (directory / "audit.jsonl").touch()
    os.chmod(directory / "audit.jsonl", 0o644)
    with Trail(directory) as trail:
        trail.append(_fields(1))
    assert stat.S_IMODE((directory / "audit.jsonl").stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_a_new_writer_continues_the_chain_of_an_earlier_one(tmp_path: Path) -> None:
    for n in range(3):
        with Trail(tmp_path) as trail:
            assert trail.append(_fields(n)) == n + 1
    _assert_chained(tmp_path)


def test_the_checkpoint_follows_every_append(tmp_path: Path) -> None:
    with Trail(tmp_path) as trail:
        trail.append(_fields(1))
        trail.append(_fields(2))
        last = _raw_lines(tmp_path / "audit.jsonl")[-1]
        assert read(tmp_path) == Checkpoint(2, hashlib.sha256(last).hexdigest())


def test_threads_sharing_one_writer_get_unique_gapless_numbers(tmp_path: Path) -> None:
    with Trail(tmp_path, fsync_interval=1.0) as trail:
        seqs: list[int] = []
        lock = threading.Lock()

        def work(worker: int) -> None:
            for n in range(25):
                seq = trail.append(_fields(worker * 100 + n))
                with lock:
                    seqs.append(seq)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(seqs) == list(range(1, 201))
    _assert_chained(tmp_path)


def test_separate_writers_lock_each_other_out(tmp_path: Path) -> None:
    """Each writer has its own open file, as separate processes do: flock keeps them apart."""
    writers = [Trail(tmp_path) for _ in range(4)]

    def work(trail: Trail) -> None:
        for n in range(15):
            trail.append(_fields(n))

    threads = [threading.Thread(target=work, args=(trail,)) for trail in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for trail in writers:
        trail.close()
    assert len(_records(tmp_path)) == 60
    _assert_chained(tmp_path)


def test_processes_appending_at_once_never_interleave(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from smsp_cli.audit import records\n"
        "from smsp_cli.audit.trail import Trail\n"
        "with Trail(Path(sys.argv[1])) as trail:\n"
        "    for n in range(40):\n"
        "        trail.append(records.stamped('sent', {'n': n, 'pad': 'x' * 700}))\n"
    )
    processes = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)]) for _ in range(4)]
    assert [process.wait(timeout=120) for process in processes] == [0, 0, 0, 0]
    found = _records(tmp_path)
    assert len(found) == 160, [r for r in found if r.get("event") != "sent"]
    _assert_chained(tmp_path)


def test_a_torn_last_line_is_set_aside_and_the_chain_continues(tmp_path: Path) -> None:
    with Trail(tmp_path) as trail:
        trail.append(_fields(1))
        trail.append(_fields(2))
    torn = b'{"seq":3,"prev":"ab","time":"2025-01-0'
    with open(tmp_path / "audit.jsonl", "ab") as handle:
        handle.write(torn)
    notes: list[str] = []
    with Trail(tmp_path, notify=notes.append) as trail:
        assert trail.append(_fields(3)) == 4
    found = _records(tmp_path)
    assert [r["seq"] for r in found] == [1, 2, 3, 4]
    assert found[2]["event"] == "integrity"
    assert found[2]["problem"] == "torn"
    assert found[2]["set_aside_bytes"] == len(torn)
    assert (tmp_path / "audit.jsonl.torn").read_bytes() == torn + b"\n"
    assert stat.S_IMODE((tmp_path / "audit.jsonl.torn").stat().st_mode) == 0o600
    assert len(notes) == 1
    assert "torn" in notes[0]
    assert "set aside in audit.jsonl.torn" in notes[0]
    _assert_chained(tmp_path)


def test_records_cut_from_the_end_are_found_by_the_next_writer(tmp_path: Path) -> None:
    with Trail(tmp_path) as trail:
        for n in range(5):
            trail.append(_fields(n))
    lines = _raw_lines(tmp_path / "audit.jsonl")
    (tmp_path / "audit.jsonl").write_bytes(b"".join(line + b"\n" for line in lines[:3]))
    notes: list[str] = []
    with Trail(tmp_path, notify=notes.append) as trail:
        seq = trail.append(_fields(6))
    found = _records(tmp_path)
    # Numbers 4 and 5 were used by the records cut away: the notice takes 6, the record 7.
    assert [r["seq"] for r in found] == [1, 2, 3, 6, 7]
    assert seq == 7
    notice = found[3]
    assert (notice["event"], notice["problem"]) == ("integrity", "cut")
    assert (notice["missing_from"], notice["missing_to"]) == (4, 5)
    assert notice["prev"] == hashlib.sha256(lines[2]).hexdigest()
    assert "records 4 to 5 are missing" in notes[0]


def test_a_checkpointed_record_cut_mid_line_is_a_cut_not_just_a_torn_line(
    tmp_path: Path,
) -> None:
    with Trail(tmp_path) as trail:
        for n in range(3):
            trail.append(_fields(n))
    path = tmp_path / "audit.jsonl"
    path.write_bytes(path.read_bytes()[:-30])  # record 3 loses its end
    with Trail(tmp_path, notify=lambda text: None) as trail:
        assert trail.append(_fields(4)) == 6
    found = _records(tmp_path)
    # Number 3 was the cut record's: the cut notice takes 4, the torn line's notice 5.
    assert [(r["seq"], r.get("problem")) for r in found] == [
        (1, None), (2, None), (4, "cut"), (5, "torn"), (6, None)]
    assert "record 3 is missing" in found[2]["detail"]


def test_a_replaced_last_record_is_found_by_the_next_writer(tmp_path: Path) -> None:
    with Trail(tmp_path) as trail:
        trail.append(_fields(1))
        trail.append(_fields(2))
    path = tmp_path / "audit.jsonl"
    path.write_bytes(path.read_bytes().replace(b"MSG-2", b"MSG-X"))
    with Trail(tmp_path, notify=lambda text: None) as trail:
        trail.append(_fields(3))
    notice = _records(tmp_path)[2]
    assert (notice["problem"], notice["edited_seq"]) == ("checkpoint-mismatch", 2)


def test_a_deleted_checkpoint_is_said_so(tmp_path: Path) -> None:
    with Trail(tmp_path) as trail:
        trail.append(_fields(1))
    (tmp_path / "checkpoint.json").unlink()
    with Trail(tmp_path, notify=lambda text: None) as trail:
        trail.append(_fields(2))
    assert _records(tmp_path)[1]["problem"] == "checkpoint-missing"


def test_the_file_rotates_at_max_bytes_and_the_chain_runs_across_files(tmp_path: Path) -> None:
    with Trail(tmp_path, max_bytes=4096) as trail:
        for n in range(40):
            trail.append(records.stamped("sent", {"n": n, "pad": "x" * 300}))
    names = sorted(path.name for path in tmp_path.glob("audit*.jsonl"))
    assert names[0] == "audit.000001.jsonl"
    assert names[-1] == "audit.jsonl"
    assert len(names) >= 4
    for name in names:
        assert (tmp_path / name).stat().st_size <= 4096
    assert len(_records(tmp_path)) == 40
    _assert_chained(tmp_path)


def test_a_writer_follows_a_rotation_made_by_another(tmp_path: Path) -> None:
    with Trail(tmp_path, max_bytes=1 << 20) as patient, Trail(tmp_path, max_bytes=4096) as eager:
        for n in range(30):
            patient.append(records.stamped("sent", {"n": n, "pad": "y" * 200}))
            eager.append(records.stamped("sent", {"n": n, "pad": "z" * 200}))
    assert (tmp_path / "audit.000001.jsonl").exists()
    assert len(_records(tmp_path)) == 60
    _assert_chained(tmp_path)


class _Fsyncs:
    """Counts os.fsync calls on the trail file itself (the real call still happens)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
        self.path = path
        self.count = 0
        real = os.fsync

        def counting(descriptor: int) -> None:
            if os.path.samestat(os.fstat(descriptor), os.stat(self.path)):
                self.count += 1
            real(descriptor)

        monkeypatch.setattr(os, "fsync", counting)


def test_a_single_lookup_writer_forces_every_record_to_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Trail(tmp_path) as trail:
        fsyncs = _Fsyncs(monkeypatch, tmp_path / "audit.jsonl")
        for n in range(5):
            trail.append(_fields(n))
        assert fsyncs.count == 5


def _outcome(n: int) -> dict[str, Any]:
    return records.stamped("received", {"message_id": f"MSG-{n}", "nhs_numbers": []})


def test_a_batch_writer_flushes_each_outcome_and_syncs_it_once_a_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trail = Trail(tmp_path, fsync_interval=1.0)
    fsyncs = _Fsyncs(monkeypatch, tmp_path / "audit.jsonl")
    started = time.monotonic()
    for n in range(200):
        trail.append(_outcome(n))
    elapsed = time.monotonic() - started
    # Flushed to the operating system one by one: another reader sees every record at once.
    assert len(_raw_lines(tmp_path / "audit.jsonl")) == 200
    assert fsyncs.count <= int(elapsed) + 1  # at most once a second, not once per record
    deadline = time.monotonic() + 10
    while fsyncs.count == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fsyncs.count >= 1  # the background sync came, about a second later
    trail.append(_outcome(201))
    before_close = fsyncs.count
    trail.close()
    assert fsyncs.count == before_close + 1  # close forces the rest


def test_an_unwritable_directory_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "audit.jsonl").mkdir()
    with pytest.raises(TrailUnavailable, match="cannot write the audit trail") as caught:
        Trail(tmp_path)
    assert caught.value.exit_code == 6


def test_a_symbolic_link_in_place_of_the_trail_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.jsonl"
    elsewhere.touch()
    directory = tmp_path / "audit"
    directory.mkdir()
    (directory / "audit.jsonl").symlink_to(elsewhere)
    with pytest.raises(TrailUnavailable):
        Trail(directory)
    assert elsewhere.read_bytes() == b""


def test_writing_a_record_loads_nothing_heavy(tmp_path: Path) -> None:
    code = (
        "import sys, json; from pathlib import Path\n"
        "from smsp_cli.audit import records; from smsp_cli.audit.configured import open_trail\n"
        "with open_trail() as trail: trail.append(records.stamped('sent', {}))\n"
        "print(json.dumps([m for m in ('platformdirs', 'httpx', 'lxml', 'cryptography', 'rich')"
        " if m in sys.modules]))\n"
    )
    env = {**os.environ, "SMSP_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=60, check=True)
    assert json.loads(done.stdout) == []
    assert (tmp_path / "audit" / "audit.jsonl").exists()


def test_syslog_gets_each_record_whole_integrity_findings_as_warnings(tmp_path: Path) -> None:
    import syslog

    from smsp_cli.audit.configured import TrailOptions, open_trail

    sent: list[tuple[int, str]] = []
    options = TrailOptions(syslog=True)
    with open_trail(options, directory=tmp_path, syslog_send=lambda *m: sent.append(m)) as trail:
        trail.append(_fields(1))
    with open(tmp_path / "audit.jsonl", "ab") as handle:
        handle.write(b'{"seq":2')  # torn: the next append says so in an integrity record
    with open_trail(options, directory=tmp_path,
                    syslog_send=lambda *m: sent.append(m)) as trail:
        trail.append(records.config_change("passphrase-rejected", profile="live"))
    lines = (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    assert [message for _, message in sent] == lines
    assert [priority for priority, _ in sent] == [syslog.LOG_INFO, syslog.LOG_WARNING,
                                                 syslog.LOG_WARNING]


def test_no_syslog_unless_asked(tmp_path: Path) -> None:
    from smsp_cli.audit.configured import open_trail

    sent: list[tuple[int, str]] = []
    with open_trail(directory=tmp_path, syslog_send=lambda *m: sent.append(m)) as trail:
        trail.append(_fields(1))
    assert sent == []


def test_a_writer_that_syncs_later_moves_the_checkpoint_only_once_its_records_are_synced(
    tmp_path: Path,
) -> None:
    # A batch's trail syncs at most once a second: its checkpoint must never name a record
    # that a power cut could still take back, or verify would report a cut.
    trail = Trail(tmp_path, fsync_interval=3600)
    try:
        first = trail.append({"event": "received"})
        before = read(tmp_path)
        last = trail.append({"event": "received"})
        assert read(tmp_path) == before  # nothing moved before the records reach the disk
        assert before is None or before.seq < first
        trail.sync()
        synced = read(tmp_path)
        assert synced is not None
        assert synced.seq == last
    finally:
        trail.close()


class _CountingSync:
    """An injected sync: counts calls and notes how much of the trail each one covered."""

    def __init__(self, path: Path, pause: float) -> None:
        self.path = path
        self.pause = pause
        self.covered: list[int] = []  # the trail's size when each sync began
        self._lock = threading.Lock()

    def __call__(self, descriptor: int) -> None:
        size = os.fstat(descriptor).st_size
        time.sleep(self.pause)  # a disk that takes a while: records queue behind the sync
        os.fsync(descriptor)
        with self._lock:
            self.covered.append(size)


def test_group_commit_puts_each_sent_record_on_the_disk_before_append_returns(
    tmp_path: Path,
) -> None:
    sync = _CountingSync(tmp_path / "audit.jsonl", pause=0.02)
    ends: list[tuple[int, int]] = []  # (where this thread's record ended, syncs begun before)
    lock = threading.Lock()
    with Trail(tmp_path, fsync_interval=3600, sync=sync) as trail:

        def work(worker: int) -> None:
            for n in range(10):
                seq = trail.append(_fields(worker * 100 + n))
                with lock:
                    ends.append((seq, max(sync.covered)))

        threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        groups = len(sync.covered)
    lines = _raw_lines(tmp_path / "audit.jsonl")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    # Each append returned only after a sync that began once its record was in the file.
    for seq, covered in ends:
        assert covered >= offsets[seq]
    # 80 sent records, 8 threads: one fsync per group, far fewer than one per record.
    assert 10 <= groups <= 40
    _assert_chained(tmp_path)


def test_group_commit_syncs_once_per_record_when_records_come_one_at_a_time(
    tmp_path: Path,
) -> None:
    sync = _CountingSync(tmp_path / "audit.jsonl", pause=0.0)
    with Trail(tmp_path, fsync_interval=3600, sync=sync) as trail:
        for n in range(5):
            trail.append(_fields(n))
            assert len(sync.covered) == n + 1  # a lone sent record waits for its own fsync
        trail.append(_outcome(5))
        assert len(sync.covered) == 5  # an outcome waits for no fsync: the next group takes it
    assert len(sync.covered) == 6  # close forced the outcome too


def test_a_failed_group_sync_fails_every_record_it_was_to_cover_and_the_next_group_syncs(
    tmp_path: Path,
) -> None:
    # The first sync fails once three more `sent` records wait behind it: each of the four
    # appends is refused (none may pass as on the disk), none hangs, and the next group syncs.
    waiting = threading.Event()
    syncs: list[str] = []

    def failing_once(descriptor: int) -> None:
        if not syncs:
            syncs.append("failed")
            waiting.wait(10)
            time.sleep(0.05)  # the other three are queued behind this sync by now
            raise OSError(5, "Input/output error")
        syncs.append("synced")
        os.fsync(descriptor)

    refused: list[int] = []
    with Trail(tmp_path, fsync_interval=3600, sync=failing_once) as trail:

        def send(n: int) -> None:
            try:
                trail.append(_fields(n))
            except TrailUnavailable:
                refused.append(n)

        first = threading.Thread(target=send, args=(0,))
        first.start()
        while not syncs:
            time.sleep(0.001)
        others = [threading.Thread(target=send, args=(n,)) for n in (1, 2, 3)]
        for thread in others:
            thread.start()
        waiting.set()
        for thread in [first, *others]:
            thread.join(10)
            assert not thread.is_alive()
        assert sorted(refused) == [0, 1, 2, 3]
        trail.append(_fields(4))
    assert syncs[:2] == ["failed", "synced"]
    _assert_chained(tmp_path)


def test_a_waiter_interrupted_during_a_sync_leaves_the_next_sync_to_the_others(
    tmp_path: Path,
) -> None:
    # The main thread waits for a sync (as a batch's close does) and is interrupted there: the
    # sync running meanwhile must not hand the next sync to it, or every later append hangs.
    import signal

    release, syncing = threading.Event(), threading.Event()

    def slow(descriptor: int) -> None:
        syncing.set()
        release.wait(10)
        os.fsync(descriptor)

    class Interrupted(Exception):
        pass

    def interrupt(*_: object) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGUSR1, interrupt)
    try:
        with Trail(tmp_path, fsync_interval=3600, sync=slow) as trail:
            leader = threading.Thread(target=trail.append, args=(_fields(0),))
            leader.start()
            assert syncing.wait(10)
            threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGUSR1)).start()
            with pytest.raises(Interrupted):
                trail.append(_fields(1))  # waits behind the slow sync, then is interrupted
            release.set()
            leader.join(10)
            later = threading.Thread(target=trail.append, args=(_fields(2),))
            later.start()
            later.join(10)
            assert not later.is_alive()
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert [record["message_id"] for record in _records(tmp_path)] == ["MSG-0", "MSG-1", "MSG-2"]


def test_times_never_go_backwards_against_seq(tmp_path: Path) -> None:
    early = records.stamped("sent", {"message_id": "M"}) | {"time": "2000-01-01T00:00:00.000000Z"}
    with Trail(tmp_path) as trail:
        trail.append(_fields(1))
        trail.append(early)  # stamped long before it reached the lock
    times = [record["time"] for record in _records(tmp_path)]
    assert times[1] == times[0]  # the later record takes the earlier one's time


_DIE_WITH_A_CALL_OPEN = """
import os, signal, sys
from pathlib import Path
from smsp_cli.audit import records
from smsp_cli.audit.trail import Trail
trail = Trail(Path(sys.argv[1]))
trail.append(records.stamped("sent", {"message_id": "OPEN", "attempt": 1, "batch_row": 7}))
trail.append(records.stamped("sent", {"message_id": "DONE", "attempt": 1}))
trail.append(records.stamped("received", {"message_id": "DONE", "attempt": 1}))
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_next_writer_closes_the_calls_a_killed_process_left_open(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    died = subprocess.run([sys.executable, "-c", _DIE_WITH_A_CALL_OPEN, str(directory)],
                          timeout=60, check=False)
    assert died.returncode == -9
    alive = Trail(tmp_path / "other-trail")  # a writer of another trail changes nothing here
    alive.close()
    notes: list[str] = []
    with Trail(directory, notify=notes.append) as trail:
        trail.append(_outcome(1))
    found = _records(directory)
    closing = [r for r in found if r["event"] == "failed"]
    assert len(closing) == 1
    assert closing[0]["message_id"] == "OPEN"
    assert closing[0]["batch_row"] == 7
    assert closing[0]["reason"] == "the process ended before the reply"
    assert closing[0]["seq"] == 4  # after the dead writer's records, before the new one's
    assert notes == ["1 call(s) of an smsp process that ended had no reply recorded; each is "
                     "now recorded as failed"]
    assert list((directory / "writers").iterdir()) == []
    with Trail(directory) as again:  # settled once: the next writer finds nothing to do
        again.append(_outcome(2))
    assert [r["event"] for r in _records(directory)].count("failed") == 1
    _assert_chained(directory)


def test_a_writer_being_registered_is_not_taken_for_one_that_ended(tmp_path: Path) -> None:
    # A writer creates its lock file, then locks it: a writer opening the trail in between
    # could take the lock of a live process. A registered writer's file holds its process id;
    # an empty one is being registered, unless it has been empty for a minute.
    directory = tmp_path / "audit"
    died = subprocess.run([sys.executable, "-c", _DIE_WITH_A_CALL_OPEN, str(directory)],
                          timeout=60, check=False)
    assert died.returncode == -9
    [registration] = list((directory / "writers").iterdir())
    assert registration.read_text(encoding="ascii").strip().isdigit()  # its process id
    with open(registration, "wb"):
        pass  # as it is between being created and being locked
    with Trail(directory, notify=lambda text: None) as trail:
        trail.append(_outcome(1))
    assert [r["event"] for r in _records(directory)].count("failed") == 0
    assert registration.exists()  # left to the writer registering it
    an_hour_ago = time.time() - 3600
    os.utime(registration, (an_hour_ago, an_hour_ago))  # it never came back: it died there
    with Trail(directory, notify=lambda text: None) as trail:
        trail.append(_outcome(2))
    assert [r["message_id"] for r in _records(directory) if r["event"] == "failed"] == ["OPEN"]
    assert not registration.exists()
    _assert_chained(directory)


def test_a_live_writers_open_calls_are_left_alone(tmp_path: Path) -> None:
    with Trail(tmp_path) as first:
        first.append(_fields(1))  # in flight in this (live) writer
        with Trail(tmp_path) as second:
            second.append(_outcome(2))
        assert [r["event"] for r in _records(tmp_path)] == ["sent", "received"]


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs are POSIX")
@pytest.mark.parametrize("name", ["checkpoint.json", "audit.jsonl"])
def test_a_fifo_put_in_place_of_a_file_while_a_batch_writes_is_refused_at_once(
    tmp_path: Path, name: str,
) -> None:
    with Trail(tmp_path, fsync_interval=3600, notify=lambda text: None) as trail:
        trail.append(_fields(1))
        trail.append(_outcome(1))
        (tmp_path / name).unlink()
        os.mkfifo(tmp_path / name, 0o600)
        started = time.monotonic()
        with pytest.raises(TrailUnavailable, match=f"{name} is a FIFO, not a regular file"):
            trail.append(_fields(2))
        assert time.monotonic() - started < 1.0
    assert stat.S_ISFIFO(os.lstat(tmp_path / name).st_mode)  # never written through, or replaced
