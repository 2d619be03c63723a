"""Retries (spec §5.9): what is retried, the bound, backoff with jitter, fresh ids each time."""

from __future__ import annotations

import contextlib
import re
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pytest

from smsp_cli import service
from smsp_cli.domain import operations
from smsp_cli.domain.errors import (
    ConfigError,
    ProviderFailed,
    ProviderRejected,
    SmspError,
    Unreachable,
    UsageError,
)
from smsp_cli.domain.models import build_query
from smsp_cli.domain.results import Fault
from smsp_cli.settings.connection import ConnectionSettings, gather, resolve
from smsp_cli.transport.http import TransientNetworkError
from smsp_cli.transport.retry import AttemptEvent, RetryPolicy, is_retryable

if TYPE_CHECKING:
    from smsp_cli.sandbox.certs import SandboxCredentials

QUERY = build_query(operations.GET, nhs_number="9991000003", dob="1984-03-14")
MESSAGE_ID = re.compile(rb"<wsa:MessageID>([^<]+)</wsa:MessageID>")
TRACKING_ID = re.compile(rb'trackingid="([^"]+)"')
CREATED = re.compile(rb"<wsu:Created>([^<]+)</wsu:Created>")


def _fault(code: str) -> SmspError:
    error_class = ProviderRejected if code in ("1000", "3000") else ProviderFailed
    return error_class(f"fault {code}", fault=Fault("Server", "x", error_code=code))


# --- which failures are retried --------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "retried"),
    [
        (_fault("2100"), 500, True),
        (_fault("1000"), 500, False),
        (_fault("2200"), 500, False),
        (_fault("3000"), 500, False),
        (_fault("3000"), 503, False),  # the fault decides, not the status
        (TransientNetworkError("connection refused"), None, True),
        (TransientNetworkError("timed out"), None, True),
        (Unreachable("TLS handshake failed"), None, False),
        (ProviderFailed("HTTP 502"), 502, True),
        (ProviderFailed("HTTP 503"), 503, True),
        (ProviderFailed("HTTP 504"), 504, True),
        (ProviderFailed("HTTP 500"), 500, False),
        (ProviderRejected("HTTP 429"), 429, False),
        (ProviderFailed("malformed"), 200, False),
        (ConfigError("bad"), None, False),
        (UsageError("bad"), None, False),
    ],
)
def test_what_is_retryable(error: SmspError, status: int | None, retried: bool) -> None:
    assert is_retryable(error, status) is retried


def test_backoff_is_exponential_capped_and_jittered() -> None:
    top = RetryPolicy(attempts=9, backoff=0.5, max_backoff=3.0, random=lambda: 1.0)
    assert [top.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert RetryPolicy(random=lambda: 0.0).delay(3) == 0.0
    assert RetryPolicy(backoff=1.0, random=lambda: 0.25).delay(2) == 0.5


def test_the_bound_stops_retrying() -> None:
    policy = RetryPolicy(attempts=3)
    error = _fault("2100")
    assert [policy.should_retry(error, n, 500) for n in (1, 2, 3)] == [True, True, False]
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(attempts=0)


# --- service.call against a mock provider --------------------------------------------------------


@pytest.fixture
def settings(credentials: SandboxCredentials) -> ConnectionSettings:
    return resolve(gather({}, {}, {
        "endpoint": "https://provider.test/smsp/pds",
        "cert": str(credentials.client_cert),
        "key": str(credentials.client_key),
        "ca_bundle": str(credentials.ca_cert),
        "audit_id": "868000003114",
    }))


class Provider:
    """A scripted provider: answers (or raises) from a list, and keeps every request."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def ids(self, pattern: re.Pattern[bytes]) -> list[bytes]:
        return [match.group(1) for r in self.requests if (match := pattern.search(r.content))]


def _ok() -> httpx.Response:
    from smsp_cli.domain.results import Patient
    from smsp_cli.sandbox import responses
    from smsp_cli.sandbox.matching import Answer

    patient = Patient(nhs_number="9991000003", given_names=("Eleanor",),
                      family_name="Fairweather", gender="female", birth_date="1984-03-14")
    body = responses.business_reply(operations.GET, Answer("SMSP-0000", patient), relates_to=None)
    return httpx.Response(200, content=body, headers={"Content-Type": "text/xml"})


def _fault_response(code: str) -> httpx.Response:
    from smsp_cli.sandbox import responses

    return httpx.Response(500, content=responses.fault_reply(code, "scripted"),
                          headers={"Content-Type": "text/xml"})


def _business(code: str) -> httpx.Response:
    from smsp_cli.sandbox import responses
    from smsp_cli.sandbox.matching import Answer

    body = responses.business_reply(operations.GET, Answer(code, None), relates_to=None)
    return httpx.Response(200, content=body, headers={"Content-Type": "text/xml"})


def _call(
    settings: ConnectionSettings, provider: Provider, attempts: int = 3
) -> tuple[list[float], list[AttemptEvent], Callable[[], object]]:
    slept: list[float] = []
    events: list[AttemptEvent] = []
    policy = RetryPolicy(attempts=attempts, backoff=1.0, sleep=slept.append, random=lambda: 0.5)

    def go() -> object:
        return service.call(QUERY, settings, transport=httpx.MockTransport(provider),
                            policy=policy, on_attempt=events.append)

    return slept, events, go


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried_with_fresh_ids_then_succeed(
    settings: ConnectionSettings, status: int
) -> None:
    provider = Provider(httpx.Response(status, text="busy"), httpx.Response(status), _ok())
    slept, events, go = _call(settings, provider)
    outcome = go()
    assert outcome.reply.response_code == "SMSP-0000"  # type: ignore[attr-defined]
    assert len(provider.requests) == 3
    message_ids = provider.ids(MESSAGE_ID)
    assert len(set(message_ids)) == 3
    assert len(set(provider.ids(TRACKING_ID))) == 3
    assert outcome.message_id == message_ids[-1].decode()  # type: ignore[attr-defined]
    assert slept == [0.5, 1.0]  # backoff 1 s doubling, times the injected jitter 0.5
    assert [(e.number, e.failure is None, e.retry_in) for e in events] == [
        (1, False, 0.5), (2, False, 1.0), (3, True, None)
    ]


def test_the_bound_is_kept_and_the_error_says_how_many_attempts(
    settings: ConnectionSettings,
) -> None:
    provider = Provider(httpx.Response(503, text="busy"))
    slept, events, go = _call(settings, provider, attempts=4)
    with pytest.raises(ProviderFailed, match="after 4 attempts"):
        go()
    assert len(provider.requests) == 4
    assert len(slept) == 3
    assert events[-1].retry_in is None


@pytest.mark.parametrize(
    "answer",
    [
        _fault_response("1000"),
        _fault_response("2200"),
        _fault_response("3000"),
        httpx.Response(500, text="oops"),
        httpx.Response(404, text="no"),
        _business("SMSP-0004"),
        _business("DEMOG-0001"),
        _business("SMSP-9999"),
    ],
    ids=["1000", "2200", "3000", "500", "404", "SMSP-0004", "DEMOG-0001", "SMSP-9999"],
)
def test_never_retried(settings: ConnectionSettings, answer: httpx.Response) -> None:
    provider = Provider(answer)
    slept, _, go = _call(settings, provider)
    with contextlib.suppress(SmspError):
        go()
    assert len(provider.requests) == 1
    assert slept == []


def test_fault_2100_is_retried(settings: ConnectionSettings) -> None:
    provider = Provider(_fault_response("2100"), _ok())
    _, _, go = _call(settings, provider)
    go()
    assert len(provider.requests) == 2


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ConnectTimeout("timed out"),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
    ids=["refused", "connect-timeout", "read-timeout", "dropped"],
)
def test_network_failures_are_retried(settings: ConnectionSettings, error: Exception) -> None:
    provider = Provider(error, _ok())
    _, _, go = _call(settings, provider)
    go()
    assert len(provider.requests) == 2


def test_certificate_failures_are_not_retried(settings: ConnectionSettings) -> None:
    verify = ssl.SSLCertVerificationError(1, "certificate verify failed")
    verify.verify_message = "unable to get local issuer certificate"
    failure = httpx.ConnectError("verify failed")
    failure.__cause__ = verify
    provider = Provider(failure)
    _, _, go = _call(settings, provider)
    with pytest.raises(Unreachable):
        go()
    assert len(provider.requests) == 1
