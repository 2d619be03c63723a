"""Sandbox matching: the verify and trace rules of spec §3.3, forced codes and faults."""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsp_cli.domain.models import nhs_number_check_digit
from smsp_cli.domain.operations import DETAILS, GET, SEARCH, TRACE, VERIFY, Operation
from smsp_cli.domain.results import Address, Patient, Telecom
from smsp_cli.sandbox.builtin import BUILT_IN
from smsp_cli.sandbox.matching import Answer, Criteria, PatientIndex
from smsp_cli.sandbox.patients import SCENARIOS, SandboxPatient

ELEANOR = Patient(
    nhs_number="9991000003",
    given_names=("Eleanor", "Mary"),
    family_name="Fairweather",
    gender="female",
    birth_date="1984-03-14",
    addresses=(
        Address("home", ("12 Orchard Way",), "BO1 4QX"),
        Address("temporary", ("27 Harbour Street",), "BO9 2HT"),
    ),
    telecoms=(Telecom("MC", "tel:07700900184"),),
)
HELD_TO_THE_MONTH = Patient(
    nhs_number="9991000011",
    given_names=("Derek",),
    family_name="Monthly",
    gender="male",
    birth_date="2014-05",
)


def sandbox(patient: Patient, scenario: str = "found", **extra: object) -> SandboxPatient:
    forced = SCENARIOS[scenario]
    return SandboxPatient(
        patient, scenario, response_code=forced.response_code, fault=forced.fault,
        **extra,  # type: ignore[arg-type]
    )


INDEX = PatientIndex([sandbox(ELEANOR), sandbox(HELD_TO_THE_MONTH)])
SEARCHES = [TRACE, SEARCH, DETAILS]


def trace(**items: str) -> Criteria:
    """Eleanor's trace items (birth date, family, gender), changed by ``items``."""
    return Criteria(**{"birth_date": "19840314", "family": "Fairweather", "gender": "2", **items})


def by_number(**items: str) -> Criteria:
    return Criteria(**{"nhs_number": "9991000003", "birth_date": "19840314", **items})


def found_number(answer: Answer) -> str | None:
    return None if answer.patient is None else answer.patient.nhs_number


def test_index_counts_its_patients() -> None:
    assert len(INDEX) == 2
    assert len(PatientIndex(BUILT_IN)) == len(BUILT_IN)


# --- verifyNHSNumber and get by NHS number (PROV-PDS 4.3.3-4.3.6) ----------------------------


def test_verify_with_exact_birth_date_is_verified() -> None:
    answer = INDEX.answer(VERIFY, by_number())
    assert (answer.response_code, answer.verified, found_number(answer)) == (
        "SMSP-0000", True, "9991000003"
    )


def test_verify_of_an_unknown_number_is_no_match() -> None:
    answer = INDEX.answer(VERIFY, by_number(nhs_number="9991000038"))
    assert (answer.response_code, answer.patient, answer.verified) == ("DEMOG-0001", None, None)


def test_verify_with_wrong_birth_date_and_no_name_is_not_verified() -> None:
    answer = INDEX.answer(VERIFY, by_number(birth_date="19840315"))
    assert (answer.response_code, answer.verified, answer.patient) == ("DEMOG-0040", False, None)


@pytest.mark.parametrize(
    "birth_date", ["19850314", "19840414", "19840315"], ids=["year", "month", "day"]
)
def test_two_of_three_birth_date_parts_with_surname_and_initial_verify(birth_date: str) -> None:
    answer = INDEX.answer(VERIFY, by_number(birth_date=birth_date, family="Fairweather",
                                            given="Eleanor"))
    assert (answer.response_code, answer.verified) == ("SMSP-0000", True)


def test_two_of_three_compares_only_the_first_three_letters_and_the_initial() -> None:
    answer = INDEX.answer(VERIFY, by_number(birth_date="19840315", family="FAIRBANKS", given="e"))
    assert answer.verified is True


@pytest.mark.parametrize(
    "items",
    [
        {"family": "Farweather", "given": "Eleanor"},  # surname's first 3 differ
        {"family": "Fairweather", "given": "Mary"},  # initial is of the middle name
        {"family": "Fairweather"},  # forename missing
        {"given": "Eleanor"},  # surname missing
        {"family": "Fa", "given": "E"},  # fewer than 3 characters of surname
        {"family": "Fairweather", "given": " "},  # a blank forename is no forename
    ],
)
def test_two_of_three_without_agreeing_surname_and_initial_is_not_verified(
    items: dict[str, str],
) -> None:
    answer = INDEX.answer(VERIFY, by_number(birth_date="19840315", **items))
    assert (answer.response_code, answer.verified) == ("DEMOG-0040", False)


def test_only_one_birth_date_part_is_not_verified_even_with_names() -> None:
    answer = INDEX.answer(VERIFY, by_number(birth_date="19850315", family="Fairweather",
                                            given="Eleanor"))
    assert answer.response_code == "DEMOG-0040"


def test_verify_names_are_compared_case_insensitively() -> None:
    answer = INDEX.answer(VERIFY, by_number(birth_date="19840315", family="fAIRweather",
                                            given="eLEANOR"))
    assert answer.verified is True


@pytest.mark.parametrize(
    ("items", "verified"),
    [
        ({"family": "Fairweather", "given": "Eleanor"}, True),
        ({"family": "Fai"}, True),
        ({"given": "E"}, True),
        ({"family": "Smith"}, False),  # a contradicting name defeats an exact birth date
        ({"family": "Fairweather", "given": "Jane"}, False),
    ],
)
def test_names_given_with_an_exact_birth_date_must_agree(
    items: dict[str, str], verified: bool
) -> None:
    assert INDEX.answer(VERIFY, by_number(**items)).verified is verified


def test_get_not_verified_answers_demog_0040_with_no_patient() -> None:
    answer = INDEX.answer(GET, by_number(birth_date="19990101"))
    assert (answer.response_code, answer.patient, answer.verified) == ("DEMOG-0040", None, None)


@pytest.mark.parametrize("operation", [GET, DETAILS], ids=lambda op: op.command)
def test_get_and_details_by_number_return_the_whole_record(operation: Operation) -> None:
    answer = INDEX.answer(operation, by_number())
    assert answer.response_code == "SMSP-0000"
    assert answer.patient == ELEANOR


def test_a_record_held_to_the_month_verifies_on_year_and_month_with_names() -> None:
    criteria = Criteria(nhs_number="9991000011", birth_date="20140512", family="Monthly",
                        given="D")
    assert INDEX.answer(VERIFY, criteria).verified is True
    without_names = Criteria(nhs_number="9991000011", birth_date="20140512")
    assert INDEX.answer(VERIFY, without_names).verified is False


def test_an_unreadable_birth_date_never_verifies() -> None:
    assert INDEX.answer(VERIFY, by_number(birth_date="1984-03-14")).verified is False


# --- traces: getNHSNumber, bySearch, getPatientDetails without a number (PROV-PDS 4.4) -------


@pytest.mark.parametrize("operation", SEARCHES, ids=lambda op: op.command)
def test_trace_on_exact_details_finds_the_patient(operation: Operation) -> None:
    answer = INDEX.answer(operation, trace(given="Eleanor", postcode="BO1 4QX"))
    assert (answer.response_code, found_number(answer)) == ("SMSP-0000", "9991000003")
    assert answer.verified is None


@pytest.mark.parametrize(
    "items",
    [
        {"family": "FAIRWEATHER"},
        {"family": "fairweather", "given": "ELEANOR"},
        {"given": "mary"},  # any given name
        {"postcode": "bo1 4qx"},
        {"postcode": "BO9 2HT"},  # any address's postcode
        {"family": "Fa*"},
        {"family": "fair*ther"},
        {"given": "El*"},
        {"postcode": "BO1*"},
        {"postcode": "bo9 2*"},
        {"family": "Fairweather*"},  # a wildcard may match nothing
    ],
)
def test_trace_matches_case_insensitively_and_with_wildcards(items: dict[str, str]) -> None:
    assert found_number(INDEX.answer(TRACE, trace(**items))) == "9991000003"


@pytest.mark.parametrize(
    "items",
    [
        {"family": "Fairweathe"},  # no prefix match without a wildcard
        {"family": "Fairweather "},  # whitespace is significant
        {"given": "Elea"},
        {"given": "Ellie*"},
        {"postcode": "BO14QX"},  # a different spacing does not match
        {"postcode": "BO1  4QX"},
        {"postcode": "BO1-4QX"},
        {"postcode": "BO2*"},
        {"gender": "1"},
        {"gender": "0"},
        {"birth_date": "19840315"},
        {"birth_date": "198404"},
        {"birth_date": "1985"},
        {"family": "Fair.*"},  # regular-expression characters are literal
    ],
)
def test_trace_without_a_match_answers_demog_0001(items: dict[str, str]) -> None:
    answer = INDEX.answer(TRACE, trace(**items))
    assert (answer.response_code, answer.patient) == ("DEMOG-0001", None)


@pytest.mark.parametrize("birth_date", ["1984", "198403", "19840314"])
def test_trace_matches_a_full_birth_date_at_the_requested_resolution(birth_date: str) -> None:
    assert found_number(INDEX.answer(TRACE, trace(birth_date=birth_date))) == "9991000003"


@pytest.mark.parametrize(
    ("birth_date", "number"),
    [("20140501", "9991000011"), ("20140531", "9991000011"), ("201405", "9991000011"),
     ("2014", "9991000011"), ("20140601", None), ("20130512", None)],
)
def test_a_record_held_to_the_month_matches_any_date_in_that_month(
    birth_date: str, number: str | None
) -> None:
    criteria = Criteria(birth_date=birth_date, family="Monthly", gender="1")
    assert found_number(INDEX.answer(SEARCH, criteria)) == number


def twin(number: str, postcode: str = "BO3 5RD") -> SandboxPatient:
    return sandbox(Patient(
        nhs_number=number, given_names=("Daniel",), family_name="Twyford", gender="male",
        birth_date="1990-01-01", addresses=(Address("home", (), postcode),),
    ))


def test_two_matches_answer_demog_0007_with_no_patient() -> None:
    index = PatientIndex([twin("9991000089"), twin("9991000097")])
    criteria = Criteria(birth_date="19900101", family="Twyford", given="Daniel", gender="1",
                        postcode="BO3 5RD")
    answer = index.answer(SEARCH, criteria)
    assert (answer.response_code, answer.patient) == ("DEMOG-0007", None)


def test_a_postcode_that_tells_look_alikes_apart_finds_one() -> None:
    index = PatientIndex([twin("9991000089"), twin("9991000097", postcode="BO3 5RE")])
    criteria = Criteria(birth_date="19900101", family="Twyford", gender="1", postcode="BO3 5RE")
    assert found_number(index.answer(TRACE, criteria)) == "9991000097"


# --- superseded numbers (PROV-PDS 4.3.6, 4.5.3, 4.7.4) ---------------------------------------

OLD = sandbox(Patient(
    nhs_number="9991000054", given_names=("Samuel",), family_name="Oakhurst", gender="male",
    birth_date="1967-05-21", title="Mr",
), "superseded", superseded_by="9991000062")
NEW = sandbox(Patient(
    nhs_number="9991000062", given_names=("Samuel", "Peter"), family_name="Oakhurst",
    gender="male", birth_date="1967-05-21", title="Mr",
))
SUPERSEDING = PatientIndex([OLD, NEW])


def test_get_by_a_superseded_number_returns_the_replacement_with_demog_0017() -> None:
    answer = SUPERSEDING.answer(GET, Criteria(nhs_number="9991000054", birth_date="19670521"))
    assert answer.response_code == "DEMOG-0017"
    assert answer.patient == NEW.patient


def test_verify_of_a_superseded_number_is_verified_and_names_the_new_number() -> None:
    answer = SUPERSEDING.answer(VERIFY, Criteria(nhs_number="9991000054", birth_date="19670521"))
    assert (answer.response_code, answer.verified, found_number(answer)) == (
        "DEMOG-0017", True, "9991000062"
    )


def test_a_superseded_number_with_wrong_details_is_not_verified() -> None:
    answer = SUPERSEDING.answer(VERIFY, Criteria(nhs_number="9991000054", birth_date="19670522"))
    assert (answer.response_code, answer.verified, answer.patient) == ("DEMOG-0040", False, None)


def test_details_cannot_take_a_superseded_number() -> None:
    criteria = Criteria(nhs_number="9991000054", birth_date="19670521")
    answer = SUPERSEDING.answer(DETAILS, criteria)
    assert (answer.response_code, answer.patient) == ("DEMOG-0017", None)


@pytest.mark.parametrize("operation", SEARCHES, ids=lambda op: op.command)
def test_a_trace_returns_the_replacement_never_the_superseded_record(operation: Operation) -> None:
    criteria = Criteria(birth_date="19670521", family="Oakhurst", given="Samuel", gender="1")
    answer = SUPERSEDING.answer(operation, criteria)
    assert (answer.response_code, found_number(answer)) == ("SMSP-0000", "9991000062")


def test_a_chain_of_supersessions_ends_at_the_live_record() -> None:
    oldest = sandbox(
        Patient(nhs_number="9991000046", family_name="Oakhurst", birth_date="1967-05-21"),
        "superseded", superseded_by="9991000054",
    )
    index = PatientIndex([oldest, OLD, NEW])
    answer = index.answer(GET, Criteria(nhs_number="9991000046", birth_date="19670521"))
    assert (answer.response_code, found_number(answer)) == ("DEMOG-0017", "9991000062")


@pytest.mark.parametrize(
    ("patients", "message"),
    [
        ([OLD], "9991000062 supersedes another but is not held"),
        ([sandbox(ELEANOR), sandbox(ELEANOR)], "9991000003 is held by two"),
        ([sandbox(Patient(nhs_number=None, family_name="Nobody"))], "has no NHS number"),
        ([sandbox(ELEANOR, "superseded", superseded_by="9991000003")], "superseded in a loop"),
    ],
)
def test_an_inconsistent_set_of_patients_is_refused(
    patients: list[SandboxPatient], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        PatientIndex(patients)


# --- what a reply may show --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "criteria"),
    [(TRACE, trace()), (SEARCH, trace()), (DETAILS, trace(given="Eleanor")), (GET, by_number()),
     (DETAILS, by_number())],
    ids=["trace", "search", "details-search", "get", "details-by-number"],
)
def test_the_local_identifier_is_echoed(operation: Operation, criteria: Criteria) -> None:
    echoed = replace(criteria, local_id="MRN-42", local_id_root="1.2.3")
    answer = INDEX.answer(operation, echoed)
    assert answer.patient is not None
    assert answer.patient.local_identifier == "MRN-42"
    assert INDEX.answer(operation, criteria).patient == ELEANOR  # nothing echoed unasked


def test_a_sensitive_patient_is_found_by_postcode_but_shown_without_addresses_or_telecoms() -> None:
    index = PatientIndex([sandbox(ELEANOR, "sensitive", sensitive=True)])
    for operation, criteria in ((SEARCH, trace(postcode="BO1 4QX")), (GET, by_number())):
        answer = index.answer(operation, criteria)
        assert answer.patient is not None
        assert (answer.patient.addresses, answer.patient.telecoms) == ((), ())
        assert answer.patient.family_name == "Fairweather"


# --- forced codes and faults -----------------------------------------------------------------

NO_PATIENT_CODES = {
    "spine-down": "SMSP-0004", "provider-error": "SMSP-9999", "spine-error": "DEMOG-9999",
    "response-invalid": "SMSP-0002", "credentials-rejected": "SMSP-0005",
    "old-style-number": "DEMOG-0042", "not-verified": "DEMOG-0040",
}
FAULT_CODES = {"retryable-fault": "2100", "fatal-fault": "2200", "access-denied": "3000"}
ALL_OPERATIONS = [(VERIFY, by_number()), (GET, by_number()), (DETAILS, by_number()),
                  (TRACE, trace()), (SEARCH, trace())]
OPERATION_IDS = ["verify", "get", "details", "trace", "search"]


@pytest.mark.parametrize(("operation", "criteria"), ALL_OPERATIONS, ids=OPERATION_IDS)
@pytest.mark.parametrize(("scenario", "code"), NO_PATIENT_CODES.items())
def test_a_forced_code_answers_with_no_patient_for_every_operation(
    operation: Operation, criteria: Criteria, scenario: str, code: str
) -> None:
    answer = PatientIndex([sandbox(ELEANOR, scenario)]).answer(operation, criteria)
    assert (answer.response_code, answer.patient, answer.fault) == (code, None, None)


@pytest.mark.parametrize(("operation", "criteria"), ALL_OPERATIONS, ids=OPERATION_IDS)
@pytest.mark.parametrize(("scenario", "fault"), FAULT_CODES.items())
def test_a_forced_fault_answers_for_every_operation(
    operation: Operation, criteria: Criteria, scenario: str, fault: str
) -> None:
    answer = PatientIndex([sandbox(ELEANOR, scenario)]).answer(operation, criteria)
    assert (answer.fault, answer.patient) == (fault, None)


@pytest.mark.parametrize(("operation", "criteria"), ALL_OPERATIONS, ids=OPERATION_IDS)
@pytest.mark.parametrize(("scenario", "code"), [("cached", "SMSP-0003"),
                                                ("invalidated", "DEMOG-0022")])
def test_a_forced_code_with_data_returns_the_patient(
    operation: Operation, criteria: Criteria, scenario: str, code: str
) -> None:
    answer = PatientIndex([sandbox(ELEANOR, scenario)]).answer(operation, criteria)
    assert (answer.response_code, found_number(answer)) == (code, "9991000003")


def test_the_not_verified_record_answers_verified_false_to_verify() -> None:
    answer = PatientIndex([sandbox(ELEANOR, "not-verified")]).answer(VERIFY, by_number())
    assert answer.verified is False


def test_a_failure_code_answers_before_any_verification() -> None:
    index = PatientIndex([sandbox(ELEANOR, "spine-down")])
    answer = index.answer(GET, by_number(birth_date="19000101"))
    assert answer.response_code == "SMSP-0004"


def test_a_code_with_data_is_only_given_once_verified() -> None:
    index = PatientIndex([sandbox(ELEANOR, "cached")])
    answer = index.answer(GET, by_number(birth_date="19000101"))
    assert (answer.response_code, answer.patient) == ("DEMOG-0040", None)


def test_a_forced_record_among_several_matches_answers_demog_0007() -> None:
    index = PatientIndex([twin("9991000089"), sandbox(twin("9991000097").patient, "spine-down")])
    criteria = Criteria(birth_date="19900101", family="Twyford", gender="1")
    assert index.answer(TRACE, criteria).response_code == "DEMOG-0007"


# --- properties --------------------------------------------------------------------------------

NAMES = st.text(alphabet=string.ascii_letters + "-' ", min_size=1, max_size=20).filter(
    lambda name: name.strip() == name and "*" not in name
)
POSTCODES = st.from_regex(r"[A-Z]{1,2}[0-9]{1,2} [0-9][A-Z]{2}", fullmatch=True)
BIRTH_DATES = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 28)).filter(
    lambda date: date.day <= 28
)
GENDERS = st.sampled_from([("male", "1"), ("female", "2"), ("not-known", "0"),
                           ("not-specified", "9")])


def synthetic_number(seed: int) -> str:
    """A valid 999-range NHS number not held by a built-in patient."""
    for candidate in range(999_500_000 + seed, 999_600_000):
        digit = nhs_number_check_digit(str(candidate))
        if digit is not None:
            return f"{candidate}{digit}"
    raise AssertionError("no valid number")


@st.composite
def generated(draw: st.DrawFn) -> tuple[Patient, str]:
    gender_label, gender_code = draw(GENDERS)
    patient = Patient(
        nhs_number=synthetic_number(draw(st.integers(0, 9999))),
        given_names=(draw(NAMES),),
        family_name="Zz" + draw(NAMES),  # no built-in family name starts so
        gender=gender_label,
        birth_date=draw(BIRTH_DATES).isoformat(),
        addresses=(Address("home", ("1 Any Street",), draw(POSTCODES)),),
    )
    return patient, gender_code


def exact_details(patient: Patient, gender_code: str) -> Criteria:
    return Criteria(
        nhs_number=patient.nhs_number,
        birth_date=(patient.birth_date or "").replace("-", ""),
        family=patient.family_name,
        given=patient.given_names[0],
        gender=gender_code,
        postcode=patient.addresses[0].postcode,
    )


@settings(max_examples=75, deadline=None)
@given(generated())
def test_a_patient_is_always_found_by_its_own_exact_details(case: tuple[Patient, str]) -> None:
    patient, gender_code = case
    index = PatientIndex([*BUILT_IN, sandbox(patient)])
    criteria = exact_details(patient, gender_code)
    no_number = replace(criteria, nhs_number=None)
    for operation, asked in ((VERIFY, criteria), (GET, criteria), (DETAILS, criteria),
                             (TRACE, no_number), (SEARCH, no_number), (DETAILS, no_number)):
        answer = index.answer(operation, asked)
        assert (answer.response_code, answer.patient) == ("SMSP-0000", patient), operation.name


@settings(max_examples=75, deadline=None)
@given(generated(), st.integers(2, 8), st.sampled_from([4, 6]))
def test_a_wildcard_prefix_and_a_coarser_birth_date_still_find_the_patient(
    case: tuple[Patient, str], keep: int, resolution: int
) -> None:
    patient, gender_code = case
    index = PatientIndex([*BUILT_IN, sandbox(patient)])
    family = patient.family_name or ""
    criteria = Criteria(
        birth_date=(patient.birth_date or "").replace("-", "")[:resolution],
        family=family[:keep] + "*",
        gender=gender_code,
    )
    assert found_number(index.answer(TRACE, criteria)) == patient.nhs_number


@settings(max_examples=75, deadline=None)
@given(generated(), st.sampled_from([0, 1, 2]), st.sampled_from([0, 1, 2]))
def test_verify_needs_two_of_three_birth_date_parts_beside_the_names(
    case: tuple[Patient, str], first: int, second: int
) -> None:
    patient, _ = case
    held = dt.date.fromisoformat(patient.birth_date or "")
    changed = held
    for part in {first, second}:
        changed = shift_part(changed, part)
    criteria = Criteria(
        nhs_number=patient.nhs_number,
        birth_date=changed.strftime("%Y%m%d"),
        family=patient.family_name,
        given=patient.given_names[0],
    )
    answer = PatientIndex([sandbox(patient)]).answer(VERIFY, criteria)
    assert answer.verified is (len({first, second}) == 1)


def shift_part(date: dt.date, part: int) -> dt.date:
    """The date with its year (0), month (1) or day (2) changed, and the other parts kept."""
    if part == 0:
        return date.replace(year=date.year + 1 if date.year < 2025 else date.year - 1)
    if part == 1:
        return date.replace(month=date.month % 12 + 1)
    return date.replace(day=date.day % 28 + 1)
