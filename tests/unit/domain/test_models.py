"""Client-side validation: bad input is refused with the field and the rule (spec §3.2-3.3)."""

from __future__ import annotations

import datetime as dt

import pytest

from smsp_cli.domain import models, operations
from smsp_cli.domain.errors import ExitCode, ValidationError
from smsp_cli.domain.models import (
    Gender,
    PartialDate,
    build_query,
    format_nhs_number,
    is_valid_nhs_number,
    nhs_number_check_digit,
    parse_date,
    parse_gender,
    parse_nhs_number,
    parse_postcode,
)
from smsp_cli.domain.operations import DobResolution

TODAY = dt.date(2026, 11, 25)


@pytest.mark.parametrize("text", ["9434765919", "943 476 5919", "943-476-5919", " 9434765919 "])
def test_nhs_number_accepts_the_three_written_forms(text: str) -> None:
    assert parse_nhs_number(text) == "9434765919"


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("943476591", "not 10 digits"),
        ("94347659190", "not 10 digits"),
        ("943 4765919", "not 10 digits"),
        ("943.476.5919", "not 10 digits"),
        ("94347659A9", "not 10 digits"),
        ("9434765918", "modulus 11"),
        ("1234567890", "modulus 11"),  # check digit would be 10: no valid number
    ],
)
def test_nhs_number_refused_names_field_and_rule(text: str, rule: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_nhs_number(text)
    assert caught.value.exit_code == ExitCode.USAGE
    assert caught.value.field == "NHS number"
    assert rule in caught.value.rule


# Worked by hand: weights 10 to 2 over the first nine digits, check = 11 - (sum mod 11),
# 11 becomes 0 and 10 means no valid number ends these nine digits.
@pytest.mark.parametrize(
    ("first_nine", "check"),
    [
        ("943476591", 9),  # sum 299, 299 mod 11 = 2
        ("999100000", 3),  # sum 250, mod 11 = 8
        ("947348003", 2),  # sum 273, mod 11 = 9 (an Opentest number)
        ("400000000", 4),  # sum 40, mod 11 = 7
        ("000000001", 9),  # sum 2
        ("999100007", 0),  # sum 264 = 24 x 11: check digit 0
        ("999100002", None),  # sum 254, mod 11 = 1: check 10, no valid number
        ("123456789", None),  # sum 210, mod 11 = 1
    ],
)
def test_check_digit_known_answers(first_nine: str, check: int | None) -> None:
    assert nhs_number_check_digit(first_nine) == check
    valid = [d for d in range(10) if is_valid_nhs_number(first_nine + str(d))]
    assert valid == ([] if check is None else [check])


def test_a_number_whose_check_digit_is_0_is_accepted_and_its_neighbours_refused() -> None:
    assert parse_nhs_number("999 100 0070") == "9991000070"
    for wrong in ("9991000071", "9991000079"):
        with pytest.raises(ValidationError, match="modulus 11"):
            parse_nhs_number(wrong)


def test_nhs_number_is_shown_3_3_4() -> None:
    assert format_nhs_number("9434765919") == "943 476 5919"


@pytest.mark.parametrize(
    ("text", "resolution", "expected"),
    [
        ("1989-01-31", DobResolution.FULL_ONLY, "19890131"),
        ("19890131", DobResolution.FULL_ONLY, "19890131"),
        ("1989-01", DobResolution.ANY, "198901"),
        ("198901", DobResolution.ANY, "198901"),
        ("1989", DobResolution.ANY, "1989"),
        ("2000-02-29", DobResolution.FULL_ONLY, "20000229"),
    ],
)
def test_dates_accepted_per_resolution(text: str, resolution: DobResolution, expected: str) -> None:
    assert parse_date(text, resolution=resolution, today=TODAY).hl7() == expected


@pytest.mark.parametrize(
    ("text", "resolution", "rule"),
    [
        ("1989/01/31", DobResolution.FULL_ONLY, "not a date"),
        ("31-01-1989", DobResolution.ANY, "not a date"),
        ("1989-0131", DobResolution.FULL_ONLY, "not a date"),
        ("1989-02-30", DobResolution.FULL_ONLY, "impossible"),
        ("2001-02-29", DobResolution.FULL_ONLY, "impossible"),
        ("1989-13", DobResolution.ANY, "impossible"),
        ("2026-11-26", DobResolution.FULL_ONLY, "future"),
        ("2027", DobResolution.ANY, "future"),
        ("2026-12", DobResolution.ANY, "future"),
        ("1989", DobResolution.FULL_ONLY, "full date"),
        ("1989-01", DobResolution.FULL_ONLY, "full date"),
        ("2014051200", DobResolution.ANY, "not a date"),
    ],
)
def test_dates_refused(text: str, resolution: DobResolution, rule: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_date(text, resolution=resolution, today=TODAY)
    assert caught.value.field == "date of birth"
    assert rule in caught.value.rule


def test_today_is_not_the_future() -> None:
    assert parse_date("2026-11-25", today=TODAY).iso() == "2026-11-25"


def test_partial_dates_read_from_the_wire() -> None:
    assert PartialDate.from_hl7("19890131").iso() == "1989-01-31"  # type: ignore[union-attr]
    assert PartialDate.from_hl7("198901").iso() == "1989-01"  # type: ignore[union-attr]
    assert PartialDate.from_hl7("1989").iso() == "1989"  # type: ignore[union-attr]
    assert PartialDate.from_hl7("nonsense") is None


@pytest.mark.parametrize(
    ("text", "gender"),
    [
        ("male", Gender.MALE),
        ("M", Gender.MALE),
        ("1", Gender.MALE),
        ("Female", Gender.FEMALE),
        ("f", Gender.FEMALE),
        ("2", Gender.FEMALE),
        ("not-known", Gender.NOT_KNOWN),
        ("0", Gender.NOT_KNOWN),
        ("not-specified", Gender.NOT_SPECIFIED),
        ("9", Gender.NOT_SPECIFIED),
    ],
)
def test_gender_forms(text: str, gender: Gender) -> None:
    assert parse_gender(text) is gender


@pytest.mark.parametrize("text", ["x", "3", "unknown", ""])
def test_gender_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="gender"):
        parse_gender(text)


def test_gender_labels_are_the_json_contract() -> None:
    assert [g.label for g in Gender] == ["not-known", "male", "female", "not-specified"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("ls17 7tr", "LS17 7TR"), ("SK8 5HS", "SK8 5HS"), ("  EC1A 1BB ", "EC1A 1BB")],
)
def test_postcode_accepted_and_normalised(text: str, expected: str) -> None:
    assert parse_postcode(text, wildcards=False) == expected


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("L1 7 TR", "not a UK postcode"),
        ("LS17 7TRXX", "not a UK postcode"),
        ("LS17-7TR", "not a UK postcode"),
        ("LS17 7T£", "not a UK postcode"),
    ],
)
def test_postcode_refused(text: str, rule: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_postcode(text, wildcards=False)
    assert caught.value.field == "postcode"
    assert rule in caught.value.rule


def test_wildcard_postcode_may_stop_before_the_space() -> None:
    assert parse_postcode("ls1*", wildcards=True) == "LS1*"


def _query(op: operations.Operation, **fields: str) -> object:
    return build_query(op, today=TODAY, **fields)


@pytest.mark.parametrize("op", [operations.VERIFY, operations.GET])
def test_wildcards_refused_where_the_operation_forbids_them(op: operations.Operation) -> None:
    with pytest.raises(ValidationError, match="wildcards"):
        _query(op, nhs_number="9434765919", dob="1980-01-01", family="SMI*")


def test_wildcards_refused_for_details_with_an_nhs_number() -> None:
    with pytest.raises(ValidationError, match="wildcards"):
        _query(operations.DETAILS, nhs_number="9434765919", dob="1980-01-01", family="SMI*")


@pytest.mark.parametrize("family", ["*", "S*", "*MITH"])
def test_wildcard_needs_two_characters_before_it(family: str) -> None:
    with pytest.raises(ValidationError, match="at least 2 characters"):
        _query(operations.SEARCH, family=family, dob="1980-01-01", gender="m")


def test_wildcards_allowed_for_search_trace_and_details_search() -> None:
    # The wildcards are kept as typed, in the fields that go on the wire.
    search = build_query(operations.SEARCH, family="SM*", dob="1980-01-01", gender="m",
                         postcode="LS1*", today=TODAY)
    assert (search.family, search.given, search.postcode) == ("SM*", None, "LS1*")
    assert search.items() == (
        "Person.DateOfBirth", "Person.Gender", "Person.Name", "Person.Postcode"
    )
    trace = build_query(operations.TRACE, family="SM*", dob="1980", gender="m", given="JO*",
                        today=TODAY)
    assert (trace.family, trace.given, trace.dob.hl7()) == ("SM*", "JO*", "1980")
    details = build_query(operations.DETAILS, family="SM*", given="JO*", dob="1980-01-01",
                          gender="m", today=TODAY)
    assert (details.family, details.given, details.nhs_number) == ("SM*", "JO*", None)
    assert details.items() == ("Person.DateOfBirth", "Person.Gender", "Person.Name")
    assert search.gender is trace.gender is details.gender is Gender.MALE


def test_trace_accepts_partial_dob_but_search_does_not() -> None:
    query = build_query(operations.TRACE, family="SMITH", dob="1980-01", gender="m", today=TODAY)
    assert query.dob.hl7() == "198001"  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match="full date"):
        _query(operations.SEARCH, family="SMITH", dob="1980-01", gender="m")


@pytest.mark.parametrize(
    ("missing", "fields"),
    [
        ("family name", {"given": "JOHN", "gender": "m"}),
        ("given name", {"family": "SMITH", "gender": "m"}),
        ("gender", {"family": "SMITH", "given": "JOHN"}),
    ],
)
def test_details_without_nhs_number_needs_family_given_and_gender(
    missing: str, fields: dict[str, str]
) -> None:
    with pytest.raises(ValidationError) as caught:
        _query(operations.DETAILS, dob="1980-01-01", **fields)
    assert caught.value.field == missing


def test_details_with_nhs_number_needs_only_the_dob() -> None:
    query = build_query(operations.DETAILS, nhs_number="9434765919", dob="1980-01-01", today=TODAY)
    assert query.items() == ("Person.DateOfBirth", "Person.NHSNumber")


@pytest.mark.parametrize("op", [operations.SEARCH, operations.TRACE])
def test_search_and_trace_need_a_family_name(op: operations.Operation) -> None:
    with pytest.raises(ValidationError, match="family name"):
        _query(op, given="JOHN", dob="1980-01-01", gender="m")


def test_blank_and_control_character_names_refused() -> None:
    with pytest.raises(ValidationError, match="blank"):
        _query(operations.SEARCH, family="  ", dob="1980-01-01", gender="m")
    with pytest.raises(ValidationError, match="control"):
        _query(operations.SEARCH, family="SMI\x1bTH", dob="1980-01-01", gender="m")


def test_local_id_with_and_without_oid() -> None:
    plain = build_query(
        operations.GET, nhs_number="9434765919", dob="1980-01-01", local_id="MRN-42", today=TODAY
    )
    assert plain.local_id is not None
    assert (plain.local_id.root, plain.local_id.extension) == (
        "2.16.840.1.113883.2.1.3.2.4.18.24",
        "MRN-42",
    )
    rooted = build_query(
        operations.GET,
        nhs_number="9434765919",
        dob="1980-01-01",
        local_id="1.3.5.7.9:ABC:1",
        today=TODAY,
    )
    assert rooted.local_id is not None
    assert (rooted.local_id.root, rooted.local_id.extension) == ("1.3.5.7.9", "ABC:1")


def test_items_follow_the_xsd_order() -> None:
    query = build_query(
        operations.DETAILS,
        dob="1980-01-01",
        family="SMITH",
        given="JO",
        gender="f",
        postcode="LS17 7TR",
        local_id="X1",
        today=TODAY,
    )
    assert query.items() == (
        "Person.DateOfBirth",
        "Person.Gender",
        "Person.LocalIdentifier",
        "Person.Name",
        "Person.Postcode",
    )


@pytest.mark.parametrize(
    ("typed", "sent"),
    [("BO14QX", "BO1 4QX"), ("BO1  4QX", "BO1 4QX"), ("bo1 4qx", "BO1 4QX"),
     (" ec1a1bb ", "EC1A 1BB"), ("W1A 0AX", "W1A 0AX"), ("M11AE", "M1 1AE")],
)
def test_a_full_uk_postcode_is_normalised(typed: str, sent: str) -> None:
    assert models.parse_postcode(typed, wildcards=False) == sent


@pytest.mark.parametrize("typed", ["1234", "BO1", "BO1 4Q", "BOO1 4QX", "BO1 4QXX", "B O1 4QX"])
def test_what_is_not_a_uk_postcode_is_refused(typed: str) -> None:
    with pytest.raises(ValidationError, match="is not a UK postcode"):
        models.parse_postcode(typed, wildcards=False)


def test_a_wildcard_postcode_gets_no_space_inserted() -> None:
    assert models.parse_postcode("LS1*", wildcards=True) == "LS1*"


@pytest.mark.parametrize("typed", ["14/03/1984", "1984-03-14", "19840314", "14/3/1984"])
def test_a_full_date_is_taken_in_every_documented_form(typed: str) -> None:
    assert models.parse_date(typed).iso() == "1984-03-14"


def test_a_bad_date_names_every_accepted_form() -> None:
    with pytest.raises(ValidationError) as full:
        models.parse_date("March 1984")
    assert full.value.rule == "'March 1984' is not a date (YYYY-MM-DD, YYYYMMDD or DD/MM/YYYY)"
    with pytest.raises(ValidationError) as partial:
        models.parse_date("3/1984", resolution=models.DobResolution.ANY)
    assert partial.value.rule == (
        "'3/1984' is not a date (YYYY-MM-DD, YYYYMMDD, DD/MM/YYYY, YYYY-MM, YYYYMM or YYYY)"
    )
    with pytest.raises(ValidationError, match="impossible"):
        models.parse_date("31/02/1984")
