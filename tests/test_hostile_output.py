"""End to end against a hostile provider: what its text does once it reaches a person.

Scripts get the data exact; people get it safe. (Tables sanitised and bounded, and provider
faults masked on stderr, are tested with the output work that makes them hold.)
"""

from __future__ import annotations

import pytest
from cli import smsp
from hostile import HostileProvider
from hostile_behaviours import (
    HOSTILE_TEXT,
    hostile_text_reply,
    http_body_echoing_the_patient,
)

GET = ("get", "9434765919", "--dob", "1984-03-14")
IDENTIFIERS = ("9434765919", "943 476 5919", "1984-03-14", "14/03/1984")


def test_json_keeps_hostile_text_in_every_field_exact(hostile: HostileProvider) -> None:
    hostile.serve(hostile_text_reply())
    run = smsp(*GET, "--json")
    assert run.exit_code == 0, run.stderr
    patient = run.json()["patient"]
    assert patient["title"] == HOSTILE_TEXT
    assert patient["given_names"] == [HOSTILE_TEXT, f"Mary{HOSTILE_TEXT}"]
    assert patient["family_name"] == f"Fair{HOSTILE_TEXT}weather"
    assert patient["addresses"][0]["lines"] == [f"1 {HOSTILE_TEXT} Street", HOSTILE_TEXT]
    assert patient["telecoms"][0]["value"] == f"tel:{HOSTILE_TEXT}"
    assert patient["gp_practice"]["name"] == f"Surgery {HOSTILE_TEXT}"
    assert "\x1b" not in run.stderr


@pytest.mark.parametrize("verbosity", [(), ("-v",)], ids=["quiet", "-v"])
def test_an_http_body_echoing_the_patient_never_reaches_stderr(
    hostile: HostileProvider, verbosity: tuple[str, ...]
) -> None:
    hostile.serve(http_body_echoing_the_patient())
    run = smsp(*GET, "--max-attempts", "1", *verbosity)
    assert run.exit_code == 4, run.stderr
    assert run.stdout == ""
    assert "HTTP 503 Service Unavailable" in run.stderr
    assert [value for value in IDENTIFIERS if value in run.stderr] == []
