"""Redaction: no patient data survives, and the structure a support engineer needs does."""

from __future__ import annotations

import re

import pytest

from smsp_cli import service
from smsp_cli.domain import operations
from smsp_cli.domain.models import build_query
from smsp_cli.output import redact
from smsp_cli.sandbox.certs import SandboxCredentials
from smsp_cli.sandbox.embedded import settings_for
from smsp_cli.sandbox.server import SandboxServer
from smsp_cli.settings import connection as settings_module
from smsp_cli.transport.trace import Trace
from tests.lib.cli import smsp

NHS = "9991000003"
REQUESTS = {
    "verify": (
        "verify",
        NHS,
        "--dob",
        "1984-03-14",
        "--family",
        "Fairweather",
        "--given",
        "Eleanor",
    ),
    "get": (
        "get",
        NHS,
        "--dob",
        "1984-03-14",
        "--family",
        "Fairweather",
        "--local-id",
        "1.2.826.0.1285.0.2.0.99:LOC778812",
    ),
    "search": (
        "search",
        "--family",
        "Fairweather",
        "--given",
        "Eleanor",
        "--dob",
        "1984-03-14",
        "--gender",
        "f",
        "--postcode",
        "BO1 4QX",
        "--local-id",
        "LOC778812",
    ),
    "trace": (
        "trace",
        "--family",
        "Fairweather",
        "--dob",
        "1984-03",
        "--gender",
        "f",
        "--postcode",
        "BO1 4QX",
    ),
    "details": (
        "details",
        "--dob",
        "1984-03-14",
        "--family",
        "Fairweather",
        "--given",
        "Eleanor",
        "--gender",
        "f",
        "--postcode",
        "BO1 4QX",
    ),
}
INPUTS = ("9991000003", "Fairweather", "Eleanor", "19840314", "198403", "BO1 4QX", "LOC778812")
RECORD = (
    "9991000003",
    "Fairweather",
    "Eleanor",
    "Mary",
    "Mrs",
    "19840314",
    "BO1 4QX",
    "BO9 2HT",
    "Rose Cottage",
    "12 Orchard Way",
    "Borsetshire",
    "PO Box 17",
    "tel:01632960184",
    "tel:07700900184",
    "mailto:eleanor.fairweather@example.com",
    "Ambridge Village Surgery",
    "The Surgery",
    "BO2 7AA",
    "tel:01632960001",
)


@pytest.mark.usefixtures("sandbox_env")
@pytest.mark.parametrize("command", sorted(REQUESTS))
def test_requests_keep_structure_and_lose_every_input(command: str) -> None:
    run = smsp(*REQUESTS[command], "--dry-run")
    assert run.exit_code == 0, run.stderr
    body = run.stdout.encode("utf-8")
    assert any(value in run.stdout for value in INPUTS)  # the inputs were there to begin with
    text = redact.envelope(body)
    assert [value for value in INPUTS if value in text] == []
    # What support needs stays: ids, action, timestamps, the system's identity, the labels.
    for kept in (
        "<wsa:MessageID>",
        "urn:nhs-itk:services:201005:",
        "<wsu:Created>",
        "smsp sandbox client",
        "999000000001",
        "<semanticsText>Person.",
    ):
        assert kept in text


def _reply(sandbox: SandboxServer, credentials: SandboxCredentials, **query: str) -> bytes:
    """The sandbox's real reply body to one verify (or, with ``family``, get) request."""
    values = settings_module.gather(
        {}, env={}, profile_values=settings_for(sandbox.url, credentials)
    )
    operation = operations.GET if "family" in query else operations.VERIFY
    trace = Trace()
    service.call(build_query(operation, **query), settings_module.resolve(values), trace=trace)
    assert trace.response_body
    return trace.response_body


def test_a_full_patient_record_is_redacted(
    sandbox: SandboxServer, credentials: SandboxCredentials
) -> None:
    body = _reply(sandbox, credentials, nhs_number=NHS, dob="1984-03-14", family="Fairweather")
    assert all(value.encode() in body for value in RECORD)
    text = redact.envelope(body, pretty=True)
    assert [value for value in RECORD if value in text] == []
    payload = text[text.index("<itk:payload ") : text.index("</itk:payload>")]
    # No run of digits is left in the payload outside OIDs (a date, a number, a phone).
    assert not re.search(r"\d{6,}", re.sub(r'(root|codeSystem|id)="[^"]*"', "", payload))
    # Structure, response code, gender code and the GP practice's ODS code remain.
    for kept in (
        'code="SMSP-0000"',
        '<administrativeGenderCode code="2"',
        'extension="Y12345"',
        '<addr use="H">',
        '<telecom use="MC" value="[redacted]"/>',
        "<birthTime",
    ):
        assert kept in text


def test_a_verify_answer_keeps_its_yes_or_no(
    sandbox: SandboxServer, credentials: SandboxCredentials
) -> None:
    text = redact.envelope(_reply(sandbox, credentials, nhs_number=NHS, dob="1984-03-14"))
    assert '<value value="true"/>' in text
    assert NHS not in text


def test_a_fault_keeps_its_codes_and_loses_quoted_numbers() -> None:
    body = b"""<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
      <soap:Body><soap:Fault><faultcode>soap:Client</faultcode>
        <faultstring>NHS number 9991000003 is not valid</faultstring>
        <detail><itk:ToolkitErrorInfo xmlns:itk="urn:nhs-itk:ns:201005">
          <itk:ErrorID>8E4AB6FD-0000-4000-8000-000000000000</itk:ErrorID>
          <itk:ErrorCode codeSystem="2.16.840.1.113883.2.1.3.2.4.17.268">1000</itk:ErrorCode>
          <itk:ErrorText>Invalid Message</itk:ErrorText>
          <itk:ErrorDiagnosticText>born 19840314</itk:ErrorDiagnosticText>
        </itk:ToolkitErrorInfo></detail></soap:Fault></soap:Body></soap:Envelope>"""
    text = redact.envelope(body)
    assert "9991000003" not in text
    assert "19840314" not in text
    assert "NHS number [redacted] is not valid" in text
    assert ">1000</itk:ErrorCode>" in text
    assert "Invalid Message" in text


def test_unknown_payload_content_is_redacted_by_default() -> None:
    body = b"""<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
        xmlns:itk="urn:nhs-itk:ns:201005"><soap:Body><itk:DistributionEnvelope><itk:payloads>
        <itk:payload id="uuid_1"><x:new xmlns:x="urn:example" nickname="Nellie">Fairweather
        <!-- Eleanor --><x:deeper note="BO1 4QX">tail text</x:deeper> after</x:new>
        <hl7:future xmlns:hl7="urn:hl7-org:v3" mothersMaidenName="Smith" classCode="PSN"/>
        </itk:payload></itk:payloads></itk:DistributionEnvelope></soap:Body></soap:Envelope>"""
    text = redact.envelope(body)
    for value in ("Nellie", "Fairweather", "Eleanor", "BO1 4QX", "tail text", "after", "Smith"):
        assert value not in text
    assert 'classCode="PSN"' in text
    assert 'id="uuid_1"' in text


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body><h1>502 Bad Gateway</h1><p>patient 9991000003 Fairweather</p></body>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "Fairweather">]><x a="9991000003">&e;</x>',
        b"<broken><given>Fairweather</given><value extension='9991000003'>",
    ],
    ids=["html", "doctype", "truncated"],
)
def test_a_body_that_does_not_parse_is_redacted_conservatively(body: bytes) -> None:
    text = redact.envelope(body)
    assert "9991000003" not in text
    assert "Fairweather" not in text
    assert "<" in text  # the markup still shows the shape


def test_a_body_that_is_not_markup_is_not_shown() -> None:
    assert redact.envelope(b"Fairweather 9991000003") == "[redacted] (22 bytes, not XML)"


def test_headers_keep_the_plain_ones_and_hide_secrets() -> None:
    shown = dict(
        redact.headers(
            [
                ("Content-Type", "text/xml"),
                ("Server", "nginx/1.10.1"),
                ("Content-Length", "12345678"),
                ("Authorization", "Basic c2VjcmV0"),
                ("Set-Cookie", "id=1"),
                ("X-Patient", "9991000003"),
            ]
        )
    )
    assert shown["Content-Type"] == "text/xml"
    assert shown["Content-Length"] == "12345678"
    # The scheme is kept, the credential never: "Bearer [redacted]" with -v.
    assert shown["Authorization"] == "Basic [redacted]"
    assert shown["Set-Cookie"] == "[redacted]"
    assert dict(redact.headers([("Authorization", "Bearer abc123")])) == {
        "Authorization": "Bearer [redacted]"}
    assert shown["X-Patient"] == "[redacted]"


def test_fault_free_text_loses_nhs_numbers_and_dates_in_any_form() -> None:
    body = (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        b"<soap:Fault><faultcode>soap:Client</faultcode>"
        b"<faultstring>no 999 100 0003, born 1984-03-14 (14/03/1984)</faultstring>"
        b"</soap:Fault></soap:Body></soap:Envelope>"
    )
    shown = redact.envelope(body)
    assert "no [redacted], born [redacted] ([redacted])" in shown
    for value in ("0003", "1984", "03-14"):
        assert value not in shown
