"""PDS FHIR records read into results: the usual name, the period rule, the mappings."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from smsp_cli.adapters.fhir import records, tokencache
from smsp_cli.adapters.fhir.signin import AccessToken
from smsp_cli.domain.models import PartialDate
from smsp_cli.domain.verification import HeldName, verifies

TODAY = dt.date(2026, 12, 7)
ENDED = {"start": "2020-01-01", "end": "2021-12-31"}
# Shaped as the official example 9000000009: every period of its name, home address, telecom
# and GP has ended, yet its usual name still names the patient.
ALL_ENDED = {
    "resourceType": "Patient",
    "id": "9000000009",
    "birthDate": "2010-10-22",
    "gender": "female",
    "name": [{"use": "usual", "period": ENDED, "prefix": ["Mrs"], "given": ["Jane"],
              "family": "Smith"},
             {"use": "nickname", "given": ["Janey"], "family": "Smyth"}],
    "address": [{"use": "home", "period": ENDED, "line": ["1 Trevelyan Square", "", "Leeds"],
                 "postalCode": "LS1 6AE"}],
    "telecom": [{"system": "phone", "use": "home", "value": "01632960587", "period": ENDED}],
    "generalPractitioner": [{"type": "Organization", "identifier": {
        "value": "Y12345", "period": ENDED}}],
}


def test_usual_name_is_used_whatever_its_period() -> None:
    patient = records.patient(ALL_ENDED, today=TODAY)
    assert (patient.title, patient.given_names, patient.family_name) == ("Mrs", ("Jane",),
                                                                        "Smith")


def test_ended_addresses_telecoms_and_gp_are_not_current_and_are_noted() -> None:
    patient = records.patient(ALL_ENDED, today=TODAY)
    assert patient.addresses == ()
    assert patient.telecoms == ()
    assert patient.gp_practice is None
    assert patient.ended_only == (("address", "2021-12-31"), ("telecom", "2021-12-31"),
                                  ("gp", "2021-12-31"))


def test_a_period_ending_in_the_future_is_current_and_blank_lines_are_dropped() -> None:
    future = {**ALL_ENDED, "address": [{**ALL_ENDED["address"][0],  # type: ignore[index]
                                        "period": {"end": "2027-01-01"}}]}
    patient = records.patient(future, today=TODAY)
    assert [a.lines for a in patient.addresses] == [("1 Trevelyan Square", "Leeds")]
    assert patient.ended_only == (("telecom", "2021-12-31"), ("gp", "2021-12-31"))


@pytest.mark.parametrize(("fhir", "smsp"), [("male", "male"), ("female", "female"),
                                             ("unknown", "not-known"), ("other", "not-specified")])
def test_gender_mapping(fhir: str, smsp: str) -> None:
    assert records.patient({**ALL_ENDED, "gender": fhir}, today=TODAY).gender == smsp


@pytest.mark.parametrize(("fhir", "smsp"), [("home", "home"), ("temp", "temporary"),
                                             ("billing", "correspondence"), ("work", "work")])
def test_address_use_mapping(fhir: str, smsp: str) -> None:
    current = {**ALL_ENDED, "address": [{"use": fhir, "line": ["1 Street"]}]}
    assert records.patient(current, today=TODAY).addresses[0].use == smsp


def test_restricted_is_meta_security_r() -> None:
    assert records.patient({**ALL_ENDED, "meta": {"security": [{"code": "R"}]}}).restricted
    assert records.patient(ALL_ENDED).restricted is False


def test_values_of_the_wrong_type_are_read_as_absent() -> None:
    odd = {"resourceType": "Patient", "id": 9000000009, "name": "Jane", "address": {"x": 1},
           "birthDate": ["2010"]}
    patient = records.patient(odd, today=TODAY)
    assert (patient.nhs_number, patient.family_name, patient.addresses, patient.birth_date) == (
        None, None, (), None)


NAMES = [HeldName("Smith", ("Jane",)), HeldName("Smyth", ("Janey",))]


@pytest.mark.parametrize(
    ("dob", "family", "given", "expected"),
    [
        (PartialDate(2010, 10, 22), None, None, True),  # exact date
        (PartialDate(2010, 10, 23), None, None, False),  # no names: exact date only
        (PartialDate(2010, 10, 23), "Smithson", "J", True),  # 2 of 3 parts, Smi, J
        (PartialDate(2010, 11, 23), "Smith", "J", False),  # 1 of 3 parts
        (PartialDate(2010, 10, 22), "Jones", None, False),  # exact date, surname disagrees
        (PartialDate(2010, 10, 22), "smy", "j", True),  # agrees with another name, any case
    ],
)
def test_verification_rule(dob: PartialDate, family: str | None, given: str | None,
                           expected: bool) -> None:
    assert verifies(dob, family, given, PartialDate(2010, 10, 22), NAMES) is expected


def test_a_cached_token_is_reused_until_30_seconds_before_expiry(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    monkeypatch.setenv("SMSP_DATA_DIR", str(tmp_path))
    tokencache.forget_process_tokens()
    tokencache.store("k", AccessToken("secret-token", 1000.0))
    tokencache.forget_process_tokens()  # read back from the file, as another process would
    assert tokencache.cached("k", now=969.0) == AccessToken("secret-token", 1000.0)
    assert tokencache.cached("k", now=971.0) is None


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_token_file_others_can_read_is_never_used(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSP_DATA_DIR", str(tmp_path))
    tokencache.forget_process_tokens()
    tokencache.store("k", AccessToken("secret-token", 10_000_000_000.0))
    path = tokencache.token_path("k")
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)
    tokencache.forget_process_tokens()
    assert tokencache.cached("k") is None
    assert repr(AccessToken("secret-token", 1.0)).count("secret") == 0


def test_the_table_says_none_current_with_the_last_end_date() -> None:
    from smsp_cli.output.table import patient_rows

    rows = dict(patient_rows(records.patient(ALL_ENDED, today=TODAY)))
    assert rows["Address"] == "none current (the last ended on 2021-12-31)"
    assert rows["Phone, email"] == "none current (the last ended on 2021-12-31)"
    assert rows["GP practice"] == "none current (the last ended on 2021-12-31)"
    restricted = records.patient({"resourceType": "Patient", "id": "9000000025",
                                  "meta": {"security": [{"code": "R"}]}})
    assert dict(patient_rows(restricted))["Address"] == "withheld (the record is restricted)"
