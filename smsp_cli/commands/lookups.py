"""The five SMSP PDS lookups, one command per operation."""

from __future__ import annotations

from typing import Annotated

import typer

from smsp_cli import operations
from smsp_cli.models import build_query
from smsp_cli.options import ConnectionOptions, OutputOptions, lookup_options
from smsp_cli.reporting import reported_errors
from smsp_cli.runner import run

PATIENT_PANEL = "Patient"

NhsNumberArg = Annotated[
    str,
    typer.Argument(
        metavar="NHS_NUMBER",
        help="10 digits: 9434765919, 943 476 5919 or 943-476-5919.",
        show_default=False,
    ),
]
NhsNumberOpt = Annotated[
    str | None,
    typer.Option(
        "--nhs-number",
        metavar="NHS_NUMBER",
        help="NHS number, to verify and retrieve.",
        rich_help_panel=PATIENT_PANEL,
    ),
]
FullDobOpt = Annotated[
    str,
    typer.Option(
        "--dob",
        metavar="DATE",
        help="Date of birth: YYYY-MM-DD or YYYYMMDD.",
        rich_help_panel=PATIENT_PANEL,
        show_default=False,
    ),
]
AnyDobOpt = Annotated[
    str,
    typer.Option(
        "--dob",
        metavar="DATE",
        help="Date of birth: YYYY-MM-DD, YYYYMMDD, YYYY-MM, YYYYMM or YYYY.",
        rich_help_panel=PATIENT_PANEL,
        show_default=False,
    ),
]
FamilyOpt = Annotated[
    str | None,
    typer.Option(
        "--family", metavar="NAME", help="Family name (surname).", rich_help_panel=PATIENT_PANEL
    ),
]
RequiredFamilyOpt = Annotated[
    str,
    typer.Option(
        "--family",
        metavar="NAME",
        help="Family name; '*' after 2+ characters is a wildcard.",
        rich_help_panel=PATIENT_PANEL,
        show_default=False,
    ),
]
GivenOpt = Annotated[
    str | None,
    typer.Option(
        "--given", metavar="NAME", help="Given name (forename).", rich_help_panel=PATIENT_PANEL
    ),
]
GenderOpt = Annotated[
    str | None,
    typer.Option(
        "--gender",
        metavar="GENDER",
        help="male|female|not-known|not-specified, m|f, or 0|1|2|9.",
        rich_help_panel=PATIENT_PANEL,
    ),
]
RequiredGenderOpt = Annotated[
    str,
    typer.Option(
        "--gender",
        metavar="GENDER",
        help="male|female|not-known|not-specified, m|f, or 0|1|2|9.",
        rich_help_panel=PATIENT_PANEL,
        show_default=False,
    ),
]
PostcodeOpt = Annotated[
    str | None,
    typer.Option(
        "--postcode",
        metavar="POSTCODE",
        help="Postcode, e.g. 'LS17 7TR'.",
        rich_help_panel=PATIENT_PANEL,
    ),
]
LocalIdOpt = Annotated[
    str | None,
    typer.Option(
        "--local-id",
        metavar="[OID:]ID",
        help="Your local patient id, echoed back in the reply.",
        rich_help_panel=PATIENT_PANEL,
    ),
]


def register(app: typer.Typer) -> None:
    """Add the five lookup commands to ``app``."""

    @app.command()
    @lookup_options
    def verify(
        nhs_number: NhsNumberArg,
        dob: FullDobOpt,
        family: FamilyOpt = None,
        given: GivenOpt = None,
        *,
        conn: ConnectionOptions,
        out: OutputOptions,
    ) -> None:
        """Verify an NHS number against a date of birth (verifyNHSNumber)."""
        with reported_errors():
            query = build_query(
                operations.VERIFY, nhs_number=nhs_number, dob=dob, family=family, given=given
            )
            run(query, conn, out)

    @app.command()
    @lookup_options
    def get(
        nhs_number: NhsNumberArg,
        dob: FullDobOpt,
        family: FamilyOpt = None,
        given: GivenOpt = None,
        local_id: LocalIdOpt = None,
        *,
        conn: ConnectionOptions,
        out: OutputOptions,
    ) -> None:
        """Get details by NHS number and date of birth (getPatientDetailsByNHSNumber)."""
        with reported_errors():
            query = build_query(
                operations.GET,
                nhs_number=nhs_number,
                dob=dob,
                family=family,
                given=given,
                local_id=local_id,
            )
            run(query, conn, out)

    @app.command()
    @lookup_options
    def search(
        family: RequiredFamilyOpt,
        dob: FullDobOpt,
        gender: RequiredGenderOpt,
        given: GivenOpt = None,
        postcode: PostcodeOpt = None,
        local_id: LocalIdOpt = None,
        *,
        conn: ConnectionOptions,
        out: OutputOptions,
    ) -> None:
        """Find a patient's details by demographics (getPatientDetailsBySearch)."""
        with reported_errors():
            query = build_query(
                operations.SEARCH,
                family=family,
                dob=dob,
                gender=gender,
                given=given,
                postcode=postcode,
                local_id=local_id,
            )
            run(query, conn, out)

    @app.command()
    @lookup_options
    def trace(
        family: RequiredFamilyOpt,
        dob: AnyDobOpt,
        gender: RequiredGenderOpt,
        given: GivenOpt = None,
        postcode: PostcodeOpt = None,
        local_id: LocalIdOpt = None,
        *,
        conn: ConnectionOptions,
        out: OutputOptions,
    ) -> None:
        """Trace a patient's NHS number from demographics (getNHSNumber)."""
        with reported_errors():
            query = build_query(
                operations.TRACE,
                family=family,
                dob=dob,
                gender=gender,
                given=given,
                postcode=postcode,
                local_id=local_id,
            )
            run(query, conn, out)

    @app.command()
    @lookup_options
    def details(
        dob: FullDobOpt,
        nhs_number: NhsNumberOpt = None,
        family: FamilyOpt = None,
        given: GivenOpt = None,
        gender: GenderOpt = None,
        postcode: PostcodeOpt = None,
        local_id: LocalIdOpt = None,
        *,
        conn: ConnectionOptions,
        out: OutputOptions,
    ) -> None:
        """Get details by NHS number, or by family, given and gender (getPatientDetails)."""
        with reported_errors():
            query = build_query(
                operations.DETAILS,
                dob=dob,
                nhs_number=nhs_number,
                family=family,
                given=given,
                gender=gender,
                postcode=postcode,
                local_id=local_id,
            )
            run(query, conn, out)
