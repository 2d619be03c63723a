"""The sandbox's strict request checks (spec §5, §3): fault, SMSP-0001, or a valid request.

Requests are built by the real envelope builder and then broken one rule at a time with lxml,
so each test shows that exactly that rule is enforced.
"""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree

from smsp_cli.adapters.smsp import xmlsafe
from smsp_cli.adapters.smsp.envelope import EnvelopeSettings, build_request
from smsp_cli.domain import models
from smsp_cli.domain.operations import DETAILS, GET, SEARCH, TRACE, VERIFY, Operation
from smsp_cli.sandbox import checks, envelope_checks
from smsp_cli.sandbox.matching import Criteria
from smsp_cli.settings.identity import ASID_TYPE, AuditId
from tests.lib.xmledit import DE, DE_HEADER, ITEM, Edit, drop, find, set_attribute, set_text

NOW = dt.datetime(2024, 3, 1, 9, 30, 15, tzinfo=dt.UTC)
CN = "smsp sandbox client"
ASID = "999000000001"
SETTINGS = EnvelopeSettings(
    endpoint="https://127.0.0.1:8443/smsp/pds",
    username=CN,
    audit_identity=(AuditId(ASID, ASID_TYPE),),
)
# One valid set of fields per operation (the "found" sandbox patient).
FIELDS: dict[Operation, dict[str, str]] = {
    VERIFY: {"dob": "1984-03-14", "nhs_number": "9991000003"},
    GET: {"dob": "1984-03-14", "nhs_number": "9991000003", "local_id": "MRN-1"},
    SEARCH: {"dob": "1984-03-14", "gender": "female", "family": "Fairweather", "given": "Eleanor"},
    TRACE: {"dob": "1984-03", "gender": "female", "family": "Fair*", "postcode": "BO1 4QX"},
    DETAILS: {"dob": "1984-03-14", "gender": "female", "family": "Fairweather",
              "given": "Eleanor"},
}

def build(operation: Operation = GET, **fields: str) -> bytes:
    query = models.build_query(operation, today=NOW.date(), **(fields or FIELDS[operation]))
    return build_request(query, SETTINGS, now=NOW).body


def edit(body: bytes, change: Edit) -> bytes:
    root = etree.fromstring(body)
    change(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def check(
    body: bytes, operation: Operation = GET, *, soap_action: str | None = None,
    client_cn: str | None = CN, now: dt.datetime = NOW + dt.timedelta(seconds=5),
) -> checks.CheckResult:
    action = operation.service if soap_action is None else soap_action
    return checks.check_request(body, soap_action=action, client_cn=client_cn, now=now)


HEADER = "soap:Header"
PAYLOAD = f"{DE}/itk:payloads/itk:payload/*"
QUERY = f"{PAYLOAD}/hl7:queryEvent"


def expect_fault(result: checks.CheckResult, code: str = "1000") -> checks.EnvelopeProblem:
    assert isinstance(result, checks.EnvelopeProblem), result
    assert result.error_code == code
    return result


def expect_smsp_0001(result: checks.CheckResult) -> checks.PayloadProblem:
    assert isinstance(result, checks.PayloadProblem), result
    return result


def expect_valid(result: checks.CheckResult) -> checks.ValidRequest:
    assert isinstance(result, checks.ValidRequest), result
    return result


# --- Valid requests --------------------------------------------------------------------------


@pytest.mark.parametrize("operation", [VERIFY, GET, SEARCH, TRACE, DETAILS], ids=lambda o: o.name)
def test_a_request_from_the_envelope_builder_is_valid_for_every_operation(
    operation: Operation,
) -> None:
    valid = expect_valid(check(build(operation), operation))
    assert valid.envelope.operation is operation


def test_a_valid_request_yields_the_ids_and_audit_identity_for_the_record() -> None:
    body = build(GET)
    root = etree.fromstring(body)
    valid = expect_valid(check(body))
    assert valid.envelope.message_id == find(root, f"{HEADER}/wsa:MessageID").text
    assert valid.envelope.tracking_id == find(root, DE_HEADER).get("trackingid")
    assert valid.envelope.username == CN
    assert valid.envelope.audit_ids == (AuditId(ASID, ASID_TYPE),)


def test_criteria_carry_the_wire_values() -> None:
    valid = expect_valid(check(build(GET)))
    assert valid.criteria == Criteria(
        nhs_number="9991000003", birth_date="19840314", local_id="MRN-1",
        local_id_root=models.LOCAL_PERSON_ID_OID,
    )


def test_trace_criteria_keep_a_partial_date_and_wildcards() -> None:
    valid = expect_valid(check(build(TRACE), TRACE))
    assert valid.criteria == Criteria(birth_date="198403", gender="2", family="Fair*",
                                      postcode="BO1 4QX")


@pytest.mark.parametrize("quoted", ['"{}"', "{}", ' "{}" '])
def test_soapaction_is_accepted_quoted_or_not(quoted: str) -> None:
    expect_valid(check(build(), soap_action=quoted.format(GET.service)))


@pytest.mark.parametrize("prefix", ["uuid:", "urn:uuid:"])
def test_a_prefixed_upper_case_message_id_is_accepted(prefix: str) -> None:
    def prefixed(root: etree._Element) -> None:
        element = find(root, f"{HEADER}/wsa:MessageID")
        element.text = prefix + (element.text or "")
    expect_valid(check(edit(build(), prefixed)))


def test_the_official_opentest_example_passes_once_its_ids_and_times_are_fresh() -> None:
    from tests.lib.schemas import reference_file

    example = reference_file("examples/soap-envelopes/opentest_getNHSNumber_request.xml")
    root = xmlsafe.parse(example.read_bytes())
    find(root, f"{HEADER}/wsse:Security/wsu:Timestamp/wsu:Created").text = "2024-03-01T09:30:15Z"
    find(root, f"{HEADER}/wsse:Security/wsu:Timestamp/wsu:Expires").text = "2024-03-01T09:40:15Z"
    body = etree.tostring(root)
    result = check(body, TRACE, client_cn="TKS Server test")
    assert expect_valid(result).criteria.family == "LAWALI"


# --- Envelope rules: SOAP fault 1000 or 3000 -------------------------------------------------


ENVELOPE_RULES: dict[str, Edit] = {
    "missing MessageID": drop(f"{HEADER}/wsa:MessageID"),
    "lower-case MessageID": set_text(f"{HEADER}/wsa:MessageID",
                                     "b72f7785-534c-11e6-adca-29c651a3be6f"),
    "MessageID not a UUID": set_text(f"{HEADER}/wsa:MessageID", "message-1"),
    "missing Action": drop(f"{HEADER}/wsa:Action"),
    "Action differs from SOAPAction": set_text(f"{HEADER}/wsa:Action", VERIFY.service),
    "missing To": drop(f"{HEADER}/wsa:To"),
    "missing Security": drop(f"{HEADER}/wsse:Security"),
    "missing Timestamp": drop(f"{HEADER}/wsse:Security/wsu:Timestamp"),
    "missing Created": drop(f"{HEADER}/wsse:Security/wsu:Timestamp/wsu:Created"),
    "missing Expires": drop(f"{HEADER}/wsse:Security/wsu:Timestamp/wsu:Expires"),
    "Created not in UTC": set_text(f"{HEADER}/wsse:Security/wsu:Timestamp/wsu:Created",
                                   "2024-03-01T10:30:15+01:00"),
    "Created not a time": set_text(f"{HEADER}/wsse:Security/wsu:Timestamp/wsu:Created",
                                   "2024-02-30T09:30:15Z"),
    "Expires before Created": set_text(f"{HEADER}/wsse:Security/wsu:Timestamp/wsu:Expires",
                                       "2024-03-01T09:30:14Z"),
    "missing Username": drop(f"{HEADER}/wsse:Security/wsse:UsernameToken"),
    "DE service differs from Action": set_attribute(DE_HEADER, "service", VERIFY.service),
    "lower-case trackingid": set_attribute(DE_HEADER, "trackingid",
                                           "b72f9e96-534c-11e6-adca-29c651a3be6f"),
    "missing auditIdentity": drop(f"{DE_HEADER}/itk:auditIdentity"),
    "audit id without uri": set_attribute(f"{DE_HEADER}/itk:auditIdentity/itk:id", "uri", None),
    "manifest count 2": set_attribute(f"{DE_HEADER}/itk:manifest", "count", "2"),
    "payloads count 0": set_attribute(f"{DE}/itk:payloads", "count", "0"),
    "manifest id differs from payload id": set_attribute(ITEM, "id", "uuid_OTHER"),
    "missing profileid": set_attribute(ITEM, "profileid", None),
    "wrong profileid": set_attribute(ITEM, "profileid", VERIFY.request_profile),
    "mimetype not text/xml": set_attribute(ITEM, "mimetype", "application/xml"),
    "base64 payload": set_attribute(ITEM, "base64", "true"),
    "metadata sent": set_attribute(ITEM, "metadata", "false"),
    "ReplyTo not anonymous": lambda root: etree.SubElement(
        etree.SubElement(find(root, HEADER), f"{{{xmlsafe.WSA}}}ReplyTo"),
        f"{{{xmlsafe.WSA}}}Address").__setattr__("text", "https://elsewhere.example/reply"),
    "two DEs in the Body": lambda root: find(root, "soap:Body").append(
        etree.fromstring(etree.tostring(find(root, DE)))),
}


@pytest.mark.parametrize("change", ENVELOPE_RULES.values(), ids=ENVELOPE_RULES.keys())
def test_each_envelope_rule_broken_is_fault_1000(change: Edit) -> None:
    problem = expect_fault(check(edit(build(), change)))
    assert problem.faultcode == "Client"
    assert problem.reason
    assert problem.rule


def test_a_missing_profile_id_is_reported_as_tkw_does() -> None:
    problem = expect_fault(check(edit(build(), set_attribute(ITEM, "profileid", None))))
    assert problem.reason == "Profile ID is missing"


def test_a_missing_soapaction_is_fault_1000() -> None:
    body = build()
    expect_fault(checks.check_request(body, soap_action=None, client_cn=CN, now=NOW))


def test_an_unknown_soapaction_is_fault_1000() -> None:
    expect_fault(check(build(), soap_action="urn:nhs-itk:services:201005:unknown-v1-0"))


def test_username_other_than_the_certificate_cn_is_fault_3000() -> None:
    problem = expect_fault(check(build(), client_cn="somebody else"), "3000")
    assert problem.username == CN
    assert problem.operation is GET  # what was read before the refusal, for the record


def test_an_expired_message_is_refused() -> None:
    expect_fault(check(build(), now=NOW + dt.timedelta(minutes=10)))


def test_a_message_just_before_expiry_is_accepted() -> None:
    expect_valid(check(build(), now=NOW + dt.timedelta(minutes=10) - dt.timedelta(seconds=1)))


def test_created_up_to_a_minute_ahead_of_the_sandbox_clock_is_tolerated() -> None:
    expect_valid(check(build(), now=NOW - envelope_checks.ALLOWED_CLOCK_SKEW))


def test_created_more_than_a_minute_ahead_is_refused() -> None:
    problem = expect_fault(check(build(), now=NOW - envelope_checks.ALLOWED_CLOCK_SKEW -
                                 dt.timedelta(seconds=1)))
    assert "future" in problem.reason


def test_fractions_of_a_second_are_accepted_in_timestamps() -> None:
    body = edit(build(), set_text(f"{HEADER}/wsse:Security/wsu:Timestamp/wsu:Created",
                                  "2024-03-01T09:30:15.123456789Z"))
    expect_valid(check(body))


def test_soap_1_2_is_a_version_mismatch() -> None:
    body = build().replace(xmlsafe.SOAP.encode(), envelope_checks.SOAP12.encode())
    assert expect_fault(check(body)).faultcode == "VersionMismatch"


def test_an_unknown_header_that_must_be_understood_is_refused() -> None:
    def add_header(root: etree._Element) -> None:
        block = etree.SubElement(find(root, HEADER), "{urn:example:other}Extension")
        block.set(f"{{{xmlsafe.SOAP}}}mustUnderstand", "1")
    assert expect_fault(check(edit(build(), add_header))).faultcode == "MustUnderstand"


def test_an_unknown_header_that_may_be_ignored_is_accepted() -> None:
    def add_header(root: etree._Element) -> None:
        etree.SubElement(find(root, HEADER), "{urn:example:other}Extension")
    expect_valid(check(edit(build(), add_header)))


@pytest.mark.parametrize("body", [
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
    b"not xml at all",
    b"",
    b"<soap:Envelope xmlns:soap='urn:not-soap'/>",
], ids=["DOCTYPE", "not XML", "empty", "not a SOAP envelope"])
def test_unparsable_or_unsafe_bodies_are_fault_1000(body: bytes) -> None:
    expect_fault(check(body))


def test_a_body_over_the_limit_is_refused_unparsed() -> None:
    padding = b" " * checks.MAX_BODY_BYTES
    expect_fault(check(build().replace(b"<soap:Body>", padding + b"<soap:Body>")))


# --- Payload rules: business reply SMSP-0001 -------------------------------------------------


def _swap_first_items(root: etree._Element) -> None:
    query = find(root, QUERY)
    first = query[0]
    query.remove(first)
    query.insert(1, first)


def _add_gender_to_verify(root: etree._Element) -> None:
    gender = etree.fromstring(
        '<Person.Gender xmlns="urn:hl7-org:v3"><value code="1" '
        f'codeSystem="{models.SEX_CODE_SYSTEM}"/><semanticsText>Person.Gender</semanticsText>'
        "</Person.Gender>")
    find(root, QUERY).insert(1, gender)


PAYLOAD_RULES: dict[str, tuple[Operation, dict[str, str] | None, Edit]] = {
    "DOB of a month for get": (GET, None, set_attribute(
        f"{QUERY}/hl7:Person.DateOfBirth/hl7:value", "value", "198403")),
    "DOB with a time": (VERIFY, None, set_attribute(
        f"{QUERY}/hl7:Person.DateOfBirth/hl7:value", "value", "198403141200")),
    "DOB not a real date": (TRACE, None, set_attribute(
        f"{QUERY}/hl7:Person.DateOfBirth/hl7:value", "value", "19840230")),
    "DOB in the future": (GET, None, set_attribute(
        f"{QUERY}/hl7:Person.DateOfBirth/hl7:value", "value", "20990101")),
    "items out of order": (GET, None, _swap_first_items),
    "item not part of the operation": (VERIFY, None, _add_gender_to_verify),
    "required item missing": (GET, None, drop(f"{QUERY}/hl7:Person.DateOfBirth")),
    "bad gender code": (SEARCH, None, set_attribute(
        f"{QUERY}/hl7:Person.Gender/hl7:value", "code", "3")),
    "wrong gender code system": (SEARCH, None, set_attribute(
        f"{QUERY}/hl7:Person.Gender/hl7:value", "codeSystem", "1.2.3")),
    "missing family for search": (SEARCH, None, drop(
        f"{QUERY}/hl7:Person.Name/hl7:value/hl7:family")),
    "name with @use for trace": (TRACE, None, set_attribute(
        f"{QUERY}/hl7:Person.Name/hl7:value", "use", "L")),
    "NHS number failing modulus 11": (VERIFY, None, set_attribute(
        f"{QUERY}/hl7:Person.NHSNumber/hl7:value", "extension", "9991000004")),
    "NHS number not 10 digits": (VERIFY, None, set_attribute(
        f"{QUERY}/hl7:Person.NHSNumber/hl7:value", "extension", "999100000")),
    "NHS number with the wrong root": (VERIFY, None, set_attribute(
        f"{QUERY}/hl7:Person.NHSNumber/hl7:value", "root", "1.2.3")),
    "semanticsText wrong": (GET, None, set_text(
        f"{QUERY}/hl7:Person.DateOfBirth/hl7:semanticsText", "Person.DOB")),
    "lower-case payload id": (GET, None, set_attribute(
        f"{PAYLOAD}/hl7:id", "root", "3e25ace2-23f8-4a37-b446-6a37f31bf77c")),
    "wrong payload code": (GET, None, set_attribute(f"{PAYLOAD}/hl7:code", "code",
                                                     VERIFY.request_code)),
    "wrong payload root": (GET, None, lambda root: find(root, PAYLOAD).__setattr__(
        "tag", f"{{{xmlsafe.HL7}}}{VERIFY.request_root}")),
    "wildcard in verify": (VERIFY, {"dob": "1984-03-14", "nhs_number": "9991000003",
                                    "family": "Fairweather"},
                           set_text(f"{QUERY}/hl7:Person.Name/hl7:value/hl7:family", "Fa*")),
    "wildcard after one character": (TRACE, None, set_text(
        f"{QUERY}/hl7:Person.Name/hl7:value/hl7:family", "F*")),
    "wildcard in details with an NHS number": (
        DETAILS, {"dob": "1984-03-14", "nhs_number": "9991000003", "family": "Fairweather"},
        set_text(f"{QUERY}/hl7:Person.Name/hl7:value/hl7:family", "Fair*")),
    "details search without given name": (DETAILS, None, drop(
        f"{QUERY}/hl7:Person.Name/hl7:value/hl7:given")),
    "postcode without its space": (TRACE, None, set_text(
        f"{QUERY}/hl7:Person.Postcode/hl7:value/hl7:postalCode", "BO14QX")),
    "blank given name": (SEARCH, None, set_text(
        f"{QUERY}/hl7:Person.Name/hl7:value/hl7:given", " ")),
    "no payload element": (GET, None, lambda root: find(root, f"{DE}/itk:payloads/itk:payload")
                           .remove(find(root, PAYLOAD))),
}


@pytest.mark.parametrize(("operation", "fields", "change"), PAYLOAD_RULES.values(),
                         ids=PAYLOAD_RULES.keys())
def test_each_payload_rule_broken_is_smsp_0001(
    operation: Operation, fields: dict[str, str] | None, change: Edit
) -> None:
    problem = expect_smsp_0001(check(edit(build(operation, **(fields or {})), change), operation))
    assert problem.envelope.operation is operation  # the reply is still that operation's


def test_a_month_of_birth_is_fine_for_trace() -> None:
    expect_valid(check(build(TRACE), TRACE))


def test_smsp_0001_reasons_never_quote_the_patient_values() -> None:
    body = edit(build(VERIFY), set_attribute(f"{QUERY}/hl7:Person.NHSNumber/hl7:value",
                                             "extension", "9991000004"))
    assert "9991000004" not in expect_smsp_0001(check(body, VERIFY)).reason


# --- HTTP-level rules ------------------------------------------------------------------------


def transport(
    method: str = "POST", target: str = "/smsp/pds", content_type: str | None = "text/xml",
    content_length: str | None = "100", transfer_encoding: str | None = None,
) -> checks.HttpProblem | checks.EnvelopeProblem | None:
    return checks.check_transport(method, target, path="/smsp/pds", content_type=content_type,
                                  content_length=content_length,
                                  transfer_encoding=transfer_encoding)


def test_a_proper_post_passes_the_http_checks() -> None:
    assert transport() is None
    assert transport(content_type="text/xml; charset=UTF-8", target="/smsp/pds?x=1") is None


@pytest.mark.parametrize(("kwargs", "status"), [
    ({"target": "/other"}, 404),
    ({"method": "GET", "target": "/other"}, 404),
    ({"method": "GET"}, 405),
    ({"method": "PUT"}, 405),
    ({"content_length": None}, 411),
    ({"transfer_encoding": "chunked"}, 411),
    ({"content_length": "ten"}, 400),
    ({"content_type": "application/json"}, 415),
    ({"content_type": None}, 415),
])
def test_http_level_problems_get_a_plain_status(kwargs: dict[str, str | None], status: int) -> None:
    problem = transport(**kwargs)  # type: ignore[arg-type]
    assert isinstance(problem, checks.HttpProblem)
    assert problem.status == status


def test_a_declared_length_over_the_limit_is_fault_1000_before_reading() -> None:
    problem = transport(content_length=str(checks.MAX_BODY_BYTES + 1))
    assert isinstance(problem, checks.EnvelopeProblem)
    assert problem.error_code == "1000"


def test_a_soap_1_2_content_type_is_a_version_mismatch() -> None:
    problem = transport(content_type="application/soap+xml; charset=utf-8")
    assert isinstance(problem, checks.EnvelopeProblem)
    assert problem.faultcode == "VersionMismatch"


def test_a_charset_other_than_utf8_is_fault_1000() -> None:
    problem = transport(content_type="text/xml; charset=ISO-8859-1")
    assert isinstance(problem, checks.EnvelopeProblem)
    assert problem.error_code == "1000"


# --- Each rule as the spec decides it (and the lenient provider) ----------------------------

AUDIT_ID = f"{DE_HEADER}/itk:auditIdentity/itk:id"
PAYLOAD_SLOT = f"{DE}/itk:payloads/itk:payload"
TIMESTAMP = f"{HEADER}/wsse:Security/wsu:Timestamp"


def test_a_timestamp_valid_for_more_than_ten_minutes_is_accepted_with_a_warning() -> None:
    # WS-SEC-05 only recommends Created + 10 minutes; NHS Digital's examples live a year.
    body = edit(build(), set_text(f"{TIMESTAMP}/wsu:Expires", "2025-03-01T09:30:15Z"))
    valid = expect_valid(check(body))
    assert valid.warnings == (
        "accepted: the timestamp is valid for more than 10 minutes "
        "(ITK-WS WS-SEC-05 recommends 10)",
    )
    assert expect_valid(check(build())).warnings == ()  # the builder's own stays within


@pytest.mark.parametrize("uri", ["__AUDITIDENT", "ASID-868000003114", "86800000311x", " "])
def test_an_asid_typed_audit_id_that_is_not_digits_is_refused_naming_the_rule(uri: str) -> None:
    problem = expect_fault(check(edit(build(), set_attribute(AUDIT_ID, "uri", uri))))
    assert problem.rule in ("spec §7.1, AUDIT-GUIDE access method 5",
                            "SMSP-AUDIT-002/005, ITK-DE COR-DEH-03/04")
    if uri.strip():
        assert problem.rule == "spec §7.1, AUDIT-GUIDE access method 5"
        assert "has the ASID type but is not an ASID" in problem.reason


@pytest.mark.parametrize(("type_", "uri"), [
    ("2.16.840.1.113883.2.1.3.2.4.18.27", "urn:nhs-uk:identity:ods:R59:oncology:ooh:DrJNS"),
    ("2.16.840.1.113883.2.1.3.2.4.18.27", "urn:nhs-uk:identity:ods:rhm:team1:C"),
    (None, "urn:nhs-uk:identity:inhealthcare:smsp2:vnn"),  # no type: the ITK default
    (ASID_TYPE, "868000003114"),
])
def test_the_itk_identity_forms_providers_use_stay_accepted(type_: str | None, uri: str) -> None:
    def identity(root: etree._Element) -> None:
        set_attribute(AUDIT_ID, "uri", uri)(root)
        set_attribute(AUDIT_ID, "type", type_)(root)
    valid = expect_valid(check(edit(build(), identity)))
    assert valid.envelope.audit_ids == (AuditId(uri, type_),)


@pytest.mark.parametrize("identifier", [
    "808A9678-49B2-498B-AD75-1D7A0F1262D7",  # a bare UUID may start with a digit
    "1abc", "uuid:808A9678", "uuid 808A9678", "-x",
])
def test_a_payload_id_that_is_not_an_xs_id_is_refused(identifier: str) -> None:
    def both(root: etree._Element) -> None:
        set_attribute(ITEM, "id", identifier)(root)
        set_attribute(PAYLOAD_SLOT, "id", identifier)(root)
    problem = expect_fault(check(edit(build(), both)))
    assert "is not an xs:ID" in problem.reason
    assert problem.rule.startswith("distributionEnvelope-v2-0.xsd: payload/@id is an xs:ID")


@pytest.mark.parametrize(("identifier", "valid"), [
    ("D6CD5232-14CF-11DF-9423-1F9A910D4703", True),  # the NHS example's, a letter first
    ("_ts1", True),
    ("9D6CD5232-14CF", False),
])
def test_a_wsu_id_must_be_an_xs_id(identifier: str, valid: bool) -> None:
    wsu_id = f"{{{xmlsafe.WSU}}}Id"
    body = edit(build(), lambda root: find(root, TIMESTAMP).set(wsu_id, identifier))
    result = check(body)
    if valid:
        expect_valid(result)
    else:
        assert "wsu:Id" in expect_fault(result).rule


def lenient_check(body: bytes, *, soap_action: str | None, client_cn: str | None = CN,
                  ) -> checks.CheckResult:
    return checks.check_request(body, soap_action=soap_action, client_cn=client_cn,
                                now=NOW + dt.timedelta(seconds=5), lenient=True)


def test_lenient_accepts_a_username_other_than_the_cn_with_a_warning() -> None:
    valid = expect_valid(lenient_check(build(), soap_action=GET.service,
                                       client_cn="somebody else"))
    assert valid.warnings == (
        "accepted (lenient): wsse:Username 'smsp sandbox client' is not the client "
        "certificate's CN 'somebody else' (ITK-WS WS-SEC-02/07)",
    )


def test_lenient_routes_on_wsa_action_when_soapaction_differs_or_is_missing() -> None:
    differs = expect_valid(lenient_check(build(), soap_action=VERIFY.service))
    assert differs.envelope.operation is GET  # what wsa:Action and the DE name
    assert differs.warnings == (
        f"accepted (lenient): wsa:Action {GET.service!r} differs from SOAPAction "
        f"{VERIFY.service!r} (ITK-WS WS-ADR-04, spec §2)",
    )
    missing = expect_valid(lenient_check(build(), soap_action=None))
    assert missing.envelope.operation is GET
    assert missing.warnings == ("accepted (lenient): the SOAPAction HTTP header is missing "
                                "(SOAP 1.1 §6.1.1, ITK-WS WS-ADR-04)",)


def test_lenient_still_refuses_what_it_does_not_bend() -> None:
    body = edit(build(), set_attribute(AUDIT_ID, "uri", "__AUDITIDENT"))
    expect_fault(lenient_check(body, soap_action=GET.service))
    # Strict is the default: the same three MUSTs are refused, each naming its rule.
    assert expect_fault(check(build(), client_cn="somebody else"), "3000").rule == (
        "ITK-WS WS-SEC-02/07")
    assert expect_fault(check(build(), soap_action=VERIFY.service)).rule == (
        "ITK-WS WS-ADR-04, spec §2")


def test_lenient_accepts_a_charset_other_than_utf8_with_a_warning() -> None:
    warnings: list[str] = []
    problem = checks.check_transport(
        "POST", "/smsp/pds", path="/smsp/pds", content_type="text/xml; charset=ISO-8859-1",
        content_length="100", lenient=True, warnings=warnings)
    assert problem is None
    assert warnings == ["accepted (lenient): charset ISO-8859-1 is not UTF-8 "
                        "(ITK-WS Table 3: every ITK message is UTF-8)"]
