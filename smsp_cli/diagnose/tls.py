"""Layer 5: the TLS handshake as a lookup makes it, and what the server says about us.

The raw probing is :mod:`smsp_cli.diagnose.tlsprobe`; a failed handshake is explained by
:mod:`smsp_cli.diagnose.tls_failure`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from smsp_cli.diagnose import tlsprobe
from smsp_cli.diagnose.certtext import (
    CERT_WARN_DAYS,
    day,
    der_cn,
    expiry_text,
    server_certificate_facts,
)
from smsp_cli.diagnose.network import os_reason
from smsp_cli.diagnose.report import Check, Layer, Status
from smsp_cli.diagnose.tls_failure import handshake_failure
from smsp_cli.output.tracetext import format_seconds
from smsp_cli.transport.tls_alerts import alert_name

if TYPE_CHECKING:
    import datetime as dt
    import ssl
    from pathlib import Path

    from cryptography import x509

    from smsp_cli.diagnose.network import Target
    from smsp_cli.settings.clientcert import ClientCredentials
    from smsp_cli.settings.connection import ConnectionSettings


def client_context(
    settings: ConnectionSettings, client: ClientCredentials | None
) -> ssl.SSLContext:
    """The very TLS context a lookup uses: CA bundle, our certificate, minimum version."""
    from smsp_cli.transport import http as transport

    return transport.ssl_context(
        settings.ca_bundle,
        settings.cert,
        settings.key,
        client=client,
        min_tls_version=settings.min_tls_version,
    )


def check_tls(
    target: Target,
    context: ssl.SSLContext,
    *,
    address: tuple[str, int],
    timeout: float,
    ca_bundle: Path,
    client: x509.Certificate | None,
    now: dt.datetime,
    budget: float | None = None,
) -> Check:
    """Shake hands as a lookup would, then ask the server a HEAD to hear its verdict on us.

    Each probe connection ends within ``budget`` seconds (default ``timeout``), like a lookup's
    attempt, however slowly the server answers.
    """
    result = tlsprobe.handshake(
        address, target.host, context, timeout=timeout, probe_request=_head(target),
        budget=budget,
    )
    flight = tlsprobe.server_flight(address, target.host, timeout=timeout, budget=budget)
    if result.error is not None and not _only_silent(result):
        return handshake_failure(result, target, address, timeout, ca_bundle, client, flight)
    return _tls_success(result, target, address, timeout, flight, now, budget)


def _head(target: Target) -> bytes:
    """A harmless request that makes the server give its verdict on our certificate."""
    request = f"HEAD {target.path} HTTP/1.1\r\nHost: {target.netloc}\r\nConnection: close\r\n\r\n"
    return request.encode("ascii")


def _only_silent(result: tlsprobe.Handshake) -> bool:
    """The handshake worked and the server merely did not answer our HEAD in time."""
    return result.stage == "probe" and isinstance(result.error, TimeoutError)


def _tls_success(
    result: tlsprobe.Handshake,
    target: Target,
    address: tuple[str, int],
    timeout: float,
    flight: tlsprobe.ServerFlight | None,
    now: dt.datetime,
    budget: float | None,
) -> Check:
    from cryptography import x509

    facts = [
        ("protocol", f"{result.version}, cipher {result.cipher}"),
        ("handshake", format_seconds(result.seconds)),
    ]
    warnings: list[Check] = []
    if result.peer_der:
        server = x509.load_der_x509_certificate(result.peer_der)
        facts += server_certificate_facts(server)
        facts += [
            ("host name", f"{target.host} matches the server certificate"),
            ("server expires", expiry_text(server.not_valid_after_utc, now)),
        ]
        if (server.not_valid_after_utc - now).days < CERT_WARN_DAYS:
            warnings.append(
                Check(
                    Layer.TLS,
                    Status.WARN,
                    f"the server's certificate expires on {day(server.not_valid_after_utc)}",
                    cause="after that every client will refuse the server",
                    next_step="tell the provider",
                )
            )
    facts.append(("server chain", _chain_text(result, flight)))
    asked, required_warning = _client_certificate_facts(target, address, timeout, flight, budget)
    facts += asked
    if required_warning is not None:
        warnings.append(required_warning)
    facts.append(("our certificate", _verdict_text(result, target)))
    if warnings:
        return replace(warnings[0], facts=tuple(facts))
    return Check(
        Layer.TLS,
        Status.PASS,
        f"{result.version} with {target.host}; server verified, our certificate accepted",
        tuple(facts),
    )


def _verdict_text(result: tlsprobe.Handshake, target: Target) -> str:
    if result.answer:
        probe = f"accepted: sent HEAD {target.path} to hear the server's verdict; "
        status = result.answer.split()[1:2]
        if status == ["405"]:
            # The SOAP binding (spec §5.6) takes only POST: refusing HEAD is the right answer.
            return probe + (
                f"{result.answer} is the expected answer from a SOAP endpoint that accepts "
                "only POST"
            )
        return probe + f"it answered {result.answer} (any HTTP answer means it let us in)"
    if _only_silent(result):
        return "no alert from the server (it did not answer a HEAD probe in time)"
    return "no alert from the server (it closed the connection without an answer)"


def _chain_text(result: tlsprobe.Handshake, flight: tlsprobe.ServerFlight | None) -> str:
    if result.chain_der:
        return " -> ".join(der_cn(der) for der in result.chain_der) + " (verified)"
    if flight is not None and flight.chain_der:
        return " -> ".join(der_cn(der) for der in flight.chain_der) + " (as sent, TLS 1.2)"
    return (
        "not available: the server speaks only TLS 1.3, which encrypts its chain, and "
        "Python before 3.13 shows only the server's own certificate"
    )


def _client_certificate_facts(
    target: Target,
    address: tuple[str, int],
    timeout: float,
    flight: tlsprobe.ServerFlight | None,
    budget: float | None,
) -> tuple[list[tuple[str, str]], Check | None]:
    """Does the server ask for, and insist on, a client certificate; which CAs does it name?"""
    facts: list[tuple[str, str]] = []
    if flight is None:
        facts.append(
            (
                "accepted CA names",
                "not available: the server speaks only TLS 1.3, which encrypts its certificate "
                "request, and Python 3.11's ssl does not show it",
            )
        )
    elif flight.asks_for_certificate:
        names = "; ".join(flight.ca_names) or "none named (it accepts any CA it trusts)"
        facts.append(("accepted CA names", names))
    bare = tlsprobe.unverified_context()  # only asking whether a certificate-less client gets in
    anonymous = tlsprobe.handshake(
        address, target.host, bare, timeout=timeout, probe_request=_head(target), budget=budget
    )
    if anonymous.answer:
        facts.append(("client certificate", "NOT required: the server answered without one"))
        return facts, Check(
            Layer.TLS,
            Status.WARN,
            "the server lets clients in without a certificate",
            cause="SMSP requires mutual TLS (spec §5.8): this may not be the SMSP endpoint",
            next_step="check the endpoint URL with the provider",
        )
    alert = alert_name(anonymous.error)
    if alert is not None:
        facts.append(("client certificate", f"required (without one the server says: {alert})"))
    else:
        reason = os_reason(anonymous.error) if anonymous.error else "no answer"
        facts.append(("client certificate", f"not determined: without one, {reason}"))
    return facts, None
