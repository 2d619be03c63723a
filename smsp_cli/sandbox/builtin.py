"""The built-in synthetic patients: one or more fictional records per scenario.

Every NHS number is in the synthetic range 999 000 0000 - 999 999 9999 (never issued to a real
person) and passes modulus 11; every address is in the fictional county of Borsetshire, whose
``BO`` postcode area does not exist.
"""

from __future__ import annotations

from smsp_cli.domain.results import Address, GpPractice, Patient, Telecom
from smsp_cli.sandbox.patients import SandboxPatient


def _home(postcode: str, *lines: str) -> Address:
    return Address("home", lines, postcode)


def _plain(
    scenario: str,
    nhs_number: str,
    title: str,
    given: str,
    family: str,
    gender: str,
    birth_date: str,
    home: Address,
) -> SandboxPatient:
    """A patient with a home address and GP practice, for the scenarios decided by their code."""
    patient = Patient(
        nhs_number=nhs_number,
        title=title,
        given_names=(given,),
        family_name=family,
        gender=gender,
        birth_date=birth_date,
        addresses=(home,),
        gp_practice=_FELPERSHAM,
    )
    return SandboxPatient.in_scenario(patient, scenario)


_AMBRIDGE = GpPractice(
    code="Y12345",
    name="Ambridge Village Surgery",
    address=Address(None, ("The Surgery", "Church Lane", "Ambridge", "Borchester"), "BO2 7AA"),
    telephone="tel:01632960001",  # Ofcom drama range 01632 960xxx: never a real line
)
_FELPERSHAM = GpPractice(
    code="Y23456",
    name="Felpersham Road Medical Centre",
    address=Address(None, ("14 Felpersham Road", "Borchester", "Borsetshire"), "BO1 3RF"),
    telephone="tel:01632960002",
)

_FOUND = Patient(
    nhs_number="9991000003",
    title="Mrs",
    given_names=("Eleanor", "Mary"),
    family_name="Fairweather",
    gender="female",
    birth_date="1984-03-14",
    addresses=(
        _home(
            "BO1 4QX",
            "Rose Cottage",
            "12 Orchard Way",
            "Little Ambridge",
            "Borchester",
            "Borsetshire",
        ),
        Address("temporary", ("Flat 3", "27 Harbour Street", "Seahaven", "Borsetshire"), "BO9 2HT"),
        # A correspondence address with fewer than the 5 lines replies always carry (spec §3.7).
        Address("correspondence", ("PO Box 17", "Borchester"), "BO1 9ZZ"),
    ),
    telecoms=(
        Telecom("home", "tel:01632960184"),
        Telecom("mobile", "tel:07700900184"),  # Ofcom drama range 07700 900xxx
        Telecom("home", "mailto:eleanor.fairweather@example.com"),
    ),
    gp_practice=_AMBRIDGE,
)

_SENSITIVE = Patient(
    nhs_number="9991000011",
    title="Ms",
    given_names=("Harriet", "Anne"),
    family_name="Nightingale",
    gender="female",
    birth_date="1979-11-02",
    addresses=(_home("BO4 8LS", "Lark Rise", "3 Mill Lane", "Penny Hassett", "Borsetshire"),),
    telecoms=(Telecom("mobile", "tel:07700900311"),),
    gp_practice=_AMBRIDGE,
)

_MINIMAL = Patient(
    nhs_number="9991000038",
    given_names=("Robin",),
    family_name="Quill",
    gender="not-specified",
    birth_date="2001-06-30",
)

_DECEASED = Patient(
    nhs_number="9991000046",
    title="Mr",
    given_names=("Arthur", "Edmund"),
    family_name="Thistlewood",
    gender="male",
    birth_date="1931-07-02",
    death_date="2019-11-23",
    addresses=(_home("BO7 3JP", "The Old Forge", "Loxley Barrett", "Borsetshire"),),
    gp_practice=_AMBRIDGE,
)


def _oakhurst(nhs_number: str) -> Patient:
    """The same man under his old (superseded) and his current NHS number."""
    return Patient(
        nhs_number=nhs_number,
        title="Mr",
        given_names=("Samuel", "Peter"),
        family_name="Oakhurst",
        gender="male",
        birth_date="1967-05-21",
        addresses=(_home("BO2 6DW", "8 Brookfield Road", "Hollerton", "Borsetshire"),),
        telecoms=(Telecom("home", "tel:01632960562"),),
        gp_practice=_FELPERSHAM,
    )


def _twyford(nhs_number: str, middle_name: str, flat: str) -> Patient:
    """Two records alike in name, birth date, gender and postcode: no search tells them apart."""
    return Patient(
        nhs_number=nhs_number,
        title="Mr",
        given_names=("Daniel", middle_name),
        family_name="Twyford",
        gender="male",
        birth_date="1990-01-01",
        addresses=(_home("BO3 5RD", f"Flat {flat}", "Willow Court", "Borchester"),),
        gp_practice=_FELPERSHAM,
    )


_CACHED = Patient(
    nhs_number="9991000119",
    title="Mr",
    given_names=("Stanley",),
    family_name="Storey",
    gender="male",
    birth_date="1972-12-05",
    addresses=(_home("BO1 7TT", "41 Market Street", "Borchester", "Borsetshire"),),
    telecoms=(Telecom("home", "tel:01632960719"),),
    gp_practice=_FELPERSHAM,
)

BUILT_IN: tuple[SandboxPatient, ...] = (
    SandboxPatient.in_scenario(_FOUND, "found"),
    SandboxPatient.in_scenario(_SENSITIVE, "sensitive", sensitive=True),
    SandboxPatient.in_scenario(_MINIMAL, "minimal"),
    SandboxPatient.in_scenario(_DECEASED, "deceased"),
    SandboxPatient.in_scenario(_oakhurst("9991000054"), "superseded", superseded_by="9991000062"),
    SandboxPatient.in_scenario(_oakhurst("9991000062"), "found"),
    _plain(
        "invalidated",
        "9991000070",
        "Miss",
        "Ivy",
        "Marchbanks",
        "female",
        "1995-09-09",
        _home("BO5 1NE", "2 Chapel Row", "Edgeley", "Borsetshire"),
    ),
    SandboxPatient.in_scenario(_twyford("9991000089", "Lee", "2"), "multiple-match"),
    SandboxPatient.in_scenario(_twyford("9991000097", "Ray", "5"), "multiple-match"),
    _plain(
        "not-verified",
        "9991000100",
        "Mrs",
        "Penelope",
        "Doubtfire",
        "female",
        "1958-04-17",
        _home("BO6 2HG", "The Vicarage", "Darrington", "Borsetshire"),
    ),
    SandboxPatient.in_scenario(_CACHED, "cached"),
    _plain(
        "spine-down",
        "9991000127",
        "Ms",
        "Dora",
        "Downing",
        "female",
        "1988-02-29",
        _home("BO8 4AX", "19 Station Approach", "Borchester", "Borsetshire"),
    ),
    _plain(
        "provider-error",
        "9991000135",
        "Mr",
        "Edgar",
        "Fallow",
        "male",
        "1945-10-10",
        _home("BO2 9PL", "Home Farm", "Ambridge", "Borsetshire"),
    ),
    _plain(
        "spine-error",
        "9991000143",
        "Mrs",
        "Agnes",
        "Spinney",
        "female",
        "1939-08-21",
        _home("BO4 1WD", "5 Wood Lane", "Penny Hassett", "Borsetshire"),
    ),
    _plain(
        "retryable-fault",
        "9991000151",
        "Mr",
        "Reginald",
        "Retford",
        "male",
        "1963-03-03",
        _home("BO9 6QB", "77 Quayside", "Seahaven", "Borsetshire"),
    ),
    _plain(
        "fatal-fault",
        "9991000178",
        "Ms",
        "Fenella",
        "Stopford",
        "female",
        "1981-07-19",
        _home("BO3 8HH", "1 Hollow Way", "Borchester", "Borsetshire"),
    ),
    _plain(
        "access-denied",
        "9991000186",
        "Mrs",
        "Delia",
        "Lockwood",
        "female",
        "1970-01-26",
        _home("BO5 5GE", "Gate House", "Lakey Hill", "Borsetshire"),
    ),
    _plain(
        "response-invalid",
        "9991000194",
        "Mr",
        "Victor",
        "Mangle",
        "male",
        "1999-12-31",
        _home("BO6 9YR", "30 Glebe Street", "Darrington", "Borsetshire"),
    ),
    _plain(
        "credentials-rejected",
        "9991000208",
        "Ms",
        "Cressida",
        "Keyes",
        "not-known",
        "1992-06-15",
        _home("BO7 7XY", "6 Key Street", "Loxley Barrett", "Borsetshire"),
    ),
    _plain(
        "old-style-number",
        "9991000216",
        "Mr",
        "Horace",
        "Oldcastle",
        "male",
        "1928-02-14",
        _home("BO8 1DS", "Castle Lodge", "Borchester", "Borsetshire"),
    ),
    _plain(
        "input-rejected",
        "9991000224",
        "Mrs",
        "Winifred",
        "Refusal",
        "female",
        "1950-05-05",
        _home("BO9 2AB", "2 Mill Lane", "Penny Hassett", "Borsetshire"),
    ),
    _plain(
        "invalid-message",
        "9991000232",
        "Mr",
        "Malcolm",
        "Formby",
        "male",
        "1977-07-07",
        _home("BO4 4NF", "11 Station Road", "Edgeley", "Borsetshire"),
    ),
)
