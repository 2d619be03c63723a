"""parse_reply: official samples, odd-but-legal variations, faults, HTTP errors, hostile bodies."""

from __future__ import annotations

import datetime as dt
import string
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from smsp_cli.adapters.smsp import xmlsafe
from smsp_cli.adapters.smsp.replies import parse_reply
from smsp_cli.domain import errors, results
from smsp_cli.domain.errors import ExitCode
from smsp_cli.domain.operations import ReplyKind as Kind
from tests.conftest import reference_path

EXAMPLES = "requirements-pack/PDSMiniServices/Examples/PDSMiniServices"
TKW = "examples/tkw-stub-templates"

NHS_OID = "2.16.840.1.113883.2.1.4.1"
LOCAL_OID = "2.16.840.1.113883.2.1.3.2.4.18.24"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
WSA_NS = "http://www.w3.org/2005/08/addressing"
ITK_NS = "urn:nhs-itk:ns:201005"
HL7_NS = "urn:hl7-org:v3"


def reference(relative: str) -> bytes:
    """A file from ../shared/reference/smsp, read in place (never copied into the project)."""
    return reference_path(relative).read_bytes()


# The patient every official getPatientDetailsResponse sample carries.
JOHN_SMITH = results.Patient(
    nhs_number="9999345201",
    local_identifier=None,
    title=None,
    given_names=("John",),
    family_name="Smith",
    gender="male",
    birth_date="1989-01-01",
    death_date=None,
    addresses=(
        results.Address(
            use="home",
            lines=("41 Manor Grove", "Little Manorton", "Leeds", "", ""),
            postcode="LS17 7TR",
        ),
    ),
    telecoms=(),
    gp_practice=results.GpPractice(
        code="YT4",
        name="Grove GP Surgery",
        address=results.Address(
            use=None,
            lines=("2 High Street", "Little Manorton", "Leeds", "", ""),
            postcode="LS17 8TY",
        ),
        telephone=None,
    ),
)


# --- Builders for replies made up in the tests ---------------------------------------------------


def hl7_reply(kind: str, inner: str = "", *, code: str | None = "SMSP-0000") -> str:
    """A response payload (spec §3.4) with ``inner`` after the value element."""
    value = (
        ""
        if code is None
        else f'<value codeSystem="2.16.840.1.113883.2.1.3.2.4.17.285" code={quoteattr(code)}/>'
    )
    return (
        f'<{kind} xmlns="{HL7_NS}" classCode="OBS" moodCode="EVN">'
        '<id root="0D26BF4E-53FB-11E6-9B40-6C3BE5A63FA4"/>'
        f'<code codeSystem="2.16.840.1.113883.2.1.3.2.4.17.284" code="{kind}"/>'
        f"{value}{inner}</{kind}>"
    )


def patient_reply(patient: str, *, code: str = "SMSP-0000") -> str:
    inner = f'<subject typeCode="SBJ"><patient classCode="PAT">{patient}</patient></subject>'
    return hl7_reply(Kind.PATIENT_DETAILS.value, inner, code=code)


def nhs_id(number: str = "9434765919") -> str:
    return f'<id root="{NHS_OID}" extension="{number}"/>'


def distribution_envelope(payload: str, *, itk: str = "itk") -> str:
    return (
        f'<{itk}:DistributionEnvelope xmlns:{itk}="{ITK_NS}">'
        f'<{itk}:header service="urn:nhs-itk:services:201005:getNHSNumber-v1-0Response" '
        'trackingid="0D355F90-53FB-11E6-9B40-6C3BE5A63FA4">'
        f'<{itk}:manifest count="1"><{itk}:manifestitem id="uuid_1" mimetype="text/xml"/>'
        f"</{itk}:manifest></{itk}:header>"
        f'<{itk}:payloads count="1"><{itk}:payload id="uuid_1">{payload}'
        f"</{itk}:payload></{itk}:payloads></{itk}:DistributionEnvelope>"
    )


def soap_envelope(body: str, *, soap: str = "soap", message_id: str = "MSG-1") -> str:
    return (
        f'<{soap}:Envelope xmlns:{soap}="{SOAP_NS}" xmlns:wsa="{WSA_NS}">'
        f"<{soap}:Header><wsa:MessageID>{message_id}</wsa:MessageID>"
        "<wsa:Action>urn:nhs-itk:services:201005:getNHSNumber-v1-0Response</wsa:Action>"
        f"</{soap}:Header><{soap}:Body>{body}</{soap}:Body></{soap}:Envelope>"
    )


def wrapped(payload: str) -> bytes:
    return soap_envelope(distribution_envelope(payload)).encode()


def parse_patient(patient: str) -> results.Patient:
    reply = parse_reply(200, wrapped(patient_reply(patient)), expected=Kind.PATIENT_DETAILS)
    assert reply.patient is not None
    return reply.patient


def fault_body(
    error_code: str | None,
    *,
    faultcode: str = "soap:Client",
    error_text: str = "Profile ID is missing",
    qualified_parts: bool = False,
) -> str:
    part = "soap:" if qualified_parts else ""
    detail = (
        ""
        if error_code is None
        else f'<{part}detail><itk:ToolkitErrorInfo xmlns:itk="{ITK_NS}">'
        "<itk:ErrorID>7A3F6D2C-1111-4A3B-9C1D-2E3F4A5B6C7D</itk:ErrorID>"
        f'<itk:ErrorCode codeSystem="2.16.840.1.113883.2.1.3.2.4.17.268">{error_code}'
        "</itk:ErrorCode>"
        f"<itk:ErrorText>{escape(error_text)}</itk:ErrorText>"
        "<itk:ErrorDiagnosticText>DE_EMPPID</itk:ErrorDiagnosticText>"
        f"</itk:ToolkitErrorInfo></{part}detail>"
    )
    return (
        f"<soap:Fault><{part}faultcode>{faultcode}</{part}faultcode>"
        f"<{part}faultstring>A client related error has occurred</{part}faultstring>"
        f"<{part}faultactor>https://provider.example/smsp/pds</{part}faultactor>"
        f"{detail}</soap:Fault>"
    )


def raised(
    status: int,
    body: bytes,
    *,
    expected: Kind | None = None,
    content_type: str | None = None,
) -> errors.SmspError:
    with pytest.raises(errors.SmspError) as caught:
        parse_reply(status, body, expected=expected, content_type=content_type)
    return caught.value


# --- The official samples ------------------------------------------------------------------------


def test_official_verify_example_payload() -> None:
    reply = parse_reply(200, reference(f"{EXAMPLES}/COMT_EX000013GB01_01.xml"))
    assert reply.kind == "verifyNHSNumberResponse-v1-0"
    assert reply.response_code == "SMSP-0000"
    assert reply.verified is True
    assert reply.nhs_number == "9999345201"
    assert (reply.message_id, reply.patient, reply.local_identifier) == (None, None, None)


def test_official_get_nhs_number_example_payload() -> None:
    reply = parse_reply(
        200, reference(f"{EXAMPLES}/COMT_EX000014GB01_01.xml"), expected=Kind.NHS_NUMBER
    )
    assert (reply.kind, reply.response_code) == ("getNHSNumberResponse-v1-0", "SMSP-0000")
    assert (reply.nhs_number, reply.local_identifier) == ("9999345201", None)
    assert reply.verified is None


def test_official_patient_details_example_payload() -> None:
    reply = parse_reply(
        200, reference(f"{EXAMPLES}/COMT_EX000016GB01_01.xml"), expected=Kind.PATIENT_DETAILS
    )
    assert (reply.kind, reply.response_code) == ("getPatientDetailsResponse-v1-0", "SMSP-0000")
    assert reply.patient == JOHN_SMITH
    assert reply.nhs_number is None


def test_opentest_get_nhs_number_response() -> None:
    body = reference("examples/soap-envelopes/opentest_getNHSNumber_response.xml")
    reply = parse_reply(200, body, expected=Kind.NHS_NUMBER, content_type="text/xml")
    assert reply.message_id == "0D355CFC-53FB-11E6-9B40-6C3BE5A63FA4"
    assert reply.kind == "getNHSNumberResponse-v1-0"
    assert reply.response_code == "SMSP-0000"
    assert reply.nhs_number == "9473480032"
    assert reply.local_identifier is None


def test_inhealthcare_verify_response() -> None:
    body = reference("examples/soap-envelopes/inhealthcare_verifyNHSNumber_response.xml")
    reply = parse_reply(200, body, expected=Kind.VERIFY)
    assert reply.message_id == "4BEEA412-5FFA-48CC-A658-1236E0BC61C9"
    assert reply.response_code == "SMSP-0000"
    assert reply.verified is True
    assert reply.nhs_number == "9449310092"


@pytest.mark.parametrize(
    "name",
    [
        "getPatientDetailsByNHSNumber_QUPA_MT000003GB01.xml",
        "getPatientDetailsSearch_QUPA_MT000003GB01.xml",
    ],
)
def test_tkw_stub_success_distribution_envelopes(name: str) -> None:
    reply = parse_reply(200, reference(f"{TKW}/{name}"), expected=Kind.PATIENT_DETAILS)
    assert reply.response_code == "SMSP-0000"
    assert reply.patient == JOHN_SMITH
    assert reply.message_id is None  # a bare DE has no SOAP header


@pytest.mark.parametrize(
    "name",
    [
        "getPatientDetailsByNHSNumberResponse_DEMOG-0001.xml",
        "getPatientDetailsBySearchResponse_DEMOG-0001.xml",
    ],
)
def test_tkw_stub_business_errors_carry_only_the_code(name: str) -> None:
    reply = parse_reply(200, reference(f"{TKW}/{name}"), expected=Kind.PATIENT_DETAILS)
    assert reply.kind == "getPatientDetailsResponse-v1-0"
    assert reply.response_code == "DEMOG-0001"
    assert (reply.patient, reply.nhs_number, reply.verified) == (None, None, None)


@pytest.mark.parametrize(
    "wrapper", ["response_wrapper_no_timestamp.txt", "response_wrapper_with_timestamp.txt"]
)
def test_tkw_stub_de_inside_the_tkw_soap_wrappers(wrapper: str) -> None:
    de = reference(f"{TKW}/getPatientDetailsByNHSNumber_QUPA_MT000003GB01.xml").decode()
    template = reference(f"{TKW}/{wrapper}").decode()
    filled = (
        template.replace("__PAYLOAD_BODY__", de)
        .replace("__MESSAGEID__", "5F0C3A6E-0B1D-4C55-9E5A-7A1B2C3D4E5F")
        .replace(
            "__ACTION__", "urn:nhs-itk:services:201005:getPatientDetailsByNHSNumber-v1-0Response"
        )
        .replace("__TO_ADDRESS__", "")
        .replace("__TIMESTAMP__", "2016-07-27T11:10:23Z")
        .replace("__EXPIRES__", "2016-07-27T11:20:23Z")
        .replace("__ORIGINAL_MESSAGEID__", "B72F7785-534C-11E6-ADCA-29C651A3BE6F")
    )
    reply = parse_reply(200, filled.encode(), expected=Kind.PATIENT_DETAILS)
    assert reply.message_id == "5F0C3A6E-0B1D-4C55-9E5A-7A1B2C3D4E5F"
    assert reply.patient == JOHN_SMITH


def tkw_fault(error_code: str, error_text: str) -> bytes:
    """tk_test_error.xml with its placeholders filled, inside a SOAP 1.1 envelope."""
    template = reference(f"{TKW}/tk_test_error.xml").decode()
    fault = (
        template.replace("__ERRORID__", "9B1DEB4D-3B7D-4BAD-9BDD-2B0D7B3DCB6D")
        .replace("__ERRORCODE__", error_code)
        .replace("__ERRORTEXT__", error_text)
        .replace("__ERRORDETAIL__", "DE_EMPPID")
        .replace("__TRACKINGID__", "0D355F90-53FB-11E6-9B40-6C3BE5A63FA4")
    )
    return soap_envelope(fault).encode()


@pytest.mark.parametrize(
    ("error_code", "error_class", "exit_code"),
    [
        ("1000", errors.ProviderRejected, ExitCode.REJECTED),
        ("2100", errors.ProviderFailed, ExitCode.PROVIDER_FAILED),
        ("2200", errors.ProviderFailed, ExitCode.PROVIDER_FAILED),
        ("3000", errors.ProviderRejected, ExitCode.REJECTED),
    ],
)
def test_tkw_fault_template(
    error_code: str, error_class: type[errors.SmspError], exit_code: ExitCode
) -> None:
    error = raised(500, tkw_fault(error_code, "Profile ID is missing"))
    assert type(error) is error_class
    assert error.exit_code == exit_code
    assert error.fault == results.Fault(
        faultcode="Client",
        faultstring=(
            "A client related error has occurred, see detail element for further information"
        ),
        error_code=error_code,
        error_text="Profile ID is missing",
        error_id="9B1DEB4D-3B7D-4BAD-9BDD-2B0D7B3DCB6D",
        diagnostic="DE_EMPPID. TEST_HARNESS_ID:0D355F90-53FB-11E6-9B40-6C3BE5A63FA4",
    )


def test_fault_1000_message_names_code_title_and_text() -> None:
    error = raised(500, tkw_fault("1000", "Profile ID is missing"))
    assert error.message == "provider fault 1000 (Invalid Message): Profile ID is missing"


def test_bare_fault_template_is_recognised_too() -> None:
    template = reference(f"{TKW}/tk_test_error.xml").decode()
    error = raised(500, template.replace("__ERRORCODE__", "3000").encode())
    assert isinstance(error, errors.ProviderRejected)
    assert error.fault is not None
    assert error.fault.error_text == "__ERRORTEXT__"


def test_payload_is_the_hl7_element_alone_pretty_printed() -> None:
    body = reference("examples/soap-envelopes/opentest_getNHSNumber_response.xml")
    payload = parse_reply(200, body).payload
    assert payload.startswith(b"<getNHSNumberResponse-v1-0 ")
    assert not payload.startswith(b"<?xml")
    assert b"\n  <subject" in payload  # re-indented: the original is all on one line
    assert SOAP_NS.encode() not in payload
    assert ITK_NS.encode() not in payload
    root = xmlsafe.parse(payload)
    assert root.tag == f"{{{HL7_NS}}}getNHSNumberResponse-v1-0"
    assert root.find("hl7:subject/hl7:patient/hl7:id", xmlsafe.NS).get("extension") == "9473480032"


def test_payload_is_reindented_from_its_own_root() -> None:
    body = reference("examples/soap-envelopes/inhealthcare_verifyNHSNumber_response.xml")
    lines = parse_reply(200, body).payload.decode("utf-8").splitlines()
    assert lines[0].startswith("<verifyNHSNumberResponse-v1-0 ")
    assert lines[1] == '  <id root="7C81FCC1-E13A-4615-8DC6-B1E435BA0472"/>'
    assert lines[-1] == "</verifyNHSNumberResponse-v1-0>"


def test_payload_drops_namespace_declarations_it_does_not_use() -> None:
    body = reference(f"{TKW}/getPatientDetailsByNHSNumber_QUPA_MT000003GB01.xml")
    payload = parse_reply(200, body).payload
    assert xmlsafe.XSI.encode() not in payload
    assert payload.startswith(b'<getPatientDetailsResponse-v1-0 xmlns="urn:hl7-org:v3" ')


def test_payload_of_a_bare_example_keeps_what_it_uses() -> None:
    payload = parse_reply(200, reference(f"{EXAMPLES}/COMT_EX000016GB01_01.xml")).payload
    root = xmlsafe.parse(payload)
    assert root.get(f"{{{xmlsafe.XSI}}}schemaLocation", "").endswith("COMT_MT000016GB01.xsd")
    assert "Grove GP Surgery" in payload.decode("utf-8")


# --- Envelope variations -------------------------------------------------------------------------

TRACE = hl7_reply(
    Kind.NHS_NUMBER.value,
    f'<subject typeCode="SBJ"><patient classCode="PAT">{nhs_id()}'
    f'<id root="{LOCAL_OID}" extension="LOC-1"/></patient></subject>',
)

DEFAULT_NAMESPACES_EVERYWHERE = f"""<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="{SOAP_NS}">
  <Header><MessageID xmlns="{WSA_NS}">MSG-1</MessageID><To xmlns="{WSA_NS}"/></Header>
  <Body>
    <DistributionEnvelope xmlns="{ITK_NS}">
      <header service="urn:nhs-itk:services:201005:getNHSNumber-v1-0Response" trackingid="A"/>
      <payloads count="1"><payload id="uuid_1">{TRACE}</payload></payloads>
    </DistributionEnvelope>
  </Body>
</Envelope>"""

HL7_PREFIXED = soap_envelope(
    distribution_envelope(
        f'<h:getNHSNumberResponse-v1-0 xmlns:h="{HL7_NS}"><h:id root="X"/>'
        '<h:value code="SMSP-0000"/><h:subject><h:patient>'
        f'<h:id root="{LOCAL_OID}" extension="LOC-1"/>'
        f'<h:id root="{NHS_OID}" extension="9434765919"/>'
        "</h:patient></h:subject></h:getNHSNumberResponse-v1-0>"
    )
)

COMMENTS_AND_OPTIONAL_HEADERS = f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!-- leading comment -->
<S:Envelope xmlns:S="{SOAP_NS}" xmlns:a="{WSA_NS}" xmlns:wsse="{xmlsafe.WSSE}">
  <S:Header>
    <!-- header comment -->
    <a:To/>
    <a:Action>urn:nhs-itk:services:201005:getNHSNumber-v1-0Response</a:Action>
    <a:MessageID>  MSG-1  </a:MessageID>
    <a:RelatesTo>B72F7785-534C-11E6-ADCA-29C651A3BE6F</a:RelatesTo>
  </S:Header>
  <S:Body>
    <!-- body comment -->
    <I:DistributionEnvelope xmlns:I="{ITK_NS}">
      <I:header service="x" trackingid="y">
        <I:auditIdentity><I:id uri="urn:nhs-uk:identity:inhealthcare:smsp2:vnn"/></I:auditIdentity>
        <I:manifest count="1"><I:manifestitem id="uuid_1" mimetype="text/xml"/></I:manifest>
        <I:senderAddress uri="urn:nhs-uk:addressing:ods:INHC:SMSP"/>
      </I:header>
      <I:payloads count="1">
        <I:payload id="uuid_1">
          <!-- payload comment -->
          {TRACE}
        </I:payload>
      </I:payloads>
    </I:DistributionEnvelope>
  </S:Body>
</S:Envelope>"""

# The default namespace is redeclared at every level, including to "no namespace" and back.
REDECLARED_DEFAULTS = f"""<soap:Envelope xmlns:soap="{SOAP_NS}" xmlns="urn:something-else">
<soap:Header xmlns="{HL7_NS}"><MessageID xmlns="{WSA_NS}">MSG-1</MessageID></soap:Header>
<soap:Body xmlns="">
<itk:DistributionEnvelope xmlns:itk="{ITK_NS}" xmlns="{ITK_NS}">
<payloads count="1"><payload id="uuid_1">{TRACE}</payload></payloads>
</itk:DistributionEnvelope></soap:Body></soap:Envelope>"""

VARIANTS = {
    "SOAP-ENV prefix": soap_envelope(distribution_envelope(TRACE), soap="SOAP-ENV"),
    "s prefix, tk prefix": soap_envelope(distribution_envelope(TRACE, itk="tk"), soap="s"),
    "default namespace everywhere": DEFAULT_NAMESPACES_EVERYWHERE,
    "hl7 prefix, local id first": HL7_PREFIXED,
    "comments, optional headers": COMMENTS_AND_OPTIONAL_HEADERS,
    "redeclared defaults": REDECLARED_DEFAULTS,
}


@pytest.mark.parametrize("document", VARIANTS.values(), ids=VARIANTS.keys())
def test_envelope_variations_parse_alike(document: str) -> None:
    encoding = "iso-8859-1" if "ISO-8859-1" in document else "utf-8"
    reply = parse_reply(200, document.encode(encoding), expected=Kind.NHS_NUMBER)
    assert reply.kind == "getNHSNumberResponse-v1-0"
    assert reply.response_code == "SMSP-0000"
    assert reply.message_id == "MSG-1"
    assert (reply.nhs_number, reply.local_identifier) == ("9434765919", "LOC-1")


def test_utf16_encoded_reply() -> None:
    document = '<?xml version="1.0" encoding="UTF-16"?>' + soap_envelope(
        distribution_envelope(patient_reply(nhs_id() + "<name><family>Zoë</family></name>"))
    )
    reply = parse_reply(200, document.encode("utf-16"))
    assert reply.patient is not None
    assert reply.patient.family_name == "Zoë"


def test_mislabelled_content_type_does_not_stop_a_good_reply() -> None:
    reply = parse_reply(200, wrapped(TRACE), content_type="text/html; charset=ISO-8859-1")
    assert reply.nhs_number == "9434765919"


def test_envelope_without_header_has_no_message_id() -> None:
    body = (
        f'<soap:Envelope xmlns:soap="{SOAP_NS}">'
        f"<soap:Body>{distribution_envelope(TRACE)}</soap:Body></soap:Envelope>"
    )
    reply = parse_reply(200, body.encode())
    assert reply.message_id is None
    assert reply.nhs_number == "9434765919"


def test_hl7_payload_directly_in_the_soap_body_is_accepted() -> None:
    reply = parse_reply(200, soap_envelope(TRACE).encode())
    assert reply.nhs_number == "9434765919"


# --- Payload content (spec §3.5-3.7) -------------------------------------------------------------


@pytest.mark.parametrize(("flag", "verified"), [("true", True), ("false", False), ("yes", None)])
def test_verified_flag(flag: str, verified: bool | None) -> None:
    inner = (
        '<component typeCode="COMP"><validIdentifier classCode="OBS" moodCode="EVN">'
        f'<code code="VI"/><value value="{flag}"/><subject typeCode="SBJ"><patient>'
        f"{nhs_id('9449310092')}</patient></subject></validIdentifier></component>"
    )
    reply = parse_reply(200, wrapped(hl7_reply(Kind.VERIFY.value, inner)), expected=Kind.VERIFY)
    assert reply.verified is verified
    assert reply.nhs_number == "9449310092"


def test_verify_without_component_carries_neither_flag_nor_number() -> None:
    reply = parse_reply(200, wrapped(hl7_reply(Kind.VERIFY.value, code="DEMOG-0040")))
    assert (reply.response_code, reply.verified, reply.nhs_number) == ("DEMOG-0040", None, None)


def test_unknown_response_code_is_returned_raw() -> None:
    reply = parse_reply(200, wrapped(hl7_reply(Kind.NHS_NUMBER.value, code="SMSP-4242")))
    assert reply.response_code == "SMSP-4242"


def test_five_street_address_lines_keep_their_positions_blanks_as_empty_strings() -> None:
    patient = parse_patient(
        nhs_id() + '<addr use="H"><postalCode> LS1 4HR </postalCode>'
        "<streetAddressLine>  Flat 2  </streetAddressLine><streetAddressLine/>"
        "<streetAddressLine>   </streetAddressLine>"
        "<streetAddressLine>1 Park Row</streetAddressLine>"
        "<streetAddressLine>Leeds</streetAddressLine></addr>"
    )
    assert patient.addresses == (
        results.Address(use="home", lines=("Flat 2", "", "", "1 Park Row", "Leeds"),
                        postcode="LS1 4HR"),
    )


def test_a_line_sent_empty_in_the_middle_or_at_the_end_keeps_its_position() -> None:
    patient = parse_patient(
        nhs_id() + '<addr use="H"><postalCode>KT10 9JQ</postalCode>'
        "<streetAddressLine>LA SELVA</streetAddressLine><streetAddressLine/>"
        "<streetAddressLine>ESHER</streetAddressLine><streetAddressLine/></addr>"
    )
    assert patient.addresses[0].lines == ("LA SELVA", "", "ESHER", "")


def test_lines_not_sent_are_not_padded() -> None:
    patient = parse_patient(
        nhs_id() + '<addr use="H"><streetAddressLine/><streetAddressLine>1 Park Row'
        "</streetAddressLine></addr>"
    )
    assert patient.addresses[0].lines == ("", "1 Park Row")


def test_address_uses_are_mapped_and_others_kept_raw() -> None:
    lines = "<streetAddressLine>1 A Street</streetAddressLine>" + "<streetAddressLine/>" * 4
    patient = parse_patient(
        nhs_id()
        + "".join(
            f"<addr{use}><postalCode>LS1 1AA</postalCode>{lines}</addr>"
            for use in (' use="H"', ' use="TMP"', ' use="PST"', ' use="BAD"', "")
        )
    )
    assert [address.use for address in patient.addresses] == [
        "home",
        "temporary",
        "correspondence",
        "BAD",
        None,
    ]
    assert all(address.lines == ("1 A Street", "", "", "", "") for address in patient.addresses)


def test_blank_elements_give_empty_strings() -> None:
    patient = parse_patient(
        nhs_id()
        + "<name><prefix/><given/><family/></name>"
        + "<addr><postalCode/>"
        + "<streetAddressLine/>" * 5
        + "</addr>"
        + '<patientPerson><gPPractice><locationOrganization><id root="x" extension=""/><name/>'
        + "</locationOrganization></gPPractice></patientPerson>"
    )
    assert (patient.title, patient.given_names, patient.family_name) == ("", ("",), "")
    assert patient.addresses == (results.Address(use=None, lines=("",) * 5, postcode=""),)
    assert patient.gp_practice == results.GpPractice(code="", name="", address=None, telephone=None)


def test_absent_elements_give_none() -> None:
    patient = parse_patient(nhs_id() + "<name><given>Ann</given></name><addr/>")
    assert (patient.title, patient.family_name) == (None, None)
    assert patient.addresses == (results.Address(use=None, lines=(), postcode=None),)
    assert (patient.gender, patient.birth_date, patient.death_date) == (None, None, None)
    assert (patient.gp_practice, patient.local_identifier, patient.telecoms) == (None, None, ())


def test_no_name_at_all() -> None:
    patient = parse_patient(nhs_id())
    assert (patient.title, patient.given_names, patient.family_name) == (None, (), None)


def test_full_name_in_order_with_comments_inside() -> None:
    patient = parse_patient(
        nhs_id()
        + "<name use='L'><prefix>Dr</prefix><given> Mary </given><given>Jane</given>"
        + "<family>O'Br<!-- odd -->ien &amp; Co</family></name>"
    )
    assert patient.title == "Dr"
    assert patient.given_names == ("Mary", "Jane")
    assert patient.family_name == "O'Brien & Co"


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        ("1989", "1989"),
        ("198902", "1989-02"),
        ("19890213", "1989-02-13"),
        ("198902131230", "1989-02-13"),
        ("19890213123005.123+0000", "1989-02-13"),
        ("198902+0100", "1989-02"),
        (" 19890213 ", "1989-02-13"),
        ("19891332", "19891332"),
        ("19890230", "19890230"),
        ("1989-02-13", "1989-02-13"),
        ("13/02/1989", "13/02/1989"),
        ("19890", "19890"),
        ("", ""),
    ],
)
def test_dates_become_iso_partial_dates_or_stay_raw(value: str, iso: str) -> None:
    patient = parse_patient(
        nhs_id()
        + f'<patientPerson><birthTime value="{value}"/>'
        + f'<deceasedTime value="{value}"/></patientPerson>'
    )
    assert (patient.birth_date, patient.death_date) == (iso, iso)


def test_iso_looking_date_is_kept_raw_not_truncated_to_a_year() -> None:
    patient = parse_patient(
        nhs_id() + '<patientPerson><birthTime value="1989-02"/></patientPerson>'
    )
    assert patient.birth_date == "1989-02"  # raw; read as HL7 it would wrongly give "1989"


@pytest.mark.parametrize(
    ("code", "label"),
    [("0", "not-known"), ("1", "male"), ("2", "female"), ("9", "not-specified"), ("X", "X")],
)
def test_gender_codes(code: str, label: str) -> None:
    patient = parse_patient(
        nhs_id() + f'<patientPerson><administrativeGenderCode code="{code}" '
        'codeSystem="2.16.840.1.113883.2.1.3.2.4.16.25"/></patientPerson>'
    )
    assert patient.gender == label


def test_telecoms_as_sent_in_order() -> None:
    patient = parse_patient(
        nhs_id()
        + '<telecom use="H" value="tel:0113 496 0000"/>'
        + '<telecom use="MC" value="tel:+447700900123"/>'
        + '<telecom value="mailto:ann@example.org"/>'
        + '<telecom use="H" nullFlavor="NI"/>'
        + '<telecom use="HP WP" value="tel:01632960001"/>'
        + '<telecom use="XYZ" value="tel:01632960002"/>'
    )
    # The use in words, as addresses have it; a code smsp does not know is kept as sent.
    assert patient.telecoms == (
        results.Telecom(use="home", value="tel:0113 496 0000"),
        results.Telecom(use="mobile", value="tel:+447700900123"),
        results.Telecom(use=None, value="mailto:ann@example.org"),
        results.Telecom(use="primary-home work", value="tel:01632960001"),
        results.Telecom(use="XYZ", value="tel:01632960002"),
    )


def test_gp_practice_code_is_read_whatever_the_root() -> None:
    patient = parse_patient(
        nhs_id()
        + "<patientPerson><gPPractice><addr><postalCode>LS17 8TY</postalCode>"
        + "<streetAddressLine>2 High Street</streetAddressLine>"
        + "<streetAddressLine/>" * 4
        + '</addr><telecom value="tel:01132222222"/><locationOrganization>'
        + '<id root="2.16.840.1.113883.2.1.4.3" extension="H81109"/><name>The Surgery</name>'
        + "</locationOrganization></gPPractice></patientPerson>"
    )
    assert patient.gp_practice == results.GpPractice(
        code="H81109",
        name="The Surgery",
        address=results.Address(
            use=None, lines=("2 High Street", "", "", "", ""), postcode="LS17 8TY"
        ),
        telephone="tel:01132222222",
    )


def test_local_identifier_is_the_other_id_whatever_the_order() -> None:
    patient = parse_patient(f'<id root="1.3.5.7.9.24.68.1" extension="MRN-77"/>{nhs_id()}')
    assert (patient.nhs_number, patient.local_identifier) == ("9434765919", "MRN-77")


def test_first_of_several_ids_wins() -> None:
    patient = parse_patient(
        f'<id root="1.2.3" extension="FIRST"/>{nhs_id("9434765919")}'
        f'<id root="1.2.4" extension="SECOND"/>{nhs_id("9999345201")}'
    )
    assert (patient.nhs_number, patient.local_identifier) == ("9434765919", "FIRST")


def test_repeated_parts_give_the_first_and_lists_keep_every_one_in_order() -> None:
    patient = parse_patient(
        nhs_id()
        + '<name><given>Ann</given><prefix>Dr</prefix><!-- note --><family>Lee</family>'
        + "<given>May</given><prefix>Ms</prefix><family>Other</family><x:given "
        + 'xmlns:x="urn:elsewhere">Not HL7</x:given></name>'
        + "<name><prefix>Mr</prefix><given>Second</given></name>"
        + '<telecom value="tel:1"/><addr use="H"><postalCode>A1 1AA</postalCode></addr>'
        + '<telecom use="MC"/><telecom use="WP" value="tel:2"/>'
        + '<patientPerson><birthTime value="19700102"/><administrativeGenderCode code="1"/>'
        + '<birthTime value="19800101"/><administrativeGenderCode code="2"/>'
        + '<deceasedTime value="2020"/><deceasedTime value="2021"/></patientPerson>'
        + '<patientPerson><birthTime value="19990909"/></patientPerson>'
        + '<addr use="PST"><streetAddressLine>PO Box 1</streetAddressLine></addr>'
    )
    assert patient == results.Patient(
        nhs_number="9434765919",
        title="Dr",
        given_names=("Ann", "May"),
        family_name="Lee",
        gender="male",
        birth_date="1970-01-02",
        death_date="2020",
        addresses=(
            results.Address(use="home", lines=(), postcode="A1 1AA"),
            results.Address(use="correspondence", lines=("PO Box 1",), postcode=None),
        ),
        telecoms=(results.Telecom(use=None, value="tel:1"),
                  results.Telecom(use="work", value="tel:2")),
    )


def test_every_record_of_every_subject_is_counted_with_its_numbers() -> None:
    reply = parse_reply(200, wrapped(hl7_reply(
        Kind.PATIENT_DETAILS.value,
        f'<subject><patient>{nhs_id("9434765919")}</patient><patient>{nhs_id("9999345201")}'
        f'</patient></subject><subject><patient>{nhs_id("9876543210")}</patient></subject>',
    )))
    assert reply.records == 3
    assert reply.nhs_numbers == ("9434765919", "9999345201", "9876543210")


def test_a_fault_in_a_body_below_the_envelope_is_found_and_one_outside_a_body_is_not() -> None:
    # The TKW wrappers nest a second envelope: its Body's Fault is the reply's, found whatever
    # came before it; a Fault that is no Body's child is not one.
    inner = soap_envelope(fault_body("3000", error_text="Denied"))
    reply = (f'<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Header/><soap:Body><soap:Body/>'
             f"<wrapper>{inner}</wrapper></soap:Body></soap:Envelope>").encode()
    error = raised(200, reply)
    assert isinstance(error, errors.ProviderRejected)
    assert error.fault is not None
    assert error.fault.error_text == "Denied"
    stray = soap_envelope(f'<wrapper xmlns:soap="{SOAP_NS}">{fault_body("3000")}</wrapper>')
    assert "has no HL7 payload" in raised(200, stray.encode()).message


def test_the_header_s_first_message_id_and_every_relates_to_are_read() -> None:
    payload = distribution_envelope(patient_reply(nhs_id()))
    reply = parse_reply(200, (
        f'<soap:Envelope xmlns:soap="{SOAP_NS}" xmlns:wsa="{WSA_NS}"><soap:Header>'
        "<wsa:RelatesTo>A</wsa:RelatesTo><wsa:MessageID>FIRST</wsa:MessageID>"
        "<wsa:MessageID>SECOND</wsa:MessageID></soap:Header><soap:Header>"
        "<wsa:RelatesTo>B</wsa:RelatesTo></soap:Header>"
        f"<soap:Body>{payload}</soap:Body></soap:Envelope>").encode())
    assert (reply.message_id, reply.relates_to) == ("FIRST", ("A", "B"))


def test_get_nhs_number_with_echoed_local_identifier() -> None:
    reply = parse_reply(200, wrapped(TRACE), expected=Kind.NHS_NUMBER)
    assert (reply.nhs_number, reply.local_identifier, reply.patient) == (
        "9434765919",
        "LOC-1",
        None,
    )


def test_subject_without_patient_details_gives_no_patient() -> None:
    reply = parse_reply(200, wrapped(hl7_reply(Kind.PATIENT_DETAILS.value, "<subject/>")))
    assert reply.patient is None


def test_unknown_reply_type_without_expectation_is_returned_raw() -> None:
    reply = parse_reply(200, wrapped(hl7_reply("someOtherResponse-v1-0")))
    assert (reply.kind, reply.response_code, reply.patient) == (
        "someOtherResponse-v1-0",
        "SMSP-0000",
        None,
    )


# --- Unusable payloads ---------------------------------------------------------------------------


def test_wrong_reply_type_names_both() -> None:
    error = raised(200, wrapped(TRACE), expected=Kind.PATIENT_DETAILS)
    assert type(error) is errors.ProviderFailed
    assert error.exit_code == ExitCode.PROVIDER_FAILED
    assert "getPatientDetailsResponse-v1-0" in error.message
    assert "getNHSNumberResponse-v1-0" in error.message


@pytest.mark.parametrize(
    "payload",
    [
        hl7_reply(Kind.NHS_NUMBER.value, code=None),
        hl7_reply(Kind.NHS_NUMBER.value, code=""),
        hl7_reply(Kind.NHS_NUMBER.value, code=None).replace(
            "<code ", '<value codeSystem="x"/><code '
        ),
    ],
    ids=["no value element", "blank code", "value without code"],
)
def test_missing_response_code(payload: str) -> None:
    error = raised(200, wrapped(payload))
    assert type(error) is errors.ProviderFailed
    assert "no response code" in error.message


@pytest.mark.parametrize(
    ("document", "words"),
    [
        (soap_envelope(""), "SOAP Body is empty"),
        (f'<soap:Envelope xmlns:soap="{SOAP_NS}"/>', "without a Body"),
        (soap_envelope(distribution_envelope("")), "payload is empty"),
        (
            soap_envelope(f'<itk:DistributionEnvelope xmlns:itk="{ITK_NS}"/>'),
            "carries no itk:payload",
        ),
        (
            soap_envelope(
                '<getNHSNumberResponse-v1-0><value code="SMSP-0000"/></getNHSNumberResponse-v1-0>'
            ),
            "no HL7 payload",
        ),
        ("<html><body>hello</body></html>", "no HL7 payload"),
    ],
)
def test_reply_without_a_payload(document: str, words: str) -> None:
    error = raised(200, document.encode())
    assert type(error) is errors.ProviderFailed
    assert words in error.message


# --- Faults (spec §5.7) -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 200])
@pytest.mark.parametrize("faultcode", ["soap:Client", "Client", " SOAP-ENV:Client "])
@pytest.mark.parametrize(
    ("error_code", "error_class", "exit_code"),
    [
        ("1000", errors.ProviderRejected, 3),
        ("2100", errors.ProviderFailed, 4),
        ("2200", errors.ProviderFailed, 4),
        ("3000", errors.ProviderRejected, 3),
    ],
)
def test_faults_map_to_exceptions_whatever_the_status(
    status: int,
    faultcode: str,
    error_code: str,
    error_class: type[errors.SmspError],
    exit_code: int,
) -> None:
    error = raised(status, soap_envelope(fault_body(error_code, faultcode=faultcode)).encode())
    assert type(error) is error_class
    assert error.exit_code == exit_code
    assert error.fault is not None
    assert (error.fault.faultcode, error.fault.error_code) == ("Client", error_code)
    assert error.fault.error_text == "Profile ID is missing"
    assert error.fault.error_id == "7A3F6D2C-1111-4A3B-9C1D-2E3F4A5B6C7D"
    assert error.fault.diagnostic == "DE_EMPPID"
    assert error.message.startswith(f"provider fault {error_code} (")
    assert error.message.endswith("): Profile ID is missing")


def test_fault_2100_says_it_is_retryable() -> None:
    error = raised(500, soap_envelope(fault_body("2100", error_text="Spine busy")).encode())
    assert error.message == "provider fault 2100 (Processing Error (Retryable)): Spine busy"
    assert error.hint is not None
    assert error.hint.startswith("retryable")
    assert "retryable: " in error.one_line()


def test_fault_2200_is_not_called_retryable_in_the_hint() -> None:
    error = raised(500, soap_envelope(fault_body("2200")).encode())
    assert error.hint is None


def test_fault_with_qualified_parts_is_tolerated() -> None:
    error = raised(500, soap_envelope(fault_body("3000", qualified_parts=True)).encode())
    assert type(error) is errors.ProviderRejected
    assert error.fault is not None
    assert error.fault.faultstring == "A client related error has occurred"


def test_fault_with_unknown_error_code() -> None:
    error = raised(500, soap_envelope(fault_body("4040")).encode())
    assert type(error) is errors.ProviderFailed
    assert error.message == "provider fault 4040 (unknown error code): Profile ID is missing"


def test_fault_without_detail() -> None:
    error = raised(500, soap_envelope(fault_body(None, faultcode="soap:Server")).encode())
    assert type(error) is errors.ProviderFailed
    assert error.fault == results.Fault(
        faultcode="Server",
        faultstring="A client related error has occurred",
        actor="https://provider.example/smsp/pds",
    )
    assert "Server" in error.message
    assert "A client related error has occurred" in error.message


def test_fault_with_blank_error_code_is_treated_as_without_detail() -> None:
    error = raised(500, soap_envelope(fault_body(" ", faultcode="Server")).encode())
    assert type(error) is errors.ProviderFailed
    assert error.message == (
        "provider fault Server: Profile ID is missing (no ToolkitErrorInfo ErrorCode)"
    )


def test_fault_text_is_made_safe_for_one_terminal_line() -> None:
    hostile = "line one\nline\t\ttwo\u009b31m\u202e" + "x" * 5000
    error = raised(500, soap_envelope(fault_body("1000", error_text=hostile)).encode())
    assert error.fault is not None
    assert error.fault.error_text == hostile.strip()
    # Whitespace runs become one space; controls and bidi overrides become visible escapes.
    assert "line one line two\\x9b31m\\u202ex" in error.message
    assert len(error.message) < 400
    assert all(char.isprintable() for char in error.message)
    assert "\n" not in error.one_line()


def test_fault_wins_over_a_payload_in_the_same_body() -> None:
    body = soap_envelope(fault_body("1000") + distribution_envelope(TRACE)).encode()
    assert type(raised(200, body)) is errors.ProviderRejected


# --- HTTP status without a usable SOAP body (spec §5.6) ------------------------------------------

NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
XHTML_503 = (
    b'<?xml version="1.0" encoding="iso-8859-1"?>\n'
    b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
    b'"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
    b'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>503</title></head></html>'
)
TOMCAT_404 = b'<!DOCTYPE html><html lang="en"><head><title>HTTP Status 404</title></head></html>'


@pytest.mark.parametrize(
    ("status", "body", "content_type", "error_class", "words"),
    [
        (404, b"", None, errors.ProviderRejected, "HTTP 404 Not Found with an empty body"),
        (401, b"  \r\n", "text/plain", errors.ProviderRejected, "401 Unauthorized with an empty"),
        (499, b"", None, errors.ProviderRejected, "HTTP 499 with an empty body"),
        (403, TOMCAT_404, None, errors.ProviderRejected, "HTML page"),
        (404, TOMCAT_404, "text/html; charset=utf-8", errors.ProviderRejected, "text/html"),
        (
            500,
            b"<html><body><h1>Oops</h1><p>x<br></p></body></html>",
            "text/html",
            errors.ProviderFailed,
            "HTTP 500",
        ),
        (502, NGINX_502, None, errors.ProviderFailed, "HTTP 502 Bad Gateway"),
        (503, XHTML_503, None, errors.ProviderFailed, "503 Service Unavailable with an HTML"),
        (
            400,
            b"Rejected: <!ENTITY not allowed",
            "text/plain",
            errors.ProviderRejected,
            "text/plain",
        ),
        (503, b"Service Unavailable", "text/plain", errors.ProviderFailed, "HTTP 503"),
        (500, b"Internal error", None, errors.ProviderFailed, "not XML"),
        (302, b"", None, errors.ProviderFailed, "HTTP 302"),
        (599, b"", None, errors.ProviderFailed, "HTTP 599 with an empty body"),
    ],
)
def test_http_errors_without_soap_are_named_by_status(
    status: int,
    body: bytes,
    content_type: str | None,
    error_class: type[errors.SmspError],
    words: str,
) -> None:
    error = raised(status, body, content_type=content_type)
    assert type(error) is error_class
    assert error.exit_code == error_class.exit_code
    assert words in error.message
    assert error.fault is None


@pytest.mark.parametrize("status", [400, 500])
def test_http_error_with_soap_but_no_fault(status: int) -> None:
    error = raised(status, wrapped(TRACE))
    assert type(error) is (errors.ProviderRejected if status < 500 else errors.ProviderFailed)
    assert f"HTTP {status}" in error.message
    assert "no SOAP fault" in error.message


# --- Unusable or hostile bodies ------------------------------------------------------------------

XXE = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    + soap_envelope("&x;").encode()
)
LAUGHS = (
    b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
    b"<r>&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;</r>"
)
HOSTILE = {
    "doctype": b"<!DOCTYPE soap:Envelope>" + wrapped(TRACE),
    "xxe": XXE,
    "billion laughs": LAUGHS,
    "external dtd": b'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/x.dtd">' + wrapped(TRACE),
    "deep nesting": b"<a>" * 5000 + b"</a>" * 5000,
}


@pytest.mark.parametrize("status", [200, 500])
@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_xml_is_refused_as_unsafe_whatever_the_status(status: int, body: bytes) -> None:
    error = raised(status, body, content_type="text/xml")
    assert type(error) is errors.UnsafeReply
    assert error.exit_code == ExitCode.PROVIDER_FAILED
    assert f"HTTP {status}" in error.message
    assert "root:" not in error.message  # nothing of /etc/passwd


def test_undeclared_entity_is_malformed_so_an_http_error_is_named_by_status() -> None:
    body = soap_envelope("&xxe;").encode()
    assert type(raised(200, body)) is errors.UnsafeReply
    error = raised(500, body, content_type="text/xml")
    assert type(error) is errors.ProviderFailed
    assert "HTTP 500" in error.message


@pytest.mark.parametrize(
    "body", [b"", b"\n \t", b"hello", b'{"error": "x"}', b"<a><b></a>", NGINX_502]
)
def test_http_200_with_a_body_that_is_not_xml(body: bytes) -> None:
    error = raised(200, body)
    assert type(error) is errors.UnsafeReply
    assert error.exit_code == ExitCode.PROVIDER_FAILED
    assert "HTTP 200" in error.message


@pytest.mark.parametrize("status", [200, 500])
def test_oversized_body_is_refused(status: int) -> None:
    padding = b"<!--" + b"x" * xmlsafe.MAX_BODY_BYTES + b"-->"
    error = raised(status, wrapped(TRACE) + padding, content_type="text/xml")
    assert type(error) is errors.UnsafeReply
    assert "limit" in error.message


# --- Properties ----------------------------------------------------------------------------------


@given(status=st.integers(100, 599), body=st.binary(max_size=300))
def test_arbitrary_bytes_are_never_a_success(status: int, body: bytes) -> None:
    # Random bytes are no SMSP reply: always an smsp error, never a result. Anything else
    # (ValueError, KeyError, lxml errors...) would escape and fail the test too.
    with pytest.raises(errors.SmspError) as caught:
        parse_reply(status, body)
    assert caught.value.exit_code in {ExitCode.REJECTED, ExitCode.PROVIDER_FAILED}


XML_TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc", "Cn")) | st.sampled_from(" \t\n"),
    max_size=40,
)


@given(given_names=st.lists(XML_TEXT, max_size=2), family=XML_TEXT, postcode=XML_TEXT)
def test_arbitrary_names_round_trip(given_names: list[str], family: str, postcode: str) -> None:
    patient = parse_patient(
        nhs_id()
        + "<name>"
        + "".join(f"<given>{escape(name)}</given>" for name in given_names)
        + f"<family>{escape(family)}</family></name>"
        + f"<addr><postalCode>{escape(postcode)}</postalCode></addr>"
    )
    assert patient.given_names == tuple(name.strip() for name in given_names)
    assert patient.family_name == family.strip()
    assert patient.addresses[0].postcode == postcode.strip()


@given(st.dates())
def test_full_dates_round_trip(date: dt.date) -> None:
    hl7 = f"{date.year:04d}{date.month:02d}{date.day:02d}"
    patient = parse_patient(nhs_id() + f'<patientPerson><birthTime value="{hl7}"/></patientPerson>')
    # models.PartialDate refuses years before 1800, so those stay raw.
    assert patient.birth_date == (date.isoformat() if date.year >= 1800 else hl7)


@given(code=st.text(alphabet=string.ascii_uppercase + string.digits + "-", min_size=1, max_size=12))
def test_any_response_code_is_returned_raw(code: str) -> None:
    reply = parse_reply(200, wrapped(hl7_reply(Kind.NHS_NUMBER.value, code=code)))
    assert reply.response_code == code


@given(text=XML_TEXT)
def test_fault_messages_stay_single_printable_lines(text: str) -> None:
    error = raised(500, soap_envelope(fault_body("1000", error_text=text)).encode())
    assert all(char.isprintable() for char in error.one_line())


def test_parsed_payload_serialisation_is_parseable_xml() -> None:
    reply = parse_reply(200, wrapped(patient_reply(nhs_id() + "<name><family>Zoë</family></name>")))
    root = etree.fromstring(reply.payload)
    assert (
        root.findtext("hl7:subject/hl7:patient/hl7:name/hl7:family", namespaces=xmlsafe.NS) == "Zoë"
    )
