"""Every warning carries a stable code in ``warning_codes``, in the same order as ``warnings``."""

from __future__ import annotations

import pytest

from tests.lib.cli import smsp

pytestmark = pytest.mark.usefixtures("sandbox_env")


@pytest.mark.parametrize(
    ("args", "codes"),
    [
        (("get", "9991000054", "--dob", "1967-05-21"), ["superseded"]),
        (("get", "9991000046", "--dob", "1931-07-02"), ["deceased"]),
        (("get", "9991000070", "--dob", "1995-09-09"), ["invalidated"]),
        (("verify", "9991000100", "--dob", "1958-04-17"), ["not-verified"]),
        (("get", "9991000119", "--dob", "1972-12-05"), ["cached"]),
        (("get", "9991000127", "--dob", "1988-02-29"), ["spine-unreachable"]),
        (("get", "9991000216", "--dob", "1928-02-14"), ["not-new-style"]),
        (("get", "9991000208", "--dob", "1992-06-15"), ["credentials-rejected"]),
        (("get", "9991000240", "--dob", "1980-01-01"), ["no-match"]),
        (("search", "--family", "Twyford", "--dob", "1990-01-01", "--gender", "m"),
         ["several-matches"]),
        (("get", "9991000003", "--dob", "1984-03-14"), []),
    ],
)
def test_each_warning_has_its_code_in_the_same_order(args: tuple[str, ...],
                                                     codes: list[str]) -> None:
    shape = smsp(*args, "--json").json()
    assert shape["warning_codes"] == codes
    assert len(shape["warnings"]) == len(codes)


def test_a_deceased_patient_gets_a_deceased_warning_row_with_the_date() -> None:
    run = smsp("get", "9991000046", "--dob", "1931-07-02", "--json")
    assert run.json()["warnings"] == ["DECEASED: date of death 2019-11-23"]
    # stderr carries no patient data: it points at the output for the date.
    assert "2019-11-23" not in run.stderr
    assert "smsp: warning: DECEASED: the patient is recorded as deceased" in run.stderr
    table = smsp("get", "9991000046", "--dob", "1931-07-02")
    assert "│ WARNING        │ DECEASED: date of death 2019-11-23" in table.stdout
