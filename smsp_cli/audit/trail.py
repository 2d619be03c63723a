"""The audit trail writer: one record at a time, hash-chained, locked, rotated, checkpointed.

Every smsp process and thread appends to the same trail (spec §7.2, MSCA-AUD). Each append
holds a thread lock and an exclusive ``flock`` on ``audit.lock`` (a file never renamed, so the
lock outlives a rotation), and under it:

1. follows a rotation another process made (the current file is no longer the one held open);
2. reads the head, the last whole record's sequence number and hash (remembered while the file
   is as this writer left it). A torn last line, what a crash leaves of a record, is moved to
   ``audit.jsonl.torn`` and the chain continues from the last whole record, saying so in an
   ``integrity`` record and on stderr;
3. compares the head with the checkpoint: a checkpoint ahead of the trail means records were
   cut from the end. An ``integrity`` record says which, and takes the sequence number after
   the checkpoint's, so that no number is ever used twice;
4. rotates the file when this record would take it past ``max_bytes``;
5. writes the line in one ``write`` (flushed to the operating system: a SIGKILL after it loses
   nothing), stamping its ``time`` there, never earlier than the record before it;
6. rewrites the checkpoint (one write in place: see :mod:`.checkpoint`), but only to name
   records already on the disk: a single lookup's right after each record's fsync, a batch's
   under the lock its next record takes anyway (or at the next background sync).

On the hot path an append makes five system calls: a look at the trail's path (while it names
the file held open, that is also the held file's size), a look at the checkpoint's path, the
lock taken and let go, and the write; a batch's append after a group's fsync adds the rewrite
of the checkpoint (read first only when another writer came between: it may have moved it on).
A checkpoint found missing or unreadable is said so once, and recreated at 0 (behind the trail,
as after a crash) until this writer's next synced record moves it on.

Group commit: a ``sent`` record (and with ``fsync_interval`` 0, every record) is on the disk
before ``append`` returns. The writer waits for an fsync of the trail (and of its directory when
a file was created) that began after its own record was written; one fsync covers every record
written since the last, so threads of a batch share one fsync per group instead of one each.
Other records are forced to the disk by a background sync at most ``fsync_interval`` seconds
after they were written, and by ``close`` (also run at exit).

Every file is opened through :mod:`smsp_cli.system.safefiles`: never through a link, only a
regular file (or directory) owned by the user; a FIFO or device in its place is refused at once.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from smsp_cli.audit import records, writers
from smsp_cli.audit.checkpoint import Checkpoint, CheckpointFile, CheckpointUnreadable
from smsp_cli.audit.paths import CURRENT_NAME, LOCK_NAME, TORN_SUFFIX, rotated_files, rotated_name
from smsp_cli.audit.tail import read_tail
from smsp_cli.audit.writers import WriterRegistration
from smsp_cli.domain.errors import ConfigError
from smsp_cli.domain.notices import Notice, report
from smsp_cli.system.safefiles import DIR_MODE, FILE_MODE, UnsafeFile, files, write_all

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
__all__ = ["DEFAULT_MAX_BYTES", "DIR_MODE", "FILE_MODE", "Trail", "TrailUnavailable"]

# (fields, line) -> None: called with every record written, e.g. to send it to syslog.
Forward = Callable[[Mapping[str, Any], str], None]


class TrailUnavailable(ConfigError):
    """The audit trail cannot be written, so nothing that it should record may happen."""


class Trail:
    """The append-only audit trail in ``directory``; safe to share between threads.

    ``directory``'s parent is the data directory (which may be a link the user made: it is
    resolved once); ``directory`` itself and everything in it must be smsp's own. ``sync``
    replaces the fsync of the trail file (tests count the fsyncs of each group with it).
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        fsync_interval: float = 0.0,
        forward: Forward | None = None,
        notify: Callable[[str], None] | None = None,
        sync: Callable[[int], None] | None = None,
    ) -> None:
        self._files = files()
        self.directory = directory
        self.path = directory / CURRENT_NAME
        self.max_bytes = max_bytes
        self.fsync_interval = fsync_interval
        self._forward = forward
        self._notify = notify or _reported
        self._sync_file = sync or self._files.sync
        self._mutex = threading.Lock()
        self._lock_fd = -1
        self._fd = -1
        self._known: tuple[int, int] | None = None  # (inode, size) as this writer left the file
        self._size = 0  # the current file's size, kept while this writer holds the lock
        self._held: tuple[int, int] = (0, 0)  # the (inode, device) of the file held open
        self._head = Checkpoint(0, None)
        self._last_time = ""
        self._closed = False
        # Group commit: records written by this writer, and how many of them are on the disk.
        self._written = 0
        self._on_disk = 0
        self._directory_dirty = False  # a file was created: its directory entry needs a sync
        # The descriptor a sync is using now: one a rotation lets go of meanwhile is closed by
        # the sync when it ends, so its number is never reused under the sync.
        self._syncing = -1
        self._retired: list[int] = []
        # A head on the disk that the checkpoint does not name yet: written by the next append
        # under its lock (a batch's groups), or by the next sync.
        self._checkpoint_due: Checkpoint | None = None
        # The highest sequence number the checkpoint may name without this writer having read
        # or written it: records of other writers it has seen (they may checkpoint them at any
        # time), and what it read or wrote there itself. A head past it is written unread.
        self._checkpoint_floor = 0
        # One sync at a time (``_committing``); the threads waiting for one that begins after
        # their record was written, each woken alone: when a sync covers it, or to lead the
        # next one.
        self._commit = threading.Lock()
        self._committing = False
        self._waiting: list[_Waiter] = []
        self._wake = threading.Event()
        self._flusher: threading.Thread | None = None
        try:
            base = self._files.base_directory(directory.parent)
            self.directory = self._files.directory(base / directory.name)
            self.path = self.directory / CURRENT_NAME
            self._checkpoint = CheckpointFile(self.directory)
            self._lock_fd = self._files.open_file(self.directory / LOCK_NAME, os.O_RDWR)
            with self._locked():
                self._open_current()
                self._checkpoint.open()
                self._check_torn_file()
            self._writer = WriterRegistration(self.directory)
            settled = writers.settle_ended(self.directory, self.append)
        except OSError as exc:
            self._close_descriptors()
            raise self._unavailable(exc) from None
        if settled:
            self._notify(f"{settled} call(s) of an smsp process that ended had no reply "
                         "recorded; each is now recorded as failed")

    @property
    def durable(self) -> bool:
        """True when every record is forced to the disk before ``append`` returns."""
        return self.fsync_interval <= 0

    def append(self, fields: Mapping[str, Any]) -> int:
        """Write one record at the end of the chain; return its sequence number.

        A ``sent`` record (every record, when :attr:`durable`) is on the disk when this returns.
        """
        with self._mutex:
            if self._closed:
                raise TrailUnavailable(f"the audit trail {self.path} is already closed")
            try:
                if fields.get("event") == records.SENT:
                    # Named, so that if this process dies, the next writer can close the call.
                    fields = {**fields, "writer": self._writer.ensure()}
                # The lock taken and let go by hand: the hot path, twice a batch row.
                self._files.lock(self._lock_fd)
                try:
                    written = self._append_locked(fields)
                finally:
                    self._files.unlock(self._lock_fd)
            except OSError as exc:
                raise self._unavailable(exc) from None
            seq = self._head.seq
            generation = self._written
            if not self.durable:
                self._start_flusher()
        if self.durable or fields.get("event") == records.SENT:
            # A batch's checkpoint moves with its next record, under the lock that record
            # takes anyway; a single lookup's moves at once.
            self._commit_through(generation, advance=self.durable)
        if self._forward is not None:
            for record_fields, line in written:
                self._forward(record_fields, line.decode("utf-8").rstrip("\n"))
        return seq

    def sync(self) -> None:
        """Force every record written so far to the disk (and move the checkpoint to it)."""
        with self._mutex:
            generation = self._written
        self._commit_through(generation, advance=True)
        self._advance_checkpoint(None)  # a head synced earlier, still waiting for a record

    def close(self) -> None:
        """Force the rest to the disk and release the files; the trail takes no more records."""
        with self._mutex:
            if self._closed:
                return
            self._closed = True
        self._wake.set()
        if self._flusher is not None and self._flusher is not threading.current_thread():
            self._flusher.join()
        try:
            self.sync()
            with self._mutex:
                self._checkpoint.sync()
        except (OSError, TrailUnavailable):
            pass  # closing at exit: nothing left to tell
        finally:
            with self._mutex:
                self._writer.close()
                self._close_descriptors()
        atexit.unregister(self.close)

    def __enter__(self) -> Trail:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- group commit ------------------------------------------------------------------------

    def _commit_through(self, generation: int, *, advance: bool) -> None:
        """Return once record ``generation`` of this writer is on the disk.

        One thread at a time leads: it syncs everything written when its sync began. Threads
        that come meanwhile wait, each on its own gate: when the sync ends, its leader wakes
        those whose record it covers (and no other), then the first of the rest, to lead the
        next sync for them all. The head it synced is then checkpointed (``advance``), or left
        due for the next append.
        """
        with self._commit:
            if self._on_disk >= generation:
                return
            waiter = None
            if self._committing:
                waiter = _Waiter(generation)
                self._waiting.append(waiter)
            else:
                self._committing = True
        if waiter is not None:
            try:
                waiter.gate.acquire()  # let go by the leader of a sync that covers the record
            except BaseException:
                self._give_up(waiter)  # Ctrl-C: never leave the next sync to a thread gone
                raise
            if waiter.error is not None:
                raise self._unavailable(waiter.error)
            if waiter.synced:
                return
            # Else this thread leads the next sync (handed on with ``_committing`` still set).
        self._lead(advance=advance)

    def _lead(self, *, advance: bool) -> None:
        """One sync for every record written so far; wake the waiters it covers, and hand the
        next sync to the first waiter it does not."""
        error: OSError | None = None
        covered, head = self._on_disk, None
        try:
            covered, head = self._sync_once()
        except OSError as exc:
            error = exc
        except BaseException:
            self._hand_on(self._on_disk, None)  # nothing synced: the next waiter leads
            raise
        if head is not None and not advance:
            # Due before any waiter goes on: a batch's checkpoint moves with its next record,
            # under the lock that record takes anyway.
            with self._mutex:
                if self._checkpoint_due is None or self._checkpoint_due.seq < head.seq:
                    self._checkpoint_due = head
        self._hand_on(covered, error)
        if error is not None:
            raise self._unavailable(error) from None
        if head is not None and advance:
            # After the waiters are let go: moving the checkpoint is no request's business.
            self._advance_checkpoint(head)

    def _hand_on(self, covered: int, error: OSError | None) -> None:
        """After a sync that covered records up to ``covered`` (or failed with ``error``): wake
        the waiters it covers, and the first of the rest to lead the next sync."""
        with self._commit:
            self._on_disk = max(self._on_disk, covered)
            if error is not None:  # each waiter is told: its record may not be on the disk
                ready, self._waiting = self._waiting, []
            else:
                ready = [w for w in self._waiting if w.generation <= covered]
                self._waiting = [w for w in self._waiting if w.generation > covered]
            following = self._waiting.pop(0) if self._waiting else None
            self._committing = following is not None
            for waiter in ready:
                waiter.synced, waiter.error = error is None, error
        if following is not None:
            following.gate.release()  # not synced: it leads the next sync, starting now
        for waiter in ready:
            waiter.gate.release()

    def _give_up(self, waiter: _Waiter) -> None:
        """A waiter interrupted: out of the queue, or, if it was to lead the next sync, that
        handed on to the next waiter."""
        with self._commit:
            if waiter in self._waiting:
                self._waiting.remove(waiter)
                return
            leading = waiter.error is None and not waiter.synced
        if leading:
            self._hand_on(self._on_disk, None)

    def _sync_once(self) -> tuple[int, Checkpoint | None]:
        """One fsync of the trail file for every record written so far: the records covered,
        and the head they end at (None when there was nothing to sync)."""
        with self._mutex:
            if self._fd < 0 or self._written <= self._on_disk:
                return self._written, None
            covered, head = self._written, self._head
            descriptor = self._syncing = self._fd  # a rotation now retires it, not closes it
            directory_dirty, self._directory_dirty = self._directory_dirty, False
        try:
            self._sync_file(descriptor)
        finally:
            with self._mutex:
                self._syncing = -1
                retired, self._retired = self._retired, []
            for old in retired:
                os.close(old)
        if directory_dirty:
            self._files.sync_directory(self.directory)
        return covered, head

    def _advance_checkpoint(self, head: Checkpoint | None) -> None:
        """Checkpoint ``head`` (records on the disk), or the head still due if that is later."""
        try:
            with self._mutex:
                due, self._checkpoint_due = self._checkpoint_due, None
                if head is None or (due is not None and due.seq > head.seq):
                    head = due
                if head is not None and self._lock_fd >= 0:
                    with self._locked():
                        # The records are on the disk, so the checkpoint may name them now; it
                        # only moves forward (another writer may have moved it past them).
                        self._note_checkpoint(self._checkpoint.advance(head))
        except OSError as exc:
            raise self._unavailable(exc) from None

    # --- under the locks ---------------------------------------------------------------------

    def _append_locked(self, fields: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], bytes]]:
        # One system call looks at the trail file and one at the checkpoint; from there on the
        # file's size is kept here, not asked again: under the lock, only this writer writes it.
        held = self._follow_rotation()
        self._size = held.st_size
        due, self._checkpoint_due = self._checkpoint_due, None
        notices: list[tuple[int | None, Mapping[str, Any]]]
        if self._known == (held.st_ino, held.st_size) and self._checkpoint.is_current():
            head, notices = self._head, []  # both as this writer left them
            if due is not None:
                # Synced since this writer's last record: the checkpoint may name it now,
                # under this lock (the file is checked already).
                if due.seq > self._checkpoint_floor:
                    # Nobody has written since this writer's last record, and no writer can
                    # have checkpointed a record past ``due``: no need to read the file.
                    self._checkpoint.put(due)
                    self._note_checkpoint(due.seq)
                else:
                    self._note_checkpoint(self._checkpoint.advance(due, checked=True))
        else:
            # Another writer (or a cut, a torn line, a replaced checkpoint) came between.
            head, notices = self._prepare(held)
            if due is not None and due.seq <= head.seq:
                # Still within the trail (not cut away): moved to, if no writer moved it past.
                self._note_checkpoint(self._checkpoint.advance(due, checked=True))
        written: list[tuple[Mapping[str, Any], bytes]] = []
        for seq, notice in [*notices, (None, fields)]:
            head, line, notice = self._write(head, notice, seq)
            written.append((notice, line))
        self._head = head
        self._known = (self._held[0], self._size)
        return written

    def _note_checkpoint(self, seq: int) -> None:
        self._checkpoint_floor = max(self._checkpoint_floor, seq)

    def _open_current(self) -> os.stat_result:
        """Hold the file at the trail's path open (as ``_fd``); its status."""
        self._fd = self._files.open_file(self.path, os.O_RDWR | os.O_APPEND)
        opened = os.fstat(self._fd)
        self._held, self._size = (opened.st_ino, opened.st_dev), opened.st_size
        if opened.st_size == 0:
            self._directory_dirty = True  # (probably) created just now
        return opened

    def _let_go(self) -> None:
        """Close the trail file held open (the caller holds the mutex), or leave it to the sync
        using it now."""
        descriptor, self._fd = self._fd, -1
        if descriptor < 0:
            return
        if descriptor == self._syncing:
            self._retired.append(descriptor)
        else:
            os.close(descriptor)

    def _check_torn_file(self) -> None:
        keep = self.path.with_name(self.path.name + TORN_SUFFIX)
        with contextlib.suppress(FileNotFoundError):
            self._files.check_file(keep, os.lstat(keep))

    def _follow_rotation(self) -> os.stat_result:
        """Hold the file now at the trail's path (another process may have rotated it); its
        status.

        One look at the path: while it names the file held open (the same inode, which cannot
        be reused while it is held), its status is that file's, size included (where the
        system's look by name is current: see the file layer).
        """
        try:
            on_disk: os.stat_result | None = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            on_disk = None
        if on_disk is not None and (on_disk.st_ino, on_disk.st_dev) == self._held:
            return on_disk if self._files.path_status_is_current else os.fstat(self._fd)
        self._let_go()
        self._known = None
        return self._open_current()

    def _prepare(
        self, stat: os.stat_result
    ) -> tuple[Checkpoint, list[tuple[int | None, Mapping[str, Any]]]]:
        """The head to chain from, and the integrity records to write before the new one
        (``stat``: the file held open, as it is now, not as this writer left it)."""
        tail = read_tail(self._fd, stat.st_size)
        torn = self._set_aside(tail.torn, stat.st_size) if tail.torn else None
        line = tail.last_line if tail.last_line is not None else self._last_rotated_line()
        record = records.decode(line) if line is not None else None
        if record is not None and isinstance(record.get("time"), str):
            self._last_time = max(self._last_time, record["time"])
        try:
            saved: Checkpoint | None = self._checkpoint.reload()
            unreadable = False
        except CheckpointUnreadable:
            saved, unreadable = None, True
        if line is not None and record is None:
            # Someone wrote a line that is not a record: chain on from it, numbered after the
            # checkpoint so that no sequence number is used twice.
            head = Checkpoint(saved.seq if saved else 0, records.digest(line))
            notices: list[tuple[int | None, Mapping[str, Any]]] = [(None, self._notice(
                records.UNREADABLE_HEAD,
                "the last line of the trail is not an audit record; the chain continues after it",
            ))]
        else:
            head = (Checkpoint(record["seq"], records.digest(line)) if record and line
                    else Checkpoint(0, None))
            notices = self._compare(head, saved, unreadable)
        if torn is not None:
            notices.append((None, torn))  # after a cut's notice, which takes its own number
        # Every record up to here may be checkpointed by its writer without this one knowing.
        self._note_checkpoint(max(head.seq, saved.seq if saved else 0))
        return head, notices

    def _compare(
        self, head: Checkpoint, saved: Checkpoint | None, unreadable: bool
    ) -> list[tuple[int | None, Mapping[str, Any]]]:
        """Integrity records for a checkpoint that does not match the head of the trail."""
        if unreadable or (saved is None and head.seq > 0):
            state = "unreadable" if unreadable else "missing"
            # Said once: a checkpoint at 0 reads as behind the trail (as after a crash) until
            # this writer's next synced record moves it on.
            self._checkpoint.write(Checkpoint(0, None))
            return [(None, self._notice(
                records.CHECKPOINT_MISSING,
                f"the checkpoint was {state}: records cut from the end before sequence "
                f"{head.seq + 1} cannot be ruled out",
            ))]
        if saved is None:
            # A new trail: a checkpoint at 0 first, so that a crash between the first record
            # and its checkpoint reads as a checkpoint behind, not as a deleted one.
            self._checkpoint.write(Checkpoint(0, None))
            return []
        if saved.seq > head.seq:
            return [(saved.seq + 1, self._notice(
                records.CUT,
                f"{records.span(head.seq + 1, saved.seq)} missing from the end of the trail "
                f"(the checkpoint had reached {saved.seq}): cut, or lost before reaching the "
                "disk",
                missing_from=head.seq + 1,
                missing_to=saved.seq,
            ))]
        if saved.seq == head.seq and saved.hash != head.hash:
            return [(None, self._notice(
                records.CHECKPOINT_MISMATCH,
                f"the last record, sequence {head.seq}, is not the one the checkpoint holds: "
                "edited or replaced",
                edited_seq=head.seq,
            ))]
        return []  # equal, or behind after a crash between a record and its checkpoint

    def _notice(self, problem: str, detail: str, **facts: Any) -> Mapping[str, Any]:
        self._notify(detail)
        return records.integrity(problem, detail, **facts)

    def _set_aside(self, torn: bytes, size: int) -> Mapping[str, Any]:
        """Move a torn last line to ``audit.jsonl.torn`` and cut it from the trail."""
        keep = self.path.with_name(self.path.name + TORN_SUFFIX)
        descriptor = self._files.open_file(keep, os.O_WRONLY | os.O_APPEND)
        try:
            write_all(descriptor, torn + b"\n")
            self._files.sync(descriptor)
        finally:
            os.close(descriptor)
        self._files.sync_directory(self.directory)
        os.ftruncate(self._fd, size - len(torn))
        self._size = size - len(torn)
        return self._notice(
            records.TORN,
            f"the trail's last line was torn by an interrupted write; its {len(torn)} bytes "
            f"were set aside in {keep.name} and the chain continues from the last whole record",
            set_aside_bytes=len(torn),
            set_aside_in=keep.name,
        )

    def _last_rotated_line(self) -> bytes | None:
        rotated = rotated_files(self.directory)
        if not rotated:
            return None
        descriptor = self._files.open_file(rotated[-1][1], os.O_RDONLY, create=False)
        try:
            return read_tail(descriptor, os.fstat(descriptor).st_size).last_line
        finally:
            os.close(descriptor)

    def _write(
        self, head: Checkpoint, fields: Mapping[str, Any], seq: int | None
    ) -> tuple[Checkpoint, bytes, Mapping[str, Any]]:
        number = head.seq + 1 if seq is None else seq
        stamp = fields.get("time")
        if isinstance(stamp, str):
            # A record stamped before it reached the lock may come after a later stamp: it
            # takes the time of the record before it, so time never goes backwards against seq.
            if stamp < self._last_time:
                fields = {**fields, "time": self._last_time}
            else:
                self._last_time = stamp
        line = records.encode(number, head.hash, fields)
        self._rotate_if_full(len(line))
        self._append_whole(line)
        self._written += 1
        return Checkpoint(number, records.digest(line)), line, fields

    def _append_whole(self, line: bytes) -> None:
        """Write the record in one write (flushed to the OS, never mixed with another writer's),
        or leave none of it: a full disk often takes part of a write before refusing the rest,
        and that part is cut off again so the trail never ends inside a record of ours."""
        view = memoryview(line)
        done = 0
        try:
            while done < len(line):
                done += os.write(self._fd, view[done:])
        except OSError:
            if done:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, os.fstat(self._fd).st_size - done)
            raise
        self._size += done

    def _rotate_if_full(self, incoming: int) -> None:
        size = self._size
        if size == 0 or size + incoming <= self.max_bytes:
            return
        rotated = rotated_files(self.directory)
        number = rotated[-1][0] + 1 if rotated else 1
        self._sync_file(self._fd)  # a finished file is history: on the disk before it is renamed
        os.rename(self.path, self.directory / rotated_name(number))
        self._let_go()
        self._open_current()
        self._files.sync_directory(self.directory)
        self._directory_dirty = False

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._files.lock(self._lock_fd)
        try:
            yield
        finally:
            self._files.unlock(self._lock_fd)

    # --- background sync (fsync_interval > 0) ------------------------------------------------

    def _start_flusher(self) -> None:
        if self._flusher is not None:
            return
        self._flusher = threading.Thread(
            target=self._flush_periodically, name="smsp-audit-sync", daemon=True
        )
        self._flusher.start()
        atexit.register(self.close)

    def _flush_periodically(self) -> None:
        while not self._wake.wait(self.fsync_interval):
            try:
                self.sync()
            except (OSError, TrailUnavailable) as exc:
                self._notify(f"cannot force the audit trail to the disk: {exc}")

    def _close_descriptors(self) -> None:
        checkpoint_file = getattr(self, "_checkpoint", None)
        if checkpoint_file is not None:
            with contextlib.suppress(OSError):
                checkpoint_file.close()
        with contextlib.suppress(OSError):
            self._let_go()
        if self._lock_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
        self._lock_fd = -1

    def _unavailable(self, exc: OSError) -> TrailUnavailable:
        if isinstance(exc, UnsafeFile):
            problem = f"cannot write the audit trail: {exc}"
        else:
            problem = (f"cannot write the audit trail {exc.filename or self.path}: "
                       f"{exc.strerror or exc}")
        return TrailUnavailable(
            problem,
            hint="smsp records every call and change before making it; fix the file or its "
            "directory, or set SMSP_DATA_DIR",
        )


class _Waiter:
    """A thread waiting for a sync: its gate is held until a sync covers its record, or until
    it is to lead the next sync."""

    __slots__ = ("error", "gate", "generation", "synced")

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.gate = threading.Lock()
        self.gate.acquire()
        self.synced = False  # True: a sync that began after the record was written ended
        self.error: OSError | None = None  # that sync failed


def _reported(text: str) -> None:
    report(Notice(f"audit trail: {text}"))
