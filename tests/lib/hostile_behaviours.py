"""What the hostile provider (tests/hostile.py) can do: each function returns a Behaviour.

Encoded and bomb replies, drips at every phase, hostile text in every field, replies that echo
the patient's identifiers, and a legal reply just under the body cap.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Sequence
from dataclasses import replace
from functools import cache
from typing import TYPE_CHECKING

from tests.lib.hostile import Behaviour, Pace, Part

if TYPE_CHECKING:
    from smsp_cli.domain.results import Patient


def http_reply(
    body: bytes,
    *,
    status: str = "200 OK",
    headers: Sequence[tuple[str, str]] = (("Content-Type", "text/xml; charset=utf-8"),),
    keep_alive: bool = False,
) -> bytes:
    """A whole HTTP/1.1 response with Content-Length, closing the connection (or keeping it)."""
    lines = [f"HTTP/1.1 {status}", *(f"{name}: {value}" for name, value in headers)]
    lines += [f"Content-Length: {len(body)}"] + ([] if keep_alive else ["Connection: close"])
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def encode(body: bytes, codings: Sequence[str]) -> bytes:
    """``body`` encoded with each coding in turn (as Content-Encoding lists them)."""
    for coding in codings:
        if coding == "gzip":
            body = gzip.compress(body, mtime=0)
        elif coding == "deflate":
            body = zlib.compress(body)
        elif coding == "br":
            import brotli  # type: ignore[import-untyped, unused-ignore]

            body = brotli.compress(body)
        elif coding == "zstd":
            import zstandard  # type: ignore[import-untyped, unused-ignore]

            body = zstandard.ZstdCompressor().compress(body)
        else:
            raise ValueError(coding)
    return body


def patient_reply(patient: Patient | None = None, *, code: str = "SMSP-0000") -> bytes:
    """A valid getPatientDetailsResponse envelope (the sandbox's own builder)."""
    from smsp_cli.domain import operations
    from smsp_cli.sandbox.builtin import BUILT_IN
    from smsp_cli.sandbox.matching import Answer
    from smsp_cli.sandbox.responses import business_reply

    chosen = patient or BUILT_IN[0].patient
    return business_reply(operations.GET, Answer(code, chosen))


@cache
def huge_patient_reply(given_length: int = 1_000_000, addresses: int = 11_500) -> bytes:
    """A legal getPatientDetailsResponse just under the body cap: huge names, many addresses.

    Both given names the reply carries are ``given_length`` characters (a text node may hold
    1 MiB), and the addresses bring it to about 9 MB (80,000 elements), within every limit.
    """
    from copy import deepcopy

    from lxml import etree

    from smsp_cli.sandbox.builtin import BUILT_IN

    patient = replace(BUILT_IN[0].patient, given_names=("G" * given_length,) * 2)
    root = etree.fromstring(patient_reply(patient), etree.XMLParser(huge_tree=True))
    holder = root.find(".//{urn:hl7-org:v3}subject/{urn:hl7-org:v3}patient")
    assert holder is not None
    found = holder.findall("{urn:hl7-org:v3}addr")
    first = found[0]
    for line in first.iter("{urn:hl7-org:v3}streetAddressLine"):
        line.text = (line.text or "").ljust(48, ".")  # more bytes an address, as many elements
    for _ in range(addresses - len(found)):
        first.addprevious(deepcopy(first))  # no index: each insert costs the same
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def huge_reply() -> Behaviour:
    """:func:`huge_patient_reply`, at once."""
    return Behaviour((Part(http_reply(huge_patient_reply())),), name="huge")


# Legal in XML 1.0 and hostile on a terminal: the 8-bit CSI and NEL (C1), DEL, bidi overrides
# and isolates, rich markup and XML markup (escaped on the wire, text once parsed).
HOSTILE_TEXT = "\x9b31m[bold red]<b>\u202eevil\u2066x\u2069\x85\x7f[/]"


def hostile_patient() -> Patient:
    """The built-in patient with :data:`HOSTILE_TEXT` in every text field."""
    from smsp_cli.domain.results import Address, GpPractice, Telecom
    from smsp_cli.sandbox.builtin import BUILT_IN

    evil = HOSTILE_TEXT
    address = Address("home", (f"1 {evil} Street", evil), f"BO1{evil}")
    return replace(
        BUILT_IN[0].patient,
        title=evil,
        given_names=(evil, f"Mary{evil}"),
        family_name=f"Fair{evil}weather",
        addresses=(address,),
        telecoms=(Telecom("home", f"tel:{evil}"),),
        gp_practice=GpPractice(f"Y1{evil}", f"Surgery {evil}", address, f"tel:{evil}"),
    )


def hostile_text_reply() -> Behaviour:
    """A valid reply with escapes, markup and bidi in every field."""
    return Behaviour((Part(http_reply(patient_reply(hostile_patient()))),), name="hostile text")


# What a careless provider echoes back: the patient's NHS number and date of birth.
ECHOED = "NHS number 9434765919 (943 476 5919), date of birth 1984-03-14 (14/03/1984)"


def fault_echoing_the_patient() -> Behaviour:
    """A SOAP fault 1000 whose ErrorText and diagnostic echo the patient's identifiers."""
    from smsp_cli.sandbox.responses import fault_reply

    body = fault_reply("1000", f"Invalid request for {ECHOED}", diagnostic=ECHOED)
    return Behaviour(
        (Part(http_reply(body, status="500 Internal Server Error")),), name="fault echo"
    )


def http_body_echoing_the_patient() -> Behaviour:
    """A plain-text HTTP 503 whose body echoes the patient's identifiers."""
    headers = (("Content-Type", "text/plain; charset=utf-8"),)
    body = f"Service unavailable while looking up {ECHOED}".encode()
    return Behaviour(
        (Part(http_reply(body, status="503 Service Unavailable", headers=headers)),),
        name="body echo",
    )


def ok_reply() -> Behaviour:
    """A well-behaved provider: one valid reply, at once."""
    return Behaviour((Part(http_reply(patient_reply())),), name="ok")


def encoded_reply(codings: Sequence[str]) -> Behaviour:
    """A valid reply, compressed with ``codings`` whatever the request asked for."""
    body = encode(patient_reply(), codings)
    headers = (("Content-Type", "text/xml"), ("Content-Encoding", ", ".join(codings)))
    return Behaviour((Part(http_reply(body, headers=headers)),), name="encoded")


@cache
def gzip_bomb(inflated: int = 2 << 30) -> bytes:
    """``gzip, gzip``: a few KiB that inflate to ``inflated`` bytes of zeros.

    The inner gzip member is assembled rather than compressed whole (which costs 10 s of CPU):
    one 16 MiB block of zeros deflated and fully flushed, so the compressor keeps no history
    and every block's bytes are the same, repeated, then a final empty block and the trailer
    (CRC-32 and length mod 2**32, RFC 1952).
    """
    zeros = bytes(1 << 24)
    assert inflated % len(zeros) == 0
    blocks = inflated // len(zeros)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    final = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS).flush()
    crc = 0
    for _ in range(blocks):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # deflate, no name, mtime 0
    trailer = struct.pack("<II", crc, inflated & 0xFFFFFFFF)
    return gzip.compress(header + block * blocks + final + trailer, compresslevel=9, mtime=0)


def bomb_reply() -> Behaviour:
    """A 2 GiB gzip bomb, doubly gzipped so it travels in a few KiB."""
    headers = (("Content-Type", "text/xml"), ("Content-Encoding", "gzip, gzip"))
    return Behaviour((Part(http_reply(gzip_bomb(), headers=headers)),), name="bomb")


# One byte at a time, every so often.
_EVERY_0_3 = Pace(every=0.3)
_EVERY_0_15 = Pace(every=0.15)
_EVERY_0_05 = Pace(every=0.05)

# Drips never end on their own: each lasts far longer than any deadline a test sets.
_ENDLESS = 10_000


def drip_status_line(pace: Pace = _EVERY_0_3) -> Behaviour:
    """The status line one byte at a time (a long reason phrase)."""
    return Behaviour((Part(b"HTTP/1.1 200 " + b"O" * _ENDLESS, pace=pace),), name="status")


def drip_headers(pace: Pace = _EVERY_0_3) -> Behaviour:
    """The status line at once, then a header one byte at a time."""
    return Behaviour(
        (Part(b"HTTP/1.1 200 OK\r\n"), Part(b"X-Drip: " + b"d" * _ENDLESS, pace=pace)),
        name="headers",
    )


def drip_body(pace: Pace = _EVERY_0_3) -> Behaviour:
    """Headers at once, then the body one byte at a time."""
    head = f"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {_ENDLESS}\r\n\r\n"
    return Behaviour((Part(head.encode()), Part(b" " * _ENDLESS, pace=pace)), name="body")


def drip_chunk_sizes(pace: Pace = _EVERY_0_15) -> Behaviour:
    """A chunked body of one-byte chunks whose size lines trickle in."""
    head = Part(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunks = [part for _ in range(_ENDLESS) for part in (Part(b"1\r\n", pace=pace), Part(b" \r\n"))]
    return Behaviour((head, *chunks), name="chunk sizes")


def drip_tls_records(pace: Pace = _EVERY_0_05) -> Behaviour:
    """A valid reply in one TLS record whose bytes trickle onto the wire."""
    return Behaviour((Part(http_reply(patient_reply()), records=pace),), name="tls records")


def drip_tls_handshake(pace: Pace = _EVERY_0_05) -> Behaviour:
    """The server's handshake flight one byte at a time."""
    return replace(ok_reply(), handshake=pace, name="tls handshake")


def drips() -> list[Behaviour]:
    """Every phase dripped."""
    return [
        drip_tls_handshake(),
        drip_status_line(),
        drip_headers(),
        drip_body(),
        drip_chunk_sizes(),
        drip_tls_records(),
    ]


def business(
    operation_name: str,
    code: str = "SMSP-0000",
    patient: Patient | None = None,
    *,
    verified: bool | None = None,
    relates_to: str | None = None,
) -> bytes:
    """A valid business reply of the sandbox's own making, for ``operation_name``."""
    from smsp_cli.domain.operations import BY_NAME
    from smsp_cli.sandbox.builtin import BUILT_IN
    from smsp_cli.sandbox.matching import Answer
    from smsp_cli.sandbox.responses import business_reply

    answer = Answer(code, patient or BUILT_IN[0].patient, verified=verified)
    return business_reply(BY_NAME[operation_name], answer, relates_to=relates_to)


def answering(body: bytes, name: str = "") -> Behaviour:
    """``body`` in one HTTP reply, at once."""
    return Behaviour((Part(http_reply(body)),), name=name)


def two_patients(body: bytes) -> bytes:
    """``body`` with its patient record given twice (the second under another NHS number)."""
    from copy import deepcopy

    from lxml import etree

    root = etree.fromstring(body)
    subject = root.find(".//{urn:hl7-org:v3}subject")
    assert subject is not None
    second = deepcopy(subject)
    for identifier in second.iter("{urn:hl7-org:v3}id"):
        if identifier.get("root") == "2.16.840.1.113883.2.1.4.1":
            identifier.set("extension", "9990001014")
    subject.addnext(second)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def replaying(operation_name: str) -> Behaviour:
    """Keep-alive: each request answered for its own patient, then the same reply again.

    The second copy is bytes nobody asked for; a client that reuses the connection reads it
    as the next request's answer (another row's patient, in a batch).
    """
    import re

    from smsp_cli.sandbox.builtin import BUILT_IN

    def respond(request: bytes) -> bytes:
        patient = BUILT_IN[0].patient
        number = re.search(rb'root="2\.16\.840\.1\.113883\.2\.1\.4\.1" extension="(\d{10})"',
                           request)
        family = re.search(rb"<family>([^<]*)</family>", request)
        if number is not None:
            patient = replace(patient, nhs_number=number[1].decode())
        if family is not None:
            patient = replace(patient, family_name=family[1].decode())
        reply = http_reply(business(operation_name, patient=patient), keep_alive=True)
        return reply + reply

    return Behaviour((), name="replay", respond=respond)
