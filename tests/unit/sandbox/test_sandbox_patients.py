"""Sandbox patients: the built-in synthetic records and the Opentest CSV loader."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from smsp_cli.domain.models import is_valid_nhs_number
from smsp_cli.domain.operations import GET, SEARCH, TRACE, VERIFY, Operation
from smsp_cli.domain.results import Address, GpPractice, Patient
from smsp_cli.sandbox.builtin import BUILT_IN
from smsp_cli.sandbox.matching import Answer, Criteria, PatientIndex
from smsp_cli.sandbox.opentest import load_csv
from smsp_cli.sandbox.patients import SandboxPatient, patient_to_json
from tests.conftest import reference_path

OPENTEST_RELATIVE = "test-data/opentest_test_data.csv"
SCENARIO_LABELS = {
    "found", "sensitive", "minimal", "deceased", "superseded", "invalidated", "multiple-match",
    "not-verified", "cached", "spine-down", "provider-error", "spine-error", "retryable-fault",
    "fatal-fault", "access-denied", "response-invalid", "credentials-rejected", "old-style-number",
    "input-rejected", "invalid-message",
}
JSON_KEYS = [
    "nhs_number", "local_identifier", "title", "given_names", "family_name", "gender",
    "birth_date", "death_date", "addresses", "telecoms", "gp_practice", "restricted",
    "postcode",
]
GENDER_CODES = {"male": "1", "female": "2", "not-known": "0", "not-specified": "9"}
UK_POSTCODE = re.compile(r"[A-Z]{1,2}\d[A-Z\d]? \d[ABD-HJLNP-UW-Z]{2}")

# What a get (NHS number + birth date) answers for each scenario, written out by hand.
GET_CODES = {
    "found": "SMSP-0000", "sensitive": "SMSP-0000", "minimal": "SMSP-0000",
    "deceased": "SMSP-0000", "superseded": "DEMOG-0017", "invalidated": "DEMOG-0022",
    "multiple-match": "SMSP-0000", "not-verified": "DEMOG-0040", "cached": "SMSP-0003",
    "spine-down": "SMSP-0004", "provider-error": "SMSP-9999", "spine-error": "DEMOG-9999",
    "response-invalid": "SMSP-0002", "credentials-rejected": "SMSP-0005",
    "old-style-number": "DEMOG-0042", "input-rejected": "SMSP-0001",
}
FAULTS = {
    "retryable-fault": "2100", "fatal-fault": "2200", "access-denied": "3000",
    "invalid-message": "1000",
}
# Trace and search differ from get only here.
SEARCH_CODES = {**GET_CODES, "superseded": "SMSP-0000", "multiple-match": "DEMOG-0007"}
WITH_PATIENT = {"SMSP-0000", "SMSP-0003", "DEMOG-0017", "DEMOG-0022"}

BUILT_IN_INDEX = PatientIndex(BUILT_IN)


def by_scenario(label: str) -> SandboxPatient:
    return next(record for record in BUILT_IN if record.scenario == label)


def by_number(records: tuple[SandboxPatient, ...], number: str) -> SandboxPatient:
    return next(record for record in records if record.patient.nhs_number == number)


def hl7(iso_date: str | None) -> str:
    assert iso_date is not None
    return iso_date.replace("-", "")


def number_criteria(patient: Patient) -> Criteria:
    return Criteria(nhs_number=patient.nhs_number, birth_date=hl7(patient.birth_date))


def search_criteria(patient: Patient) -> Criteria:
    return Criteria(
        birth_date=hl7(patient.birth_date),
        family=patient.family_name,
        gender=GENDER_CODES[patient.gender or ""],
    )


# --- Built-in patients -----------------------------------------------------------------------


def test_every_scenario_label_has_a_built_in_patient() -> None:
    assert {record.scenario for record in BUILT_IN} == SCENARIO_LABELS


def test_built_in_nhs_numbers_are_synthetic_valid_and_unique() -> None:
    numbers = [record.patient.nhs_number or "" for record in BUILT_IN]
    assert all(number.startswith("999") and is_valid_nhs_number(number) for number in numbers)
    assert len(set(numbers)) == len(numbers)


def test_built_in_postcodes_are_well_formed_and_in_the_fictional_bo_area() -> None:
    postcodes = [
        address.postcode or ""
        for record in BUILT_IN
        for address in record.patient.addresses
    ]
    assert postcodes
    assert all(UK_POSTCODE.fullmatch(code) and code.startswith("BO") for code in postcodes)


def test_built_in_family_names_are_distinct_apart_from_the_planned_look_alikes() -> None:
    families = Counter(record.patient.family_name for record in BUILT_IN)
    shared = {family for family, count in families.items() if count > 1}
    # The multiple-match pair, and the superseded record with its replacement.
    assert shared == {"Twyford", "Oakhurst"}


def test_found_patient_has_every_kind_of_detail() -> None:
    patient = by_scenario("found").patient
    assert patient.title
    assert len(patient.given_names) == 2
    assert [address.use for address in patient.addresses] == [
        "home", "temporary", "correspondence"
    ]
    assert len(patient.addresses[2].lines) < 5  # replies pad to 5 lines (spec §3.7)
    telecoms = {(telecom.use, telecom.value.split(":")[0]) for telecom in patient.telecoms}
    assert {("home", "tel"), ("mobile", "tel")} <= telecoms
    assert any(telecom.value.startswith("mailto:") for telecom in patient.telecoms)
    practice = patient.gp_practice
    assert practice is not None
    assert re.fullmatch(r"Y\d{5}", practice.code or "")
    assert None not in (practice.name, practice.address, practice.telephone)


def test_minimal_patient_holds_only_number_name_gender_and_birth_date() -> None:
    patient = by_scenario("minimal").patient
    assert None not in (patient.nhs_number, patient.family_name, patient.gender, patient.birth_date)
    assert len(patient.given_names) == 1
    assert (patient.title, patient.death_date, patient.gp_practice) == (None, None, None)
    assert (patient.addresses, patient.telecoms) == ((), ())


def test_sensitive_patient_is_flagged_and_holds_data_to_withhold() -> None:
    record = by_scenario("sensitive")
    assert record.sensitive
    assert len(record.patient.addresses) == len(record.patient.telecoms) == 1


def test_deceased_patient_has_a_death_date_after_birth() -> None:
    patient = by_scenario("deceased").patient
    assert patient.death_date is not None
    assert patient.death_date > (patient.birth_date or "9999")


def test_superseded_patient_points_at_another_built_in_patient() -> None:
    old = by_scenario("superseded")
    assert old.superseded_by is not None
    new = by_number(BUILT_IN, old.superseded_by)
    assert new.superseded_by is None
    assert new.patient.family_name == old.patient.family_name


def test_multiple_match_patients_share_every_search_item() -> None:
    pair = [record.patient for record in BUILT_IN if record.scenario == "multiple-match"]
    assert len(pair) >= 2
    keys = {
        (p.family_name, p.given_names[0], p.birth_date, p.gender, p.addresses[0].postcode)
        for p in pair
    }
    assert len(keys) == 1


@pytest.mark.parametrize("record", BUILT_IN, ids=lambda record: record.scenario)
def test_to_json_has_exactly_the_public_keys(record: SandboxPatient) -> None:
    document = record.to_json()
    assert list(document) == [*JSON_KEYS, "scenario"]
    assert document["scenario"] == record.scenario
    assert isinstance(document["given_names"], list)


def test_to_json_of_the_found_patient_pins_the_shape() -> None:
    document = by_scenario("found").to_json()
    assert document["nhs_number"] == "9991000003"
    assert document["gender"] == "female"
    assert document["birth_date"] == "1984-03-14"
    assert document["postcode"] == "BO1 4QX"
    assert document["addresses"][0] == {  # type: ignore[index]
        "use": "home",
        "lines": ["Rose Cottage", "12 Orchard Way", "Little Ambridge", "Borchester",
                  "Borsetshire"],
        "postcode": "BO1 4QX",
    }
    assert {"use": "mobile", "value": "tel:07700900184"} in document["telecoms"]  # type: ignore[operator]
    assert document["gp_practice"] == {
        "code": "Y12345",
        "name": "Ambridge Village Surgery",
        "address": {
            "use": None,
            "lines": ["The Surgery", "Church Lane", "Ambridge", "Borchester"],
            "postcode": "BO2 7AA",
        },
        "telephone": "tel:01632960001",
    }


def test_patient_to_json_finds_a_home_postcode_held_under_the_raw_use_code() -> None:
    patient = Patient(
        nhs_number="9991000003",
        addresses=(Address("TMP", (), "BO9 2HT"), Address("H", ("1 Lane",), "BO1 4QX")),
        gp_practice=GpPractice("Y12345", None, None, None),
    )
    document = patient_to_json(patient)
    assert document["postcode"] == "BO1 4QX"
    assert document["gp_practice"] == {
        "code": "Y12345", "name": None, "address": None, "telephone": None
    }


def test_patient_to_json_without_addresses_has_null_postcode_and_practice() -> None:
    document = patient_to_json(Patient(nhs_number="9991000038"))
    assert (document["postcode"], document["gp_practice"], document["addresses"]) == (
        None, None, []
    )


# --- Built-in patients answer through the index ----------------------------------------------


def assert_answer(answer: Answer, scenario: str, codes: dict[str, str], number: str) -> None:
    if scenario in FAULTS:
        assert answer.fault == FAULTS[scenario]
        assert answer.patient is None
        return
    assert answer.fault is None
    assert answer.response_code == codes[scenario]
    if codes[scenario] in WITH_PATIENT:
        assert answer.patient is not None
        assert answer.patient.nhs_number == number
    else:
        assert answer.patient is None


def expected_number(record: SandboxPatient) -> str:
    return record.superseded_by or record.patient.nhs_number or ""


@pytest.mark.parametrize("record", BUILT_IN, ids=lambda record: record.scenario)
def test_each_built_in_patient_answers_get_by_number_and_birth_date(
    record: SandboxPatient,
) -> None:
    answer = BUILT_IN_INDEX.answer(GET, number_criteria(record.patient))
    assert_answer(answer, record.scenario, GET_CODES, expected_number(record))


@pytest.mark.parametrize("record", BUILT_IN, ids=lambda record: record.scenario)
def test_each_built_in_patient_answers_verify(record: SandboxPatient) -> None:
    answer = BUILT_IN_INDEX.answer(VERIFY, number_criteria(record.patient))
    assert_answer(answer, record.scenario, GET_CODES, expected_number(record))
    code = GET_CODES.get(record.scenario)
    # validIdentifier is true with a patient, false for DEMOG-0040, absent otherwise (spec §3.5).
    expected = True if code in WITH_PATIENT else False if code == "DEMOG-0040" else None
    assert answer.verified is expected


@pytest.mark.parametrize("operation", [SEARCH, TRACE], ids=lambda op: op.command)
@pytest.mark.parametrize("record", BUILT_IN, ids=lambda record: record.scenario)
def test_each_built_in_patient_is_traced_by_family_birth_date_and_gender(
    record: SandboxPatient, operation: Operation
) -> None:
    answer = BUILT_IN_INDEX.answer(operation, search_criteria(record.patient))
    assert_answer(answer, record.scenario, SEARCH_CODES, expected_number(record))


# --- Opentest CSV ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def opentest() -> tuple[SandboxPatient, ...]:
    return load_csv(reference_path(OPENTEST_RELATIVE))


@pytest.fixture(scope="module")
def opentest_rows() -> list[dict[str, str]]:
    with reference_path(OPENTEST_RELATIVE).open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def test_opentest_csv_loads_all_689_patients(opentest: tuple[SandboxPatient, ...]) -> None:
    assert len(opentest) == 689
    assert Counter(record.scenario for record in opentest) == {
        "found": 682, "invalidated": 4, "multiple-match": 2, "superseded": 1
    }
    assert sum(record.sensitive for record in opentest) == 2


def test_opentest_first_row_is_read_field_by_field(opentest: tuple[SandboxPatient, ...]) -> None:
    record = by_number(opentest, "9449304424")
    assert record.scenario == "found"  # Test ref SMSP-0001 is about the client's date checks
    assert record.patient == Patient(
        nhs_number="9449304424",
        title="MRS",
        given_names=("COMFORT", "ZULA"),
        family_name="AINDOW",
        gender="female",
        birth_date="1943-05-19",
        addresses=(Address("home", ("", "41 THE KINGSWAY", "", "EPSOM", "SURREY"), "KT17 1NA"),),
        gp_practice=GpPractice("H81109", None, None, None),
    )


@pytest.mark.parametrize(
    ("number", "field", "value"),
    [
        ("9449310378", "gender", "not-known"),  # GEELAN: "Not known"
        ("9449310386", "gender", "not-specified"),  # BHALLA: "Indeterminate"
        ("9462658145", "birth_date", "2014-05-12"),  # SIMON: 2014051200, "with hhmm"
        ("9462658110", "birth_date", "2014-05"),  # LESLIE: 201405, "too small"
        ("9449303371", "death_date", "2012-06"),  # a spreadsheet's 2.01206E+11
        ("9449310033", "death_date", "2010-01-01"),  # BEIRNE
        ("9462658145", "given_names", ("Virgil", "Miles")),  # mixed case kept as in the file
        ("9437139229", "gp_practice", None),  # no PRIMARY_CARE_CODE
    ],
)
def test_opentest_odd_rows_keep_their_values(
    opentest: tuple[SandboxPatient, ...], number: str, field: str, value: object
) -> None:
    assert getattr(by_number(opentest, number).patient, field) == value


def test_opentest_postcode_without_a_space_is_kept_as_written(
    opentest: tuple[SandboxPatient, ...],
) -> None:
    patient = by_number(opentest, "9449303320").patient  # Notes: "No space in Postcode"
    assert patient.addresses[0].postcode == "LS14HY"


def test_opentest_sensitive_and_invalidated_flags(opentest: tuple[SandboxPatient, ...]) -> None:
    assert by_number(opentest, "9449310610").sensitive  # KHAMTORN, flag S
    invalidated = by_number(opentest, "9449310378")  # GEELAN, flag I and Test ref DEMOG-0022
    assert (invalidated.scenario, invalidated.response_code) == ("invalidated", "DEMOG-0022")
    assert not invalidated.sensitive


def test_opentest_superseded_row_points_at_its_one_twin(
    opentest: tuple[SandboxPatient, ...],
) -> None:
    old = by_number(opentest, "9449310424")
    assert (old.scenario, old.superseded_by) == ("superseded", "9449310416")
    index = PatientIndex(opentest)
    answer = index.answer(GET, Criteria(nhs_number="9449310424", birth_date="20070328"))
    assert answer.response_code == "DEMOG-0017"
    assert answer.patient is not None
    assert answer.patient.given_names == ("LISE", "BRITTNY")
    search = index.answer(SEARCH, Criteria(birth_date="20070328", family="HEBRON", gender="2"))
    assert search.patient is not None
    assert (search.response_code, search.patient.nhs_number) == ("SMSP-0000", "9449310416")


def test_opentest_unflagged_look_alikes_still_answer_multiple_matches(
    opentest: tuple[SandboxPatient, ...],
) -> None:
    # Two MISS TONIA KLOSINSKI rows share birth date, gender and postcode but are not flagged.
    criteria = Criteria(
        birth_date="20110607", family="KLOSINSKI", given="TONIA", gender="2", postcode="KT23 4AT"
    )
    assert PatientIndex(opentest).answer(SEARCH, criteria).response_code == "DEMOG-0007"


def sample_rows(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Every 28th row, plus every row with a Test ref or Notes, minus unflagged look-alikes."""
    look_alikes = Counter(
        (row["FAMILY_NAME"], row["DATE_OF_BIRTH"], row["GENDER"]) for row in rows
    )
    chosen = [
        row
        for number, row in enumerate(rows)
        if number % 28 == 0 or row["Test ref"] or row["Notes"]
    ]
    return [
        row for row in chosen
        if look_alikes[(row["FAMILY_NAME"], row["DATE_OF_BIRTH"], row["GENDER"])] == 1
        or row["Notes"] == "Used for multiple matches"
    ]


CSV_GENDER_CODES = {"Male": "1", "Female": "2", "Not known": "0", "Indeterminate": "9"}


def test_opentest_sample_is_found_by_get_verify_and_search(
    opentest: tuple[SandboxPatient, ...], opentest_rows: list[dict[str, str]]
) -> None:
    index = PatientIndex(opentest)
    sample = sample_rows(opentest_rows)
    assert len(sample) >= 25
    for row in sample:
        number, dob = row["NHS_NUMBER"], row["DATE_OF_BIRTH"]
        expected = "DEMOG-0022" if row["Test ref"] == "DEMOG-0022" else "SMSP-0000"
        by_number_criteria = Criteria(nhs_number=number, birth_date=dob)
        got = index.answer(GET, by_number_criteria)
        assert (got.response_code, got.patient and got.patient.nhs_number) == (expected, number)
        verified = index.answer(VERIFY, by_number_criteria)
        assert (verified.response_code, verified.verified) == (expected, True), number
        found = index.answer(
            SEARCH,
            Criteria(birth_date=dob, family=row["FAMILY_NAME"],
                     gender=CSV_GENDER_CODES[row["GENDER"]]),
        )
        if row["Notes"] == "Used for multiple matches":
            assert found.response_code == "DEMOG-0007", number
        else:
            assert found.patient is not None, number
            assert (found.response_code, found.patient.nhs_number) == (expected, number)


def test_opentest_and_built_in_patients_share_one_index(
    opentest: tuple[SandboxPatient, ...],
) -> None:
    assert len(PatientIndex(BUILT_IN + opentest)) == len(BUILT_IN) + 689


# --- CSV loader robustness -------------------------------------------------------------------

HEADER = (
    "Test ref,NHS_NUMBER,DATE_OF_BIRTH,DATE_OF_DEATH,FAMILY_NAME,GIVEN_NAME,OTHER_GIVEN_NAME,"
    "TITLE,GENDER,ADDRESS_LINE_1,ADDRESS_LINE_2,ADDRESS_LINE_3,ADDRESS_LINE_4,ADDRESS_LINE_5,"
    "PAF_KEY,SENSITIVE_FLAG,PRIMARY_CARE_CODE,REF_ID,POST_CODE,Notes"
)
GOOD_ROW = (
    ",9991000003,19840314,,FAIRWEATHER,ELEANOR,,MRS,Female,,1 LANE,,TOWN,,1,,Y12345,,BO1 4QX,"
)


def write_csv(tmp_path: Path, *rows: str, prefix: str = "") -> Path:
    path = tmp_path / "patients.csv"
    path.write_text(prefix + "\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_csv_with_bom_and_trailing_blank_lines_loads(tmp_path: Path) -> None:
    path = write_csv(tmp_path, GOOD_ROW, "", ",,,,,,,,,,,,,,,,,,,", "", prefix="\ufeff")
    (record,) = load_csv(path)
    assert record.patient.family_name == "FAIRWEATHER"
    assert record.patient.addresses == (Address("home", ("", "1 LANE", "", "TOWN"), "BO1 4QX"),)


def test_csv_accepts_an_iso_birth_date(tmp_path: Path) -> None:
    (record,) = load_csv(write_csv(tmp_path, GOOD_ROW.replace("19840314", "1984-03-14")))
    assert record.patient.birth_date == "1984-03-14"


def test_csv_test_ref_selects_a_forced_scenario(tmp_path: Path) -> None:
    (record,) = load_csv(write_csv(tmp_path, "SMSP-0003" + GOOD_ROW))
    assert (record.scenario, record.response_code) == ("cached", "SMSP-0003")


def test_csv_superseded_row_without_a_twin_loads_as_found(tmp_path: Path) -> None:
    (record,) = load_csv(write_csv(tmp_path, GOOD_ROW + "Superseded"))
    assert (record.scenario, record.superseded_by) == ("found", None)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (GOOD_ROW.replace("19840314", "19841314"), "DATE_OF_BIRTH '19841314' is not a date"),
        (GOOD_ROW.replace("19840314", "14/03/1984"), "is not a date"),
        (GOOD_ROW.replace("19840314", ""), "DATE_OF_BIRTH '' is not a date"),
        (GOOD_ROW.replace("19840314,,", "19840314,2.5,"), "DATE_OF_DEATH '2.5' is not a date"),
        (GOOD_ROW.replace("9991000003", "9991000004"), "modulus 11"),
        (GOOD_ROW.replace("Female", "Woman"), "GENDER 'Woman'"),
        (GOOD_ROW.replace(",1,,Y12345", ",1,X,Y12345"), "SENSITIVE_FLAG 'X'"),
        ("DEMOG-1234" + GOOD_ROW, "Test ref 'DEMOG-1234'"),
        (GOOD_ROW + ",extra", "more cells than the header"),
    ],
)
def test_csv_bad_row_names_file_and_line(tmp_path: Path, row: str, message: str) -> None:
    path = write_csv(tmp_path, GOOD_ROW.replace("9991000003", "9991000011"), row)
    with pytest.raises(ValueError, match=re.escape(f"{path}:3: ") + ".*" + re.escape(message)):
        load_csv(path)


def test_csv_repeated_nhs_number_names_both_lines(tmp_path: Path) -> None:
    path = write_csv(tmp_path, GOOD_ROW, GOOD_ROW)
    message = f"{path}:3: NHS number 9991000003 is also on line 2"
    with pytest.raises(ValueError, match=re.escape(message)):
        load_csv(path)


def test_csv_without_the_opentest_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("name,dob\nSmith,19840314\n", encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(f"{path}:1: not an Opentest CSV header")):
        load_csv(path)


def test_csv_that_is_not_utf8_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    text = HEADER + "\n" + GOOD_ROW.replace("ELEANOR", "ÉLÉONORE") + "\n"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ValueError, match=re.escape(f"{path}: not UTF-8 text")):
        load_csv(path)


def test_every_scenario_has_a_legend_line_and_the_listing_prints_it() -> None:
    from smsp_cli.sandbox.patients import SCENARIO_MEANINGS, SCENARIOS
    from tests.lib.cli import smsp

    assert set(SCENARIO_MEANINGS) == set(SCENARIOS)
    run = smsp("sandbox", "patients")
    assert "  cached: SMSP-0003: from the provider's cache, Spine unavailable" in run.stdout
    assert "  invalid-message: SOAP fault 1000: the message is refused as invalid" in run.stdout
    assert "  spine-down: SMSP-0004: the provider cannot reach Spine" in run.stdout
