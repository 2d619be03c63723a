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
* documents beyond what any SMSP reply needs (the ``MAX_*`` constants below): nesting deeper
  than 64, more than 32 attributes or 16 namespace declarations on one element, more than
  100,000 elements
  (comments and processing instructions count as elements), more than 20,000 attributes and
  namespace declarations in all, a text node over 1 MiB. A tree costs libxml2 a few hundred
  bytes an element or attribute, so 10 MiB of bare ``<e/>`` or ``a=""`` would cost hundreds
  of MiB once built: the limits are checked before the tree can grow past them.

How the limits are checked, cheapest first. Every attribute and namespace declaration is
written with an ``=``, and every element, comment and processing instruction with a ``<``,
so counting those two bytes bounds the tree before it is built. The usual reply (a few hundred
of each) is then parsed whole; one with more ``<`` or ``xmlns`` than the limits allow is fed
to a pull parser in slices and counted as it grows, stopping at the first limit passed. Depth,
attributes an element and text length are then checked on the finished tree by XPath, in C.

XInclude is never processed: nothing here calls ``xinclude()``, so an ``xi:include`` element
stays an inert element. The parser has no network access and is never given a file name or
base URL, so it cannot read files either.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

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

# What a real SMSP reply needs, with room to spare (a full getPatientDetailsResponse has about
# 60 elements, 60 attributes, 10 levels and 8 namespace declarations). The README lists them.
MAX_DEPTH = 64
MAX_ATTRIBUTES_PER_ELEMENT = 32
MAX_NAMESPACES_PER_ELEMENT = 16
MAX_ELEMENTS = 100_000
MAX_ATTRIBUTES = 20_000  # attributes and namespace declarations of the whole document
MAX_TEXT_CHARACTERS = 1024 * 1024

# The slice a pull parser is fed at a time: how far past a limit a tree may grow before the
# count is checked again.
_SLICE = 64 * 1024

# XPath tests of a finished tree, each true when a limit is passed. ``//@*[33]`` is the 33rd
# attribute of any element (the predicate counts along each element's attribute axis).
_TOO_DEEP = "boolean(/" + "/".join(["*"] * (MAX_DEPTH + 1)) + ")"
_TOO_MANY_ATTRIBUTES = f"boolean(//@*[{MAX_ATTRIBUTES_PER_ELEMENT + 1}])"
_TOO_LONG_TEXT = f"boolean(//text()[string-length() > {MAX_TEXT_CHARACTERS}])"


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
    _refuse_too_many_attributes(data)
    # A document no longer than the element limit cannot hold more '<' than it allows.
    if ((len(data) <= MAX_ELEMENTS or data.count(b"<") <= MAX_ELEMENTS)
            and data.count(b"xmlns") <= MAX_NAMESPACES_PER_ELEMENT):
        root = _parse_refusing_dtd(data)
    else:
        root = _parse_counting(data)
    _refuse_over_limits(root, len(data))
    return root


class _OverLimit(UnsafeXml):
    """The document passes one of the ``MAX_*`` limits; the message names which."""


def _refuse_too_many_attributes(data: bytes) -> None:
    # An upper bound: an '=' in text counts too, which no real reply has thousands of (and a
    # document no longer than the limit cannot hold more, so it is not counted).
    if len(data) > MAX_ATTRIBUTES and data.count(b"=") > MAX_ATTRIBUTES:
        raise _OverLimit(
            f"document has more than {MAX_ATTRIBUTES:,} attributes and namespace declarations "
            "(counting every '=')"
        )


def _refuse_over_limits(root: etree._Element, size: int) -> None:
    """The limits a finished tree is checked against, by XPath (in C, whatever its size)."""
    if _xpath(_TOO_DEEP)(root):
        raise _OverLimit(f"document is nested deeper than {MAX_DEPTH} elements")
    if _xpath(_TOO_MANY_ATTRIBUTES)(root):
        raise _OverLimit(f"an element has more than {MAX_ATTRIBUTES_PER_ELEMENT} attributes")
    # A character takes at least one byte, so a smaller document cannot hold such a text.
    if size > MAX_TEXT_CHARACTERS and _xpath(_TOO_LONG_TEXT)(root):
        raise _too_long_text()


def _too_long_text() -> _OverLimit:
    return _OverLimit(f"a text node is longer than {MAX_TEXT_CHARACTERS:,} characters (1 MiB)")


@functools.cache
def _xpath(expression: str) -> etree.XPath:
    from lxml import etree

    return etree.XPath(expression)


def refuse_dtd_markup(data: bytes) -> None:
    """Raise :class:`UnsafeXml` if the raw bytes contain a DOCTYPE or an entity declaration.

    A conservative scan: the marker is refused even inside a comment or CDATA section, which no
    SMSP reply has any reason to contain.
    """
    # Every UTF-16/32 marker holds a NUL byte and every UTF-8 one starts "<!", so a document
    # with neither (the usual reply) needs no further scan. A "!" is looked for first: one
    # byte is found far faster than two, and the usual reply has none.
    if b"\x00" in data:
        markers = _DTD_MARKER_BYTES
    elif b"!" in data and b"<!" in data:
        markers = _UTF8_DTD_MARKER_BYTES
    else:
        return
    for marker in markers:
        if marker in data:
            raise UnsafeXml("document has a DOCTYPE or entity declaration, which smsp refuses")


# One set of parser options for both ways of parsing, so the refusals can never drift apart:
# no entities, no network, no DTD, no defaulted attributes, libxml2's own size limits on.
_SAFE_PARSING: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "attribute_defaults": False,
    "huge_tree": False,
    "remove_comments": False,
}


# Each thread's parser, made once: lxml resets a parser for every document it parses, and a
# new one costs a reply more than the options it is made from (a libxml2 context each time).
# One a thread, as a parser serves one document at a time.
_parsers = threading.local()


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_parsers, "parser", None)
    if parser is None:
        from lxml import etree

        parser = _parsers.parser = etree.XMLParser(**_SAFE_PARSING)
    return parser


def _parse_refusing_dtd(data: bytes) -> etree._Element:
    """The libxml2 layer of the defence; it must hold even if the byte scan were bypassed."""
    from lxml import etree

    parser = _parser()
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc) from None
    _refuse_dtd_nodes(root)
    return root


def _parse_counting(data: bytes) -> etree._Element:
    """Parse through a pull parser fed in slices, stopping as soon as a count passes its limit.

    Elements, comments and processing instructions are counted as they arrive, and namespace
    declarations an element (each ``start-ns`` comes just before its element's ``start``).
    """
    from lxml import etree

    parser = etree.XMLPullParser(events=("start", "start-ns", "comment", "pi"), **_SAFE_PARSING)
    counter = _Counter()
    try:
        for start in range(0, len(data), _SLICE):
            parser.feed(data[start : start + _SLICE])
            counter.take(parser.read_events())
        root = parser.close()
        counter.take(parser.read_events())
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc) from None
    _refuse_dtd_nodes(root)
    return root


class _Counter:
    """Counts a pull parser's events against the limits, raising at the first one passed."""

    def __init__(self) -> None:
        self.nodes = 0
        self.declared = 0  # namespace declarations of the element about to start

    def take(self, events: Iterable[tuple[str, object]]) -> None:
        for event, _ in events:
            if event == "start-ns":
                self.declared += 1
                if self.declared > MAX_NAMESPACES_PER_ELEMENT:
                    raise _OverLimit(
                        f"an element has more than {MAX_NAMESPACES_PER_ELEMENT} "
                        "namespace declarations"
                    )
                continue
            if event == "start":
                self.declared = 0
            self.nodes += 1
            if self.nodes > MAX_ELEMENTS:
                raise _OverLimit(f"document has more than {MAX_ELEMENTS:,} elements")


def _syntax_error(exc: etree.XMLSyntaxError) -> UnsafeXml:
    # lxml-stubs lacks these attributes; lxml has had them for years.
    last = getattr(exc.error_log, "last_error", None)
    if getattr(last, "type_name", None) in _RESOURCE_LIMIT_ERRORS:
        # libxml2's own limits (256 levels, 10 MB a text node) are looser than ours: say ours.
        if "depth" in exc.msg.lower():
            return _OverLimit(f"document is nested deeper than {MAX_DEPTH} elements")
        if "text node" in exc.msg.lower():
            return _too_long_text()
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
