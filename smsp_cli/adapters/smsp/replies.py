"""Turn what a provider sent back into a typed :class:`results.Reply`, or one SmspError.

:func:`parse_reply` makes its checks in a fixed order, so that each reply has one explanation:

1. empty body;
2. the XML is refused (oversized, DOCTYPE, entity, not well-formed): ``UnsafeReply``;
3. a SOAP 1.1 Fault anywhere in a ``soap:Body``, whatever the HTTP status (spec §5.7);
4. a non-2xx HTTP status without a fault: ``ProviderRejected`` for 4xx, ``ProviderFailed``
   otherwise, naming the status (spec §5.6);
5. the business payload (spec §3.4-3.7).

An HTTP error whose body is empty, not XML, or declared/sniffed as an HTML page has no usable
SOAP body, so steps 1 and 2 report it by its status rather than by its body. Hostile XML that
claims to be XML is refused as unsafe whatever the status.

The payload's contents are read by :mod:`smsp_cli.adapters.smsp.reply_payloads`, which keeps blank
and absent
distinct (spec §3.7).

Unknown response codes are returned raw: judging them is ``codes.lookup``'s job (spec §6.1).
"""

from __future__ import annotations

import contextlib
import functools
import http
from typing import TYPE_CHECKING

from smsp_cli.adapters.smsp import reply_payloads, xmlsafe
from smsp_cli.adapters.smsp.xmlsafe import NS, clark
from smsp_cli.domain import codes, errors, operations, results
from smsp_cli.untrusted.bounds import escaped_within
from smsp_cli.untrusted.sanitize import mask_identifiers

if TYPE_CHECKING:
    from lxml import etree

# Longest piece of provider text quoted in an error message; the Fault keeps the full text.
_QUOTE_LIMIT = 300

# An HTML error page shows itself early: look for these in the first bytes only.
_HTML_MARKERS = (b"<!doctype html", b"<html")
_HTML_SNIFF_BYTES = 512


def parse_reply(
    status_code: int,
    body: bytes,
    *,
    expected: operations.ReplyKind | None = None,
    content_type: str | None = None,
) -> results.Reply:
    """Parse one SMSP reply into a :class:`results.Reply`, or raise the SmspError it means.

    Raises ``UnsafeReply`` (exit 4) for refused XML, ``ProviderRejected`` (exit 3) for faults
    1000/3000 and HTTP 4xx, and ``ProviderFailed`` (exit 4) for faults 2100/2200/unknown/without
    detail, HTTP 5xx, a reply of another type than ``expected``, or a payload that cannot be
    found or has no response code. See the module docstring for the order of the checks.
    """
    if not body.strip():
        if _http_failed(status_code):
            raise _status_error(status_code, "an empty body")
        raise errors.UnsafeReply(f"provider sent an empty reply (HTTP {status_code})")
    root = _parse_xml(status_code, body, content_type)
    fault = _find_fault(root)
    if fault is not None:
        raise _fault_error(_read_fault(fault))
    if _http_failed(status_code):
        raise _status_error(status_code, "no SOAP fault")
    return _read_business_reply(root, expected)


# --- Steps 1-2: the body and the XML ------------------------------------------------------------


def _parse_xml(status_code: int, body: bytes, content_type: str | None) -> etree._Element:
    try:
        return xmlsafe.parse(body)
    except xmlsafe.UnsafeXml as exc:
        if _http_failed(status_code) and _is_error_page(exc, body, content_type):
            raise _status_error(status_code, _describe_body(body, content_type)) from None
        raise errors.UnsafeReply(
            f"provider reply (HTTP {status_code}) refused: {_quote(str(exc))}",
            hint="the reply was not used; report it to the provider",
        ) from None


def _http_failed(status_code: int) -> bool:
    return not 200 <= status_code < 300


def _is_error_page(exc: xmlsafe.UnsafeXml, body: bytes, content_type: str | None) -> bool:
    """True when an HTTP error's body is just not XML, rather than hostile XML."""
    return (
        isinstance(exc, xmlsafe.MalformedXml)
        or _declared_not_xml(content_type)
        or _looks_like_html(body)
    )


def _declared_not_xml(content_type: str | None) -> bool:
    media_type = _media_type(content_type)
    return media_type is not None and "xml" not in media_type


def _looks_like_html(body: bytes) -> bool:
    head = body[:_HTML_SNIFF_BYTES].lower()
    return any(marker in head for marker in _HTML_MARKERS)


def _media_type(content_type: str | None) -> str | None:
    if content_type is None:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def _describe_body(body: bytes, content_type: str | None) -> str:
    media_type = _media_type(content_type)
    if media_type is not None:
        return f"a {_quote(media_type)} body, not SOAP"
    if _looks_like_html(body):
        return "an HTML page, not SOAP"
    return "a body that is not XML"


# --- Steps 3-4: faults and HTTP status ----------------------------------------------------------


def _status_error(status_code: int, what: str) -> errors.SmspError:
    """ITK-WS §7.2: transport errors come as HTTP 4xx/5xx without a SOAP body (spec §5.6)."""
    status = f"HTTP {status_code}"
    with contextlib.suppress(ValueError):
        status += f" {http.HTTPStatus(status_code).phrase}"
    if 400 <= status_code < 500:
        return errors.ProviderRejected(
            f"provider rejected the request: {status} with {what}", http_status=status_code
        )
    if status_code >= 500:
        return errors.ProviderFailed(
            f"provider failed: {status} with {what}", http_status=status_code
        )
    return errors.ProviderFailed(
        f"provider answered with unexpected {status} with {what}", http_status=status_code
    )


def _find_fault(root: etree._Element) -> etree._Element | None:
    """The first ``soap:Body/soap:Fault`` anywhere, or the root itself if it is a bare Fault."""
    if root.tag == _FAULT:
        return root
    # What find(".//soap:Body/soap:Fault") finds: the first Fault child of the first Body
    # below the root (document order) that has one; iter() matches the tag in C.
    for body in root.iter(_BODY):
        if body is not root:
            fault = next(body.iterchildren(_FAULT), None)
            if fault is not None:
                return fault
    return None


def _read_fault(fault: etree._Element) -> results.Fault:
    """Read a SOAP 1.1 fault and its ``itk:ToolkitErrorInfo`` detail (spec §5.7)."""
    detail = _soap_fault_part(fault, "detail")
    info = None if detail is None else detail.find(".//itk:ToolkitErrorInfo", NS)
    return results.Fault(
        faultcode=_local_part(reply_payloads.text(_soap_fault_part(fault, "faultcode")) or ""),
        faultstring=reply_payloads.text(_soap_fault_part(fault, "faultstring")) or "",
        error_id=_toolkit_field(info, "ErrorID"),
        error_code=_toolkit_field(info, "ErrorCode"),
        error_text=_toolkit_field(info, "ErrorText"),
        diagnostic=_toolkit_field(info, "ErrorDiagnosticText"),
        actor=reply_payloads.text(_soap_fault_part(fault, "faultactor")),
    )


def _soap_fault_part(fault: etree._Element, name: str) -> etree._Element | None:
    # SOAP 1.1 fault children are unqualified; some toolkits qualify them anyway.
    return _child_qualified_or_not(fault, "soap", name)


def _toolkit_field(info: etree._Element | None, name: str) -> str | None:
    if info is None:
        return None
    return reply_payloads.text(_child_qualified_or_not(info, "itk", name))


def _child_qualified_or_not(
    parent: etree._Element, prefix: str, name: str
) -> etree._Element | None:
    found = parent.find(name)
    return found if found is not None else parent.find(f"{prefix}:{name}", NS)


def _local_part(qname: str) -> str:
    """``soap:Client`` and ``Client`` both give ``Client``."""
    return qname.rsplit(":", 1)[-1]


def _fault_error(fault: results.Fault) -> errors.SmspError:
    """Map a ToolkitErrorInfo ErrorCode to an exception (ToolkitSOAPErrorCodes, spec §5.7)."""
    text = _quote(fault.error_text or fault.faultstring or "no error text")
    if not fault.error_code:
        return errors.ProviderFailed(
            f"provider fault {_quote(fault.faultcode or 'without faultcode')}: {text} "
            "(no ToolkitErrorInfo ErrorCode)",
            fault=fault,
        )
    known = codes.FAULT_CODES.get(fault.error_code)
    if known is None:
        return errors.ProviderFailed(
            f"provider fault {_quote(fault.error_code)} (unknown error code): {text}", fault=fault
        )
    title, exit_code = known
    message = f"provider fault {fault.error_code} ({title}): {text}"
    rejected = exit_code is errors.ExitCode.REJECTED
    error_class = errors.ProviderRejected if rejected else errors.ProviderFailed
    return error_class(message, hint=_FAULT_HINTS.get(fault.error_code), fault=fault)


_FAULT_HINTS = {
    "2100": "retryable: the provider says the same request may succeed later",
    "3000": "access denied: check the client certificate, username and audit identity",
}


# --- Step 5: the business payload ---------------------------------------------------------------


def _read_business_reply(
    root: etree._Element, expected: operations.ReplyKind | None
) -> results.Reply:
    payload = _locate_payload(root)
    kind = xmlsafe.local_name(payload)
    if expected is not None and kind != expected.value:
        raise errors.ProviderFailed(
            f"expected a {expected.value} reply but the provider sent {_quote(kind)}"
        )
    response_code = _response_code(payload, kind)
    message_id = _message_id(root)
    carried = reply_payloads.read_payload(payload, kind)
    return results.Reply(
        kind=kind,
        response_code=response_code,
        message_id=message_id,
        verified=carried.verified,
        nhs_number=carried.nhs_number,
        local_identifier=carried.local_identifier,
        patient=carried.patient,
        relates_to=_relates_to(root),
        nhs_numbers=carried.nhs_numbers,
        records=carried.records,
        serialise_payload=functools.partial(_serialise, payload),
    )


def _locate_payload(root: etree._Element) -> etree._Element:
    """Find the HL7 payload: in a SOAP envelope, in a bare DE (TKW stubs), or bare (Examples).

    Spec §5.1: ``soap:Envelope/soap:Body/itk:DistributionEnvelope/itk:payloads/itk:payload/*``.
    """
    container = root
    if root.tag == _ENVELOPE:
        body = next(root.iterchildren(_BODY), None)
        if body is None:
            raise errors.ProviderFailed("provider reply is a SOAP envelope without a Body")
        container = _first_element(body, "the SOAP Body is empty")
    if container.tag == _DISTRIBUTION_ENVELOPE:
        slot = _first_at(container, _PAYLOAD_SLOT)
        if slot is None:
            raise errors.ProviderFailed("the Distribution Envelope carries no itk:payload")
        container = _first_element(slot, "the Distribution Envelope payload is empty")
    if xmlsafe.namespace(container) != xmlsafe.HL7:
        raise errors.ProviderFailed(
            f"provider reply has no HL7 payload: found {_quote(xmlsafe.local_name(container))} "
            f"in namespace {_quote(xmlsafe.namespace(container) or 'none')}"
        )
    return container


def _first_element(parent: etree._Element, when_missing: str) -> etree._Element:
    children = xmlsafe.elements(parent)
    if not children:
        raise errors.ProviderFailed(f"provider reply unusable: {when_missing}")
    return children[0]


def _response_code(payload: etree._Element, kind: str) -> str:
    """The business outcome is ``value/@code`` (spec §3.4); a blank code is no code."""
    value = next(payload.iterchildren(_VALUE), None)
    code = None if value is None else reply_payloads.attribute(value, "code")
    if not code:
        raise errors.ProviderFailed(f"provider reply {_quote(kind)} has no response code")
    return code


def _message_id(root: etree._Element) -> str | None:
    if root.tag != _ENVELOPE:
        return None
    return reply_payloads.text(_first_at(root, _MESSAGE_ID))


def _relates_to(root: etree._Element) -> tuple[str, ...]:
    """Every wsa:RelatesTo of the SOAP header: the MessageIDs the reply says it answers."""
    if root.tag != _ENVELOPE:
        return ()
    found = (element for header in root.iterchildren(_HEADER)
             for element in header.iterchildren(_RELATES_TO))
    return tuple(value for element in found if (value := reply_payloads.text(element)))


def _first_at(parent: etree._Element, steps: tuple[str, str]) -> etree._Element | None:
    """What find("a/b") finds: the first b child of the first a child that has one."""
    outer, inner = steps
    for step in parent.iterchildren(outer):
        found = next(step.iterchildren(inner), None)
        if found is not None:
            return found
    return None


_ENVELOPE, _HEADER, _BODY, _FAULT = map(clark, ("soap:Envelope", "soap:Header", "soap:Body",
                                               "soap:Fault"))
_DISTRIBUTION_ENVELOPE = clark("itk:DistributionEnvelope")
_PAYLOAD_SLOT = (clark("itk:payloads"), clark("itk:payload"))
_MESSAGE_ID = (_HEADER, clark("wsa:MessageID"))
_RELATES_TO = clark("wsa:RelatesTo")
_VALUE = clark("hl7:value")


def _serialise(payload: etree._Element) -> bytes:
    """The payload alone, re-indented, with only the namespaces it uses, for ``--output xml``."""
    import copy

    from lxml import etree

    alone = copy.deepcopy(payload)
    alone.tail = None
    etree.cleanup_namespaces(alone)
    etree.indent(alone, space="  ")
    return etree.tostring(alone, encoding="utf-8", pretty_print=True)


# --- Small helpers ------------------------------------------------------------------------------


def _quote(text: str) -> str:
    """Provider text made safe for one line: identifiers masked, controls escaped, bounded.

    A fault string may echo the patient, and stderr never shows a patient's identifiers, so
    NHS numbers and dates are masked here, where the text enters an error message, with or
    without -v (:func:`smsp_cli.untrusted.sanitize.mask_identifiers`).
    """
    head = mask_identifiers(" ".join(text[: _QUOTE_LIMIT * 2].split()))
    shown, taken = escaped_within(head, _QUOTE_LIMIT)
    if taken < len(head) or len(text) > _QUOTE_LIMIT * 2:
        # Cut between whole escapes, never inside one (\x1b is one character shown).
        shown = escaped_within(head, _QUOTE_LIMIT - 1)[0] + "…"
    return shown
