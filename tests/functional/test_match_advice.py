"""After "no match" or "several matches" the advice fits the command that ran and its input."""

from __future__ import annotations

import pytest

from smsp_cli.domain import operations
from smsp_cli.domain.codes import match_advice
from smsp_cli.domain.models import build_query
from tests.lib.cli import smsp


@pytest.mark.usefixtures("sandbox_env")
@pytest.mark.parametrize("command", ["get", "verify"])
def test_a_lookup_by_number_finding_nobody_asks_to_check_number_and_date(command: str) -> None:
    run = smsp(command, "9991000240", "--dob", "1980-01-01", "--json")
    assert run.exit_code == 1
    assert run.json()["warnings"] == [
        "no patient matched this NHS number and date of birth; check both"
    ]
    assert "postcode" not in run.stderr
    assert "given name" not in run.stderr


@pytest.mark.usefixtures("sandbox_env")
def test_a_search_finding_nobody_suggests_spelling_and_wildcards() -> None:
    run = smsp("search", "--family", "Nobody", "--dob", "1980-01-01", "--gender", "m", "--json")
    assert run.exit_code == 1
    assert run.json()["warnings"] == [
        "no patient matched; check the spelling and the date of birth; a name ending in * "
        "matches its start (e.g. Fair*)"
    ]


@pytest.mark.usefixtures("sandbox_env")
def test_a_trace_with_a_year_matching_several_asks_for_what_it_lacks() -> None:
    run = smsp("trace", "--family", "Twyford", "--dob", "1990", "--gender", "m", "--json")
    assert run.exit_code == 1
    assert run.json()["warnings"] == [
        "more than one patient matched; refine the search (add a given name, a postcode or the "
        "full date of birth)"
    ]


def _advice(code: str, operation: operations.Operation, **fields: str) -> str | None:
    return match_advice(code, build_query(operation, **fields))


def test_advice_never_suggests_what_was_already_given() -> None:
    everything = {"family": "Twyford", "given": "Daniel", "postcode": "BO3 5RD",
                  "dob": "1990-01-01", "gender": "m"}
    assert _advice("DEMOG-0007", operations.SEARCH, **everything) == (
        "more than one patient matched; refine the search (give another of the patient's "
        "given names, such as a middle name)"
    )
    assert _advice("DEMOG-0007", operations.SEARCH, **{**everything, "given": "Dan*"}) == (
        "more than one patient matched; refine the search (spell out the names instead of "
        "using *)"
    )
    assert _advice("DEMOG-0007", operations.SEARCH, **{**everything, "family": "Twy*"}) == (
        "more than one patient matched; refine the search (spell out the names instead of "
        "using *)"
    )
    assert _advice("DEMOG-0001", operations.SEARCH, **everything) == (
        "no patient matched; check the spelling and the date of birth; leave out the postcode "
        "if it may be out of date; a name ending in * matches its start (e.g. Fair*)"
    )


def test_details_with_a_number_is_advised_like_get() -> None:
    assert _advice(
        "DEMOG-0001", operations.DETAILS, nhs_number="9991000240", dob="1980-01-01",
        family="Smith",
    ) == "no patient matched this NHS number and date of birth; check both and the names given"


def test_other_codes_keep_their_own_warning() -> None:
    assert _advice("SMSP-0004", operations.GET, nhs_number="9991000003", dob="1984-03-14") is None


@pytest.mark.usefixtures("sandbox_env")
def test_details_matching_several_by_forename_advises_a_middle_name_and_it_works() -> None:
    asked = ("details", "--family", "Twyford", "--dob", "1990-01-01", "--gender", "m", "--json")
    run = smsp(*asked, "--given", "Daniel")
    assert run.exit_code == 1
    assert run.json()["warnings"] == [
        "more than one patient matched; refine the search (add a postcode, or give another of "
        "the patient's given names, such as a middle name)"
    ]
    assert run.json()["warning_codes"] == ["several-matches"]
    narrowed = smsp(*asked, "--given", "Lee")
    assert narrowed.exit_code == 0
    assert narrowed.json()["patient"]["nhs_number"] == "9991000089"
