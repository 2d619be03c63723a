"""A PDS FHIR provider over httpx.MockTransport, for unit tests of one FHIR call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from smsp_cli import service
from smsp_cli.audit.calls import CallAudit
from smsp_cli.domain.models import build_query
from smsp_cli.domain.operations import GET
from smsp_cli.settings.connection import ConnectionSettings
from smsp_cli.transport.retry import RetryPolicy

ENDPOINT = "https://pds.example.org/personal-demographics/FHIR/R4"
TOKEN_URL = "https://id.example.org/oauth2/token"
Handler = Callable[[httpx.Request], httpx.Response]


def record(number: str = "9991000003", birth: str = "1984-03-14", **extra: Any
           ) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": number, "birthDate": birth,
            "meta": {"versionId": "3", "security": [{"code": "U"}]},
            "name": [{"use": "usual", "family": "Fairweather", "given": ["Eleanor"]}], **extra}


def fhir(status: int, body: object, request: httpx.Request, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers={
        "Content-Type": "application/fhir+json",
        "X-Request-ID": request.headers.get("X-Request-ID", ""), **headers})


class Provider:
    """A token endpoint and a Patient endpoint; every request is kept."""

    def __init__(self, patient: Handler) -> None:
        self.patient = patient
        self.seen: list[httpx.Request] = []
        self.tokens = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if str(request.url) == TOKEN_URL:
            self.tokens += 1
            return httpx.Response(200, json={"access_token": f"tok{self.tokens}",
                                             "expires_in": "599", "token_type": "Bearer"})
        return self.patient(request)


def call(settings: ConnectionSettings, provider: Provider, operation: Any = GET,
         **fields: str) -> Any:
    query = build_query(operation, **(fields or {"nhs_number": "9991000003",
                                                 "dob": "1984-03-14"}))
    return service.call(query, settings, transport=httpx.MockTransport(provider),
                        policy=RetryPolicy(attempts=3, backoff=0, sleep=lambda _: None),
                        audit=CallAudit(NullTrail()))


class NullTrail:
    """An audit trail that keeps its records in memory."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def append(self, fields: dict[str, Any]) -> None:
        self.records.append(dict(fields))

    def close(self) -> None:
        return
