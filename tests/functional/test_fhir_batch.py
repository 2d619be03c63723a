"""`smsp batch` over PDS FHIR: a token expiring mid-run, 429s that slow it, resume after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from smsp_cli.cli.main import app
from tests.lib.cli import Run
from tests.lib.measure import SMSP

if TYPE_CHECKING:
    from smsp_cli.sandbox.certs import SandboxCredentials
    from smsp_cli.sandbox.fhir_server import FhirSandboxServer

FOUND = "9991000003,1984-03-14"
RATE_LIMITED = "9991000151,1963-03-03"  # answers 429 once per X-Request-ID, then the record


@pytest.fixture(scope="module")
def fhir_sandbox(credentials: SandboxCredentials) -> Iterator[FhirSandboxServer]:
    from smsp_cli.sandbox.fhir_server import FhirSandboxServer

    # Every token stops being valid after 15 Patient calls: it "expires" mid-batch, often.
    with FhirSandboxServer(credentials, expire_tokens_every=15) as server:
        yield server


def batch(*args: str, stdin: bytes) -> Run:
    result = CliRunner().invoke(app, ["batch", *args], input=stdin, catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


@pytest.mark.usefixtures("fhir_env")
def test_a_token_expiring_mid_batch_and_429s_fail_no_row(fhir_sandbox: FhirSandboxServer) -> None:
    lines = [FOUND if n % 4 else RATE_LIMITED for n in range(1, 41)]
    source = ("nhs_number,dob\n" + "\n".join(lines) + "\n").encode()
    before = len(fhir_sandbox.calls)
    run = batch("get", "-", "--rate-limit", "200", stdin=source)
    assert run.exit_code == 0, run.stderr
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert [row["row"] for row in rows] == list(range(1, 41))
    assert all(row["exit_code"] == 0 for row in rows)
    assert all(row["result"]["api"] == "fhir" for row in rows)
    calls = fhir_sandbox.calls[before:]
    assert ("patient", 401) in calls  # the token did expire mid-run ...
    assert sum(1 for call in calls if call == ("token", 200)) >= 2  # ... and was replaced
    assert calls.count(("patient", 429)) == 10
    summary = next(line for line in run.stderr.splitlines() if " rows: " in line)
    assert summary.startswith("smsp: 40 rows: 40 ok, 0 not found, 0 invalid, 0 failed in ")
    assert "the provider answered 429 (too many requests) 10 times: the rate was halved" in (
        summary)


@pytest.mark.usefixtures("fhir_env")
def test_rows_that_end_in_an_error_name_the_api_the_batch_calls() -> None:
    # An invalid row (never sent) and a row the provider fails (HTTP 500): each error row says
    # "api": "fhir", as a single lookup's -o json does, not the SMSP default.
    source = (b"nhs_number,dob\n123,1984-03-14\n9991000135,1945-10-10\n"
              + FOUND.encode() + b"\n")
    run = batch("get", "-", "--max-attempts", "1", stdin=source)
    assert run.exit_code == 1, run.stderr
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert [(row["row"], row["exit_code"]) for row in rows] == [(1, 2), (2, 4), (3, 0)]
    assert rows[0]["api"] == "fhir"
    assert rows[1]["api"] == "fhir"
    assert rows[1]["fhir"]["http_status"] == 500
    assert rows[2]["result"]["api"] == "fhir"


@pytest.mark.usefixtures("fhir_env")
def test_a_403_stops_the_batch_as_every_row_would_share_it() -> None:
    source = b"nhs_number,dob\n9991000186,1970-01-26\n" + (FOUND + "\n").encode() * 20
    run = batch("get", "-", stdin=source)
    assert run.exit_code == 3
    assert "HTTP 403" in run.stderr
    assert len(run.stdout.splitlines()) <= 5


def test_fhir_batch_defaults_to_five_a_second(fhir_env: dict[str, str]) -> None:
    source = b"nhs_number,dob\n" + (FOUND + "\n").encode() * 6
    started = time.monotonic()
    run = batch("get", "-", stdin=source)
    elapsed = time.monotonic() - started
    assert run.exit_code == 0, run.stderr
    assert elapsed >= 0.9  # six starts at 5 a second: the sixth at 1.0 s at the earliest


def test_killed_and_resumed_every_row_appears_once(fhir_env: dict[str, str],
                                                   tmp_path: Path) -> None:
    count = 300  # two seconds at 150 a second: killed well before the end, even when busy
    source = tmp_path / "in.csv"
    source.write_text("id,nhs_number,dob\n" + "".join(f"r{n},{FOUND}\n"
                                                      for n in range(1, count + 1)))
    out = tmp_path / "out.jsonl"
    command = [SMSP, "batch", "get", str(source), "--out", str(out), "--resume",
               "--rate-limit", "150"]
    env = {**os.environ, "NO_COLOR": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while (not out.exists() or out.read_bytes().count(b"\n") < 30) and (
            time.monotonic() < deadline):
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    assert process.wait(30) == -signal.SIGKILL
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "earlier rows were already in" in done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["row"] for row in rows] == list(range(1, count + 1))
    assert all(row["result"]["api"] == "fhir" for row in rows)
