"""One call through service.call with httpx.MockTransport standing in for the provider."""

from __future__ import annotations

import httpx
import pytest

from smsp_cli import service
from smsp_cli.domain import operations
from smsp_cli.domain.errors import ExitCode, ProviderFailed, ProviderRejected, UnsafeReply
from smsp_cli.domain.models import build_query
from smsp_cli.sandbox.certs import SandboxCredentials
from smsp_cli.settings.connection import gather, resolve
from tests.conftest import REFERENCE, reference_path

OPENTEST_REPLY = REFERENCE / "examples" / "soap-envelopes" / "opentest_getNHSNumber_response.xml"


@pytest.fixture
def settings(credentials: SandboxCredentials) -> object:
    return resolve(
        gather(
            {},
            {},
            {
                "endpoint": "https://provider.test/smsp/pds",
                "cert": str(credentials.client_cert),
                "key": str(credentials.client_key),
                "ca_bundle": str(credentials.ca_cert),
                "audit_id": "868000003114",
            },
        )
    )


QUERY = build_query(operations.TRACE, family="LAWALI", dob="1977-07-05", gender="f")


def _answer(status: int, body: bytes, headers: dict[str, str] | None = None) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers=headers or {})

    return httpx.MockTransport(handler)


def _opentest_reply() -> bytes:
    return reference_path(str(OPENTEST_REPLY.relative_to(REFERENCE))).read_bytes()


def test_official_opentest_reply_is_judged_a_success(settings: object) -> None:
    outcome = service.call(QUERY, settings, transport=_answer(200, _opentest_reply()))  # type: ignore[arg-type]
    assert outcome.exit_code == 0
    assert outcome.reply.nhs_number == "9473480032"
    assert outcome.synthetic is False


def test_unknown_response_code_is_shown_raw_and_exits_4(settings: object) -> None:
    body = _opentest_reply().replace(b'code="SMSP-0000"', b'code="XYZ-1234"')
    outcome = service.call(QUERY, settings, transport=_answer(200, body))  # type: ignore[arg-type]
    assert outcome.exit_code == ExitCode.PROVIDER_FAILED
    assert outcome.reply.response_code == "XYZ-1234"
    assert "XYZ-1234" in outcome.response_text
    assert any("does not know this code" in w for w in outcome.warnings)


def test_http_503_without_a_fault_exits_4(settings: object) -> None:
    with pytest.raises(ProviderFailed, match="503") as caught:
        service.call(QUERY, settings, transport=_answer(503, b"busy"))  # type: ignore[arg-type]
    assert caught.value.exit_code == ExitCode.PROVIDER_FAILED


def test_http_403_without_a_fault_exits_3(settings: object) -> None:
    with pytest.raises(ProviderRejected, match="403") as caught:
        service.call(QUERY, settings, transport=_answer(403, b""))  # type: ignore[arg-type]
    assert caught.value.exit_code == ExitCode.REJECTED


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<soap:Envelope",
        b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
        b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>',
    ],
)
def test_malformed_or_hostile_replies_exit_4_without_parsing(settings: object, body: bytes) -> None:
    with pytest.raises(UnsafeReply) as caught:
        service.call(QUERY, settings, transport=_answer(200, body))  # type: ignore[arg-type]
    assert caught.value.exit_code == ExitCode.PROVIDER_FAILED


def test_reply_of_the_wrong_type_exits_4(settings: object) -> None:
    query = build_query(operations.VERIFY, nhs_number="9434765919", dob="1977-07-05")
    with pytest.raises(ProviderFailed):
        service.call(query, settings, transport=_answer(200, _opentest_reply()))  # type: ignore[arg-type]


def test_a_server_header_naming_the_sandbox_does_not_make_data_synthetic(settings: object) -> None:
    # No TLS certificate from the sandbox CA stands behind this reply: the header is a claim.
    transport = _answer(200, _opentest_reply(), {"Server": "smsp-sandbox/1.0"})
    outcome = service.call(QUERY, settings, transport=transport)  # type: ignore[arg-type]
    assert (outcome.synthetic, outcome.environment) == (False, "live")


# --- the real default body limit, on the real call path (no max_bytes given anywhere) -------

TEN_MIB = 10 * 1024 * 1024  # the documented limit, written out: raising it must fail here


def _streamed(body: bytes, headers: dict[str, str] | None = None) -> httpx.MockTransport:
    def pieces() -> object:
        for start in range(0, len(body), 1 << 20):
            yield body[start : start + (1 << 20)]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=pieces(), headers=headers or {})  # type: ignore[arg-type]

    return httpx.MockTransport(handler)


def test_a_reply_one_byte_over_10_mib_is_refused_by_service_call(settings: object) -> None:
    oversized = _opentest_reply() + b" " * (TEN_MIB + 1 - len(_opentest_reply()))
    with pytest.raises(UnsafeReply, match=f"over the {TEN_MIB}-byte limit; stopped reading"):
        service.call(QUERY, settings, transport=_streamed(oversized))  # type: ignore[arg-type]


def test_a_gzip_reply_inflating_past_10_mib_is_refused_by_service_call(settings: object) -> None:
    import gzip

    inflated = _opentest_reply() + b" " * (TEN_MIB + 1 - len(_opentest_reply()))
    mock = _streamed(gzip.compress(inflated), {"Content-Encoding": "gzip"})
    with pytest.raises(UnsafeReply, match=f"over the {TEN_MIB}-byte limit once decoded"):
        service.call(QUERY, settings, transport=mock)  # type: ignore[arg-type]


def test_a_reply_of_exactly_10_mib_is_read(settings: object) -> None:
    body = _opentest_reply()
    comment = b"<!--" + b"x" * 1017 + b"-->\n"  # 1 KiB; no text node past the parser's limits
    room = TEN_MIB - len(body)
    padding = comment * (room // len(comment)) + b" " * (room % len(comment))
    padded = body.replace(b"</soap:Envelope>", padding + b"</soap:Envelope>")
    assert len(padded) == TEN_MIB
    outcome = service.call(QUERY, settings, transport=_streamed(padded))  # type: ignore[arg-type]
    assert outcome.reply.nhs_number == "9473480032"


def test_warnings_the_adapter_read_follow_the_response_code_s_as_given() -> None:
    from smsp_cli.domain import results

    reply = results.Reply(kind="getPatientDetailsResponse-v1-0", response_code="SMSP-0000",
                          patient=results.Patient("9434765919", death_date="2020-01-02"))
    outcome = service.judge(
        operations.GET, reply, "MSG-2", environment="test", api="fhir",
        message_ids=("MSG-1", "MSG-2"), also_warned=(("reduced_record", "record reduced"),),
    )
    assert outcome.warnings == ("DECEASED: date of death 2020-01-02", "record reduced")
    assert outcome.stderr_warnings == (
        "DECEASED: the patient is recorded as deceased (date of death in the output)",
        "record reduced",
    )
    assert outcome.warning_codes == ("deceased", "reduced_record")
    assert (outcome.api, outcome.fhir, outcome.message_ids) == ("fhir", None,
                                                                ("MSG-1", "MSG-2"))
