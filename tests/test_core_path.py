"""The faster ways of building and reading find, refuse and read what the plain ways did."""

from __future__ import annotations

import re

from smsp_cli.wire import envelope

# XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
_XML_CHAR = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def test_the_not_an_xml_character_class_is_exactly_the_complement_of_char() -> None:
    every = "".join(chr(point) for point in range(0x110000))
    refused = set(envelope._NOT_XML_CHAR.findall(every))
    allowed = set(_XML_CHAR.findall(every))
    assert not refused & allowed
    assert len(refused) + len(allowed) == 0x110000
    edges = {0x00, 0x08, 0x0B, 0x1F, 0xD800, 0xDFFF, 0xFFFE, 0xFFFF}
    assert {chr(point) for point in edges} <= refused
