"""End to end: `smsp batch` against the real sandbox over mutual TLS on 127.0.0.1.

Every row accounted for, in input order, with every outcome; the refusals that come before
anything is sent; the failures that stop a batch at once; the rate limit, measured.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from smsp_cli.cli.main import app
from smsp_cli.sandbox.certs import SandboxCredentials, make_ca
from smsp_cli.sandbox.embedded import variables_for
from smsp_cli.sandbox.server import RecordedRequest, SandboxServer
from tests.lib.cli import Run, smsp
from tests.lib.ports import closed_port

pytestmark = pytest.mark.usefixtures("sandbox_env")

FOUND = ("9991000003", "1984-03-14")

# One row of each outcome: (nhs_number, dob, exit code, response code or error type).
OUTCOMES: list[tuple[str, str, int, str]] = [
    ("9991000003", "1984-03-14", 0, "SMSP-0000"),  # success
    ("9991000240", "1984-03-14", 1, "DEMOG-0001"),  # not found
    ("123", "1984-03-14", 2, "usage"),  # invalid NHS number
    ("9991000054", "1967-05-21", 0, "DEMOG-0017"),  # superseded: the new number returned
    ("9991000135", "1945-10-10", 4, "SMSP-9999"),  # provider error
    ("9991000003", "1984-13-01", 2, "usage"),  # impossible date
    ("9991000127", "1988-02-29", 4, "SMSP-0004"),  # provider cannot reach Spine
    ("9991000100", "1958-04-17", 1, "DEMOG-0040"),  # not verified
    ("9991000178", "1981-07-19", 4, "2200"),  # SOAP fault 2200
    ("9991000224", "1950-05-05", 3, "SMSP-0001"),  # provider rejected the input
    ("9991000070", "1995-09-09", 1, "DEMOG-0022"),  # invalidated
]


def batch(*args: str, stdin: bytes | None = None) -> Run:
    """Run ``smsp batch ARGS`` in-process, with ``stdin`` as standard input."""
    result = CliRunner().invoke(app, ["batch", *args], input=stdin, catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def rows(run: Run) -> list[dict[str, Any]]:
    return [json.loads(line) for line in run.stdout.splitlines()]


def summary(run: Run) -> str:
    lines = [line for line in run.stderr.splitlines() if " rows: " in line]
    assert len(lines) == 1, run.stderr
    return lines[0]


def write_csv(path: Path, header: str, lines: list[str]) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def test_a_thousand_rows_with_every_outcome_come_back_in_input_order(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    expected = [OUTCOMES[n % len(OUTCOMES)] for n in range(1000)]
    source = write_csv(tmp_path / "patients.csv", "id,nhs_number,dob",
                       [f"p{n + 1},{nhs},{dob}" for n, (nhs, dob, _, _) in enumerate(expected)])
    sent_before = len(sandbox.requests)
    run = batch("get", str(source), "--concurrency", "4")
    assert run.exit_code == 1  # ran to the end, and some rows did not succeed
    found = rows(run)
    assert [row["row"] for row in found] == list(range(1, 1001))
    assert [row["id"] for row in found] == [f"p{n}" for n in range(1, 1001)]
    for row, (_, _, code, what) in zip(found, expected, strict=True):
        assert row["exit_code"] == code
        if code <= 1:
            assert set(row) == {"row", "id", "exit_code", "result"}
            assert row["result"]["response_code"] == what
        elif code == 2:  # invalid: nothing was sent, so no call to name
            assert set(row) == {"row", "id", "api", "exit_code", "error"}
        else:
            # Something was sent: the call is named; a reply that exits 3-6 keeps its result.
            assert {"row", "id", "api", "exit_code", "error", "message_id", "message_ids"} <= (
                set(row))
            assert row["message_id"] == row["message_ids"][-1]
            if row["error"]["response_code"] is not None:
                assert row["result"]["response_code"] == row["error"]["response_code"]
                assert row["result"]["message_id"] == row["message_id"]
            error = row["error"]
            assert what in (error["type"], error["response_code"], error["fault_code"])
    network_rows = sum(1 for _, _, code, _ in expected if code != 2)
    assert len(sandbox.requests) - sent_before == network_rows  # each row sent exactly once
    # Each row once, by what it is: of every 11 rows, 2 ok (1 superseded), 1 not found, 1 not
    # verified, 1 invalidated, 2 invalid, 4 failed; 1000 rows are 90 rounds and the first 10
    # outcomes once more (all but the invalidated one).
    assert summary(run).startswith(
        "smsp: 1000 rows: 182 ok (of which 91 superseded, 0 with warnings), 91 not found, "
        "91 not verified, 90 invalidated, 182 invalid, 364 failed in "
    )


def test_a_result_is_exactly_what_a_single_lookup_prints() -> None:
    run = batch("get", "-", stdin=f"nhs_number,dob\n{FOUND[0]},{FOUND[1]}\n".encode())
    single = smsp("get", FOUND[0], "--dob", FOUND[1], "--json")
    assert (run.exit_code, single.exit_code) == (0, 0)
    [row] = rows(run)
    result, alone = row["result"], single.json()
    assert result.pop("message_id") != alone.pop("message_id")  # a fresh MessageID each
    assert result == alone


def test_an_error_row_carries_the_line_a_single_lookup_shows() -> None:
    run = batch("get", "-", stdin=b"nhs_number,dob\n9991000178,1981-07-19\n")
    single = smsp("get", "9991000178", "--dob", "1981-07-19")
    assert (run.exit_code, single.exit_code) == (1, 4)
    [row] = rows(run)
    [sent] = row["message_ids"]
    assert row == {
        "row": 1, "id": None, "api": "smsp", "exit_code": 4,
        "message_id": sent, "message_ids": [sent],
        "error": {"type": "provider_failed", "message": row["error"]["message"],
                  "response_code": None, "fault_code": "2200", "fields": []},
    }
    assert row["error"]["message"].endswith(f" (MessageID {sent})")
    # The same line, but for the MessageID: each call is a message of its own.
    same = row["error"]["message"].removesuffix(f" (MessageID {sent})")
    assert f"smsp: error: {same} (MessageID " in single.stderr


def test_a_verify_row_that_fails_says_verified_null_as_a_single_verify_does() -> None:
    source = b"nhs_number,dob\n9991000178,1981-07-19\n999100017,1981-07-19\n"
    run = batch("verify", "-", stdin=source)
    fault, invalid = rows(run)
    for row, exit_code in ((fault, 4), (invalid, 2)):
        assert list(row)[:5] == ["row", "id", "api", "verified", "exit_code"]
        assert (row["verified"], row["exit_code"]) == (None, exit_code)
    single = smsp("verify", "9991000178", "--dob", "1981-07-19", "-o", "json")
    assert single.json()["verified"] is None


def test_jsonl_from_stdin_with_numbers_and_a_late_unknown_key() -> None:
    lines = [
        {"id": 1, "nhs_number": 9991000003, "dob": "1984-03-14"},
        {"id": 2, "nhs_number": "9991000062", "dob": "1967-05-21", "surname": "Oakhurst"},
        {"id": 3, "nhs_number": "9991000240", "dob": 19840314},
    ]
    stdin = "\n".join(json.dumps(line) for line in lines).encode() + b"\n"
    run = batch("verify", "-", stdin=stdin)
    assert run.exit_code == 1
    found = rows(run)
    assert [(row["id"], row["exit_code"]) for row in found] == [(1, 0), (2, 0), (3, 1)]
    assert found[0]["result"]["verified"] is True
    assert run.stderr.count("ignoring column 'surname'") == 1


def test_a_key_first_seen_on_a_later_json_line_is_read_there() -> None:
    # JSON lines have no header: the family name on line 2 must reach verify, so a wrong one
    # is refused instead of silently left out.
    lines = [
        {"id": "a", "nhs_number": "9991000003", "dob": "1984-03-14"},
        {"id": "b", "nhs_number": "9991000003", "dob": "1984-03-14", "family": "Nobody"},
    ]
    stdin = "\n".join(json.dumps(line) for line in lines).encode() + b"\n"
    run = batch("verify", "-", stdin=stdin)
    found = rows(run)
    assert [(row["id"], row["exit_code"]) for row in found] == [("a", 0), ("b", 1)]
    assert "ignoring" not in run.stderr


def test_every_row_ok_exits_0_with_the_summary() -> None:
    stdin = ("nhs_number,dob\n" + f"{FOUND[0]},{FOUND[1]}\n" * 5).encode()
    run = batch("get", "-", stdin=stdin)
    assert run.exit_code == 0
    assert len(rows(run)) == 5
    assert summary(run).startswith("smsp: 5 rows: 5 ok, 0 not found, 0 invalid, 0 failed in ")
    assert "synthetic" in run.stderr


@pytest.mark.parametrize(
    ("command", "header", "line", "code"),
    [
        ("search", "family,dob,gender,postcode", "Fairweather,1984-03-14,f,BO1 4QX", 0),
        ("trace", "family,dob,gender", "FAIRWEATHER,1984,female", 0),
        ("details", "dob,nhs_number", "1984-03-14,9991000003", 0),
        ("details", "dob,family,given,gender", "1984-03-14,Fairweather,Eleanor,2", 0),
        ("details", "dob,nhs_number,family,given,gender", "1984-03-14,,Fairweather,,2", 2),
    ],
)
def test_each_lookup_runs_as_a_batch(command: str, header: str, line: str, code: int) -> None:
    run = batch(command, "-", stdin=f"{header}\n{line}\n".encode())
    [row] = rows(run)
    assert row["exit_code"] == code, row
    assert run.exit_code == (0 if code == 0 else 1)


def test_a_byte_order_mark_and_mapped_headers_are_understood(tmp_path: Path) -> None:
    source = tmp_path / "sheet.csv"
    source.write_bytes(b"\xef\xbb\xbfNHS No,Date of birth,Notes\r\n9991000003,1984-03-14,x\r\n")
    run = batch("get", str(source), "--column", "nhs_number=NHS No",
                "--column", "dob=Date of birth")
    assert run.exit_code == 0, run.stderr
    assert rows(run)[0]["result"]["patient"]["nhs_number"] == "9991000003"
    assert "smsp: warning: ignoring column 'Notes': not used by get" in run.stderr


# --- refused before anything is sent ----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("get", "-"), b"nhs_number,family\n9991000003,x\n", "no dob column"),
        (("details", "-"), b"dob,family\n1984-03-14,x\n", "no nhs_number or given, gender"),
        (("get", "-", "--column", "nhs_number=NHS"), b"nhs_number,dob\n", "no column 'NHS'"),
        (("get", "-", "--resume"), b"nhs_number,dob\n", "--resume needs --out FILE"),
        (("get", "-", "--concurrency", "0"), b"nhs_number,dob\n1,2\n", "concurrency '0'"),
        (("get", "-", "--rate-limit", "none"), b"nhs_number,dob\n1,2\n", "rate_limit 'none'"),
        (("fetch", "-"), b"", "'fetch' is not one of"),
    ],
)
def test_bad_requests_exit_2_and_send_nothing(
    args: tuple[str, ...], stdin: bytes, message: str, sandbox: SandboxServer
) -> None:
    sent_before = len(sandbox.requests)
    run = batch(*args, stdin=stdin)
    assert run.exit_code == 2
    assert run.stdout == ""
    assert message in run.stderr
    assert len(sandbox.requests) == sent_before


def test_resume_with_stdin_is_refused(tmp_path: Path) -> None:
    run = batch("get", "-", "--out", str(tmp_path / "out.jsonl"), "--resume",
                stdin=b"nhs_number,dob\n")
    assert run.exit_code == 2
    assert "stdin" in run.stderr


def test_out_file_refuses_a_rerun_and_resume_refuses_another_batch(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", "nhs_number,dob", [",".join(FOUND)] * 3)
    out = tmp_path / "out.jsonl"
    first = batch("get", str(source), "--out", str(out))
    assert first.exit_code == 0
    assert first.stdout == ""
    assert len(out.read_text().splitlines()) == 3
    again = batch("get", str(source), "--out", str(out))
    assert (again.exit_code, "already holds rows" in again.stderr) == (2, True)
    other_operation = batch("verify", str(source), "--out", str(out), "--resume")
    assert (other_operation.exit_code, "not `verify`" in other_operation.stderr) == (2, True)
    other = write_csv(tmp_path / "other.csv", "nhs_number,dob", [",".join(FOUND)])
    other_input = batch("get", str(other), "--out", str(out), "--resume")
    assert (other_input.exit_code, "another input" in other_input.stderr) == (2, True)
    done = batch("get", str(source), "--out", str(out), "--resume")
    assert done.exit_code == 0
    assert "0 rows: " in summary(done)
    assert "3 earlier rows were already in" in summary(done)
    assert len(out.read_text().splitlines()) == 3


# --- failures that stop the batch at once -----------------------------------------------------


@pytest.mark.parametrize(
    ("patient", "code", "message"),
    [
        (("9991000186", "1970-01-26"), 3, "provider fault 3000 (Access Denied)"),
        (("9991000208", "1992-06-15"), 3, "SMSP-0005"),
    ],
)
def test_a_failure_every_row_would_share_stops_the_batch_at_once(
    tmp_path: Path, sandbox: SandboxServer, patient: tuple[str, str], code: int, message: str
) -> None:
    lines = [",".join(FOUND)] * 5 + [",".join(patient)] + [",".join(FOUND)] * 200
    source = write_csv(tmp_path / "in.csv", "nhs_number,dob", lines)
    out = tmp_path / "out.jsonl"
    sent_before = len(sandbox.requests)
    run = batch("get", str(source), "--out", str(out), "--concurrency", "2")
    assert run.exit_code == code
    assert run.stdout == ""
    assert [json.loads(line)["row"] for line in out.read_text().splitlines()] == [1, 2, 3, 4, 5]
    assert "stopped at row 6; rerun with --resume" in summary(run)
    errors = [line for line in run.stderr.splitlines() if line.startswith("smsp: error:")]
    assert len(errors) == 1
    assert errors[0].startswith(f"smsp: error: row 6 stopped the batch: {message}")
    assert len(sandbox.requests) - sent_before <= 6 + 4  # the window: nothing sent after that


def test_a_stopping_row_can_be_skipped_and_only_that_row(tmp_path: Path) -> None:
    lines = [",".join(FOUND)] * 2 + ["9991000186,1970-01-26"] + [",".join(FOUND)] * 3
    source = write_csv(tmp_path / "in.csv", "id,nhs_number,dob",
                       [f"p{n},{line}" for n, line in enumerate(lines, 1)])
    out = tmp_path / "out.jsonl"
    stopped = batch("get", str(source), "--out", str(out))
    assert stopped.exit_code == 3
    assert summary(stopped).endswith(
        f"; stopped at row 3; rerun with --resume to go on from there in {out} once the cause "
        "is fixed, or with --resume --skip-row 3 to record row 3 as failed and go on from row 4")
    # The same failure again on a plain resume: nothing past row 3 without --skip-row.
    again = batch("get", str(source), "--out", str(out), "--resume")
    assert again.exit_code == 3
    assert "row 3 stopped the batch: provider fault 3000" in again.stderr
    refused = {
        ("--skip-row", "3"): "smsp: error: --skip-row needs --resume: it passes the row that "
                             "stopped the batch in --out FILE",
        ("--resume", "--skip-row", "4"): f"smsp: error: --skip-row 4: row 4 did not stop the "
                                         f"batch in {out} (row 3 did) (pass --skip-row 3)",
    }
    for args, line in refused.items():
        run = batch("get", str(source), "--out", str(out), *args)
        assert run.exit_code == 2, run.stderr
        assert run.stderr.splitlines()[0] == line
    skipped = batch("get", str(source), "--out", str(out), "--resume", "--skip-row", "3")
    assert skipped.exit_code == 1  # ran to the end; row 3 did not succeed
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["row"] for row in written] == [1, 2, 3, 4, 5, 6]
    assert [row["id"] for row in written] == ["p1", "p2", "p3", "p4", "p5", "p6"]
    assert [row["exit_code"] for row in written] == [0, 0, 3, 0, 0, 0]
    assert written[2]["error"]["fault_code"] == "3000"  # the failure that stopped the batch
    assert summary(skipped).startswith("smsp: 4 rows: 3 ok, 0 not found, 0 invalid, 1 failed in ")
    # Past it now: the stop is forgotten, and skipping it again is refused.
    late = batch("get", str(source), "--out", str(out), "--resume", "--skip-row", "3")
    assert late.exit_code == 2
    assert f"--skip-row 3: no row stopped the batch in {out}" in late.stderr


def test_once_the_cause_is_fixed_resume_goes_on(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", "nhs_number,dob", [",".join(FOUND)] * 15)
    out = tmp_path / "out.jsonl"
    dead = batch("get", str(source), "--out", str(out), "--concurrency", "1",
                 "--max-attempts", "1",
                 "--endpoint", f"https://127.0.0.1:{closed_port()}/smsp/pds")
    assert dead.exit_code == 5
    assert "stopped at row 10; rerun with --resume" in summary(dead)
    fixed = batch("get", str(source), "--out", str(out), "--resume")  # the sandbox is up
    assert fixed.exit_code == 1  # the unreachable rows written before the stop stay failed
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["row"] for row in written] == list(range(1, 16))
    assert [row["exit_code"] for row in written][9:] == [0] * 6


def test_an_untrusted_server_certificate_stops_before_any_row(tmp_path: Path) -> None:
    other = make_ca("some other CA")
    other.write(tmp_path / "other-ca.pem", tmp_path / "other-ca.key")
    stdin = ("nhs_number,dob\n" + f"{FOUND[0]},{FOUND[1]}\n" * 50).encode()
    run = batch("get", "-", "--ca-bundle", str(tmp_path / "other-ca.pem"), stdin=stdin)
    assert run.exit_code == 5
    assert run.stdout == ""
    assert "failed verification" in run.stderr
    assert "stopped at row" in summary(run)


def test_a_dead_endpoint_is_given_up_after_ten_unreachable_rows() -> None:
    stdin = ("nhs_number,dob\n" + f"{FOUND[0]},{FOUND[1]}\n" * 500).encode()
    run = batch("get", "-", "--endpoint", f"https://127.0.0.1:{closed_port()}/smsp/pds",
                "--max-attempts", "1", stdin=stdin)
    assert run.exit_code == 5
    written = rows(run)
    # Ten failures in the order rows finish; rows before the tenth still on their way count.
    assert len(written) < 10 + 4 * 2
    assert [row["row"] for row in written] == list(range(1, len(written) + 1))
    assert all(row["error"]["type"] == "unreachable" for row in written)
    assert "10 rows in a row could not reach the provider" in run.stderr


class ClosingListener:
    """A loopback port that accepts every connection and closes it at once, counting them."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = int(self._socket.getsockname()[1])
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> ClosingListener:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._socket.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return  # closed by __exit__
            self.connections += 1
            connection.close()


def test_one_at_a_time_the_tenth_unreachable_row_stops_the_batch() -> None:
    # One lookup in flight and one attempt each: every connection the provider sees is one
    # row. The tenth stops the batch: nine rows written, the tenth named as the stop, and no
    # eleventh request, though row 11 is already queued for the lone worker.
    stdin = ("nhs_number,dob\n" + f"{FOUND[0]},{FOUND[1]}\n" * 30).encode()
    with ClosingListener() as provider:
        run = batch("get", "-", "--endpoint", f"https://127.0.0.1:{provider.port}/smsp/pds",
                    "--max-attempts", "1", "--concurrency", "1", stdin=stdin)
    assert run.exit_code == 5, run.stderr
    assert provider.connections == 10
    assert [row["row"] for row in rows(run)] == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert all(row["error"]["type"] == "unreachable" for row in rows(run))
    assert "10 rows in a row could not reach the provider" in run.stderr
    assert "9 rows: 0 ok, 0 not found, 0 invalid, 9 failed" in summary(run)
    assert summary(run).endswith("; stopped at row 10")


def test_missing_settings_prevent_the_batch_with_exit_6(tmp_path: Path) -> None:
    run = batch("get", "-", "--profile", "nowhere", stdin=b"nhs_number,dob\n")
    assert run.exit_code == 6
    assert run.stdout == ""


# --- the rate limit ---------------------------------------------------------------------------


@pytest.fixture
def timed_sandbox(credentials: SandboxCredentials,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    arrivals: list[float] = []
    lock = threading.Lock()

    def arrived(request: RecordedRequest) -> None:
        with lock:
            arrivals.append(time.monotonic())

    with SandboxServer(credentials, on_request=arrived) as server:
        for name, value in variables_for(server.url, credentials).items():
            monkeypatch.setenv(name, value)
        yield arrivals


def test_rate_limit_holds_within_ten_percent(timed_sandbox: list[float]) -> None:
    # Timed at the provider, on a machine that may be busy. The limiter's promise: n starts
    # span at least n - 2 intervals (a late start may catch up a fraction of one). A stall
    # can only delay a request, and can bunch at most those in flight (--concurrency 8) into
    # one moment. So however busy the machine, no window of W seconds holds more than
    # 50 W + 2 + 8 arrivals: for two seconds that is 110, ten percent over the rate.
    stdin = ("nhs_number,dob\n" + f"{FOUND[0]},{FOUND[1]}\n" * 200).encode()
    started = time.monotonic()
    run = batch("get", "-", "--rate-limit", "50", "--concurrency", "8", stdin=stdin)
    elapsed = time.monotonic() - started
    assert run.exit_code == 0, run.stderr
    assert len(rows(run)) == 200
    arrivals = sorted(timed_sandbox)
    assert len(arrivals) == 200

    def busiest(seconds: float) -> int:
        return max(sum(1 for t in arrivals if start <= t < start + seconds) for start in arrivals)

    gaps = sorted(later - earlier for earlier, later in itertools.pairwise(arrivals))
    median_gap = gaps[len(gaps) // 2]
    figures = (f"busiest second {busiest(1)}, busiest two {busiest(2)}, median gap "
               f"{median_gap * 1000:.1f} ms, {elapsed:.2f} s in all at --rate-limit 50")
    assert elapsed >= 199 / 50, figures  # 199 intervals of 20 ms at the least
    assert busiest(2) <= 2 * 50 + 2 + 8, figures
    assert busiest(1) <= 50 + 2 + 8, figures
    # Not much slower either. A busy machine makes the gaps uneven (stalls, then starts on
    # schedule again), not typically longer, so the median allows half an interval more.
    assert median_gap <= 0.030, figures


def test_resume_cuts_a_torn_last_line_and_says_so(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", "nhs_number,dob", [",".join(FOUND)] * 4)
    out = tmp_path / "out.jsonl"
    assert batch("get", str(source), "--out", str(out)).exit_code == 0
    whole = out.read_text().splitlines()
    out.write_text("\n".join(whole[:2]) + "\n" + whole[2][:40], encoding="utf-8")
    run = batch("get", str(source), "--out", str(out), "--resume")
    assert run.exit_code == 0
    assert "2 rows: 2 ok" in summary(run)
    assert "2 earlier rows were already in" in summary(run)
    assert "(a torn last line of 40 bytes was cut off)" in summary(run)
    assert [json.loads(line)["row"] for line in out.read_text().splitlines()] == [1, 2, 3, 4]


def test_lines_of_empty_cells_are_not_rows_and_an_invalid_row_names_every_missing_field(
) -> None:
    run = batch("get", "-", stdin=b"nhs_number,dob,family\n,,\n,,Smith\n , , \n9991000003,,\n")
    assert [row["row"] for row in rows(run)] == [1, 2]
    first, second = rows(run)
    assert [entry["field"] for entry in first["error"]["fields"]] == ["dob", "nhs_number"]
    assert first["error"]["message"] == (
        "date of birth: is required for get; NHS number: is required for get"
    )
    assert second["error"]["fields"] == [{"field": "dob", "rule": "is required for get"}]


def test_an_input_with_no_rows_or_no_header_says_so_in_one_warning(tmp_path: Path) -> None:
    header_only = tmp_path / "empty.csv"
    header_only.write_text("nhs_number,dob\n")
    run = batch("get", str(header_only))
    assert run.exit_code == 0
    assert f"smsp: warning: {header_only} has a header row but no data rows" in run.stderr
    nothing = tmp_path / "nothing.csv"
    nothing.write_text("")
    run = batch("get", str(nothing))
    assert run.exit_code == 0
    assert f"smsp: warning: {nothing} is empty: no header row and no rows" in run.stderr
    missing = batch("get", "-", stdin=b"nhs_number\n9991000003\n")
    assert missing.exit_code == 2


# One row of every kind the summary counts, for `batch details` (columns for either form).
KINDS_CSV = """nhs_number,dob,family,given,gender
9991000003,1984-03-14,,,
9991000054,1967-05-21,,,
9991000119,1972-12-05,,,
9991000240,1984-03-14,,,
,1990-01-01,Twyford,Daniel,m
9991000100,1958-04-17,,,
9991000070,1995-09-09,,,
9991000216,1928-02-14,,,
123,1984-03-14,,,
9991000135,1945-10-10,,,
9991000151,1963-03-03,,,
"""


def test_the_summary_counts_each_row_once_by_what_it_is_then_the_retries() -> None:
    run = batch("details", "-", "--retry-backoff", "0.01", stdin=KINDS_CSV.encode())
    assert run.exit_code == 1
    assert [row["exit_code"] for row in rows(run)] == [0, 0, 0, 1, 1, 1, 1, 1, 2, 4, 4]
    line = summary(run)
    assert line.startswith(
        "smsp: 11 rows: 3 ok (of which 1 superseded, 1 with warnings), 1 not found, "
        "1 several matches, 1 not verified, 1 invalidated, 1 not a new-style number, "
        "1 invalid, 2 failed in ")
    # The retryable fault was sent three times: two retries, said after the counts.
    assert line.endswith("; 1 row retried (2 retries, each after its backoff)")
