"""NHS Digital's TKW simulator pack, end to end over mutual TLS: every response template.

Each of the pack's response templates (``../shared/reference/smsp/examples/tkw-simulator-pack``)
is served as TKW serves it: wrapped in a SOAP envelope whose RelatesTo names the request's
MessageID, its substitution tags filled (``__INTERNAL_TRACKING_ID__`` a fresh id), answering for
the number asked (the template's own number where it carries one). Each is checked for its
exit code, ``verified`` (verify) and its warnings.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
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
