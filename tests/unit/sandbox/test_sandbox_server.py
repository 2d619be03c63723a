"""The embedded provider over real mutual TLS on 127.0.0.1 (spec §5): replies, faults, records.

One server for the whole session (conftest's ``sandbox``); the few tests that need different
certificates or patients start a small server of their own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from lxml import etree

from smsp_cli.adapters.smsp import xmlsafe
from smsp_cli.adapters.smsp.envelope import EnvelopeSettings, build_request
from smsp_cli.adapters.smsp.xmlsafe import NS
from smsp_cli.domain import models
from smsp_cli.domain.ids import new_uuid
from smsp_cli.domain.operations import DETAILS, GET, SEARCH, TRACE, VERIFY, Operation
from smsp_cli.domain.results import Address, GpPractice, Patient, Telecom
from smsp_cli.sandbox import certs, checks, envelope_checks, responses
from smsp_cli.sandbox.builtin import BUILT_IN
from smsp_cli.sandbox.certs import SandboxCredentials
from smsp_cli.sandbox.matching import Answer, Criteria, PatientIndex
from smsp_cli.sandbox.patients import SandboxPatient
from smsp_cli.sandbox.server import RecordedRequest, SandboxServer
from smsp_cli.settings.identity import ASID_TYPE, AuditId
from tests.lib.schemas import (
    TOOLKIT_ERROR_INFO,
    assert_valid,
    assert_valid_envelope,
)
from tests.lib.xmledit import DE, DE_HEADER, ITEM, Edit, drop, find, set_attribute

ASID = "999000000001"
# The one pattern ITK ids follow (spec §3.1, §5.4).
UPPER_UUID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")
# The "found" sandbox patient, by operation.
FOUND: dict[Operation, dict[str, str]] = {
    VERIFY: {"dob": "1984-03-14", "nhs_number": "9991000003"},
    GET: {"dob": "1984-03-14", "nhs_number": "9991000003", "local_id": "MRN-42"},
    SEARCH: {"dob": "1984-03-14", "gender": "female", "family": "Fairweather", "given": "Eleanor"},
    TRACE: {"dob": "1984-03", "gender": "female", "family": "Fair*", "postcode": "BO1 4QX"},
    DETAILS: {"dob": "1984-03-14", "gender": "female", "family": "Fairweather",
              "given": "Eleanor"},
}

@dataclass(frozen=True)
class Sent:
    """A request as sent and the HTTP response to it."""

    message_id: str
    tracking_id: str
    response: httpx.Response

    @property
    def root(self) -> etree._Element:
        return xmlsafe.parse(self.response.content)


def client_context(credentials: SandboxCredentials, *, with_cert: bool = True) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(credentials.ca_cert))
    if with_cert:
        context.load_cert_chain(credentials.client_cert, credentials.client_key)
    return context


@pytest.fixture(scope="module")
def client(credentials: SandboxCredentials) -> Iterator[httpx.Client]:
    with httpx.Client(verify=client_context(credentials), timeout=10) as session:
        yield session


class Requests:
    """Builds requests with the real envelope builder and posts them to the sandbox."""

    def __init__(self, server: SandboxServer, credentials: SandboxCredentials,
                 client: httpx.Client) -> None:
        self.server = server
        self.credentials = credentials
        self.client = client

    def build(self, operation: Operation = GET, *, username: str | None = None,
              now: dt.datetime | None = None, **fields: str) -> tuple[bytes, str, str]:
        settings = EnvelopeSettings(
            endpoint=self.server.url, username=username or self.credentials.client_cn,
            audit_identity=(AuditId(ASID, ASID_TYPE),),
        )
        query = models.build_query(operation, **(fields or FOUND[operation]))
        built = build_request(query, settings, now=now)
        return built.body, built.message_id, built.tracking_id

    def send(self, operation: Operation = GET, *, edit: Edit | None = None,
             soap_action: str | None = None, body: bytes | None = None,
             username: str | None = None, now: dt.datetime | None = None,
             content_type: str = "text/xml; charset=utf-8", **fields: str) -> Sent:
        built, message_id, tracking_id = self.build(operation, username=username, now=now,
                                                    **fields)
        if edit is not None:
            root = etree.fromstring(built)
            edit(root)
            built = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        response = self.client.post(
            self.server.url, content=built if body is None else body,
            headers={"SOAPAction": operation.service if soap_action is None else soap_action,
                     "Content-Type": content_type},
        )
        return Sent(message_id, tracking_id, response)


@pytest.fixture
def requests(sandbox: SandboxServer, credentials: SandboxCredentials,
             client: httpx.Client) -> Requests:
    return Requests(sandbox, credentials, client)


def payload_code(sent: Sent) -> str:
    _, payload = assert_valid_envelope(sent.response.content)
    value = payload.find("hl7:value", NS)
    assert value is not None
    return value.get("code", "")


def fault(sent: Sent) -> tuple[str, str]:
    """(faultcode, ErrorCode) of a fault reply, whose detail must validate."""
    assert sent.response.status_code == 500, sent.response.text
    root = sent.root
    soap_fault = root.find("soap:Body/soap:Fault", NS)
    assert soap_fault is not None, sent.response.text
    info = soap_fault.find("detail/itk:ToolkitErrorInfo", NS)
    assert info is not None
    assert_valid(info, TOOLKIT_ERROR_INFO)
    error_id = info.findtext("itk:ErrorID", "", NS)
    assert UPPER_UUID.match(error_id)
    code = info.find("itk:ErrorCode", NS)
    assert code is not None
    assert code.get("codeSystem") == "2.16.840.1.113883.2.1.3.2.4.17.268"
    assert root.findtext("soap:Header/wsa:Action", "", NS) == (
        "http://www.w3.org/2005/08/addressing/soap/fault")
    return soap_fault.findtext("faultcode", ""), code.text or ""


QUERY = f"{DE}/itk:payloads/itk:payload/*/hl7:queryEvent"


# --- Successful replies ----------------------------------------------------------------------


@pytest.mark.parametrize("operation", [VERIFY, GET, SEARCH, TRACE, DETAILS], ids=lambda o: o.name)
def test_every_operation_answers_200_with_a_schema_valid_reply(
    requests: Requests, operation: Operation
) -> None:
    sent = requests.send(operation)
    assert sent.response.status_code == 200, sent.response.text
    assert sent.response.headers["content-type"] == "text/xml; charset=utf-8"
    assert payload_code(sent) == "SMSP-0000"
    number = sent.root.find(".//hl7:patient/hl7:id[@root='2.16.840.1.113883.2.1.4.1']", NS)
    assert number is not None
    assert number.get("extension") == "9991000003"


def test_the_reply_envelope_answers_the_request(requests: Requests) -> None:
    sent = requests.send(GET)
    root = sent.root
    header = find(root, "soap:Header")
    reply_id = header.findtext("wsa:MessageID", "", NS)
    assert UPPER_UUID.match(reply_id)
    assert reply_id != sent.message_id
    assert header.findtext("wsa:Action", "", NS) == GET.response_service
    assert header.findtext("wsa:RelatesTo", "", NS) == sent.message_id
    de_header = find(root, DE_HEADER)
    assert de_header.get("service") == GET.response_service
    assert UPPER_UUID.match(de_header.get("trackingid", ""))
    assert de_header.get("trackingid") != sent.tracking_id
    item = find(root, ITEM)
    assert item.get("profileid") == GET.response_profile
    assert item.get("id") == find(root, f"{DE}/itk:payloads/itk:payload").get("id")


def test_get_echoes_the_local_identifier_and_returns_the_full_record(requests: Requests) -> None:
    root = requests.send(GET).root
    patient = find(root, ".//hl7:subject/hl7:patient")
    ids = patient.findall("hl7:id", NS)
    assert [(i.get("root"), i.get("extension")) for i in ids] == [
        (models.NHS_NUMBER_OID, "9991000003"), (models.LOCAL_PERSON_ID_OID, "MRN-42")]
    assert [given.text for given in patient.findall("hl7:name/hl7:given", NS)] == [
        "Eleanor", "Mary"]
    for address in patient.findall("hl7:addr", NS):
        assert len(address.findall("hl7:streetAddressLine", NS)) == 5
    person = find(patient, "hl7:patientPerson")
    assert find(person, "hl7:administrativeGenderCode").get("code") == "2"
    assert find(person, "hl7:birthTime").get("value") == "19840314"
    assert find(person, "hl7:gPPractice/hl7:locationOrganization/hl7:id").get(
        "root") == "2.16.840.1.113883.2.1.3.2.4.19.2"


def test_verify_of_a_superseded_number_returns_the_new_one_with_demog_0017(
    requests: Requests,
) -> None:
    sent = requests.send(VERIFY, dob="1967-05-21", nhs_number="9991000054")
    assert payload_code(sent) == "DEMOG-0017"
    identifier = find(sent.root, ".//hl7:validIdentifier")
    assert find(identifier, "hl7:value").get("value") == "true"
    assert find(identifier, "hl7:subject/hl7:patient/hl7:id").get("extension") == "9991000062"


def test_a_business_error_carries_only_id_code_and_value(requests: Requests) -> None:
    unknown = "999100030" + str(models.nhs_number_check_digit("999100030"))
    sent = requests.send(GET, dob="1984-03-14", nhs_number=unknown)
    assert sent.response.status_code == 200
    assert payload_code(sent) == "DEMOG-0001"
    payload = find(sent.root, f"{DE}/itk:payloads/itk:payload/*")
    assert [etree.QName(child).localname for child in payload] == ["id", "code", "value"]


def test_a_quoted_soapaction_is_accepted(requests: Requests) -> None:
    sent = requests.send(GET, soap_action=f'"{GET.service}"')
    assert sent.response.status_code == 200


def test_every_reply_has_server_and_date_headers(requests: Requests) -> None:
    responses = [requests.send(GET).response,
                 requests.client.get(requests.server.url),
                 requests.send(GET, edit=drop("soap:Header/wsa:MessageID")).response]
    for response in responses:
        assert response.headers["server"] == "smsp-sandbox"
        assert response.headers["date"].endswith(" GMT")


# --- Scenario faults -------------------------------------------------------------------------


@pytest.mark.parametrize(("nhs_number", "dob", "faultcode", "error_code"), [
    ("9991000151", "1963-03-03", "soap:Server", "2100"),
    ("9991000178", "1981-07-19", "soap:Server", "2200"),
    ("9991000186", "1970-01-26", "soap:Client", "3000"),
])
def test_a_fault_scenario_answers_http_500_with_that_fault(
    requests: Requests, nhs_number: str, dob: str, faultcode: str, error_code: str
) -> None:
    sent = requests.send(GET, dob=dob, nhs_number=nhs_number)
    assert fault(sent) == (faultcode, error_code)
    assert sent.root.findtext("soap:Header/wsa:RelatesTo", "", NS) == sent.message_id


# --- Envelope rules broken: HTTP 500 fault ---------------------------------------------------

# Taken when the module is collected, which on a slow run can be minutes before a test runs: the
# offsets are far enough from it that the rule still applies then (60 s of skew is allowed).
NOW = dt.datetime.now(dt.UTC)
ENVELOPE_RULES: dict[str, tuple[dict[str, object], str]] = {
    "missing MessageID": ({"edit": drop("soap:Header/wsa:MessageID")}, "1000"),
    "lower-case MessageID": ({"edit": lambda root: setattr(
        find(root, "soap:Header/wsa:MessageID"), "text",
        (find(root, "soap:Header/wsa:MessageID").text or "").lower())}, "1000"),
    "expired Timestamp": ({"now": NOW - dt.timedelta(minutes=11)}, "1000"),
    "Created in the future": ({"now": NOW + dt.timedelta(hours=2)}, "1000"),
    "Action differs from SOAPAction": ({"soap_action": VERIFY.service}, "1000"),
    "service differs from Action": (
        {"edit": set_attribute(DE_HEADER, "service", VERIFY.service)}, "1000"),
    "missing auditIdentity": ({"edit": drop(f"{DE_HEADER}/itk:auditIdentity")}, "1000"),
    "missing profileid": ({"edit": set_attribute(ITEM, "profileid", None)}, "1000"),
    "wrong profileid": ({"edit": set_attribute(ITEM, "profileid", VERIFY.request_profile)},
                        "1000"),
    "manifest id differs from payload id": ({"edit": set_attribute(ITEM, "id", "uuid_X")},
                                            "1000"),
    "username is not the certificate CN": ({"username": "TKS Server test"}, "3000"),
}


@pytest.mark.parametrize(("options", "error_code"), ENVELOPE_RULES.values(),
                         ids=ENVELOPE_RULES.keys())
def test_each_envelope_rule_broken_is_an_http_500_fault(
    requests: Requests, options: dict[str, object], error_code: str
) -> None:
    sent = requests.send(GET, **options)  # type: ignore[arg-type]
    assert fault(sent) == ("soap:Client", error_code)


def test_the_record_names_the_rule_and_keeps_the_warnings(
    requests: Requests, sandbox: SandboxServer,
) -> None:
    sent = requests.send(GET, edit=set_attribute(f"{DE_HEADER}/itk:auditIdentity/itk:id", "uri",
                                                 "__AUDITIDENT"))
    assert fault(sent) == ("soap:Client", "1000")
    refused = next(r for r in sandbox.requests if r.message_id == sent.message_id)
    assert refused.rule == "spec §7.1, AUDIT-GUIDE access method 5"
    assert refused.detail is not None
    assert "'__AUDITIDENT' has the ASID type" in refused.detail

    a_year = requests.send(GET, edit=lambda root: setattr(
        find(root, "soap:Header/wsse:Security/wsu:Timestamp/wsu:Expires"), "text",
        (dt.datetime.now(dt.UTC) + dt.timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")))
    assert a_year.response.status_code == 200
    accepted = next(r for r in sandbox.requests if r.message_id == a_year.message_id)
    assert accepted.rule is None
    assert accepted.warnings == ("accepted: the timestamp is valid for more than 10 minutes "
                                 "(ITK-WS WS-SEC-05 recommends 10)",)


def test_a_lenient_server_takes_another_charset_with_a_warning(
    credentials: SandboxCredentials, client: httpx.Client,
) -> None:
    with SandboxServer(credentials, lenient=True) as lenient:
        sent = Requests(lenient, credentials, client).send(
            GET, content_type="text/xml; charset=ISO-8859-1")
        assert sent.response.status_code == 200
        assert lenient.requests[-1].warnings == (
            "accepted (lenient): charset ISO-8859-1 is not UTF-8 "
            "(ITK-WS Table 3: every ITK message is UTF-8)",)


def test_a_missing_profile_id_says_so(requests: Requests) -> None:
    sent = requests.send(GET, edit=set_attribute(ITEM, "profileid", None))
    assert sent.root.findtext(".//itk:ErrorText", "", NS) == "Profile ID is missing"


def test_soap_1_2_is_a_version_mismatch_fault(requests: Requests) -> None:
    body = requests.build(GET)[0].replace(xmlsafe.SOAP.encode(), envelope_checks.SOAP12.encode())
    sent = requests.send(GET, body=body)
    assert fault(sent) == ("soap:VersionMismatch", "1000")


def test_a_doctype_body_is_refused_unparsed(requests: Requests) -> None:
    body = (b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol">]>'
            b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'>&lol;"
            b"</soap:Envelope>")
    assert fault(requests.send(GET, body=body)) == ("soap:Client", "1000")


def test_an_oversized_body_is_refused_with_a_fault_the_client_can_read(
    requests: Requests,
) -> None:
    body = b"<x>" + b" " * checks.MAX_BODY_BYTES + b"</x>"
    assert fault(requests.send(GET, body=body)) == ("soap:Client", "1000")
    assert requests.send(GET).response.status_code == 200  # and the server carries on


# --- Payload rules broken: HTTP 200 with SMSP-0001 -------------------------------------------


def _swap_first_items(root: etree._Element) -> None:
    query = find(root, QUERY)
    first = query[0]
    query.remove(first)
    query.insert(1, first)


PAYLOAD_RULES: dict[str, tuple[Operation, Edit]] = {
    "DOB of a month for get": (GET, set_attribute(
        f"{QUERY}/hl7:Person.DateOfBirth/hl7:value", "value", "198403")),
    "items out of order": (GET, _swap_first_items),
    "bad gender code": (SEARCH, set_attribute(
        f"{QUERY}/hl7:Person.Gender/hl7:value", "code", "X")),
    "missing family for search": (SEARCH, drop(
        f"{QUERY}/hl7:Person.Name/hl7:value/hl7:family")),
}


@pytest.mark.parametrize(("operation", "edit"), PAYLOAD_RULES.values(), ids=PAYLOAD_RULES.keys())
def test_each_payload_rule_broken_is_200_with_smsp_0001(
    requests: Requests, operation: Operation, edit: Edit
) -> None:
    sent = requests.send(operation, edit=edit)
    assert sent.response.status_code == 200
    assert payload_code(sent) == "SMSP-0001"
    record = next(r for r in requests.server.requests if r.message_id == sent.message_id)
    assert record.outcome == "SMSP-0001"
    assert record.detail


# --- HTTP level ------------------------------------------------------------------------------


def test_a_wrong_path_is_404(requests: Requests) -> None:
    url = requests.server.url.replace("/smsp/pds", "/other")
    response = requests.client.post(url, content=requests.build()[0],
                                    headers={"SOAPAction": GET.service,
                                             "Content-Type": "text/xml"})
    assert response.status_code == 404


def test_get_is_405_and_names_post(requests: Requests) -> None:
    response = requests.client.get(requests.server.url)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_a_content_type_other_than_text_xml_is_415(requests: Requests) -> None:
    sent = requests.send(GET, content_type="application/json")
    assert sent.response.status_code == 415


def test_keep_alive_serves_two_requests_on_one_connection(
    requests: Requests, credentials: SandboxCredentials
) -> None:
    url = httpx.URL(requests.server.url)
    connection = http.client.HTTPSConnection(url.host, url.port,
                                             context=client_context(credentials), timeout=10)
    try:
        sockets = []
        for _ in range(2):
            body = requests.build(GET)[0]
            connection.request("POST", url.path, body=body,
                               headers={"SOAPAction": GET.service, "Content-Type": "text/xml"})
            response = connection.getresponse()
            assert response.status == 200
            response.read()
            sockets.append(connection.sock)
        assert sockets[0] is sockets[1]
        assert sockets[0] is not None
    finally:
        connection.close()


# --- Mutual TLS ------------------------------------------------------------------------------


def test_a_client_without_a_certificate_fails_the_handshake(
    sandbox: SandboxServer, credentials: SandboxCredentials, requests: Requests
) -> None:
    before = len(sandbox.requests)
    with httpx.Client(verify=client_context(credentials, with_cert=False), timeout=5) as anon, \
            pytest.raises(httpx.TransportError):
        anon.post(sandbox.url, content=requests.build()[0],
                  headers={"SOAPAction": GET.service, "Content-Type": "text/xml"})
    assert all(record.client_cn is not None for record in sandbox.requests[before:])


def test_a_client_certificate_from_another_ca_fails_the_handshake(
    sandbox: SandboxServer, credentials: SandboxCredentials, requests: Requests, tmp_path: Path
) -> None:
    intruder = certs.issue_cert(certs.make_ca("another CA"), "intruder", server=False)
    intruder.write(tmp_path / "c.pem", tmp_path / "k.pem")
    context = client_context(credentials, with_cert=False)
    context.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    with httpx.Client(verify=context, timeout=5) as stranger, \
            pytest.raises(httpx.TransportError):
        stranger.post(sandbox.url, content=requests.build()[0],
                      headers={"SOAPAction": GET.service, "Content-Type": "text/xml"})
    assert not [r for r in sandbox.requests if r.client_cn == "intruder"]


def test_an_expired_client_certificate_from_the_trusted_ca_fails(tmp_path: Path) -> None:
    ca = certs.make_ca("test CA")
    server_cert = certs.issue_cert(ca, "localhost", server=True, sans=certs.SERVER_SANS)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    expired = certs.issue_cert(ca, "client", server=False,
                               not_before=past - dt.timedelta(days=30), not_after=past)
    current = certs.issue_cert(ca, "client", server=False)
    layout = certs.credential_paths(tmp_path, client_cn="client")
    certs.write_atomically(layout.ca_cert, ca.cert_pem, private=False)
    server_cert.write(layout.server_cert, layout.server_key)
    expired.write(tmp_path / "expired.pem", tmp_path / "expired-key.pem")
    current.write(layout.client_cert, layout.client_key)

    def status_with(cert: str, key: str) -> int:
        context = ssl.create_default_context(cafile=str(layout.ca_cert))
        context.load_cert_chain(tmp_path / cert, tmp_path / key)
        with httpx.Client(verify=context, timeout=5) as session:
            return session.get(server.url).status_code

    with SandboxServer(layout, patients=BUILT_IN[:1]) as server:
        assert status_with("client.pem", "client-key.pem") == 405  # the control: TLS passed
        with pytest.raises(httpx.TransportError):
            status_with("expired.pem", "expired-key.pem")


# --- Records, robustness, concurrency --------------------------------------------------------


def test_each_request_is_recorded_without_patient_data(
    requests: Requests, credentials: SandboxCredentials
) -> None:
    sent = requests.send(GET)
    record = next(r for r in requests.server.requests if r.message_id == sent.message_id)
    assert record.operation == "getPatientDetailsByNHSNumber"
    assert record.tracking_id == sent.tracking_id
    assert record.audit_ids == (ASID,)
    assert record.username == credentials.client_cn
    assert record.client_cn == credentials.client_cn
    assert (record.method, record.path, record.http_status, record.outcome) == (
        "POST", "/smsp/pds", 200, "SMSP-0000")
    assert "9991000003" not in repr(record)
    assert "Fairweather" not in repr(record)


def test_faults_are_recorded_with_their_error_code(requests: Requests) -> None:
    sent = requests.send(GET, username="TKS Server test")
    record = next(r for r in requests.server.requests if r.message_id == sent.message_id)
    assert (record.http_status, record.outcome, record.username) == (500, "3000",
                                                                     "TKS Server test")


def test_a_silent_client_does_not_block_another(
    requests: Requests, sandbox: SandboxServer
) -> None:
    url = httpx.URL(sandbox.url)
    with socket.create_connection((url.host, url.port)) as silent:  # never says a word
        started = time.monotonic()
        assert requests.send(GET).response.status_code == 200
        assert time.monotonic() - started < 5  # well inside the server's 15 s timeout
        silent.settimeout(0.1)
        with pytest.raises(TimeoutError):
            silent.recv(1)  # still open: it was never the accept loop's to wait on


def test_concurrent_requests_are_all_answered(requests: Requests) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        sent = list(pool.map(lambda _: requests.send(GET), range(16)))
    assert [s.response.status_code for s in sent] == [200] * 16
    recorded = {r.message_id for r in requests.server.requests}
    assert {s.message_id for s in sent} <= recorded


def test_an_unexpected_error_is_fault_2200_and_the_server_carries_on(
    credentials: SandboxCredentials, client: httpx.Client
) -> None:
    # A record holding a character XML cannot carry makes building the reply fail.
    broken = SandboxPatient(Patient(nhs_number="9991000003", family_name="Bad\x01name",
                                    birth_date="1984-03-14", gender="female"), "found")
    with SandboxServer(credentials, patients=(broken, *BUILT_IN[2:3])) as server:
        ask = Requests(server, credentials, client)
        sent = ask.send(GET, dob="1984-03-14", nhs_number="9991000003")
        assert fault(sent) == ("soap:Server", "2200")
        assert ask.send(GET, dob="2001-06-30", nhs_number="9991000038").response.status_code == 200


def test_serve_forever_blocks_until_stop_and_reports_each_request(
    credentials: SandboxCredentials, client: httpx.Client
) -> None:
    seen: list[RecordedRequest] = []
    server = SandboxServer(credentials, patients=BUILT_IN[:1], on_request=seen.append)
    runner = threading.Thread(target=server.serve_forever)
    runner.start()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with contextlib.suppress(RuntimeError):
                url = server.url
                break
            time.sleep(0.01)
        assert client.get(url).status_code == 405
        assert runner.is_alive()
    finally:
        server.stop()
        runner.join(timeout=5)
    assert not runner.is_alive()
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:  # told just after the reply went out
        time.sleep(0.01)
    assert [record.outcome for record in seen] == ["HTTP 405"]


def test_the_server_also_listens_on_ipv6_loopback(
    credentials: SandboxCredentials, client: httpx.Client
) -> None:
    try:
        server = SandboxServer(credentials, host="::1", patients=BUILT_IN[:1]).start()
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    with server:
        assert server.url.startswith("https://[::1]:")
        assert client.get(server.url).status_code == 405  # ::1 is in the server's SANs


# --- Replies built from the templates --------------------------------------------------------


def test_every_built_in_patient_gets_a_schema_valid_reply_from_every_operation() -> None:
    index = PatientIndex(BUILT_IN)
    answered = 0
    for record in BUILT_IN:
        patient = record.patient
        dob = (patient.birth_date or "").replace("-", "")
        number = patient.nhs_number
        gender = {"male": "1", "female": "2", "not-known": "0", "not-specified": "9"}.get(
            patient.gender or "", "9")
        by_number = Criteria(nhs_number=number, birth_date=dob)
        by_trace = Criteria(birth_date=dob, gender=gender, family=patient.family_name,
                            given=patient.given_names[0] if patient.given_names else None)
        for operation, criteria in ((VERIFY, by_number), (GET, by_number),
                                    (DETAILS, by_number), (TRACE, by_trace),
                                    (SEARCH, by_trace), (DETAILS, by_trace)):
            answer = index.answer(operation, criteria)
            if answer.fault is not None:
                continue
            body = responses.business_reply(operation, answer, relates_to=new_uuid(),
                                            local_id=("1.2.3.4", "L1"))
            de, payload = assert_valid_envelope(body)
            assert de.find("itk:header", NS) is not None
            assert etree.QName(payload).localname == operation.reply.value
            answered += 1
    assert answered > len(BUILT_IN) * 4


def _details(patient: Patient) -> etree._Element:
    body = responses.business_reply(GET, Answer("SMSP-0000", patient))
    return assert_valid_envelope(body)[1]


def test_blank_name_parts_are_sent_empty_and_absent_ones_left_out() -> None:
    payload = _details(Patient(nhs_number="9991000003", given_names=("",), family_name=""))
    name = find(payload, "hl7:subject/hl7:patient/hl7:name")
    assert [(etree.QName(part).localname, part.text or "") for part in name] == [
        ("given", ""), ("family", "")]


def test_a_patient_with_only_a_number_has_no_name_address_or_person() -> None:
    payload = _details(Patient(nhs_number="9991000003"))
    patient = find(payload, "hl7:subject/hl7:patient")
    assert [etree.QName(child).localname for child in patient] == ["id"]


def test_addresses_always_have_five_lines_and_their_use_code() -> None:
    address = Address("temporary", ("1 Road",), None)
    payload = _details(Patient(nhs_number="9991000003", addresses=(address,)))
    addr = find(payload, "hl7:subject/hl7:patient/hl7:addr")
    assert addr.get("use") == "TMP"
    assert [line.text or "" for line in addr] == ["1 Road", "", "", "", ""]  # no postalCode


def test_gp_practice_parts_follow_the_schema_order() -> None:
    practice = GpPractice(code="Y1", name=None, telephone="tel:01632960000",
                          address=Address(None, ("Surgery",), "BO1 1AA"))
    payload = _details(Patient(nhs_number="9991000003", gp_practice=practice,
                               death_date="2020-01-02", telecoms=(Telecom(None, "tel:1"),)))
    person = find(payload, "hl7:subject/hl7:patient/hl7:patientPerson")
    assert find(person, "hl7:deceasedTime").get("value") == "20200102"
    gp = find(person, "hl7:gPPractice")
    assert [etree.QName(child).localname for child in gp] == [
        "addr", "telecom", "locationOrganization"]
    assert find(gp, "hl7:addr").get("use") is None
    assert find(payload, "hl7:subject/hl7:patient/hl7:telecom").get("use") is None


def test_values_that_look_like_placeholders_are_sent_as_they_are() -> None:
    payload = _details(Patient(nhs_number="9991000003", family_name="$family",
                               addresses=(Address("home", ("$line_1",), "$postcode"),)))
    assert find(payload, ".//hl7:family").text == "$family"
    assert find(payload, ".//hl7:addr/hl7:postalCode").text == "$postcode"


def test_a_fault_without_diagnostic_text_leaves_the_element_out() -> None:
    root = xmlsafe.parse(responses.fault_reply("2100", "try later"))
    info = find(root, "soap:Body/soap:Fault/detail/itk:ToolkitErrorInfo")
    assert_valid(info, TOOLKIT_ERROR_INFO)
    assert info.find("itk:ErrorDiagnosticText", NS) is None
    assert root.findtext("soap:Body/soap:Fault/faultcode", "", NS) == "soap:Server"
    assert root.find("soap:Header/wsa:RelatesTo", NS) is None


def test_more_addresses_than_the_schema_allows_are_truncated_to_three() -> None:
    homes = tuple(Address("home", (f"{n} Road",), None) for n in range(5))
    payload = _details(Patient(nhs_number="9991000003", addresses=homes))
    assert len(payload.findall("hl7:subject/hl7:patient/hl7:addr", NS)) == 3
