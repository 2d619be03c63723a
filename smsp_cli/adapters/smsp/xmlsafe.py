"""Namespaces, the one hardened XML parser every module uses (spec §5.1), and element names.

lxml is imported lazily by callers through :func:`parse`, so importing this module is cheap.

What :func:`parse` refuses, and why each defence is there:

* anything over ``max_bytes``: a reply is one patient, never megabytes;
* any DOCTYPE or entity declaration, found first by a cheap byte scan (in UTF-8/ASCII,
  UTF-16 and UTF-32) so that a hostile DTD never reaches libxml2 at all, and again after
  parsing in case an exotic encoding slipped past the scan: this is what stops billion laughs,
  XXE (``SYSTEM "file:///..."``) and external DTD fetches (``SYSTEM "http://..."``);
* any entity reference left in the tree (with ``resolve_entities=False`` libxml2 keeps them as
  nodes instead of expanding them);
* documents nested deeper than libxml2's own limit (256 levels while ``huge_tree`` is off).

XInclude is never processed: nothing here calls ``xinclude()``, so an ``xi:include`` element
stays an inert element. The parser has no network access and is never given a file name or
base URL, so it cannot read files either.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from smsp_cli.untrusted import bounds

if TYPE_CHECKING:
    from lxml import etree

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSA = "http://www.w3.org/2005/08/addressing"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
ITK = "urn:nhs-itk:ns:201005"
HL7 = "urn:hl7-org:v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

NS: dict[str, str] = {
    "soap": SOAP,
    "wsa": WSA,
    "wsse": WSSE,
    "wsu": WSU,
    "itk": ITK,
    "hl7": HL7,
}

MAX_BODY_BYTES = bounds.MAX_BODY_BYTES

# Markup that only a DTD uses. XML keywords are case-sensitive, so exact bytes suffice. Each is
# looked for in every encoding libxml2 autodetects from the first bytes without a declaration.
_DTD_MARKERS = ("<!DOCTYPE", "<!ENTITY")
_SCANNED_ENCODINGS = ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
_DTD_MARKER_BYTES = tuple(
    marker.encode(encoding) for marker in _DTD_MARKERS for encoding in _SCANNED_ENCODINGS
)
_UTF8_DTD_MARKER_BYTES = tuple(marker.encode("utf-8") for marker in _DTD_MARKERS)

# libxml2 error types that mean "a limit protecting us was hit", not "this is not XML".
_RESOURCE_LIMIT_ERRORS = frozenset({"ERR_RESOURCE_LIMIT"})


class UnsafeXml(ValueError):
    """The document was refused: DOCTYPE, entity, too large or not well-formed XML."""


class MalformedXml(UnsafeXml):
    """The document is empty or not well-formed XML: unusable, but nothing hostile was seen.

    Callers that care (an HTTP error page is usually HTML, not an attack) can tell this apart
    from the hostile cases, which raise plain :class:`UnsafeXml`.
    """


def parse(data: bytes, *, max_bytes: int = MAX_BODY_BYTES) -> etree._Element:
    """Parse bytes with DTDs, entities and network access refused; return the root element.

    Raises :class:`MalformedXml` for empty or not well-formed input and :class:`UnsafeXml` for
    everything refused as hostile (oversized, DOCTYPE, entities, excessive nesting).
    """
    if len(data) > max_bytes:
        raise UnsafeXml(f"document is {len(data)} bytes, over the {max_bytes}-byte limit")
    if not data.strip():
        raise MalformedXml("document is empty")
    refuse_dtd_markup(data)
    return _parse_refusing_dtd(data)


def refuse_dtd_markup(data: bytes) -> None:
    """Raise :class:`UnsafeXml` if the raw bytes contain a DOCTYPE or an entity declaration.

    A conservative scan: the marker is refused even inside a comment or CDATA section, which no
    SMSP reply has any reason to contain.
    """
    # Every UTF-16/32 marker holds a NUL byte and every UTF-8 one starts "<!", so a document
    # with neither (the usual reply) needs no further scan.
    if b"\x00" in data:
        markers = _DTD_MARKER_BYTES
    elif b"<!" in data:
        markers = _UTF8_DTD_MARKER_BYTES
    else:
        return
    for marker in markers:
        if marker in data:
            raise UnsafeXml("document has a DOCTYPE or entity declaration, which smsp refuses")


def _parse_refusing_dtd(data: bytes) -> etree._Element:
    """The libxml2 layer of the defence; it must hold even if the byte scan were bypassed."""
    from lxml import etree

    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        huge_tree=False,
        remove_comments=False,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc) from None
    _refuse_dtd_nodes(root)
    return root


def _syntax_error(exc: etree.XMLSyntaxError) -> UnsafeXml:
    # lxml-stubs lacks these attributes; lxml has had them for years.
    last = getattr(exc.error_log, "last_error", None)
    if getattr(last, "type_name", None) in _RESOURCE_LIMIT_ERRORS:
        return UnsafeXml(f"document exceeds a parser safety limit: {exc.msg}")
    return MalformedXml(f"not well-formed XML: {exc.msg}")


def _refuse_dtd_nodes(root: etree._Element) -> None:
    from lxml import etree

    docinfo = root.getroottree().docinfo
    # lxml-stubs lacks DocInfo.doctype (the whole <!DOCTYPE ...> text, "" when there is none).
    has_doctype = bool(getattr(docinfo, "doctype", ""))
    if has_doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise UnsafeXml("document has a DOCTYPE, which smsp refuses")
    for _ in root.iter(etree.Entity):
        raise UnsafeXml("document uses an entity reference, which smsp refuses")


@functools.cache
def clark(path: str) -> str:
    """An ElementPath of :data:`NS`-prefixed steps (no predicates) in Clark notation.

    ``find(clark("hl7:name"))`` finds what ``find("hl7:name", NS)`` finds, without resolving
    the prefixes again on every call: the hot paths of building and reading make dozens.
    """
    steps = []
    for step in path.split("/"):
        prefix, colon, local = step.partition(":")
        steps.append(f"{{{NS[prefix]}}}{local}" if colon else step)
    return "/".join(steps)


def elements(parent: etree._Element) -> list[etree._Element]:
    """The child elements of ``parent``, without its comments and processing instructions."""
    return [child for child in parent if isinstance(child.tag, str)]


def namespace(element: etree._Element) -> str:
    """The namespace URI of an element's tag; ``""`` when it has none."""
    tag = element.tag
    if not isinstance(tag, str) or not tag.startswith("{"):
        return ""
    return tag[1:].split("}", 1)[0]


def local_name(element: etree._Element) -> str:
    """An element's tag without its namespace; ``""`` for a comment or processing instruction."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]
