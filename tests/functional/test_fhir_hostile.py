"""PDS FHIR against a hostile resource server: retried statuses, slow replies, encrypted keys.

The token still comes from the embedded FHIR sandbox's identity service; the `/Patient` reads
go to tests/lib/hostile.py, which scripts every byte of the reply over real TLS on 127.0.0.1.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.lib.cli import smsp
from tests.lib.hostile import Behaviour, HostileProvider, Part
from tests.lib.hostile_behaviours import drips, http_reply

if TYPE_CHECKING:
    from smsp_cli.sandbox.certs import SandboxCredentials

GET = ("get", "9991000003", "--dob", "1984-03-14")
TIMEOUT = 1.0  # --timeout: connect 1 s and read 1 s, so each attempt has 2 s
DEADLINE = 2 * TIMEOUT
MARGIN = 1.5  # settings, signing in and the error line on a busy two-core machine

TIMEOUT_OUTCOME = json.dumps({
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "timeout", "details": {"coding": [{
        "system": "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode",
        "code": "TIMEOUT", "display": "Request timed out"}]}}],
}).encode()


@pytest.fixture(scope="module")
def fhir_hostile(credentials: SandboxCredentials) -> Iterator[HostileProvider]:
    with HostileProvider(credentials, client_certificates=False) as provider:
        yield provider


@pytest.fixture
def at_hostile(fhir_env: dict[str, str], fhir_hostile: HostileProvider,
               monkeypatch: pytest.MonkeyPatch) -> HostileProvider:
    """Reads go to the hostile server, which is not the sandbox (kind `test`)."""
    port = fhir_hostile.url.split(":")[2].split("/")[0]
    monkeypatch.setenv("SMSP_ENDPOINT", f"https://127.0.0.1:{port}/personal-demographics/FHIR/R4")
    monkeypatch.setenv("SMSP_KIND", "test")
    return fhir_hostile


def _request_ids(provider: HostileProvider) -> list[str]:
    ids = []
    for request in provider.requests:
        head = request.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "x-request-id":
                ids.append(value.strip())
    return ids


def test_a_408_is_retried_with_the_same_request_id_and_then_exits_4(
    at_hostile: HostileProvider,
) -> None:
    at_hostile.serve(Behaviour(parts=(Part(http_reply(
        TIMEOUT_OUTCOME, status="408 Request Timeout",
        headers=(("Content-Type", "application/fhir+json"),))),)))
    run = smsp(*GET, "--json", "--max-attempts", "3", "--retry-backoff", "0")
    assert run.exit_code == 4, run.stderr
    assert len(at_hostile.requests) == 3
    assert all(r.startswith(b"GET /personal-demographics/FHIR/R4/Patient/9991000003 ")
               for r in at_hostile.requests)
    ids = _request_ids(at_hostile)
    assert len(ids) == 3
    assert len(set(ids)) == 1  # one call, one X-Request-ID over its retries
    failure = run.json()
    assert failure["api"] == "fhir"
    assert failure["message_id"] == ids[0]
    assert failure["message_ids"] == [ids[0], ids[0], ids[0]]
    assert run.stderr.rstrip().endswith(f"(after 3 attempts) (MessageID {ids[0]})")


def test_a_slow_fhir_reply_ends_each_attempt_at_its_deadline(at_hostile: HostileProvider) -> None:
    at_hostile.serve(drips()[1])  # the status line, one byte every 0.3 s
    started = time.monotonic()
    run = smsp(*GET, "--timeout", f"{TIMEOUT:g}", "--max-attempts", "2", "--retry-backoff", "0")
    seconds = time.monotonic() - started
    assert run.exit_code == 5, run.stderr
    assert run.stdout == ""
    assert "was too slow" in run.stderr
    assert "after 2 attempts" in run.stderr
    assert at_hostile.connections == 2
    assert 2 * DEADLINE * 0.9 <= seconds < 2 * DEADLINE + MARGIN


def _encrypted_copy(credentials: SandboxCredentials, folder: Path, passphrase: bytes) -> Path:
    from cryptography.hazmat.primitives import serialization

    from smsp_cli.sandbox.fhir_server import SIGNING_KEY_FILE

    key = serialization.load_pem_private_key(
        (credentials.directory / SIGNING_KEY_FILE).read_bytes(), None)
    encrypted = folder / "signing-key.enc.pem"
    encrypted.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase)))
    encrypted.chmod(0o600)
    return encrypted


def _passphrase_file(folder: Path, text: str) -> Path:
    path = folder / "signing.pass"
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path


def test_an_encrypted_signing_key_signs_in_with_its_passphrase(
    fhir_env: dict[str, str], credentials: SandboxCredentials, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SMSP_SIGNING_KEY", str(_encrypted_copy(credentials, tmp_path, b"s3cret")))
    monkeypatch.setenv("SMSP_PASSPHRASE_FILE", str(_passphrase_file(tmp_path, "s3cret")))
    run = smsp(*GET, "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["patient"]["nhs_number"] == "9991000003"
    assert "s3cret" not in run.stdout + run.stderr


def test_an_encrypted_signing_key_with_the_wrong_passphrase_exits_6_and_signs_in_nowhere(
    at_hostile: HostileProvider, credentials: SandboxCredentials, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    at_hostile.serve(drips()[1])
    monkeypatch.setenv("SMSP_SIGNING_KEY", str(_encrypted_copy(credentials, tmp_path, b"s3cret")))
    monkeypatch.setenv("SMSP_PASSPHRASE_FILE", str(_passphrase_file(tmp_path, "wrong")))
    run = smsp(*GET)
    assert run.exit_code == 6, run.stderr
    assert run.stderr.count("smsp: error:") == 1
    assert "does not unlock" in run.stderr
    assert "wrong" not in run.stderr
    assert at_hostile.connections == 0


def test_a_reply_of_millions_of_tiny_values_is_refused_before_it_is_parsed(
    at_hostile: HostileProvider,
) -> None:
    # 10 MiB of `[{},{},...]`: 3.5 million dicts (over 500 MiB) if parsed; refused on its
    # separators instead (benchmarks/memory.py --api fhir measures the peak).
    body = b'{"resourceType":"Patient","x":[' + b",".join([b"{}"] * 3_400_000) + b"]}"
    at_hostile.serve(Behaviour(parts=(Part(http_reply(
        body, headers=(("Content-Type", "application/fhir+json"),))),)))
    run = smsp(*GET, "--max-attempts", "1")
    assert run.exit_code == 4, run.stderr
    assert run.stdout == ""
    [line] = run.stderr.splitlines()
    assert line.startswith("smsp: error: PDS FHIR reply (HTTP 200) refused: JSON with more than "
                           "200,000 separators (`,` `:` `[`), too many values to read")
