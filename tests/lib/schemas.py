"""Test helpers: validate XML against the official SMSP schemas in ../shared/reference/smsp.

The schemas are read where they lie, never copied into the project (architecture note 12); a
test that needs them is skipped, with the reason, when that folder is absent. Requests and
replies alike are checked in two parts, because the Distribution Envelope's payload is
``xs:any`` lax: the DE against ``distributionEnvelope-v2-0.xsd``, and the HL7 payload against
its own QUPA (request) or COMT (reply) schema.

    de, payload = split_envelope(body)
    assert_valid(de, DISTRIBUTION_ENVELOPE)
    assert_valid(payload, payload_schema(payload))

or, in one call, ``assert_valid_envelope(body)``.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

from lxml import etree

from smsp_cli.adapters.smsp import xmlsafe
from smsp_cli.domain import operations
from tests.conftest import REFERENCE as REFERENCE_DIR
from tests.conftest import reference_path

SCHEMAS_DIR = REFERENCE_DIR / "requirements-pack" / "PDSMiniServices" / "Schemas"

DISTRIBUTION_ENVELOPE = "distributionEnvelope-v2-0"
TOOLKIT_ERROR_INFO = "ITKMessageTypes-2010-05"  # itk:ToolkitErrorInfo, the SOAP fault detail

REPLY_SCHEMAS: dict[operations.ReplyKind, str] = {
    operations.ReplyKind.VERIFY: "COMT_MT000013GB01",
    operations.ReplyKind.NHS_NUMBER: "COMT_MT000014GB01",
    operations.ReplyKind.PATIENT_DETAILS: "COMT_MT000016GB01",
}

# HL7 payload root element name -> the schema that defines it (spec §2).
PAYLOAD_SCHEMAS: dict[str, str] = {
    **{operation.request_root: operation.schema for operation in operations.ALL},
    **{reply.value: schema for reply, schema in REPLY_SCHEMAS.items()},
}


def reference_dir() -> Path:
    """The shared reference folder; skips the calling test when it is absent."""
    return reference_path()


def reference_file(relative: str) -> Path:
    """A file under the reference folder, e.g. ``examples/soap-envelopes/x.xml``; else skip."""
    return reference_path(relative)


def schemas_dir() -> Path:
    """The official Schemas folder; skips the calling test when it is absent."""
    return reference_path(str(SCHEMAS_DIR.relative_to(REFERENCE_DIR)))


@functools.cache
def load_schema(name: str) -> etree.XMLSchema:
    """The compiled schema ``name`` (``QUPA_MT000002GB01`` or ``...GB01.xsd``), loaded once."""
    path = schemas_dir() / (name if name.endswith(".xsd") else f"{name}.xsd")
    if not path.is_file():
        raise LookupError(f"no schema {path.name} in {path.parent}")
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    # The base URL lets xsd:include resolve "../dt/..." relative to the schema file.
    document = etree.fromstring(path.read_bytes(), parser, base_url=path.as_uri())
    return etree.XMLSchema(document)


def payload_schema(payload: etree._Element) -> str:
    """The schema name for an HL7 payload, from its root element name."""
    name = etree.QName(payload).localname
    try:
        return PAYLOAD_SCHEMAS[name]
    except KeyError:
        raise AssertionError(f"no known SMSP schema defines a payload root {name!r}") from None


def schema_errors(element: etree._Element, schema_name: str) -> list[str]:
    """Every error ``schema_name`` finds in ``element`` (validated as a standalone document)."""
    schema = load_schema(schema_name)
    if schema.validate(_standalone(element)):
        return []
    # lxml-stubs declares the error log without its (long-standing) iteration.
    entries = cast("Iterable[Any]", schema.error_log)
    return [f"line {entry.line}: {entry.message}" for entry in entries]


def assert_valid(element: etree._Element, schema_name: str) -> None:
    """Fail with every schema error listed when ``element`` is not valid."""
    errors = schema_errors(element, schema_name)
    if errors:
        listed = "\n  ".join(errors)
        raise AssertionError(
            f"{etree.QName(element).localname} is not valid against {schema_name}:\n  {listed}"
        )


def split_envelope(body: bytes) -> tuple[etree._Element, etree._Element]:
    """The itk:DistributionEnvelope and its one HL7 payload, each as a standalone document.

    ``body`` is a SOAP envelope whose soap:Body holds the DE, or a bare DE (as in the TKW stub
    templates). It is read with the project's hardened parser, so a DOCTYPE fails here too.
    """
    root = xmlsafe.parse(body)
    is_bare_de = root.tag == f"{{{xmlsafe.ITK}}}DistributionEnvelope"
    de = root if is_bare_de else root.find("soap:Body/itk:DistributionEnvelope", xmlsafe.NS)
    if de is None:
        raise AssertionError("no itk:DistributionEnvelope under soap:Body")
    slots = de.findall("itk:payloads/itk:payload", xmlsafe.NS)
    if len(slots) != 1:
        raise AssertionError(f"expected one itk:payload, found {len(slots)}")
    payloads = [child for child in slots[0] if isinstance(child.tag, str)]
    if len(payloads) != 1:
        raise AssertionError(f"expected one element in itk:payload, found {len(payloads)}")
    return _standalone(de), _standalone(payloads[0])


def assert_valid_envelope(body: bytes) -> tuple[etree._Element, etree._Element]:
    """Validate the DE and its payload (schema chosen by root name); return both parts."""
    de, payload = split_envelope(body)
    assert_valid(de, DISTRIBUTION_ENVELOPE)
    assert_valid(payload, payload_schema(payload))
    return de, payload


def _standalone(element: etree._Element) -> etree._Element:
    # A deep copy is the root of a new document carrying the namespaces it uses, so it
    # validates exactly as it would have been sent alone; the tail belongs to the old parent.
    document = copy.deepcopy(element)
    document.tail = None
    return document
