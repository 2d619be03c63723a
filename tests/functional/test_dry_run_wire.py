"""--dry-run prints the very bytes a send puts on the wire, apart from the ids and times."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from smsp_cli.cli.main import app

if TYPE_CHECKING:
    from smsp_cli.sandbox.certs import SandboxCredentials
    from smsp_cli.sandbox.server import SandboxServer

# What a send makes afresh each time: message, tracking, payload and request ids, and the
# timestamp. Everything else must match byte for byte.
_FRESH = (
    re.compile(rb"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}"),
    re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"),
)


def _masked(body: bytes) -> bytes:
    for pattern in _FRESH:
        body = pattern.sub(b"*", body)
    return body


@pytest.fixture(scope="module")
def capturing(credentials: SandboxCredentials) -> Iterator[tuple[SandboxServer, list[bytes]]]:
    from smsp_cli.sandbox.server import SandboxServer

    bodies: list[bytes] = []
    with SandboxServer(credentials, on_body=bodies.append) as server:
        yield server, bodies


@pytest.mark.parametrize("command", [
    ("verify", "9991000003", "--dob", "1984-03-14"),
    ("get", "9991000003", "--dob", "1984-03-14", "--local-id", "MRN-42"),
    ("search", "--family", "Fairweather", "--given", "Ann", "--dob", "1984-03-14",
     "--gender", "f", "--postcode", "LS1 4HR"),
    ("trace", "--family", "Fair*", "--dob", "1984", "--gender", "f"),
    ("details", "--dob", "1984-03-14", "--nhs-number", "9991000003"),
], ids=lambda command: command[0])
def test_dry_run_prints_the_bytes_a_send_puts_on_the_wire(
    capturing: tuple[SandboxServer, list[bytes]], credentials: SandboxCredentials,
    monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...],
) -> None:
    from smsp_cli.sandbox.embedded import variables_for

    server, bodies = capturing
    for name, value in variables_for(server.url, credentials).items():
        monkeypatch.setenv(name, value)
    dry = CliRunner().invoke(app, [*command, "--dry-run"], catch_exceptions=False)
    assert dry.exit_code == 0, dry.stderr
    bodies.clear()
    sent = CliRunner().invoke(app, list(command), catch_exceptions=False)
    assert sent.exit_code in (0, 1), sent.stderr  # found, or not: either way it was sent
    assert len(bodies) == 1
    wire = bodies[0]
    assert wire.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<soap:Envelope ')
    # The HL7 payload is indented as one document with the envelope, not from column 0.
    assert re.search(rb"<itk:payload id=\"[^\"]+\">\n          <(verify|get)", wire)
    assert _masked(dry.stdout_bytes) == _masked(wire)
