"""The PDS FHIR specification's own example records, read as smsp reads any reply.

The examples are composed from the specification's schemas (see tests/lib/openapi_examples.py):
patient 9000000009, Jane Smith, whose name, home address, telecom and GP each have a period that
ended on 2025-12-31. Her usual name still names her; nothing else of hers is current.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from smsp_cli.domain.operations import GET, SEARCH
from smsp_cli.settings.connection import ConnectionSettings
from tests.lib.fhir_provider import Provider, call, fhir
from tests.lib.openapi_examples import example_of, is_link_stub

SPECIFICATION = (Path(__file__).resolve().parents[4].parent / "shared" / "reference" / "pds-fhir"
                 / "specification" / "components")


def _needs(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs {path}: the PDS FHIR reference pack beside the checkout")
    return path


def _example_patient() -> Any:
    return example_of(_needs(SPECIFICATION / "schemas" / "Patient.yaml"))


def _example_search() -> Any:
    return example_of(_needs(SPECIFICATION / "schemas" / "PatientSearch.yaml"))


def test_the_composed_example_is_the_specifications_patient() -> None:
    record = _example_patient()
    assert (record["id"], record["birthDate"], record["gender"]) == (
        "9000000009", "2010-10-22", "female")
    assert record["name"][0]["period"] == {"start": "2024-01-01", "end": "2025-12-31"}
    assert record["address"][0]["line"] == ["1 Trevelyan Square", "Boar Lane", "City Centre",
                                            "Leeds", "West Yorkshire"]


def test_the_example_patient_is_named_by_its_usual_name_and_holds_nothing_current(
    settings: ConnectionSettings
) -> None:
    record = _example_patient()
    outcome = call(settings, Provider(lambda request: fhir(200, record, request)), GET,
                   nhs_number="9000000009", dob="2010-10-22")
    patient = outcome.reply.patient
    assert outcome.reply.response_code == "SMSP-0000"
    assert (patient.nhs_number, patient.title, patient.given_names, patient.family_name) == (
        "9000000009", "Mrs", ("Jane Marie Anne", "Jo", "Adele"), "Smith")
    assert (patient.gender, patient.birth_date, patient.death_date) == (
        "female", "2010-10-22", "2010-10-22")
    assert (patient.addresses, patient.telecoms, patient.gp_practice) == ((), (), None)
    assert patient.ended_only == (("address", "2025-12-31"), ("telecom", "2025-12-31"),
                                  ("gp", "2025-12-31"))
    assert patient.restricted is False
    assert "deceased" in outcome.warning_codes


def test_the_example_search_bundle_finds_the_example_patient(
    settings: ConnectionSettings
) -> None:
    bundle, record = _example_search(), _example_patient()

    def provider(request: httpx.Request) -> httpx.Response:
        return fhir(200, bundle if request.url.path.endswith("/Patient") else record, request)

    seen = Provider(provider)
    outcome = call(settings, seen, SEARCH, family="Smith", dob="2010-10-22", gender="f")
    assert outcome.reply.response_code == "SMSP-0000"
    assert outcome.reply.patient.nhs_number == "9000000009"
    assert seen.seen[2].url.path.endswith("/Patient/9000000009")


@pytest.mark.parametrize("name", ["Patient.json", "Sensitive_Patient.json",
                                  "PatientSearch.json"])
def test_the_example_files_are_read_when_the_pack_holds_them(
    settings: ConnectionSettings, name: str
) -> None:
    path = _needs(SPECIFICATION / "examples" / name)
    if is_link_stub(path):
        pytest.skip(f"{path} holds only a link to {path.read_text().strip()}, a file outside "
                    "the specification; the composed examples above stand for it")
    document = json.loads(path.read_text(encoding="utf-8"))
    record = document["entry"][0]["resource"] if name.startswith("PatientSearch") else document
    outcome = call(settings, Provider(lambda request: fhir(200, record, request)), GET,
                   nhs_number=record["id"], dob=record["birthDate"])
    patient = outcome.reply.patient
    assert patient.nhs_number == record["id"]
    if name == "Patient.json":
        assert patient.family_name == "Smith"
        assert (patient.addresses, patient.telecoms, patient.gp_practice) == ((), (), None)
