"""Audit identity parsing (spec §7.1): ASIDs, ITK identity URNs, and the rules they must follow."""

from __future__ import annotations

import dataclasses

import pytest

from smsp_cli.domain.errors import ExitCode, ValidationError
from smsp_cli.settings import identity
from smsp_cli.settings.identity import AuditId, parse_audit_identity


def test_all_digits_is_an_asid_sent_with_the_asid_type() -> None:
    assert parse_audit_identity("868000003114") == (
        AuditId(uri="868000003114", type="1.2.826.0.1285.0.2.0.107"),
    )


def test_itk_identity_urn_is_sent_with_the_itk_identity_type() -> None:
    assert parse_audit_identity("urn:nhs-uk:identity:ods:R59:oncology:ooh:DrJNS") == (
        AuditId(
            uri="urn:nhs-uk:identity:ods:R59:oncology:ooh:DrJNS",
            type="2.16.840.1.113883.2.1.3.2.4.18.27",
        ),
    )


def test_organisation_only_itk_identity_is_accepted() -> None:
    (audit_id,) = parse_audit_identity("urn:nhs-uk:identity:ods:REC")
    assert audit_id.uri == "urn:nhs-uk:identity:ods:REC"


def test_surrounding_whitespace_is_ignored() -> None:
    assert parse_audit_identity("  868000003114\n") == (
        AuditId("868000003114", identity.ASID_TYPE),
    )


@pytest.mark.parametrize(
    "text",
    [
        "868000003114,urn:nhs-uk:identity:ods:R59",
        "868000003114, urn:nhs-uk:identity:ods:R59",
        "868000003114 urn:nhs-uk:identity:ods:R59",
    ],
)
def test_several_ids_keep_their_order(text: str) -> None:
    assert parse_audit_identity(text) == (
        AuditId("868000003114", identity.ASID_TYPE),
        AuditId("urn:nhs-uk:identity:ods:R59", identity.ITK_IDENTITY_TYPE),
    )


def test_four_ids_fit_the_distribution_envelope() -> None:
    assert len(parse_audit_identity("1 2 3 4")) == identity.MAX_AUDIT_IDS == 4


def _rule_broken_by(text: str) -> str:
    with pytest.raises(ValidationError) as caught:
        parse_audit_identity(text)
    assert caught.value.field == "audit id"
    assert caught.value.exit_code is ExitCode.USAGE
    return caught.value.rule


@pytest.mark.parametrize("text", ["", "   ", ",", " , \t"])
def test_nothing_given_is_refused(text: str) -> None:
    assert "is required" in _rule_broken_by(text)


def test_five_ids_are_refused() -> None:
    assert "at most 4" in _rule_broken_by("1 2 3 4 5")


@pytest.mark.parametrize(
    "text",
    ["urn:nhs-uk:identity:ods:Zoë", "8680000031\u00a014", "urn:nhs-uk:identity:ods:R59\x01"],
)
def test_anything_but_printable_ascii_is_refused(text: str) -> None:
    assert "printable ASCII" in _rule_broken_by(text)


@pytest.mark.parametrize(
    "text", ["R59", "https://example.org/user", "urn:nhs-uk:addressing:ods:R59", "86800-0003114"]
)
def test_neither_asid_nor_itk_identity_is_refused(text: str) -> None:
    assert "neither an ASID" in _rule_broken_by(text)


@pytest.mark.parametrize(
    "text",
    [
        "urn:nhs-uk:identity:",
        "urn:nhs-uk:identity:ods",
        "urn:nhs-uk:identity:ods:",
        "urn:nhs-uk:identity:ods::DrJNS",
        "urn:nhs-uk:identity::R59",
    ],
)
def test_itk_identity_needs_authority_and_organisation_without_empty_parts(text: str) -> None:
    assert "<authority>:<organisation>" in _rule_broken_by(text)


def test_the_error_message_names_the_field_and_the_offending_value() -> None:
    with pytest.raises(ValidationError, match=r"^audit id: 'R59' is neither"):
        parse_audit_identity("R59")


def test_audit_id_is_immutable() -> None:
    audit_id = AuditId("868000003114", identity.ASID_TYPE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        audit_id.uri = "1"  # type: ignore[misc]


def test_type_oids_are_those_of_the_audit_identity_guidance() -> None:
    assert identity.ASID_TYPE == "1.2.826.0.1285.0.2.0.107"
    assert identity.SDS_USER_ROLE_PROFILE_TYPE == "1.2.826.0.1285.0.2.0.67"
    assert identity.SDS_USER_ID_TYPE == "1.2.826.0.1285.0.2.0.65"
    assert identity.SDS_ROLE_ID_TYPE == "1.2.826.0.1285.0.2.1.104"
    assert identity.SSO_TOKEN_TYPE == "2.16.840.1.113883.2.1.3.2.4.18.47"
    assert identity.ITK_IDENTITY_TYPE == "2.16.840.1.113883.2.1.3.2.4.18.27"
