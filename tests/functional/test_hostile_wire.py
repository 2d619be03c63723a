"""End to end against a hostile provider: bounded decoding and one deadline per attempt.

The real CLI, over real mutual TLS on 127.0.0.1, against tests/hostile.py. Each test checks
the exit code, then stdout, then stderr, and the time taken; the memory tests run smsp as
its own process and read its peak resident memory from the kernel.
"""

from __future__ import annotations

import gzip
import importlib.util
import threading
import time
from typing import TYPE_CHECKING

import pytest

from smsp_cli.adapters.smsp.xmlsafe import MAX_BODY_BYTES
from tests.lib.cli import Run, smsp
from tests.lib.hostile import Behaviour, HostileProvider, Part
from tests.lib.hostile_behaviours import (
    bomb_reply,
    drips,
    encoded_reply,
    gzip_bomb,
    http_reply,
    huge_patient_reply,
    huge_reply,
)

if TYPE_CHECKING:
    from smsp_cli.sandbox.certs import SandboxCredentials

GET = ("get", "9991000003", "--dob", "1984-03-14")
TIMEOUT = 1.0  # --timeout: connect 1 s and read 1 s, so each attempt has 2 s
DEADLINE = 2 * TIMEOUT
# What an attempt may take beyond its deadline on a busy two-core machine: settings,
# certificates and the error line, not waiting.
MARGIN = 1.5


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _timed(*args: str, give_up: float = 60) -> tuple[Run, float]:
    """Run smsp in-process and time it; a run that never ends fails instead of hanging."""
    done: list[Run] = []
    worker = threading.Thread(target=lambda: done.append(smsp(*args)), daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(give_up)
    seconds = time.monotonic() - started
    assert done, f"smsp {' '.join(args)} was still running after {give_up:g}s"
    return done[0], seconds


def _one_error_line(run: Run) -> str:
    lines = run.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("smsp: error: ")]
    assert len(errors) == 1, run.stderr
    return errors[0]


# --- bounded decoding ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "codings",
    [
        ["gzip"],
        ["deflate"],
        ["gzip", "gzip"],
        ["deflate", "gzip"],
        pytest.param(["br"], marks=pytest.mark.skipif(not _has("brotli"), reason="no brotli")),
        pytest.param(
            ["gzip", "zstd"], marks=pytest.mark.skipif(not _has("zstandard"), reason="no zstd")
        ),
    ],
    ids=", ".join,
)
def test_a_reply_encoded_anyway_is_decoded(hostile: HostileProvider, codings: list[str]) -> None:
    hostile.serve(encoded_reply(codings))
    run = smsp(*GET, "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["patient"]["family_name"] == "Fairweather"
    assert b"accept-encoding: identity" in hostile.requests[0].lower()


def test_an_encoding_smsp_does_not_know_is_refused(hostile: HostileProvider) -> None:
    headers = (("Content-Type", "text/xml"), ("Content-Encoding", "compress"))
    hostile.serve(Behaviour((Part(http_reply(b"\x1f\x9d\x90", headers=headers)),)))
    run = smsp(*GET)
    assert run.exit_code == 4
    assert run.stdout == ""
    assert "encoded with 'compress', which smsp does not decode" in _one_error_line(run)


def test_the_test_bomb_is_a_well_formed_gzip_of_a_gzip_of_zeros() -> None:
    # The bomb is assembled block by block (tests/lib): a small one must inflate exactly.
    assert gzip.decompress(gzip.decompress(gzip_bomb(32 << 20))) == bytes(32 << 20)


def test_gzip_bomb_exits_4_within_bounded_memory(hostile: HostileProvider) -> None:
    from tests.lib import measure

    bomb = gzip_bomb()
    assert len(bomb) < 8 * 1024  # a few KiB on the wire...
    hostile.serve(bomb_reply())  # ...that inflate to 2 GiB
    done = measure.run(*GET, "--max-attempts", "1")
    assert done.exit_code == 4, done.stderr
    assert done.stdout == ""
    assert done.stderr.count("smsp: error: ") == 1
    assert f"over the {MAX_BODY_BYTES}-byte limit once decoded" in done.stderr
    assert "Content-Encoding: gzip, gzip" in done.stderr
    # CPU, not wall time, so a busy machine cannot fail it: inflating the whole 2 GiB costs
    # about 5 s of it, stopping at the cap well under one.
    assert done.cpu_seconds < 3, f"{done.cpu_seconds:.1f} s of CPU"
    print(f"peak {done.peak_mib:.0f} MiB in {done.seconds:.1f} s, cpu {done.cpu_seconds:.1f} s")
    assert done.peak_mib < 150, f"peak {done.peak_mib:.0f} MiB"


def test_legal_reply_just_under_the_cap_is_read_within_bounded_memory(
    hostile: HostileProvider,
) -> None:
    import json

    from tests.lib import measure

    body = huge_patient_reply()
    assert 0.85 * MAX_BODY_BYTES < len(body) < MAX_BODY_BYTES
    hostile.serve(huge_reply())
    done = measure.run(*GET, "--json")
    assert done.exit_code == 0, done.stderr
    patient = json.loads(done.stdout)["patient"]
    assert patient["given_names"] == ["G" * 1_000_000] * 2
    assert len(patient["addresses"]) == 11_500
    assert done.cpu_seconds < 10, f"{done.cpu_seconds:.1f} s of CPU"  # under 1 s today
    print(f"peak {done.peak_mib:.0f} MiB in {done.seconds:.1f} s, cpu {done.cpu_seconds:.1f} s")
    assert done.peak_mib < 250, f"peak {done.peak_mib:.0f} MiB"


# --- one deadline per attempt ---------------------------------------------------------------


# The phase each drip holds the exchange in when its time runs out, as the error names it.
_PHASES = {
    "tls handshake": "timed out in the TLS handshake: TCP connected",
    "status": "timed out waiting for the reply",
    "headers": "timed out waiting for the reply",
    "body": "timed out reading the reply",
    "chunk sizes": "timed out reading the reply",
    "tls records": "timed out waiting for the reply",
}


@pytest.mark.parametrize("behaviour", drips(), ids=lambda b: b.name)
def test_a_drip_at_any_phase_ends_the_attempt_at_its_deadline(
    hostile: HostileProvider, behaviour: Behaviour
) -> None:
    hostile.serve(behaviour)
    run, seconds = _timed(*GET, "--timeout", f"{TIMEOUT:g}", "--max-attempts", "1")
    assert run.exit_code == 5, run.stderr
    assert run.stdout == ""
    line = _one_error_line(run)
    assert "was too slow" in line
    assert "127.0.0.1" in line
    assert _PHASES[behaviour.name] in line
    assert "timed out connecting" not in line  # TCP connected in every one of them
    assert TIMEOUT * 0.9 <= seconds < DEADLINE + MARGIN


def test_a_silent_tcp_server_times_out_in_the_tls_handshake_not_connecting(
    credentials: SandboxCredentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from smsp_cli.sandbox.embedded import variables_for

    # A listening socket nobody accepts from: the kernel completes TCP, then nothing answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        url = f"https://127.0.0.1:{port}/smsp/pds"
        for name, value in variables_for(url, credentials).items():
            monkeypatch.setenv(name, value)
        run, seconds = _timed(*GET, "--timeout", "2", "--max-attempts", "1", "-v")
    assert run.exit_code == 5, run.stderr
    line = _one_error_line(run)
    assert (f"the provider at 127.0.0.1:{port} was too slow: timed out in the TLS handshake: "
            "TCP connected, the server never finished it (connect timeout 2s)") in line
    assert "the port may not be TLS" in line
    assert f"* connected to 127.0.0.1:{port}" in run.stderr
    assert "> POST" not in run.stderr  # never sent: the handshake did not finish
    assert "* request not sent" in run.stderr
    assert 1.8 <= seconds < 2 + MARGIN


@pytest.mark.parametrize("backoff", [0.0, 0.3])
def test_retries_against_a_drip_end_within_attempts_times_the_deadline(
    hostile: HostileProvider, backoff: float
) -> None:
    hostile.serve(drips()[1])  # the status line, one byte every 0.3 s
    run, seconds = _timed(
        *GET, "--timeout", f"{TIMEOUT:g}", "--max-attempts", "3", "--retry-backoff", f"{backoff:g}"
    )
    assert run.exit_code == 5, run.stderr
    assert run.stdout == ""
    line = _one_error_line(run)
    assert "was too slow" in line
    assert "after 3 attempts" in line
    assert hostile.connections == 3
    # The waits between attempts are at most backoff, then 2 x backoff (full jitter).
    assert 3 * DEADLINE * 0.9 <= seconds < 3 * DEADLINE + 3 * backoff + MARGIN


# --- doctor: every probe under the same deadline ------------------------------------------


@pytest.mark.parametrize("how", ["flag", "variable"])
def test_doctor_against_a_dripping_provider_ends_and_names_http(
    hostile: HostileProvider, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smsp_cli.diagnose import Layer

    hostile.serve(drips()[1])  # the status line, one byte every 0.3 s
    args: tuple[str, ...] = ("doctor",)
    if how == "flag":
        args += ("--timeout", f"{TIMEOUT:g}")
    else:
        monkeypatch.setenv("SMSP_TIMEOUT", f"{TIMEOUT:g}")
    run, seconds = _timed(*args)
    assert run.exit_code == Layer.HTTP.exit_code, run.stdout
    assert "✔ 5 TLS handshake" in run.stdout
    assert "✘ 6 HTTP" in run.stdout
    assert "was too slow" in run.stdout
    assert run.stderr == ""
    # Three TLS probe connections and the POST, each within the deadline.
    assert seconds < 4 * DEADLINE + MARGIN


def test_doctor_against_a_dripping_handshake_fails_tls_in_time(hostile: HostileProvider) -> None:
    from smsp_cli.diagnose import Layer

    hostile.serve(drips()[0])  # the server's handshake flight, one byte every 0.05 s
    run, seconds = _timed("doctor", "--timeout", f"{TIMEOUT:g}")
    assert run.exit_code == Layer.TLS.exit_code, run.stdout
    assert "✘ 5 TLS handshake" in run.stdout
    assert run.stderr == ""
    assert seconds < 4 * DEADLINE + MARGIN
