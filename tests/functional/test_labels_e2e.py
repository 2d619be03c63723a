"""Labels come from what smsp knows: only the embedded sandbox's certificate makes data synthetic.

A provider that is not the sandbox (its server certificate from a CA of its own) but says it is
one, in its Server header and with the sandbox's own synthetic NHS numbers, is labelled with the
profile's kind, over SMSP and PDS FHIR, in one lookup, a table and a batch. The embedded sandbox
itself (in-process, or as `smsp sandbox serve`: tests/functional/test_e2e_process.py) keeps its
label.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.lib.cli import smsp
from tests.lib.hostile import Behaviour, HostileProvider, Part
from tests.lib.hostile_behaviours import http_reply, patient_reply

if TYPE_CHECKING:
    from smsp_cli.sandbox.certs import SandboxCredentials
    from smsp_cli.sandbox.fhir_server import FhirSandboxServer

GET = ("get", "9991000003", "--dob", "1984-03-14")
CLAIMS_SANDBOX = ("Server", "smsp-sandbox/1.0")
SYNTHETIC_NOTE = "SANDBOX: synthetic data from the embedded provider, not from PDS"


def _pretending(body: bytes, content_type: str) -> Behaviour:
    return Behaviour((Part(http_reply(body, headers=(
        ("Content-Type", content_type), CLAIMS_SANDBOX))),), name="pretends to be the sandbox")


@pytest.fixture
def live_pretender(hostile: HostileProvider, monkeypatch: pytest.MonkeyPatch) -> HostileProvider:
    monkeypatch.setenv("SMSP_KIND", "live")
    return hostile.serve(_pretending(patient_reply(), "text/xml; charset=utf-8"))


def test_a_live_provider_calling_itself_the_sandbox_is_still_live(
    live_pretender: HostileProvider,
) -> None:
    run = smsp(*GET, "--json")
    assert run.exit_code == 0, run.stderr
    document = run.json()
    assert document["patient"]["nhs_number"] == "9991000003"  # a synthetic number, even so
    assert (document["synthetic"], document["environment"]) == (False, "live")
    assert run.stderr == ""  # no synthetic note, no label: live data as it is
    assert len(live_pretender.requests) == 1


def test_its_table_carries_no_synthetic_note(live_pretender: HostileProvider) -> None:
    run = smsp(*GET)
    assert run.exit_code == 0, run.stderr
    assert "9991000003" not in run.stderr
    assert "SANDBOX" not in run.stdout + run.stderr
    assert "synthetic" not in run.stdout + run.stderr


def test_its_batch_rows_are_live_and_the_summary_says_nothing_of_a_sandbox(
    live_pretender: HostileProvider, tmp_path: Path,
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("nhs_number,dob\n9991000003,1984-03-14\n", encoding="utf-8")
    run = smsp("batch", "get", str(rows))
    assert run.exit_code == 0, run.stderr
    result = json.loads(run.stdout)["result"]
    assert (result["synthetic"], result["environment"]) == (False, "live")
    assert "SANDBOX" not in run.stderr
    assert "synthetic" not in run.stderr


def test_a_test_profile_keeps_its_test_label(hostile: HostileProvider) -> None:
    hostile.serve(_pretending(patient_reply(), "text/xml; charset=utf-8"))
    run = smsp(*GET, "--json")  # the hostile fixture's kind is test
    assert run.exit_code == 0, run.stderr
    assert (run.json()["synthetic"], run.json()["environment"]) == (False, "test")
    assert run.stderr == ("smsp: TEST environment (profile none): data from a test provider, "
                          "not live patient data\n")


# --- PDS FHIR ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fhir_pretender(provider_credentials: SandboxCredentials) -> Iterator[HostileProvider]:
    with HostileProvider(provider_credentials, client_certificates=False) as provider:
        yield provider


def _fhir_patient() -> bytes:
    from smsp_cli.sandbox.builtin import BUILT_IN
    from smsp_cli.sandbox.fhir_records import resource

    return json.dumps(resource(BUILT_IN[0])).encode()


def test_a_fhir_provider_calling_itself_the_sandbox_is_still_live(
    fhir_sandbox: FhirSandboxServer, fhir_pretender: HostileProvider,
    credentials: SandboxCredentials, provider_credentials: SandboxCredentials,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    from smsp_cli.adapters.fhir import tokencache
    from smsp_cli.sandbox.embedded import fhir_settings_for
    from smsp_cli.settings.connection import KEYS

    tokencache.forget_process_tokens()
    # A data directory of its own (no cached token) that holds the sandbox CA, as smsp's does.
    data = tmp_path / "data"
    (data / "sandbox").mkdir(parents=True)
    shutil.copyfile(credentials.ca_cert, data / "sandbox" / "ca.pem")
    monkeypatch.setenv("SMSP_DATA_DIR", str(data))
    values = fhir_settings_for(fhir_sandbox.url, fhir_sandbox.token_url, credentials)
    for key, value in values.items():
        monkeypatch.setenv(KEYS[key][1], value)
    port = fhir_pretender.url.split(":")[2].split("/")[0]
    monkeypatch.setenv("SMSP_ENDPOINT", f"https://127.0.0.1:{port}/personal-demographics/FHIR/R4")
    monkeypatch.setenv("SMSP_CA_BUNDLE", str(provider_credentials.ca_cert))
    monkeypatch.setenv("SMSP_KIND", "live")
    fhir_pretender.serve(_pretending(_fhir_patient(), "application/fhir+json"))

    run = smsp(*GET, "--json")
    assert run.exit_code == 0, run.stderr
    document = run.json()
    assert (document["api"], document["patient"]["nhs_number"]) == ("fhir", "9991000003")
    assert (document["synthetic"], document["environment"]) == (False, "live")
    assert run.stderr == ""
    assert len(fhir_pretender.requests) == 1

    # The same settings at the embedded FHIR sandbox itself: its certificate makes it synthetic.
    monkeypatch.setenv("SMSP_ENDPOINT", fhir_sandbox.url)
    run = smsp(*GET, "--json")
    assert run.exit_code == 0, run.stderr
    assert (run.json()["synthetic"], run.json()["environment"]) == (True, "sandbox")
    assert run.stderr == f"smsp: {SYNTHETIC_NOTE}\n"
