"""Layer 5 when the handshake fails: which side refused, why, and what to do about it."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from smsp_cli.diagnose import tlsprobe
from smsp_cli.diagnose.certtext import dn, san_names, server_certificate_facts, validity_text
from smsp_cli.diagnose.local import read_ca_bundle
from smsp_cli.diagnose.network import os_reason
from smsp_cli.diagnose.report import Check, Layer, fail
from smsp_cli.transport import tls_alerts
from smsp_cli.transport.netaddr import hostport
from smsp_cli.transport.tls_alerts import alert_name

if TYPE_CHECKING:
    from pathlib import Path

    from cryptography import x509

    from smsp_cli.diagnose.network import Target

def handshake_failure(
    result: tlsprobe.Handshake,
    target: Target,
    address: tuple[str, int],
    timeout: float,
    ca_bundle: Path,
    client: x509.Certificate | None,
    flight: tlsprobe.ServerFlight | None,
) -> Check:
    """The failing check for a handshake (or first request) that ended in ``result.error``."""
    error = result.error
    if isinstance(error, ssl.SSLCertVerificationError):
        leaf = _unverified_leaf(target, address, timeout, flight)
        return _untrusted_server(error, target, leaf, ca_bundle)
    alert = alert_name(error)
    if alert is not None:
        return _alert_failure(alert, result.stage, client)
    if isinstance(error, ssl.SSLError) and _not_tls(error):
        return _not_tls_failure(address, timeout, error)
    if isinstance(error, TimeoutError):
        return fail(
            Layer.TLS,
            f"no TLS answer from {hostport(*address)} within {timeout:g} s",
            "the server accepted the TCP connection but never answered the TLS handshake: "
            "the port may not be TLS, or the server is stuck",
            "check the port in the endpoint; try again later, or raise --timeout",
        )
    return fail(
        Layer.TLS,
        f"TLS handshake with {target.host} failed: {os_reason(error)}",
        "the server closed the connection during the handshake"
        if isinstance(error, ConnectionError | ssl.SSLEOFError)
        else "the handshake could not complete",
        "the server may refuse this client or protocol; send the output of smsp doctor and "
        "smsp -v to the provider",
    )


# --- we refused the server ---------------------------------------------------------------


def _untrusted_server(
    error: ssl.SSLCertVerificationError,
    target: Target,
    leaf: x509.Certificate | None,
    ca_bundle: Path,
) -> Check:
    facts: list[tuple[str, str]] = [("verification", str(error.verify_message))]
    if leaf is not None:
        facts += server_certificate_facts(leaf)
        facts.append(("server valid", validity_text(leaf)))
    code = error.verify_code
    if code in (62, 64):  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
        names = ", ".join(san_names(leaf)) if leaf is not None else "other names"
        summary = f"server certificate does not match host name {target.host}"
        cause = f"the certificate names {names or 'no host'}, not {target.host}"
        step = (
            "put a host name the certificate names in --endpoint, or ask the provider for a "
            "certificate that names this one"
        )
    elif code == 10:  # X509_V_ERR_CERT_HAS_EXPIRED
        summary = "the server's certificate has expired"
        cause = "the provider has not renewed its certificate"
        step = "tell the provider; do not turn verification off"
    elif code == 9:  # X509_V_ERR_CERT_NOT_YET_VALID
        summary = "the server's certificate is not yet valid"
        cause = "this computer's clock is behind, or the provider installed it early"
        step = "check the clock (NTP), then tell the provider"
    else:
        summary = f"the server's certificate is not trusted: {error.verify_message}"
        cause = _untrusted_cause(leaf, ca_bundle)
        step = (
            "point --ca-bundle at the provider's CA certificates (for NHS endpoints, the sub-CA "
            "and root from your endpoint registration, or the environment's published CA)"
        )
    return fail(Layer.TLS, summary, cause, step, tuple(facts))


def _untrusted_cause(leaf: x509.Certificate | None, ca_bundle: Path) -> str:
    bundle, _ = read_ca_bundle(ca_bundle)
    held = "; ".join(dn(c.subject) for c in bundle) or "nothing readable"
    issuer = dn(leaf.issuer) if leaf is not None else "a CA"
    return (
        f"it was issued by {issuer}, which is not in the CA bundle {ca_bundle} (it holds: {held})"
    )


def _unverified_leaf(
    target: Target,
    address: tuple[str, int],
    timeout: float,
    flight: tlsprobe.ServerFlight | None,
) -> x509.Certificate | None:
    """The server's certificate without trusting it, to explain why it was not trusted."""
    from cryptography import x509

    der = flight.chain_der[0] if flight is not None and flight.chain_der else None
    if der is None:
        looking = tlsprobe.unverified_context()  # only to read the certificate; nothing is sent
        der = tlsprobe.handshake(address, target.host, looking, timeout=timeout).peer_der
    if not der:
        return None
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return None


# --- the server refused us, or is not TLS ------------------------------------------------


def _alert_failure(alert: str, stage: str, client: x509.Certificate | None) -> Check:
    shown = alert
    if client is None and alert in ("handshake failure", "bad certificate"):
        shown = "certificate required"
    issuer = f" ({dn(client.issuer)})" if client is not None else ""
    none = "" if client is not None else " (none was sent)"
    when = "after the handshake, on our first request" if stage == "probe" else "in the handshake"
    return fail(
        Layer.TLS,
        f"the server sent TLS alert '{alert}'",
        tls_alerts.cause(shown, issuer=issuer, none=none),
        tls_alerts.next_step(shown),
        (("alert", f"{alert} ({when})"),),
    )


def _not_tls(error: ssl.SSLError) -> bool:
    reason = (error.reason or "").upper()
    return reason in (
        "WRONG_VERSION_NUMBER",
        "RECORD_LAYER_FAILURE",
        "HTTP_REQUEST",
        "UNKNOWN_PROTOCOL",
    )


def _not_tls_failure(address: tuple[str, int], timeout: float, error: ssl.SSLError) -> Check:
    status = tlsprobe.plain_http_status(address, timeout=timeout)
    where = hostport(*address)
    if status is not None:
        return fail(
            Layer.TLS,
            f"{where} speaks plain HTTP, not TLS",
            "the port serves unencrypted HTTP; SMSP needs HTTPS with mutual TLS",
            "use the provider's HTTPS port or URL in --endpoint",
            (("plain HTTP answer", status), ("TLS error", str(error.reason))),
        )
    return fail(
        Layer.TLS,
        f"{where} does not speak TLS ({error.reason})",
        "the server answered with something other than TLS",
        "check the port in the endpoint",
    )
