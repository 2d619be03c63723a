"""The hardened parser: what it accepts, what it refuses, and that refusing costs nothing."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsp_cli.adapters.smsp import xmlsafe

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>
"""

XXE_FILE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<r>&xxe;</r>
"""

HOSTILE = {
    "plain doctype": b"<!DOCTYPE r><r/>",
    "internal subset": b"<!DOCTYPE r [<!ELEMENT r ANY>]><r/>",
    "billion laughs": BILLION_LAUGHS,
    "xxe file": XXE_FILE,
    "external dtd": b'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd"><r/>',
    "public id": b'<!DOCTYPE r PUBLIC "-//X//EN" "http://127.0.0.1:9/x.dtd"><r/>',
    "parameter entity": b'<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p">%p;]><r/>',
    "doctype after comment": b"<!-- hello --><!DOCTYPE r><r/>",
}


def _utf16(document: bytes) -> bytes:
    text = document.decode().replace('<?xml version="1.0"?>', "")
    return '<?xml version="1.0" encoding="UTF-16"?>'.encode("utf-16") + text.encode("utf-16-le")


@pytest.mark.parametrize("document", HOSTILE.values(), ids=HOSTILE.keys())
def test_every_dtd_is_refused_as_hostile(document: bytes) -> None:
    with pytest.raises(xmlsafe.UnsafeXml) as caught:
        xmlsafe.parse(document)
    assert not isinstance(caught.value, xmlsafe.MalformedXml)
    assert "DOCTYPE" in str(caught.value)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_dtd_is_found_by_the_byte_scan_in_wide_encodings(encoding: str) -> None:
    document = XXE_FILE.decode().replace('<?xml version="1.0"?>', "").encode(encoding)
    with pytest.raises(xmlsafe.UnsafeXml, match="DOCTYPE"):
        xmlsafe.refuse_dtd_markup(document)


def test_utf16_document_with_bom_and_declaration_is_refused() -> None:
    with pytest.raises(xmlsafe.UnsafeXml, match="DOCTYPE"):
        xmlsafe.parse(_utf16(BILLION_LAUGHS))


def test_utf16_document_without_dtd_parses() -> None:
    root = xmlsafe.parse(_utf16(b'<?xml version="1.0"?><r a="\xc3\xa9">ok</r>'))
    assert (root.tag, root.text, root.get("a")) == ("r", "ok", "é")


@pytest.mark.parametrize("document", HOSTILE.values(), ids=HOSTILE.keys())
def test_libxml2_layer_refuses_dtds_even_without_the_byte_scan(document: bytes) -> None:
    # Defence in depth: an encoding the scan does not know must still be stopped here.
    started = time.process_time()  # CPU, which a busy machine does not stretch
    with pytest.raises(xmlsafe.UnsafeXml):
        xmlsafe._parse_refusing_dtd(document)
    assert time.process_time() - started < 1


def test_a_thread_s_parser_refuses_after_a_document_it_refused_or_parsed() -> None:
    # One parser serves a thread's every reply: what it met before changes nothing after.
    for document in (*HOSTILE.values(), b"<r>ok</r>", b"<r>", *HOSTILE.values()):
        if document == b"<r>ok</r>":
            assert xmlsafe._parse_refusing_dtd(document).text == "ok"
            continue
        with pytest.raises(xmlsafe.UnsafeXml):
            xmlsafe._parse_refusing_dtd(document)
    assert xmlsafe.parse(b"<r>&amp;&#233;</r>").text == "&é"
    with pytest.raises(xmlsafe.UnsafeXml, match=r"(?i)entity 'undeclared'"):
        xmlsafe.parse(b"<r>&undeclared;</r>")


def test_each_thread_parses_with_a_parser_of_its_own() -> None:
    import threading

    parsers = [xmlsafe._parser()]
    worker = threading.Thread(target=lambda: parsers.append(xmlsafe._parser()))
    worker.start()
    worker.join()
    assert parsers[0] is xmlsafe._parser()
    assert parsers[1] is not parsers[0]


def test_xxe_never_reads_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    document = (f'<!DOCTYPE r [<!ENTITY x SYSTEM "{secret.as_uri()}">]><r>&x;</r>').encode()
    with pytest.raises(xmlsafe.UnsafeXml) as caught:
        xmlsafe._parse_refusing_dtd(document)
    assert "TOP-SECRET-MARKER" not in str(caught.value)


def test_external_dtd_never_touches_the_network() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.2)
        port = listener.getsockname()[1]
        document = (
            f'<!DOCTYPE r SYSTEM "http://127.0.0.1:{port}/evil.dtd">'
            f'<r xmlns:xi="http://www.w3.org/2001/XInclude">'
            f'<xi:include href="http://127.0.0.1:{port}/inc.xml"/></r>'
        ).encode()
        for parse in (xmlsafe.parse, xmlsafe._parse_refusing_dtd):
            with pytest.raises(xmlsafe.UnsafeXml):
                parse(document)
        with pytest.raises(TimeoutError):
            listener.accept()


def test_xinclude_is_left_as_an_inert_element(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    document = (
        '<r xmlns:xi="http://www.w3.org/2001/XInclude">'
        f'<xi:include href="{secret.as_uri()}" parse="text"/></r>'
    ).encode()
    root = xmlsafe.parse(document)
    assert [child.tag for child in root] == ["{http://www.w3.org/2001/XInclude}include"]
    assert "TOP-SECRET-MARKER" not in "".join(root.itertext())


def test_deep_nesting_is_refused_quickly_as_hostile() -> None:
    depth = 100_000
    document = b"<a>" * depth + b"</a>" * depth
    started = time.process_time()  # CPU, which a busy machine does not stretch
    with pytest.raises(xmlsafe.UnsafeXml) as caught:
        xmlsafe.parse(document)
    assert time.process_time() - started < 1
    assert not isinstance(caught.value, xmlsafe.MalformedXml)


def _nested(depth: int) -> bytes:
    return b"<a>" * depth + b"x" + b"</a>" * depth


def _attributes(count: int) -> bytes:
    return ("<r " + " ".join(f'a{n}="v"' for n in range(count)) + "/>").encode()


def _namespaces(count: int) -> bytes:
    # Other elements declare more: only one element's own declarations count.
    inner = "<i " + " ".join(f'xmlns:n{n}="urn:n{n}"' for n in range(count)) + "/>"
    return f'<r xmlns:o1="urn:o" xmlns:o2="urn:o"><s xmlns:o3="urn:o"/>{inner}</r>'.encode()


def _elements(count: int) -> bytes:
    # The root, a comment and a processing instruction count as elements too.
    return b"<r><!--c--><?p?>" + b"<e/>" * (count - 3) + b"</r>"


def _attributes_in_all(count: int) -> bytes:
    elements = "".join(f'<e a="{n}"/>' for n in range(count))
    return f"<r>{elements}</r>".encode()


def _text(characters: int) -> bytes:
    return b"<r>" + "é".encode() * characters + b"</r>"


LIMITS = {
    "depth 64": (_nested, 64, "document is nested deeper than 64 elements"),
    "32 attributes an element": (_attributes, 32, "an element has more than 32 attributes"),
    "16 namespace declarations an element": (
        _namespaces, 16, "an element has more than 16 namespace declarations"),
    "100,000 elements": (_elements, 100_000, "document has more than 100,000 elements"),
    "20,000 attributes in all": (
        _attributes_in_all, 20_000,
        "document has more than 20,000 attributes and namespace declarations (counting every '=')"),
    "1 MiB a text node": (
        _text, 1024 * 1024, "a text node is longer than 1,048,576 characters (1 MiB)"),
}


@pytest.mark.parametrize(("document", "limit", "message"), LIMITS.values(), ids=LIMITS.keys())
def test_a_document_at_a_limit_parses_and_one_past_it_is_refused_naming_it(
    document: Callable[[int], bytes], limit: int, message: str
) -> None:
    xmlsafe.parse(document(limit))
    started = time.process_time()  # CPU, which a busy machine does not stretch
    with pytest.raises(xmlsafe.UnsafeXml) as caught:
        xmlsafe.parse(document(limit + 1))
    assert time.process_time() - started < 1
    assert str(caught.value) == message
    assert not isinstance(caught.value, xmlsafe.MalformedXml)


def test_undeclared_entity_reference_is_refused() -> None:
    with pytest.raises(xmlsafe.UnsafeXml, match="not defined"):
        xmlsafe.parse(b"<r>&xxe;</r>")


def test_predefined_entities_and_character_references_are_fine() -> None:
    root = xmlsafe.parse(b"<r a='&quot;'>O&apos;Brien &amp; Sons &#233;&#x20AC;</r>")
    assert root.text == "O'Brien & Sons é€"
    assert root.get("a") == '"'


def test_oversized_document_is_refused_before_parsing() -> None:
    document = b"<r>" + b"x" * 100 + b"</r>"
    assert xmlsafe.parse(document, max_bytes=len(document)).tag == "r"
    with pytest.raises(xmlsafe.UnsafeXml, match="over the 106-byte limit") as caught:
        xmlsafe.parse(document, max_bytes=len(document) - 1)
    assert not isinstance(caught.value, xmlsafe.MalformedXml)


def test_default_limit_is_max_body_bytes() -> None:
    document = b"<r>" + b" " * xmlsafe.MAX_BODY_BYTES + b"</r>"
    with pytest.raises(xmlsafe.UnsafeXml, match="limit"):
        xmlsafe.parse(document)


@pytest.mark.parametrize("document", [b"", b"   \n\t", b"not xml", b"<r>", b"<a></b>", b"{}"])
def test_empty_or_malformed_is_malformed(document: bytes) -> None:
    with pytest.raises(xmlsafe.MalformedXml):
        xmlsafe.parse(document)


def test_dtd_marker_in_a_comment_is_refused_conservatively() -> None:
    with pytest.raises(xmlsafe.UnsafeXml, match="DOCTYPE"):
        xmlsafe.parse(b"<r><!-- <!DOCTYPE r> --></r>")


def test_comments_are_kept() -> None:
    root = xmlsafe.parse(b"<r><!-- note --><a/></r>")
    assert len(root) == 2


@given(st.binary(max_size=400))
def test_arbitrary_bytes_give_an_element_or_unsafe_xml(data: bytes) -> None:
    try:
        root = xmlsafe.parse(data)
    except xmlsafe.UnsafeXml:
        return
    assert isinstance(root.tag, str)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_after_a_doctype_are_always_refused(tail: bytes) -> None:
    with pytest.raises(xmlsafe.UnsafeXml):
        xmlsafe.parse(b"<!DOCTYPE r [" + tail)


def test_importing_the_parsers_does_not_import_lxml() -> None:
    code = (
        "import sys, smsp_cli.adapters.smsp.xmlsafe, smsp_cli.adapters.smsp.replies;"
        " print('lxml' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[4],
    )
    assert result.stdout.strip() == "False"
