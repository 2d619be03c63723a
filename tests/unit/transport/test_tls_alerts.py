"""TLS alerts by name, from an ssl error's reason or its words, and which refuse our certificate."""

from __future__ import annotations

import ssl

import pytest

from smsp_cli.transport import tls_alerts


def test_the_name_comes_from_the_reason_of_the_error_or_of_what_it_was_raised_from() -> None:
    error = ssl.SSLError(1, "x")
    error.reason = "TLSV1_ALERT_UNKNOWN_CA"
    assert tls_alerts.alert_name(error) == "unknown ca"
    outer = ConnectionError("wrapped")
    outer.__cause__ = error
    assert tls_alerts.alert_name(outer) == "unknown ca"


def test_the_name_comes_from_the_words_when_no_reason_is_kept() -> None:
    text = "[SSL: SSLV3_ALERT_BAD_CERTIFICATE] sslv3 alert bad certificate (_ssl.c:2580)"
    assert tls_alerts.alert_name(RuntimeError(text)) == "bad certificate"
    assert tls_alerts.alert_name(RuntimeError("[SSL: WRONG_VERSION_NUMBER] no")) is None
    assert tls_alerts.alert_name(None) is None


@pytest.mark.parametrize(
    ("alert", "refuses"),
    [("unknown ca", True), ("bad certificate", True), ("certificate expired", True),
     ("certificate revoked", True), ("certificate required", True), ("access denied", True),
     ("certificate unknown", True), ("unsupported certificate", True),
     ("handshake failure", False), ("protocol version", False), ("internal error", False),
     (None, False)],
)
def test_which_alerts_refuse_our_certificate(alert: str | None, refuses: bool) -> None:
    assert tls_alerts.refuses_our_certificate(alert) is refuses


def test_causes_fill_the_issuer_and_an_unknown_alert_is_named() -> None:
    assert tls_alerts.cause("unknown ca", issuer=" (CN=Sub CA)") == (
        "the server does not trust the CA that issued your client certificate (CN=Sub CA)")
    assert tls_alerts.cause("no renegotiation") == (
        "the server ended the connection with TLS alert 'no renegotiation'")
    assert tls_alerts.next_step("certificate revoked") == "request a new endpoint certificate"
