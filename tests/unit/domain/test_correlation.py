"""The correlation rule over domain values: which replies answer which requests."""

from __future__ import annotations

import pytest

from smsp_cli.domain import operations
from smsp_cli.domain.correlation import Correlation, correlate
from smsp_cli.domain.errors import ExitCode, MismatchedReply
from smsp_cli.domain.models import build_query
from smsp_cli.domain.results import Patient, Reply

SENT = "B72F7785-534C-11E6-ADCA-29C651A3BE6F"
ASKED = "9990001006"
OTHER = "9990001014"
GET = build_query(operations.GET, nhs_number=ASKED, dob="1984-03-14")
VERIFY = build_query(operations.VERIFY, nhs_number=ASKED, dob="1984-03-14")
SEARCH = build_query(operations.SEARCH, family="SMITH", dob="1984-03-14", gender="f")
TRACE = build_query(operations.TRACE, family="SMITH", dob="1984-03-14", gender="f")


def _details(number: str | None, code: str = "SMSP-0000", **fields: object) -> Reply:
    return Reply(kind="getPatientDetailsResponse-v1-0", response_code=code,
                 patient=Patient(nhs_number=number), **fields)  # type: ignore[arg-type]


def _reason(query: object, reply: Reply) -> str:
    with pytest.raises(MismatchedReply) as raised:
        correlate(query, reply, SENT)  # type: ignore[arg-type]
    assert raised.value.exit_code == ExitCode.PROVIDER_FAILED
    assert ASKED not in raised.value.one_line()
    assert OTHER not in raised.value.one_line()
    return raised.value.reason


@pytest.mark.parametrize("theirs", [SENT, SENT.lower(), f"uuid:{SENT}", f"urn:uuid:{SENT.lower()}",
                                    f"  {SENT}\n"])
def test_relates_to_naming_our_message_id_in_any_spelling_passes(theirs: str) -> None:
    assert correlate(GET, _details(ASKED, relates_to=(theirs,)), SENT) == Correlation()


def test_relates_to_naming_another_message_is_refused() -> None:
    reply = _details(ASKED, relates_to=("B72F7785-534C-11E6-ADCA-29C651A3BE6E",))
    assert _reason(GET, reply) == "relates_to"


def test_a_get_answered_with_another_patient_is_refused() -> None:
    assert _reason(GET, _details(OTHER)) == "other_nhs_number"


def test_a_verify_answered_for_another_number_is_refused() -> None:
    reply = Reply(kind="verifyNHSNumberResponse-v1-0", response_code="SMSP-0000",
                  verified=True, nhs_number=OTHER, nhs_numbers=(OTHER,), records=1)
    assert _reason(VERIFY, reply) == "other_nhs_number"


def test_a_patient_record_without_a_number_cannot_answer_a_get() -> None:
    assert _reason(GET, _details(None, records=1)) == "no_nhs_number"


@pytest.mark.parametrize("query", [GET, SEARCH, TRACE], ids=["get", "search", "trace"])
def test_two_patient_records_are_refused_for_every_operation(query: object) -> None:
    reply = _details(ASKED, nhs_numbers=(ASKED, OTHER), records=2)
    assert _reason(query, reply) == "several_patients"


def test_one_record_with_two_different_numbers_is_refused() -> None:
    assert _reason(GET, _details(ASKED, nhs_numbers=(ASKED, OTHER), records=1)) == (
        "other_nhs_number"
    )


def test_demog_0017_with_another_number_names_the_successor() -> None:
    reply = _details(OTHER, "DEMOG-0017", nhs_numbers=(OTHER,), records=1)
    assert correlate(GET, reply, SENT) == Correlation(superseded=ASKED, successor=OTHER)


def test_demog_0017_without_a_number_is_superseded_without_successor() -> None:
    reply = Reply(kind="verifyNHSNumberResponse-v1-0", response_code="DEMOG-0017")
    assert correlate(VERIFY, reply, SENT) == Correlation(superseded=ASKED, successor=None)


def test_a_search_answer_carries_any_one_number() -> None:
    assert correlate(SEARCH, _details(OTHER, records=1), SENT) == Correlation()


def test_an_echoed_local_identifier_must_be_the_one_sent() -> None:
    query = build_query(operations.TRACE, family="SMITH", dob="1984-03-14", gender="f",
                        local_id="ABC123")
    reply = Reply(kind="getNHSNumberResponse-v1-0", response_code="SMSP-0000",
                  nhs_number=OTHER, local_identifier="XYZ999", records=1)
    assert _reason(query, reply) == "other_local_identifier"
    same = Reply(kind="getNHSNumberResponse-v1-0", response_code="SMSP-0000",
                 nhs_number=OTHER, local_identifier="ABC123", records=1)
    assert correlate(query, same, SENT) == Correlation()


def test_an_adapter_that_counts_nothing_is_still_checked() -> None:
    # A reply read without nhs_numbers or records (as another API's adapter may leave them).
    assert _reason(GET, Reply(kind="x", response_code="SMSP-0000", patient=Patient(OTHER))) == (
        "other_nhs_number"
    )
