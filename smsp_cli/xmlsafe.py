"""Namespaces and the one hardened XML parser every module uses (spec §5.1).

lxml is imported lazily by callers through :func:`parse`, so importing this module is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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

MAX_BODY_BYTES = 10 * 1024 * 1024


class UnsafeXml(ValueError):
    """The document was refused: DOCTYPE, entity, too large or not well-formed XML."""


def parse(data: bytes, *, max_bytes: int = MAX_BODY_BYTES) -> etree._Element:
    """Parse bytes with DTDs, entities and network access refused; return the root element."""
    from lxml import etree

    if len(data) > max_bytes:
        raise UnsafeXml(f"document is {len(data)} bytes, over the {max_bytes}-byte limit")
    if not data.strip():
        raise UnsafeXml("document is empty")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise UnsafeXml(f"not well-formed XML: {exc.msg}") from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise UnsafeXml("document has a DOCTYPE, which smsp refuses")
    for _ in root.iter(etree.Entity):
        raise UnsafeXml("document uses an entity reference, which smsp refuses")
    return root
