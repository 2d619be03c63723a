"""The Subject CN and validity of a PEM certificate, read from its DER without ``cryptography``.

Every lookup needs the client certificate's CN (the default wsse:Username, ITK-WS WS-SEC-02),
and importing ``cryptography`` for it costs more than the rest of a dry run. The path to the
CN is short and fixed by RFC 5280 §4.1: Certificate -> tbsCertificate -> (optional [0]
version), serialNumber, signature, issuer, **validity**, **subject** -> RDNs -> (type, value).
Every lookup also checks that the certificate is in date before sending (servers refuse it
otherwise), from the validity's two times (UTCTime or GeneralizedTime, §4.1.2.5). This reader
walks exactly that, for the string types a CN uses in practice (UTF8String,
PrintableString, IA5String), and answers None whenever anything is unexpected, so that the
caller falls back to ``cryptography``: it is a shortcut, never a second opinion.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt

_BEGIN = b"-----BEGIN CERTIFICATE-----"
_END = b"-----END CERTIFICATE-----"
_SEQUENCE, _SET, _OID = 0x30, 0x31, 0x06
_VERSION = 0xA0  # [0] EXPLICIT, present from X.509 v2 on
# Its content: INTEGER v1(0), v2(1) or v3(2) (RFC 5280 4.1.2.1).
_KNOWN_VERSIONS = frozenset(bytes((0x02, 0x01, number)) for number in range(3))
_COMMON_NAME = bytes((0x55, 0x04, 0x03))  # 2.5.4.3
# DER string tags a CN is read from here; any other (BMPString, TeletexString, ...) -> None.
_TEXT_TAGS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii"}
# RFC 5280 4.1.2.5: UTCTime YYMMDDHHMMSSZ (years 1950-2049), GeneralizedTime YYYYMMDDHHMMSSZ.
_TIME_FORMATS = {0x17: "%y%m%d%H%M%SZ", 0x18: "%Y%m%d%H%M%SZ"}


class _Unexpected(Exception):
    """The DER is not shaped as this reader expects; let cryptography decide."""


def pem_common_name(pem: bytes) -> str | None:
    """The first Subject CN of the first certificate in ``pem``; None if not simply readable.

    None means "ask cryptography": no certificate block, a malformed one, a subject without a
    CN, or a CN in a string type this reader does not decode.
    """
    try:
        return _first_common_name(_tbs(_first_der(pem)))
    except (binascii.Error, _Unexpected):
        return None


def pem_validity(pem: bytes) -> tuple[dt.datetime, dt.datetime] | None:
    """notBefore and notAfter (UTC) of the first certificate in ``pem``; None: ask cryptography."""
    try:
        validity = _tbs(_first_der(pem))[3]  # serialNumber, signature, issuer, validity
        if validity[0] != _SEQUENCE:
            raise _Unexpected
        times = _children(validity[1])
        if len(times) != 2:
            raise _Unexpected
        return _time(*times[0]), _time(*times[1])
    except (binascii.Error, _Unexpected):
        return None


def _first_der(pem: bytes) -> bytes:
    begin = pem.find(_BEGIN)
    end = pem.find(_END, begin + len(_BEGIN))
    if begin < 0 or end < 0:
        raise _Unexpected
    return base64.b64decode(b"".join(pem[begin + len(_BEGIN) : end].split()), validate=True)


def _tbs(der: bytes) -> list[tuple[int, bytes]]:
    """tbsCertificate's fields from serialNumber on (the optional version checked and skipped)."""
    certificate = _children(_only(der, _SEQUENCE))
    if not certificate or certificate[0][0] != _SEQUENCE:
        raise _Unexpected
    tbs = _children(certificate[0][1])
    if tbs and tbs[0][0] == _VERSION:
        if tbs[0][1] not in _KNOWN_VERSIONS:
            raise _Unexpected  # not a certificate cryptography (or OpenSSL) would accept
        tbs = tbs[1:]
    if len(tbs) < 5:
        raise _Unexpected
    return tbs


def _time(tag: int, value: bytes) -> dt.datetime:
    form = _TIME_FORMATS.get(tag)
    if form is None:
        raise _Unexpected
    try:
        when = dt.datetime.strptime(value.decode("ascii"), form)
    except (UnicodeDecodeError, ValueError):
        raise _Unexpected from None
    if tag == 0x17 and when.year >= 2050:
        when = when.replace(year=when.year - 100)  # UTCTime's 50-99 are 1950-1999
    return when.replace(tzinfo=dt.UTC)


def _first_common_name(tbs: list[tuple[int, bytes]]) -> str | None:
    subject_tag, subject = tbs[4]  # serialNumber, signature, issuer, validity, subject
    if subject_tag != _SEQUENCE:
        raise _Unexpected
    for rdn_tag, rdn in _children(subject):
        if rdn_tag != _SET:
            raise _Unexpected
        for pair_tag, pair in _children(rdn):
            if pair_tag != _SEQUENCE:
                raise _Unexpected
            parts = _children(pair)
            if len(parts) != 2 or parts[0][0] != _OID:
                raise _Unexpected
            if parts[0][1] == _COMMON_NAME:
                return _text(*parts[1])
    return None


def _text(tag: int, value: bytes) -> str:
    encoding = _TEXT_TAGS.get(tag)
    if encoding is None:
        raise _Unexpected
    try:
        return value.decode(encoding)
    except UnicodeDecodeError:
        raise _Unexpected from None


def _only(der: bytes, tag: int) -> bytes:
    items = _children(der)
    if len(items) != 1 or items[0][0] != tag:
        raise _Unexpected
    return items[0][1]


def _children(der: bytes) -> list[tuple[int, bytes]]:
    """The (tag, contents) of each DER element laid end to end in ``der``."""
    items = []
    at = 0
    while at < len(der):
        tag = der[at]
        if tag & 0x1F == 0x1F or at + 1 >= len(der):
            raise _Unexpected  # multi-byte tags never occur on the path to the CN
        length = der[at + 1]
        at += 2
        if length & 0x80:
            size = length & 0x7F
            if not 1 <= size <= 4 or at + size > len(der):
                raise _Unexpected  # indefinite or absurd lengths are not DER
            length = int.from_bytes(der[at : at + size], "big")
            at += size
        if at + length > len(der):
            raise _Unexpected
        items.append((tag, der[at : at + length]))
        at += length
    return items
