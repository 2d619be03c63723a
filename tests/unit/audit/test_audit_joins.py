"""The join count a block's shape is read from: exactly ``data.count(JOIN, 0, end)``, whatever
the lines hold and whatever the buffer holds past ``end``."""

from __future__ import annotations

from smsp_cli.audit.needles import count_joins

J = b'}\n{"seq":'


def test_joins_are_counted_up_to_the_end_and_not_past_it() -> None:
    data = bytearray(b'{"seq":1}' + J + b'2}' + J + b'3}\n{"seq":4,"x":' + J + b'9}\n')
    assert count_joins(data, len(data)) == 4
    end = data.index(b"3}\n") + 3  # the block ends after record 3: the join after it is not in it
    assert count_joins(data, end) == 2
    assert count_joins(data, end - 1) == 2
    assert count_joins(data, 0) == 0


def test_lines_that_are_not_records_break_joins_as_the_plain_count_does() -> None:
    # An empty line, a line cut inside its head, a line ending in "\r": one join is left (3 to 4).
    data = bytearray(b'{"seq":1}\n\n{"seq":2}\n{"seq"\n:3}\n{"seq":4}\r\n{"seq":5}\n')
    assert count_joins(data, len(data)) == 1


def test_control_bytes_in_a_line_do_not_change_the_count() -> None:
    # Bytes such as the ones the count widens newlines with, raw in a line edited by hand.
    odd = bytes(range(0x01, 0x20)).replace(b"\n", b"")
    data = bytearray(b'{"seq":1,"a":"' + odd + b'"}' + J + b"2}\n" + odd + J + b"4}\n")
    assert count_joins(data, len(data)) == 2
