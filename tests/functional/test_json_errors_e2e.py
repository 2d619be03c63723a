"""With -o json, every way a lookup can fail leaves an error object on stdout for scripts."""

from __future__ import annotations

import pytest

from smsp_cli.sandbox.certs import SandboxCredentials
from smsp_cli.sandbox.server import SandboxServer
from tests.lib.canned import canned
from tests.lib.cli import smsp
from tests.lib.ports import closed_port

pytestmark = pytest.mark.usefixtures("sandbox_env")

FOUND = ("9991000003", "--dob", "1984-03-14")


def test_connection_refused_is_unreachable() -> None:
    run = smsp("get", *FOUND, "--json", "--endpoint", f"https://127.0.0.1:{closed_port()}/x")
    assert run.exit_code == 5
    assert run.json()["exit_code"] == 5
    assert run.json()["error"]["type"] == "unreachable"
    assert "refused" in run.json()["error"]["message"]
    assert run.stderr == f"smsp: error: {run.json()['error']['message']}\n"


def test_missing_configuration_is_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMSP_CA_BUNDLE")
    run = smsp("verify", *FOUND, "-o", "json")
    assert run.exit_code == 6
    assert run.json()["error"]["type"] == "config"
    assert run.json()["error"]["message"].startswith("no CA bundle configured")


@pytest.mark.parametrize(
    ("nhs_number", "dob", "code", "exit_code", "kind"),
    [
        ("9991000224", "1950-05-05", "SMSP-0001", 3, "rejected"),
        ("9991000127", "1988-02-29", "SMSP-0004", 4, "provider_failed"),
    ],
)
def test_a_reply_that_exits_3_or_4_keeps_its_keys_and_adds_the_error(
    nhs_number: str, dob: str, code: str, exit_code: int, kind: str
) -> None:
    run = smsp("get", nhs_number, "--dob", dob, "--json")
    assert run.exit_code == exit_code
    result = run.json()
    assert result["response_code"] == code
    assert "patient" in result
    assert result["exit_code"] == exit_code
    assert result["error"]["type"] == kind
    assert result["error"]["response_code"] == code
    assert result["error"]["fault_code"] is None
    assert run.stderr.splitlines()[0] == f"smsp: error: {result['error']['message']}"


def test_an_unknown_code_exits_4_with_its_code_in_the_error(
    sandbox: SandboxServer, credentials: SandboxCredentials
) -> None:
    from smsp_cli import service
    from smsp_cli.domain import operations
    from smsp_cli.domain.models import build_query
    from smsp_cli.transport.trace import Trace

    trace = Trace()
    with service.run_settings({}) as settings:
        service.call(build_query(operations.GET, nhs_number=FOUND[0], dob=FOUND[2]), settings,
                     trace=trace)
    assert trace.response_body
    body = trace.response_body.replace(b'code="SMSP-0000"', b'code="XYZ-1234"')
    with canned(credentials, body) as url:
        run = smsp("get", *FOUND, "--json", "--endpoint", url)
    assert run.exit_code == 4
    assert run.json()["response_code"] == "XYZ-1234"
    sent = run.json()["message_id"]
    assert run.json()["message_ids"] == [sent]
    assert run.json()["error"] == {
        "type": "provider_failed",
        "message": "Unknown response code XYZ-1234: smsp does not know this code, so the reply "
                   f"is treated as a failure (MessageID {sent})",
        "response_code": "XYZ-1234",
        "fault_code": None,
        "fields": [],
    }
