"""TLS alerts a server may send, in plain English: the words a lookup and doctor share.

OpenSSL names an alert in the reason of its error (``[SSL: TLSV1_ALERT_UNKNOWN_CA] ...``).
With TLS 1.2 a server's refusal of our certificate ends the handshake; with TLS 1.3 the
client's handshake is over before the server has judged our certificate, so the same alert
arrives as the error of the first read. Either way it is the same refusal, found the same way.

An alert in :data:`REFUSING_OUR_CERTIFICATE` means the provider will not take our client
certificate: sending again cannot change that, and every other request on that certificate
would be refused the same way (a lookup does not retry it; a batch stops at once).
"""

from __future__ import annotations

import re

# (cause, next step) for each TLS alert a server may send; the names are OpenSSL's. A cause
# may hold ``{issuer}`` (" (CN=...)" of our certificate's issuer, when known) and ``{none}``
# (" (none was sent)" when no client certificate was sent).
ALERTS: dict[str, tuple[str, str]] = {
    "unknown ca": (
        "the server does not trust the CA that issued your client certificate{issuer}",
        "use the client certificate issued for this environment (Opentest, PTL and live each "
        "have their own CA), or ask the provider to trust your CA",
    ),
    "bad certificate": (
        "the server rejected your client certificate as invalid",
        "check it was issued for this endpoint with clientAuth usage, and that its sub-CA is "
        "sent with it (use the PKCS#12 file)",
    ),
    "certificate unknown": (
        "the server could not accept your client certificate (often: not registered for this "
        "endpoint, or its chain is incomplete)",
        "check the endpoint registration with the provider; send the sub-CA with the certificate",
    ),
    "unsupported certificate": (
        "the server cannot use your client certificate's type or key usage",
        "ask the provider which certificate profile it needs",
    ),
    "certificate expired": (
        "the server says your client certificate (or a CA in its chain) has expired",
        "renew the endpoint certificate and configure the new one",
    ),
    "certificate revoked": (
        "the server says your client certificate has been revoked",
        "request a new endpoint certificate",
    ),
    "certificate required": (
        "the server requires a client certificate and none was sent",
        "configure --cert and --key (SMSP requires mutual TLS)",
    ),
    "handshake failure": (
        "no protocol or cipher in common, or the server refused the client certificate{none}",
        "check --cert and --key; the server must offer TLS 1.2 or later",
    ),
    "protocol version": (
        "the server does not accept the TLS versions we offer (TLS 1.2 or later)",
        "ask the provider; smsp does not go below TLS 1.2 (spec §5.8)",
    ),
    "access denied": (
        "the server refuses this client",
        "ask the provider whether your certificate is registered for this endpoint",
    ),
    "decrypt error": (
        "a handshake signature did not verify",
        "check that the key belongs to the certificate; send the output to the provider",
    ),
    "unrecognized name": (
        "the server does not serve the host name we asked for (SNI)",
        "check the host name in the endpoint",
    ),
    "internal error": (
        "the server failed during the handshake",
        "try again later; tell the provider if it persists",
    ),
}

# The alerts that say the server refused our client certificate (RFC 8446 §6.2 and RFC 5246
# §7.2.2 define each for a certificate the peer will not accept). "handshake failure" is not
# among them: it also means no cipher or version in common, which another server may not share.
REFUSING_OUR_CERTIFICATE = frozenset({
    "unknown ca",
    "bad certificate",
    "certificate unknown",
    "unsupported certificate",
    "certificate expired",
    "certificate revoked",
    "certificate required",
    "access denied",
})

_IN_TEXT = re.compile(r"ALERT_([A-Z0-9_]+)")


def alert_name(error: BaseException | None) -> str | None:
    """``certificate required`` from ``[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] ...``.

    The error's own ``reason`` (an ``ssl.SSLError``) first, then each error it was raised from
    (httpx wraps the ssl error), then the words of each (an error rebuilt from text).
    """
    chain: list[BaseException] = []
    seen = error
    while seen is not None and seen not in chain and len(chain) < 8:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    for link in chain:
        reason = getattr(link, "reason", None)
        if isinstance(reason, str) and "ALERT_" in reason:
            return _named(reason.split("ALERT_", 1)[1])
    for link in chain:
        found = _IN_TEXT.search(str(link))
        if found is not None:
            return _named(found.group(1))
    return None


def refuses_our_certificate(alert: str | None) -> bool:
    """True for an alert that says the server will not take our client certificate."""
    return alert in REFUSING_OUR_CERTIFICATE


def cause(alert: str, *, issuer: str = "", none: str = "") -> str:
    """What ``alert`` means, in plain English (doctor's words)."""
    if alert not in ALERTS:
        return f"the server ended the connection with TLS alert '{alert}'"
    return ALERTS[alert][0].format(issuer=issuer, none=none)


def next_step(alert: str) -> str:
    """What to do about ``alert``."""
    return ALERTS[alert][1] if alert in ALERTS else "send the output to the provider"


def _named(upper: str) -> str:
    return upper.replace("_", " ").lower().strip()
