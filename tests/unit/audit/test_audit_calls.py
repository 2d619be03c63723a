"""service.call writes the trail per attempt: sent before the request leaves, then received or
failed; with httpx.MockTransport standing in for the provider."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from smsp_cli import service
from smsp_cli.audit.calls import CallAudit
from smsp_cli.audit.trail import Trail
from smsp_cli.domain import operations
from smsp_cli.domain.errors import ConfigError, ProviderFailed, Unreachable
from smsp_cli.domain.models import build_query
from smsp_cli.domain.results import Patient
from smsp_cli.sandbox import responses
from smsp_cli.sandbox.certs import SandboxCredentials
from smsp_cli.sandbox.matching import Answer
from smsp_cli.settings.connection import ConnectionSettings, gather, resolve
from smsp_cli.transport.retry import RetryPolicy

QUERY = build_query(operations.GET, nhs_number="9991000003", dob="1984-03-14",
                    family="Fairweather", given="Eleanor")
PATIENT = Patient(nhs_number="9991000003", given_names=("Eleanor",), family_name="Fairweather",
                  gender="female", birth_date="1984-03-14")


@pytest.fixture
def settings(credentials: SandboxCredentials) -> ConnectionSettings:
    return resolve(gather({}, {}, {
        "profile": "opentest",
        "kind": "test",
        "endpoint": "https://provider.test/smsp/pds",
        "cert": str(credentials.client_cert),
        "key": str(credentials.client_key),
        "ca_bundle": str(credentials.ca_cert),
        "audit_id": "868000003114",
    }))


@pytest.fixture
def trail_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SMSP_DATA_DIR", str(tmp_path))
    return tmp_path / "audit"


def _trail(trail_dir: Path) -> list[dict[str, Any]]:
    path = trail_dir / "audit.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _reply(code: str = "SMSP-0000", patient: Patient | None = PATIENT) -> httpx.Response:
    body = responses.business_reply(operations.GET, Answer(code, patient), relates_to=None)
    return httpx.Response(200, content=body, headers={"Content-Type": "text/xml"})


def _policy(attempts: int = 3) -> RetryPolicy:
    return RetryPolicy(attempts=attempts, backoff=0, sleep=lambda seconds: None)


def test_the_sent_record_is_on_disk_before_the_request_leaves(
    settings: ConnectionSettings, trail_dir: Path
) -> None:
    seen_at_send: list[list[dict[str, Any]]] = []

    def provider(request: httpx.Request) -> httpx.Response:
        seen_at_send.append(_trail(trail_dir))  # what a SIGKILL now would leave
        return _reply()

    outcome = service.call(QUERY, settings, transport=httpx.MockTransport(provider))
    assert len(seen_at_send) == 1
    assert [r["event"] for r in seen_at_send[0]] == ["sent"]
    sent = seen_at_send[0][0]
    assert sent["message_id"] == outcome.message_id
    assert sent["nhs_numbers"] == ["9991000003"]
    assert (sent["profile"], sent["environment"], sent["endpoint"]) == (
        "opentest", "test", "https://provider.test/smsp/pds")
    assert sent["operation"] == "getPatientDetailsByNHSNumber"
    assert sent["audit_identity"] == [{"type": "1.2.826.0.1285.0.2.0.107", "uri": "868000003114"}]
    assert sent["username"] == "smsp sandbox client"  # the certificate's CN, as sent
    assert sent["attempt"] == 1
    assert len(sent["tracking_id"]) == 36
    assert "batch_row" not in sent
    received = _trail(trail_dir)[1]
    assert received["event"] == "received"
    assert received["message_id"] == outcome.message_id
    assert received["reply_message_id"] == outcome.reply.message_id
    assert (received["http_status"], received["response_code"]) == (200, "SMSP-0000")
    assert received["nhs_numbers"] == ["9991000003"]


def test_no_name_date_of_birth_or_address_is_ever_recorded(
    settings: ConnectionSettings, trail_dir: Path
) -> None:
    service.call(QUERY, settings, transport=httpx.MockTransport(lambda request: _reply()))
    text = (trail_dir / "audit.jsonl").read_text(encoding="utf-8")
    for value in ("Fairweather", "Eleanor", "1984-03-14", "19840314", "female"):
        assert value not in text
    assert "9991000003" in text  # the patient identifier MSCA-AUD asks for


def test_each_retried_attempt_is_its_own_message_in_the_trail(
    settings: ConnectionSettings, trail_dir: Path
) -> None:
    answers = iter([httpx.Response(503, text="busy"),
                    httpx.Response(500, content=responses.fault_reply("2100", "again"),
                                   headers={"Content-Type": "text/xml"}),
                    _reply()])
    service.call(QUERY, settings, transport=httpx.MockTransport(lambda request: next(answers)),
                 policy=_policy())
    found = _trail(trail_dir)
    assert [(r["event"], r["attempt"]) for r in found] == [
        ("sent", 1), ("failed", 1), ("sent", 2), ("received", 2), ("sent", 3), ("received", 3)]
    assert (found[1]["http_status"], found[1]["exit_code"], found[1]["error"]) == (
        503, 4, "provider_failed")
    assert (found[3]["fault_code"], found[3]["http_status"]) == ("2100", 500)
    assert len({r["message_id"] for r in found}) == 3
    for sent, answer in zip(found[::2], found[1::2], strict=True):
        assert sent["message_id"] == answer["message_id"]


def test_an_unreachable_provider_is_a_failed_record_with_its_exit_class(
    settings: ConnectionSettings, trail_dir: Path
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(Unreachable):
        service.call(QUERY, settings, transport=httpx.MockTransport(refuse), policy=_policy(1))
    failed = _trail(trail_dir)[1]
    assert (failed["event"], failed["exit_code"], failed["error"]) == ("failed", 5, "unreachable")
    assert failed["http_status"] is None


def test_an_unusable_reply_is_a_failed_record(
    settings: ConnectionSettings, trail_dir: Path
) -> None:
    def garbage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>")

    with pytest.raises(ProviderFailed):
        service.call(QUERY, settings, transport=httpx.MockTransport(garbage), policy=_policy(1))
    assert [r["event"] for r in _trail(trail_dir)] == ["sent", "failed"]


def test_a_superseded_number_records_both_numbers(
    settings: ConnectionSettings, trail_dir: Path
) -> None:
    successor = Patient(nhs_number="9991000062", family_name="Oakhurst")
    service.call(QUERY, settings,
                 transport=httpx.MockTransport(lambda request: _reply("DEMOG-0017", successor)))
    received = _trail(trail_dir)[1]
    assert received["nhs_numbers"] == ["9991000003", "9991000062"]
    assert received["superseded_nhs_number"] == "9991000003"


def test_a_shared_audit_carries_the_batch_row(
    settings: ConnectionSettings, tmp_path: Path
) -> None:
    with Trail(tmp_path / "batch-trail", fsync_interval=1.0) as trail:
        audit = CallAudit(trail)
        for row in (1, 2):
            service.call(QUERY, settings, transport=httpx.MockTransport(lambda r: _reply()),
                         audit=audit, batch_row=row)
    found = [json.loads(line) for line in
             (tmp_path / "batch-trail" / "audit.jsonl").read_text().splitlines()]
    assert [(r["event"], r["batch_row"]) for r in found] == [
        ("sent", 1), ("received", 1), ("sent", 2), ("received", 2)]
    assert [r["seq"] for r in found] == [1, 2, 3, 4]


def test_when_the_trail_cannot_be_written_nothing_is_sent(
    settings: ConnectionSettings, trail_dir: Path
) -> None:
    (trail_dir / "audit.jsonl").mkdir(parents=True)
    sent: list[httpx.Request] = []

    def provider(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return _reply()

    with pytest.raises(ConfigError, match="cannot write the audit trail") as caught:
        service.call(QUERY, settings, transport=httpx.MockTransport(provider))
    assert caught.value.exit_code == 6
    assert sent == []


def test_an_interrupted_attempt_is_recorded_and_the_interruption_kept(
    settings: ConnectionSettings, trail_dir: Path
) -> None:
    def interrupt(request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        service.call(QUERY, settings, transport=httpx.MockTransport(interrupt))
    failed = _trail(trail_dir)[1]
    assert (failed["event"], failed["exit_code"], failed["error"]) == ("failed", 130,
                                                                     "interrupted")
