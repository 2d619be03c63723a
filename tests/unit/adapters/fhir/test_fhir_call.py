"""A PDS FHIR call over httpx.MockTransport: sign-in, headers, retries, replies and their codes."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import jwt
import pytest

from smsp_cli import service
from smsp_cli.audit.calls import CallAudit
from smsp_cli.domain.errors import ConfigError, ExitCode, ProviderFailed, SmspError
from smsp_cli.domain.models import build_query
from smsp_cli.domain.operations import GET, SEARCH, TRACE
from smsp_cli.settings.connection import ConnectionSettings
from smsp_cli.transport.retry import RetryPolicy
from tests.lib.fhir_provider import TOKEN_URL, NullTrail, Provider, call, fhir, record

ERRORS = (Path(__file__).resolve().parents[4].parent / "shared" / "reference" / "pds-fhir"
          / "error-responses")


def test_the_jwt_is_rs512_with_kid_and_the_claims_the_identity_service_checks(
    settings: ConnectionSettings, signing_key: Path
) -> None:
    from cryptography.hazmat.primitives import serialization

    provider = Provider(lambda request: fhir(200, record(), request))
    call(settings, provider)
    form = dict(httpx.QueryParams(provider.seen[0].content.decode()))
    assert form["grant_type"] == "client_credentials"
    assert form["client_assertion_type"] == (
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    assertion = form["client_assertion"]
    assert jwt.get_unverified_header(assertion) == {"alg": "RS512", "kid": "kid-7",
                                                    "typ": "JWT"}
    public = serialization.load_pem_private_key(signing_key.read_bytes(), None).public_key()
    claims = jwt.decode(assertion, public, algorithms=["RS512"], audience=TOKEN_URL)  # type: ignore[arg-type]
    assert claims["iss"] == claims["sub"] == "app-key"
    assert len(claims["jti"]) == 36
    assert 0 < claims["exp"] - __import__("time").time() <= 300


def test_every_request_carries_the_headers_and_the_token(settings: ConnectionSettings) -> None:
    provider = Provider(lambda request: fhir(200, record(), request))
    outcome = call(settings, provider)
    read = provider.seen[1]
    assert read.url.path == "/personal-demographics/FHIR/R4/Patient/9991000003"
    assert read.headers["Accept"] == "application/fhir+json"
    assert read.headers["Authorization"] == "Bearer tok1"
    assert read.headers["NHSD-End-User-Organisation-ODS"] == "Y12345"
    assert read.headers["X-Request-ID"] == outcome.message_id
    assert outcome.fhir.version_id == "3"


def test_a_retry_keeps_the_x_request_id_and_honours_retry_after(
    settings: ConnectionSettings
) -> None:
    waits: list[float] = []
    answers = iter([429, 503, 200])

    def patient(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        if status == 200:
            return fhir(200, record(), request)
        return fhir(status, {"resourceType": "OperationOutcome", "issue": []}, request,
                    **{"Retry-After": "120" if status == 429 else "2"})

    provider = Provider(patient)
    query = build_query(GET, nhs_number="9991000003", dob="1984-03-14")
    outcome = service.call(query, settings, transport=httpx.MockTransport(provider),
                           policy=RetryPolicy(attempts=3, backoff=0, sleep=waits.append),
                           audit=CallAudit(NullTrail()))
    ids = {request.headers["X-Request-ID"] for request in provider.seen[1:]}
    assert ids == {outcome.message_id}
    assert waits == [60.0, 2.0]  # Retry-After capped at 60 s


def test_a_401_drops_the_token_signs_in_again_and_sends_once_more(
    settings: ConnectionSettings
) -> None:
    answers = iter([401, 200])

    def patient(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        body = record() if status == 200 else {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "forbidden", "details": {"coding": [{
                "system": "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode",
                "code": "ACCESS_DENIED"}]}}],
        }
        return fhir(status, body, request)

    provider = Provider(patient)
    outcome = call(settings, provider)
    assert outcome.exit_code == 0
    assert provider.tokens == 2
    reads = [r for r in provider.seen if str(r.url) != TOKEN_URL]
    assert [r.headers["Authorization"] for r in reads] == ["Bearer tok1", "Bearer tok2"]
    assert reads[0].headers["X-Request-ID"] == reads[1].headers["X-Request-ID"]


def test_a_401_between_two_429s_costs_no_retry(settings: ConnectionSettings) -> None:
    # A batch's token can expire while a row waits out a 429: replacing the token is not the
    # provider failing, so the row still has its retries (3 attempts: 429, 429, then 200).
    answers = iter([429, 401, 429, 200])

    def patient(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        if status == 200:
            return fhir(200, record(), request)
        return fhir(status, {"resourceType": "OperationOutcome", "issue": []}, request)

    provider = Provider(patient)
    query = build_query(GET, nhs_number="9991000003", dob="1984-03-14")
    outcome = service.call(query, settings, transport=httpx.MockTransport(provider),
                           policy=RetryPolicy(attempts=3, backoff=0, sleep=lambda _: None),
                           audit=CallAudit(NullTrail()))
    assert outcome.exit_code == 0
    reads = [r for r in provider.seen if str(r.url) != TOKEN_URL]
    assert [r.headers["Authorization"] for r in reads] == [
        "Bearer tok1", "Bearer tok1", "Bearer tok2", "Bearer tok2"]
    assert provider.tokens == 2


def test_the_token_post_is_retried_like_a_call_and_each_attempt_audited(
    settings: ConnectionSettings
) -> None:
    answers = iter([503, 429, 200])
    waits: list[float] = []
    trail = NullTrail()

    def provider(request: httpx.Request) -> httpx.Response:
        if str(request.url) != TOKEN_URL:
            return fhir(200, record(), request)
        status = next(answers)
        if status != 200:
            return httpx.Response(status, json={"message": "busy"},
                                  headers={"Retry-After": "3"} if status == 429 else {})
        return httpx.Response(200, json={"access_token": "tok", "expires_in": "599"})

    query = build_query(GET, nhs_number="9991000003", dob="1984-03-14")
    outcome = service.call(query, settings, transport=httpx.MockTransport(provider),
                           policy=RetryPolicy(attempts=3, backoff=1, sleep=waits.append,
                                              random=lambda: 0.5),
                           audit=CallAudit(trail))
    assert outcome.exit_code == 0
    assert waits == [0.5, 3.0]  # the backoff, then the 429's Retry-After
    tokens = [(r["outcome"], r["http_status"]) for r in trail.records if r["event"] == "token"]
    assert tokens == [("failed", 503), ("failed", 429), ("issued", 200)]


def test_a_token_service_still_failing_after_the_attempts_is_exit_4(
    settings: ConnectionSettings
) -> None:
    asked: list[str] = []

    def provider(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(502, text="bad gateway")

    query = build_query(GET, nhs_number="9991000003", dob="1984-03-14")
    with pytest.raises(ProviderFailed) as failed:
        service.call(query, settings, transport=httpx.MockTransport(provider),
                     policy=RetryPolicy(attempts=2, backoff=0, sleep=lambda _: None),
                     audit=CallAudit(NullTrail()))
    assert failed.value.exit_code == ExitCode.PROVIDER_FAILED
    assert f"the token service at {TOKEN_URL} failed: HTTP 502" in failed.value.message
    assert asked == [TOKEN_URL, TOKEN_URL]  # no read without a token


def test_a_token_is_reused_within_the_process(settings: ConnectionSettings) -> None:
    provider = Provider(lambda request: fhir(200, record(), request))
    call(settings, provider)
    call(settings, provider)
    assert provider.tokens == 1


# The HTTP status each official error body comes with (the specification's tables), and the
# exit code smsp gives it. UNSUPPORTED_SERVICE and the rest of the 400s are caught by smsp's
# own validation first in practice; NOT_SUPPORTED_SEARCH is the hosted sandbox's "no scenario".
ERROR_EXITS = [
    ("INVALID_RESOURCE_ID", 400, 3), ("UNSUPPORTED_SERVICE", 400, 3), ("MISSING_VALUE", 400, 3),
    ("INVALID_VALUE", 400, 3), ("INVALID_VALUE", 403, 3), ("ADDITIONAL_PROPERTIES", 400, 3),
    ("INVALID_SEARCH_DATA", 400, 3), ("ACCESS_DENIED", 401, 3), ("ACCESS_DENIED", 403, 3),
    ("INVALID_METHOD", 403, 3), ("RESOURCE_NOT_FOUND", 404, 1), ("INVALIDATED_RESOURCE", 404, 1),
    ("NOT_SUPPORTED_SEARCH", 200, 4),
]


@pytest.mark.parametrize(("name", "status", "exit_code"), ERROR_EXITS)
def test_each_official_error_body_maps_to_its_exit_code(
    settings: ConnectionSettings, name: str, status: int, exit_code: int
) -> None:
    path = ERRORS / f"{name}.json"
    if not path.exists():
        pytest.skip(f"needs {path}: the PDS FHIR reference pack beside the checkout")
    body = json.loads(path.read_text())
    provider = Provider(lambda request: fhir(status, body, request))
    try:
        code = call(settings, provider).exit_code
    except SmspError as error:
        code = int(error.exit_code)
    assert code == exit_code


def test_not_found_is_demog_0001_and_invalidated_demog_0022(settings: ConnectionSettings) -> None:
    for name, response_code in (("RESOURCE_NOT_FOUND", "DEMOG-0001"),
                                ("INVALIDATED_RESOURCE", "DEMOG-0022")):
        path = ERRORS / f"{name}.json"
        if not path.exists():
            pytest.skip(f"needs {path}")
        body = json.loads(path.read_text())
        outcome = call(settings, Provider(lambda request, b=body: fhir(404, b, request)))
        assert outcome.reply.response_code == response_code
        assert outcome.fhir.issue_code == name


def test_another_patients_record_is_refused(settings: ConnectionSettings) -> None:
    other = record("9991000062", birth="1967-05-21")
    with pytest.raises(ProviderFailed, match="another NHS number"):
        call(settings, Provider(lambda request: fhir(200, other, request)))


def test_a_superseded_number_answered_by_a_record_that_verifies_is_demog_0017(
    settings: ConnectionSettings
) -> None:
    outcome = call(settings, Provider(lambda request: fhir(200, record("9991000062"),
                                                                  request)))
    assert outcome.reply.response_code == "DEMOG-0017"
    assert outcome.superseded_nhs_number == "9991000003"
    assert outcome.reply.patient.nhs_number == "9991000062"


def test_a_record_failing_the_verification_rule_is_demog_0040_and_withheld(
    settings: ConnectionSettings
) -> None:
    outcome = call(settings, Provider(lambda request: fhir(200, record(birth="1985-04-14"),
                                                                  request)))
    assert outcome.reply.response_code == "DEMOG-0040"
    assert outcome.reply.patient is None
    assert outcome.exit_code == 1


@pytest.mark.parametrize(
    ("body", "headers", "words"),
    [
        (b"[" * 100 + b"]" * 100, {}, "nested deeper than 32"),
        (b"[" * 100_000 + b"]" * 100_000, {}, "nested too deeply"),
        # Counted on the raw bytes, before anything is parsed: a reply of millions of tiny
        # values never becomes millions of objects.
        (b"[" + b",".join([b"{}"] * 200_001) + b"]", {},
         "JSON with more than 200,000 separators (`,` `:` `[`), too many values to read"),
        (b"[" + b",".join([b'"a:b:c"'] * 70_000) + b"]", {},
         "JSON with more than 200,000 separators"),  # colons inside strings count too
        (b"[" + b",".join([b"0"] * 60_000) + b"]", {}, "JSON more than 50,000 values"),
        (b'{"resourceType": "Patient", "x": "' + b"a" * 800_000 + b'"}', {},
         "JSON with more than 786,432 bytes between two double quotes, a value too long"),
        (b"[" + b'""' * 100_001 + b"]", {},
         "JSON with more than 200,000 double quotes, too many strings to read"),
        (json.dumps({"resourceType": "Patient", "x": "a" * 70_000}).encode(), {},
         "longer than 65,536 characters"),
        (b'{"resourceType": "Patient"}', {"Content-Type": "text/html"}, "not application/fhir"),
        (b"not json", {}, "not valid JSON"),
        (b'{"resourceType": "Binary"}', {}, "answered unusably: HTTP 200 OK with a Binary"),
    ],
)
def test_hostile_replies_are_refused_and_nothing_shown(
    settings: ConnectionSettings, body: bytes, headers: dict[str, str], words: str
) -> None:
    def patient(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={
            "Content-Type": "application/fhir+json",
            "X-Request-ID": request.headers["X-Request-ID"], **headers})

    with pytest.raises(SmspError) as caught:
        call(settings, Provider(patient))
    assert caught.value.exit_code == ExitCode.PROVIDER_FAILED
    assert words in caught.value.one_line()


def test_a_reply_mirroring_another_request_id_is_refused(settings: ConnectionSettings) -> None:
    provider = Provider(lambda request: httpx.Response(
        200, json=record(), headers={"Content-Type": "application/fhir+json",
                                     "X-Request-ID": "00000000-0000-0000-0000-000000000000"}))
    with pytest.raises(ProviderFailed, match="X-Request-ID is not the one sent"):
        call(settings, provider)


def test_search_sends_the_application_restricted_parameters_then_reads_the_match(
    settings: ConnectionSettings
) -> None:
    def patient(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/Patient"):
            return fhir(200, {"resourceType": "Bundle", "total": 1,
                              "entry": [{"resource": record()}]}, request)
        return fhir(200, record(telecom=[{"system": "phone", "value": "01632960184"}]),
                    request)

    provider = Provider(patient)
    outcome = call(settings, provider, SEARCH, family="Fairweather", dob="1984-03-14",
                   gender="f", postcode="BO1 4QX")
    search = provider.seen[1]
    assert list(search.url.params.multi_items()) == [
        ("family", "Fairweather"), ("gender", "female"), ("birthdate", "eq1984-03-14"),
        ("address-postalcode", "BO1 4QX"), ("_max-results", "1"), ("_exact-match", "true")]
    assert provider.seen[2].url.path.endswith("/Patient/9991000003")
    assert outcome.reply.patient.telecoms[0].value == "01632960184"


def test_trace_with_a_partial_date_searches_a_range_without_exact_match_for_a_wildcard(
    settings: ConnectionSettings
) -> None:
    provider = Provider(lambda request: fhir(200, {"resourceType": "Bundle", "total": 0},
                                             request))
    outcome = call(settings, provider, TRACE, family="Fair*", dob="1984-02", gender="f")
    params = list(provider.seen[1].url.params.multi_items())
    assert ("birthdate", "ge1984-02-01") in params
    assert ("birthdate", "le1984-02-29") in params
    assert ("_exact-match", "true") not in params
    assert outcome.reply.response_code == "DEMOG-0001"


def test_a_bundle_of_two_despite_max_results_1_is_refused(settings: ConnectionSettings) -> None:
    two = {"resourceType": "Bundle", "entry": [{"resource": record()},
                                               {"resource": record("9991000062")}]}
    with pytest.raises(ProviderFailed, match="2 records despite _max-results=1"):
        call(settings, Provider(lambda request: fhir(200, two, request)), TRACE,
             family="Fairweather", dob="1984-03-14", gender="f")


def test_too_many_matches_is_demog_0007(settings: ConnectionSettings) -> None:
    body = {"resourceType": "OperationOutcome", "issue": [{"severity": "information",
            "code": "multiple-matches", "details": {"coding": [{"code": "TOO_MANY_MATCHES"}]}}]}
    outcome = call(settings, Provider(lambda request: fhir(200, body, request)),
                   SEARCH, family="Twyford", dob="1990-01-01", gender="m")
    assert outcome.reply.response_code == "DEMOG-0007"
    assert outcome.exit_code == 1


def test_token_refusals_are_config_errors_with_their_cause(settings: ConnectionSettings) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "invalid_request", "error_description":
                                         "Missing or non-matching 'aud' claim in JWT"})

    with pytest.raises(ConfigError, match="audience is not this token URL") as caught:
        service.call(build_query(GET, nhs_number="9991000003", dob="1984-03-14"),
                          settings, transport=httpx.MockTransport(refuse),
                          audit=CallAudit(NullTrail()))
    assert caught.value.exit_code == ExitCode.CONFIG
    assert "SMSP_TOKEN_URL" in (caught.value.hint or "")
