"""A failed row waits, held, for the rows before it: what it keeps must not include the reply."""

from __future__ import annotations

import gc
import weakref

from smsp_cli.batch.lookup import failed
from smsp_cli.domain.errors import SmspError, UnsafeReply


class _Reply:
    """Stands for a reply body of up to 10 MiB, in a frame the error was raised through."""


def _parse(reply: _Reply) -> None:
    try:
        raise ValueError("what the parser said")
    except ValueError:
        raise UnsafeReply("reply refused: too many elements") from None


def test_a_failed_row_keeps_neither_the_frames_nor_the_reply_it_failed_on() -> None:
    reply = _Reply()
    gone = weakref.ref(reply)
    try:
        _parse(reply)
    except SmspError as error:
        outcome = failed(7, "r7", error)
    del reply
    gc.collect()
    assert gone() is None  # nothing the row holds reaches the reply
    assert outcome.error is not None
    assert outcome.error.__traceback__ is None
    assert outcome.line["error"]["message"] == "reply refused: too many elements"
    assert outcome.exit_code == 4
