"""End to end over real TLS: a provider that refuses our client certificate with a TLS alert.

The provider trusts only a CA of its own, so it answers our certificate with alert
'unknown ca': in the handshake with TLS 1.2, on the first read with TLS 1.3 (where our side of
the handshake is over before the server has judged our certificate). Either way the lookup is
exit 5 with doctor's plain-English cause, never retried (one connection), a batch stops at
once, and the audit trail's ``failed`` record names the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from smsp_cli.cli.main import app
from smsp_cli.sandbox.certs import SandboxCredentials, make_ca, write_atomically
from smsp_cli.sandbox.embedded import variables_for
from tests.lib.cli import Run, smsp

FOUND = ("9991000003", "1984-03-14")
VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
CAUSE = "the server does not trust the CA that issued your client certificate"


class RefusingProvider:
    """A TLS server on 127.0.0.1 that takes client certificates of another CA only."""

    def __init__(self, credentials: SandboxCredentials, directory: Path, version: str) -> None:
        other = make_ca("a CA the provider alone trusts")
        write_atomically(directory / "trusted.pem", other.cert_pem, private=False)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(credentials.server_cert, credentials.server_key)
        context.load_verify_locations(cafile=directory / "trusted.pem")
        context.verify_mode = ssl.CERT_REQUIRED
        context.minimum_version = context.maximum_version = VERSIONS[version]
        self._context = context
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)  # so that the accept loop sees the stop
        self._stop = threading.Event()
        self.url = f"https://127.0.0.1:{self._listener.getsockname()[1]}/smsp/pds"
        self.connections = 0
        self.handshakes_completed = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> RefusingProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            sock.settimeout(10)
            with contextlib.closing(sock), contextlib.suppress(OSError):
                tls = self._context.wrap_socket(sock, server_side=True)  # sends the alert
                self.handshakes_completed += 1
                tls.close()


@pytest.fixture(params=sorted(VERSIONS))
def refusing(
    request: pytest.FixtureRequest, credentials: SandboxCredentials, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[RefusingProvider]:
    with RefusingProvider(credentials, tmp_path, request.param) as provider:
        for name, value in variables_for(provider.url, credentials).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("SMSP_DATA_DIR", str(tmp_path / "data"))  # a trail of its own
        yield provider


def _trail() -> list[dict[str, Any]]:
    path = Path(os.environ["SMSP_DATA_DIR"]) / "audit" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _error_lines(run: Run) -> list[str]:
    return [line for line in run.stderr.splitlines() if line.startswith("smsp: error: ")]


def test_a_lookup_is_exit_5_with_doctors_cause_and_is_never_retried(
    refusing: RefusingProvider,
) -> None:
    run = smsp("get", *FOUND[:1], "--dob", FOUND[1], "--json", "--max-attempts", "3")
    assert run.exit_code == 5, run.stderr
    assert refusing.connections == 1  # no retry, though three attempts were allowed
    assert refusing.handshakes_completed == 0
    host = refusing.url.split("/")[2]
    [line] = _error_lines(run)
    assert line.startswith(
        f"smsp: error: the provider at {host} refused our client certificate: {CAUSE} "
        "(TLS alert 'unknown ca') (run 'smsp doctor') (MessageID "
    )
    shown = run.json()
    assert shown["exit_code"] == 5
    assert shown["error"]["type"] == "unreachable"
    assert len(shown["message_ids"]) == 1
    failed = [r for r in _trail() if r["event"] == "failed"
              and r["message_id"] == shown["message_id"]]
    assert [(r["exit_code"], r["reason"]) for r in failed] == [(5, "client_certificate_refused")]


def _batch(*args: str, rows: int) -> Run:
    stdin = ("nhs_number,dob\n" + f"{FOUND[0]},{FOUND[1]}\n" * rows).encode()
    result = CliRunner().invoke(app, ["batch", "get", "-", *args], input=stdin,
                                catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def test_a_batch_stops_at_the_first_row(refusing: RefusingProvider) -> None:
    run = _batch("--concurrency", "1", rows=30)
    assert run.exit_code == 5, run.stderr
    assert refusing.connections == 1  # row 1 only: no retry, no second row
    assert run.stdout == ""
    [line] = _error_lines(run)
    assert f"refused our client certificate: {CAUSE} (TLS alert 'unknown ca')" in line
    assert "(run 'smsp doctor')" in line
    # One row was sent (with one worker, the next row's record is written while it is on
    # the wire); every other row the batch started is given up unsent.
    failed = [r for r in _trail() if r["event"] == "failed"]
    refused = [r for r in failed if r.get("reason") == "client_certificate_refused"]
    assert len(refused) == 1, failed
    summary = [text for text in run.stderr.splitlines() if " rows: " in text]
    assert len(summary) == 1, run.stderr
    assert summary[0].endswith(f"; stopped at row {refused[0]['batch_row']}")
    assert refused[0]["batch_row"] in (1, 2)
    assert all(r.get("reason") != "client_certificate_refused" for r in failed if r not in refused)


def test_a_concurrent_batch_stops_within_its_window(refusing: RefusingProvider) -> None:
    run = _batch("--concurrency", "4", rows=200)
    assert run.exit_code == 5, run.stderr
    assert 1 <= refusing.connections <= 4  # the rows already in flight, none started after
    assert run.stdout == ""
    assert "stopped at row" in run.stderr
