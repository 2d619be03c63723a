"""NHS Digital's TKW simulator pack, end to end over mutual TLS: every response template.

Each of the pack's response templates (``../shared/reference/smsp/examples/tkw-simulator-pack``)
is served as TKW serves it: wrapped in a SOAP envelope whose RelatesTo names the request's
MessageID, its substitution tags filled (``__INTERNAL_TRACKING_ID__`` a fresh id), answering for
the number asked (the template's own number where it carries one). Each is checked for its
exit code, ``verified`` (verify) and its warnings. So are the operations' default templates
(one per operation, no response code in its name) and the fault pack's nine faults, each served
for every operation with the HTTP status and wsa:Action its ``responses.conf`` gives and its
tags filled from the request as TKW fills them; and doctor's SMSP layer against the pack's
SMSP-0005 and fault 3000 (fail) and its other faults (warn).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from smsp_cli.sandbox.certs import SandboxCredentials
from tests.conftest import REFERENCE, reference_path
from tests.lib.canned import CannedProvider
from tests.lib.cli import smsp

PACK = "examples/tkw-simulator-pack"
ASKED = "9449310467"  # asked for where a template carries no number
DOB = "1996-05-30"

COMMANDS = {
    "verifyNHSNumber": ("verify", "{n}", "--dob", DOB),
    "getNHSNumber": ("trace", "--family", "EASEMAN", "--dob", DOB, "--gender", "m"),
    "getPatientDetailsByNHSNumber": ("get", "{n}", "--dob", DOB),
    "getPatientDetailsBySearch": ("search", "--family", "EASEMAN", "--dob", DOB, "--gender", "m"),
    "getPatientDetails": ("details", "--dob", DOB, "--nhs-number", "{n}"),
}
BY_NUMBER = {"verifyNHSNumber", "getPatientDetailsByNHSNumber", "getPatientDetails"}
# Written out from the README's exit-code table, not computed by smsp.
EXIT = {
    "SMSP-0000": 0, "SMSP-0001": 3, "SMSP-0002": 3, "SMSP-0003": 0, "SMSP-0004": 4,
    "SMSP-0005": 3, "SMSP-9999": 4, "DEMOG-0001": 1, "DEMOG-0007": 1, "DEMOG-0017": 0,
    "DEMOG-0022": 1, "DEMOG-0040": 1, "DEMOG-0042": 1, "DEMOG-9999": 4,
}
# verify, from the README's verified table: (verified, exit code) where it differs from EXIT.
VERIFY = {
    "SMSP-0000": (True, 0),  # validIdentifier true
    "SMSP-0003": (None, 4),  # a success code without validIdentifier: unknown
    "DEMOG-0017": (None, 4),  # the same, and no successor named
    "DEMOG-0001": (False, 1), "DEMOG-0022": (False, 1), "DEMOG-0040": (False, 1),
    "DEMOG-0042": (False, 1),
}
# Every warning code each response code carries (README's table), in order: written out.
WARNING_CODES: dict[str, list[str]] = {
    "SMSP-0000": [], "SMSP-0001": [], "SMSP-0002": ["response-invalid"], "SMSP-0003": ["cached"],
    "SMSP-0004": ["spine-unreachable"], "SMSP-0005": ["credentials-rejected"], "SMSP-9999": [],
    "DEMOG-0001": ["no-match"], "DEMOG-0007": ["several-matches"], "DEMOG-0017": ["superseded"],
    "DEMOG-0022": ["invalidated"], "DEMOG-0040": ["not-verified"],
    "DEMOG-0042": ["not-new-style"], "DEMOG-9999": [],
}
# Where a template's own data adds to them: verify's unknown verdicts, and the details
# examples whose patients have died (their records carry a date of death).
TEMPLATE_WARNING_CODES: dict[str, list[str]] = {
    "verifyNHSNumberResponse_SMSP-0003": ["cached", "verification-unknown"],
    "verifyNHSNumberResponse_DEMOG-0017": ["superseded", "verification-unknown"],
    "getPatientDetailsResponse_SMSP-0000": ["deceased"],
    "getPatientDetailsResponse_SMSP-0000-ex1": ["deceased"],
    "getPatientDetailsResponse_SMSP-0000-ex3": ["deceased"],
    "getPatientDetailsResponse_SMSP-0000-ex4": ["deceased"],
    "getPatientDetailsResponse_SMSP-0000-ex5": ["deceased"],
}
# A warning each code must carry (a fragment of it), where it has one.
WARNING = {
    "SMSP-0003": "Spine was unavailable",
    "DEMOG-0022": "this NHS number has been invalidated",
    "DEMOG-0040": "the NHS number was not verified against these details",
}
NO_SUCCESSOR = "superseded and the provider did not name its successor"

_TEMPLATE_NAME = re.compile(r"^(?P<op>\w+?)Response_(?P<code>(?:SMSP|DEMOG)-\d{4})(?:-ex\d)?\.xml$")
_ENVELOPE = (
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:wsa="http://www.w3.org/2005/08/addressing"><soap:Header>'
    "<wsa:MessageID>{message_id}</wsa:MessageID><wsa:Action>{action}</wsa:Action>"
    "<wsa:RelatesTo>pending</wsa:RelatesTo></soap:Header><soap:Body>{body}</soap:Body>"
    "</soap:Envelope>"
)


def _templates() -> list[Path]:
    # Called while collecting (parametrize), where a skip cannot be raised: no pack, no cases,
    # and test_the_pack_has_every_operation_and_code skips, saying where the pack comes from.
    folder = REFERENCE / PACK / "response_templates"
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.glob("*.xml") if _TEMPLATE_NAME.match(path.name))


def _served(path: Path) -> tuple[bytes, str | None]:
    """The template as TKW sends it, and the NHS number it carries (if any)."""
    text = path.read_text(encoding="utf-8")
    text = text.replace("__INTERNAL_TRACKING_ID__", str(uuid.uuid4()).upper())
    found = re.search(r'root="2\.16\.840\.1\.113883\.2\.1\.4\.1" extension="(\d{10})"', text)
    service = re.search(r'service="([^"]+)"', text)
    assert service is not None
    body = _ENVELOPE.format(message_id=str(uuid.uuid4()).upper(), action=service[1],
                            body=text.strip())
    return body.encode(), found[1] if found else None


@pytest.fixture(scope="module")
def tkw(credentials: SandboxCredentials) -> Iterator[CannedProvider]:
    server = CannedProvider(credentials, b"")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_the_pack_has_every_operation_and_code() -> None:
    reference_path(f"{PACK}/response_templates")  # skips, saying why, without the pack
    seen = {(m["op"], m["code"]) for p in _templates() if (m := _TEMPLATE_NAME.match(p.name))}
    assert {op for op, _ in seen} == set(COMMANDS)
    assert len(seen) == 5 * 14


@pytest.mark.parametrize("path", _templates(), ids=lambda path: path.stem)
def test_every_template_exits_verifies_and_warns_as_the_tables_say(
    path: Path, tkw: CannedProvider, sandbox_env: dict[str, str]
) -> None:
    named = _TEMPLATE_NAME.match(path.name)
    assert named is not None
    operation, code = named["op"], named["code"]
    tkw.body, carried = _served(path)
    asked = carried or ASKED
    command = [part.format(n=asked) for part in COMMANDS[operation]]
    run = smsp(*command, "--json", "--endpoint", tkw.url, "--max-attempts", "1")
    shown = run.json()
    expected_exit = EXIT[code]
    if operation == "verifyNHSNumber":
        verified, expected_exit = VERIFY.get(code, (None, EXIT[code]))
        assert shown["verified"] is verified
    assert run.exit_code == expected_exit, run.stderr
    assert shown["response_code"] == code
    assert shown["warning_codes"] == TEMPLATE_WARNING_CODES.get(path.stem, WARNING_CODES[code])
    warnings = " | ".join(shown["warnings"])
    if code in WARNING:
        assert WARNING[code] in warnings
    if code == "DEMOG-0017":
        assert NO_SUCCESSOR in warnings
        assert shown["superseded_nhs_number"] == (asked if operation in BY_NUMBER else None)
        if operation == "verifyNHSNumber":
            assert "do not use it" in warnings
    else:
        assert shown["superseded_nhs_number"] is None
    if code == "SMSP-0000" and operation != "verifyNHSNumber":
        number = shown.get("nhs_number") or shown["patient"]["nhs_number"]
        assert number == carried


def test_address_lines_keep_the_providers_positions(
    tkw: CannedProvider, sandbox_env: dict[str, str]
) -> None:
    path = reference_path(
        f"{PACK}/response_templates/getPatientDetailsByNHSNumberResponse_SMSP-0000.xml")
    tkw.body, carried = _served(path)
    assert carried == "9449310580"
    run = smsp("get", carried, "--dob", DOB, "--json", "--endpoint", tkw.url)
    assert run.exit_code == 0, run.stderr
    patient = run.json()["patient"]
    # Sent: LA SELVA, PORTSMOUTH ROAD, (blank), ESHER, (blank): each kept at its position.
    assert patient["addresses"][0]["lines"] == ["LA SELVA", "PORTSMOUTH ROAD", "", "ESHER", ""]
    assert patient["gp_practice"]["address"]["lines"] == [
        "ELM ROAD", "CLAYGATE", "", "ESHER", "SURREY"]
    table = smsp("get", carried, "--dob", DOB, "--endpoint", tkw.url)
    assert "LA SELVA, PORTSMOUTH ROAD, ESHER, KT10 9JQ" in table.stdout  # no blanks shown


# --- the default template of each operation ------------------------------------------------

# responses.conf's answer for each operation when no rule picks a response code.
DEFAULTS = {
    "verifyNHSNumber": "verifyNHSNumber_COMT_MT000013GB01.xml",
    "getNHSNumber": "getNHSNumber_COMT_MT000014GB01.xml",
    "getPatientDetailsByNHSNumber": "getPatientDetailsByNHSNumber_QUPA_MT000003GB01.xml",
    "getPatientDetailsBySearch": "getPatientDetailsSearch_QUPA_MT000003GB01.xml",
    "getPatientDetails": "getPatientDetailsCOMT_MT000016GB01.xml",
}
DEFAULT_NUMBER = "9999345201"  # what every default template carries: not a valid NHS number


def test_every_template_of_the_pack_is_served_by_a_test_here() -> None:
    folder = reference_path(f"{PACK}/response_templates")
    names = {path.name for path in folder.glob("*.xml")}
    by_code = {path.name for path in _templates()}
    assert names == by_code | set(DEFAULTS.values())
    faults = {path.stem for path in reference_path(f"{PACK}/fault/response_templates").glob("*")}
    assert faults == set(FAULTS)


@pytest.mark.parametrize("operation", sorted(DEFAULTS))
def test_each_default_template_answers_for_the_number_asked(
    operation: str, tkw: CannedProvider, sandbox_env: dict[str, str]
) -> None:
    # The default answer carries a number that fails the modulus 11 check, so nobody can ask
    # for it: served, as TKW answers, for the number asked.
    body, carried = _served(reference_path(f"{PACK}/response_templates/{DEFAULTS[operation]}"))
    assert carried == DEFAULT_NUMBER
    tkw.body = body.replace(DEFAULT_NUMBER.encode(), ASKED.encode())
    command = [part.format(n=ASKED) for part in COMMANDS[operation]]
    run = smsp(*command, "--json", "--endpoint", tkw.url, "--max-attempts", "1")
    assert run.exit_code == 0, run.stderr
    shown = run.json()
    assert shown["response_code"] == "SMSP-0000"
    assert shown["warning_codes"] == []
    if operation == "verifyNHSNumber":
        assert shown["verified"] is True
    number = shown.get("nhs_number") or shown["patient"]["nhs_number"]
    assert number == ASKED


@pytest.mark.parametrize("operation", sorted(BY_NUMBER))
def test_a_default_template_served_as_is_answers_for_another_number(
    operation: str, tkw: CannedProvider, sandbox_env: dict[str, str]
) -> None:
    tkw.body, _ = _served(reference_path(f"{PACK}/response_templates/{DEFAULTS[operation]}"))
    command = [part.format(n=ASKED) for part in COMMANDS[operation]]
    run = smsp(*command, "--json", "--endpoint", tkw.url, "--max-attempts", "1")
    assert run.exit_code == 4, run.stderr
    assert "the reply carries another NHS number than the one asked for" in run.stderr
    assert DEFAULT_NUMBER not in run.stdout + run.stderr
    # Nothing of the reply is used, not even a verdict: `verified` is null, as on any failure.
    shown = run.json()
    assert shown.get("verified", "absent") == (None if operation == "verifyNHSNumber" else "absent")


# --- the fault pack -----------------------------------------------------------------------

SOAP_FAULT = "http://www.w3.org/2005/08/addressing/soap/fault"
WSA_FAULT = "http://www.w3.org/2005/08/addressing/fault"
# fault/responses.conf: (HTTP status, wsa:Action) each template is sent with; then the
# ErrorCode it carries and smsp's exit code for it (README's exit-code table), written out.
FAULTS: dict[str, tuple[int, str, str, int]] = {
    "Client-1000": (200, SOAP_FAULT, "1000", 3),
    "Client-2200": (200, SOAP_FAULT, "2200", 4),
    "Client-3000": (200, SOAP_FAULT, "3000", 3),
    "Server-2100": (200, SOAP_FAULT, "2100", 4),
    "Server-2200": (200, SOAP_FAULT, "2200", 4),
    "Server-3000": (200, SOAP_FAULT, "3000", 3),
    "versionMismatch-0000": (200, SOAP_FAULT, "1000", 3),
    "mustUnderstand-0000": (200, WSA_FAULT, "1000", 3),
    "tk_test_error": (500, SOAP_FAULT, "1000", 3),  # error_response: TKW's own validation
}
FAULT_NAMES = {"1000": "Invalid Message", "2100": "Processing Error (Retryable)",
               "2200": "Processing Error (Not Retryable)", "3000": "Access Denied"}
_TRACKING_ID = re.compile(rb'<(?:\w+:)?header[^>]* trackingid="([^"]+)"')


def _fault_filler(name: str) -> Callable[[bytes], bytes]:
    """The fault as TKW fills it for ``request``: a fresh ErrorID, its error texts, and (in
    tk_test_error) the code of what failed and the request's own trackingid."""
    text = reference_path(f"{PACK}/fault/response_templates/{name}.xml").read_text("utf-8")
    _, action, _, _ = FAULTS[name]

    def fill(request: bytes) -> bytes:
        tracking = _TRACKING_ID.search(request)
        assert tracking is not None  # every request carries its DE trackingid
        filled = (text.replace("__ERRORID__", str(uuid.uuid4()).upper())
                  .replace("__ERRORCODE__", "1000")
                  .replace("__ERRORTEXT__", "The message failed validation")
                  .replace("__ERRORDETAIL__", "A simulated fault")
                  .replace("__TRACKINGID__", tracking[1].decode()))
        assert "__" not in filled.replace("TEST_HARNESS_ID", "")  # every tag filled
        return _ENVELOPE.format(message_id=str(uuid.uuid4()).upper(), action=action,
                                body=filled.strip()).encode()

    return fill


@pytest.fixture
def faults(tkw: CannedProvider) -> Iterator[CannedProvider]:
    yield tkw
    tkw.respond, tkw.status = None, 200


@pytest.mark.parametrize("operation", sorted(COMMANDS))
@pytest.mark.parametrize("name", sorted(FAULTS))
def test_every_fault_of_the_pack_for_every_operation(
    name: str, operation: str, faults: CannedProvider, sandbox_env: dict[str, str]
) -> None:
    status, _, code, exit_code = FAULTS[name]
    faults.respond, faults.status, faults.requests = _fault_filler(name), status, 0
    command = [part.format(n=ASKED) for part in COMMANDS[operation]]
    run = smsp(*command, "--json", "--endpoint", faults.url, "--max-attempts", "2")
    assert run.exit_code == exit_code, run.stderr
    assert faults.requests == (2 if code == "2100" else 1)  # only 2100 is tried again
    shown = run.json()
    assert shown["error"]["fault_code"] == code
    assert shown["error"]["response_code"] is None
    assert len(shown["message_ids"]) == faults.requests
    # A fault is no answer: no result, no warnings (the error line says it all).
    assert sorted(set(shown) & {"warnings", "warning_codes", "patient"}) == []
    # verify's verdict is null on a fault, as on any failure (README's verified table)
    assert shown.get("verified", "absent") == (None if operation == "verifyNHSNumber" else "absent")
    [line] = run.stderr.splitlines()
    assert line.startswith(f"smsp: error: provider fault {code} ({FAULT_NAMES[code]}): ")
    assert line.endswith(f"(MessageID {shown['message_id']})")


# --- doctor against the pack: SMSP-0005 and fault 3000 fail, other faults warn ---------------

REGISTERED = "ASID and client certificate are registered"


@pytest.mark.parametrize(
    ("served", "status", "exit_code", "summary", "step"),
    [
        ("verifyNHSNumberResponse_SMSP-0005", "fail", 16, "answered SMSP-0005",
         "check the audit identity"),
        ("Client-3000", "fail", 16, "SOAP fault 3000", REGISTERED),
        ("Server-3000", "fail", 16, "SOAP fault 3000", REGISTERED),
        ("Client-1000", "warn", 0, "SOAP fault 1000", None),
        ("Server-2100", "warn", 0, "SOAP fault 2100", None),
        ("Client-2200", "warn", 0, "SOAP fault 2200", None),
        ("mustUnderstand-0000", "warn", 0, "SOAP fault 1000", None),
    ],
)
def test_doctors_smsp_layer_against_the_pack(
    served: str, status: str, exit_code: int, summary: str, step: str | None,
    faults: CannedProvider, sandbox_env: dict[str, str],
) -> None:
    if served in FAULTS:
        faults.respond, faults.status = _fault_filler(served), FAULTS[served][0]
    else:
        faults.body, _ = _served(reference_path(f"{PACK}/response_templates/{served}.xml"))
    run = smsp("doctor", "--nhs-number", ASKED, "--dob", DOB, "--endpoint", faults.url, "--json")
    assert run.exit_code == exit_code, run.stdout + run.stderr
    layer = next(entry for entry in run.json()["layers"] if entry["name"] == "smsp")
    assert layer["status"] == status
    assert summary in layer["summary"]
    if step is not None:
        assert step in layer["next_step"]
        assert layer["cause"]
