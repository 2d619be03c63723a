"""Keep patient data out of ``-v`` output and trace files unless ``--reveal`` is given.

The HL7 payload is redacted by an allow-list, not a deny-list: inside it every text node and
every attribute value is replaced, except the few attributes that carry structure (class and
mood codes, code systems, OIDs, response and gender codes). A provider that adds an element
we have never seen therefore leaks nothing. The SOAP and ITK headers around the payload hold
ids, timestamps and the calling system's identity, never a patient, and are kept, apart from
the free text of a SOAP fault, whose digit runs are removed (a provider may quote a value).

A body that does not parse as XML is redacted even harder: markup is kept so the shape of
the reply still shows, every run of text and every attribute value goes.

lxml is imported lazily, through :mod:`smsp_cli.adapters.smsp.xmlsafe`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from smsp_cli.adapters.smsp import xmlsafe
from smsp_cli.untrusted.sanitize import hide_identifiers

if TYPE_CHECKING:
    from lxml import etree

REDACTED = "[redacted]"

# Attributes of the HL7 payload that describe structure, never a patient. ``code`` is kept:
# it carries the response code (SMSP-0000...) and the gender code, neither identifying alone.
_STRUCTURAL_ATTRIBUTES = frozenset(
    {
        "classCode",
        "moodCode",
        "typeCode",
        "determinerCode",
        "codeSystem",
        "code",
        "root",
        "use",
        "nullFlavor",
        f"{{{xmlsafe.XSI}}}type",
    }
)
# verifyNHSNumberResponse answers validIdentifier/value/@value "true" or "false".
_BOOLEAN_VALUES = frozenset({"true", "false"})
# The GP practice code (ODS) identifies a surgery, not a patient; support needs to see it.
_ODS_ROOT = "2.16.840.1.113883.2.1.3.2.4.19.2"
# semanticsText repeats the parameter's name (Person.NHSNumber), useful to read a request.
_LABEL_ELEMENTS = frozenset({"semanticsText"})
# Free text of a SOAP fault: kept for diagnosis, but a provider might quote a submitted value.
_FAULT_TEXT = frozenset({"faultstring", "ErrorText", "ErrorDiagnosticText"})

# Six or more digits: an NHS number (10), a date (8 or 6), a phone number, a local id.
_DIGIT_RUN = re.compile(r"\d{6,}")
_TAG = re.compile(r"(<!--.*?-->|<[^>]*>)", re.S)
_ITK_PAYLOAD = f"{{{xmlsafe.ITK}}}payload"
_ATTRIBUTE = re.compile(r"""([\w:.-]+)(\s*=\s*)(["'])(.*?)\3""", re.S)

# Headers that never carry patient data or secrets, shown as they are.
_PLAIN_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "cache-control",
        "connection",
        "content-encoding",
        "content-length",
        "content-type",
        "date",
        "host",
        "keep-alive",
        "server",
        "soapaction",
        "transfer-encoding",
        "user-agent",
    }
)
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})


def envelope(body: bytes, *, pretty: bool = False) -> str:
    """The envelope as text with patient data replaced by ``[redacted]``."""
    try:
        root = xmlsafe.parse(body)
    except xmlsafe.UnsafeXml:
        return unparsed(body)
    _redact_tree(root)
    return _serialise(root, pretty=pretty)


def revealed(body: bytes, *, pretty: bool = False) -> str:
    """The envelope as text, unredacted; pretty-printed only when it parses."""
    if pretty:
        try:
            return _serialise(xmlsafe.parse(body), pretty=True)
        except xmlsafe.UnsafeXml:
            pass
    return body.decode("utf-8", "replace")


def unparsed(body: bytes) -> str:
    """Conservative redaction of a body that is not XML we can read: markup only."""
    text = body.decode("utf-8", "replace")
    if "<" not in text:
        return f"{REDACTED} ({len(body)} bytes, not XML)" if text.strip() else text
    pieces = []
    for piece in _TAG.split(text):
        if piece.startswith("<!--"):
            pieces.append(f"<!-- {REDACTED} -->")
        elif piece.startswith(("<!", "<?")):
            # Declarations and processing instructions: free text, all of it.
            pieces.append(f"{piece[:2]}{REDACTED}>")
        elif piece.startswith("<"):
            pieces.append(_DIGIT_RUN.sub(REDACTED, _ATTRIBUTE.sub(_redact_attribute, piece)))
        else:
            pieces.append(REDACTED if piece.strip() else piece)
    return "".join(pieces)


def headers(items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """HTTP headers with secrets removed and digit runs redacted in unknown ones."""
    shown = []
    for name, value in items:
        lowered = name.lower()
        if lowered in _SECRET_HEADERS:
            # The scheme is no secret and says what was sent: "Bearer [redacted]".
            scheme = value.split(" ", 1)[0] if " " in value.strip() else ""
            shown.append((name, f"{scheme} {REDACTED}" if scheme.isalpha() else REDACTED))
        elif lowered in _PLAIN_HEADERS:
            shown.append((name, value))
        else:
            shown.append((name, scrub(value)))
    return shown


def scrub(text: str) -> str:
    """Free text with NHS numbers, dates and every run of six or more digits redacted."""
    return _DIGIT_RUN.sub(REDACTED, hide_identifiers(text, REDACTED))


def _redact_attribute(match: re.Match[str]) -> str:
    name = match.group(1)
    if name.split(":")[-1] in _STRUCTURAL_ATTRIBUTES or name.startswith("xmlns"):
        return match.group(0)
    return f"{name}{match.group(2)}{match.group(3)}{REDACTED}{match.group(3)}"


def _redact_tree(root: etree._Element) -> None:
    for element in root.iter():
        if _in_payload(element):
            _redact_payload_node(element)
        elif _local_name(element) in _FAULT_TEXT and element.text:
            element.text = scrub(element.text)


def _in_payload(element: etree._Element) -> bool:
    """True inside the HL7 payload: in its namespace, or anywhere below an itk:payload."""
    if _is_hl7(element):
        return True
    return any(
        ancestor.tag == _ITK_PAYLOAD or _is_hl7(ancestor) for ancestor in element.iterancestors()
    )


def _is_hl7(element: etree._Element) -> bool:
    return isinstance(element.tag, str) and element.tag.startswith(f"{{{xmlsafe.HL7}}}")


def _redact_payload_node(element: etree._Element) -> None:
    if not isinstance(element.tag, str):
        # Comments and processing instructions inside a payload could say anything.
        element.text = REDACTED
    else:
        if element.text and element.text.strip() and _local_name(element) not in _LABEL_ELEMENTS:
            element.text = REDACTED
        for name, value in list(element.attrib.items()):
            if not _keeps_attribute(element, str(name), str(value)):
                element.set(name, REDACTED)
    if element.tail and element.tail.strip():
        element.tail = REDACTED


def _keeps_attribute(element: etree._Element, name: str, value: str) -> bool:
    if name in _STRUCTURAL_ATTRIBUTES:
        return True
    if name == "value":
        return value in _BOOLEAN_VALUES
    if name == "extension":
        return element.get("root") == _ODS_ROOT
    return False


def _local_name(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _serialise(root: etree._Element, *, pretty: bool) -> str:
    from lxml import etree

    if pretty:
        etree.indent(root)
    return etree.tostring(root, encoding="unicode")
