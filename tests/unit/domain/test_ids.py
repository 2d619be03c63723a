"""Fresh ids: version 4 random UUIDs, never one twice, from a pool refilled a block at a time."""

from __future__ import annotations

import os
import re
import sys
import threading
import uuid

import pytest

from smsp_cli.domain import ids

UPPER = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$")
LOWER = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_each_id_is_a_version_4_uuid_in_the_form_itk_requires() -> None:
    for _ in range(600):  # more than one block of the pool
        value = ids.new_uuid()
        assert UPPER.match(value), value
        parsed = uuid.UUID(value)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed).upper() == value


def test_the_lower_case_form_is_what_str_of_uuid4_gives() -> None:
    value = ids.random_uuid()
    assert LOWER.match(value), value
    assert str(uuid.UUID(value)) == value


def test_threads_never_get_the_same_id() -> None:
    seen: list[list[str]] = [[] for _ in range(8)]

    def draw(mine: list[str]) -> None:
        mine.extend(ids.new_uuid() for _ in range(2000))

    threads = [threading.Thread(target=draw, args=(mine,)) for mine in seen]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [value for mine in seen for value in mine]
    assert len(every) == 16000
    assert len(set(every)) == 16000


def test_the_kernel_is_asked_once_a_block_not_once_an_id(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []
    urandom = os.urandom
    this_thread = threading.get_ident()

    def counted(size: int) -> bytes:
        # Only this thread's asks: a server thread another test left running may ask too.
        if threading.get_ident() == this_thread:
            asked.append(size)
        return urandom(size)

    monkeypatch.setattr(os, "urandom", counted)
    for _ in range(1000):
        ids.new_uuid()
    # 1000 ids of 16 bytes from blocks of 4096: 4 or 5 asks, against 1000 for one ask an id
    # (fewer when another thread had just refilled the shared pool, more when it drew from it).
    assert 1 <= len(asked) <= 8
    assert set(asked) == {4096}


@pytest.mark.skipif(sys.platform == "win32", reason="no fork")
def test_a_forked_child_never_repeats_its_parents_ids() -> None:
    ids.new_uuid()  # the pool holds unused bytes when the process forks
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child's coverage is not collected)
        os.close(reader)
        os.write(writer, " ".join(ids.new_uuid() for _ in range(300)).encode("ascii"))
        os._exit(0)
    os.close(writer)
    parents = {ids.new_uuid() for _ in range(300)}
    with os.fdopen(reader, "rb") as pipe:
        childs = set(pipe.read().decode("ascii").split())
    assert os.waitpid(child, 0)[1] == 0
    assert len(childs) == 300
    assert all(UPPER.match(value) for value in childs)
    assert not parents & childs
