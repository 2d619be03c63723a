"""The one sanitiser: unsafe characters made visible, identifiers masked in provider text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsp_cli.output.sanitize import mask_identifiers, provider_text, visible


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("ev\x1b[31mil", "ev\\x1b[31mil"),
        ("a\x00b", "a\\x00b"),
        ("del\x7f", "del\\x7f"),
        ("c1\x9b2J", "c1\\x9b2J"),
        ("abc\u202edcba", "abc\\u202edcba"),
        ("iso\u2066late\u2069", "iso\\u2066late\\u2069"),
        ("two\nlines", "two\\nlines"),
        ("tab\there", "tab\\there"),
        ("sep\u2028x", "sep\\u2028x"),
        ("lone\udcff", "lone\\udcff"),
        ("[bold]Smith[/bold]", "[bold]Smith[/bold]"),
        ("Zoë Ørsted 山田", "Zoë Ørsted 山田"),
    ],
)
def test_visible_escapes_controls_and_bidi(raw: str, shown: str) -> None:
    assert visible(raw) == shown


def test_visible_can_keep_layout_for_multiline_text() -> None:
    assert visible("a\n\tb\x1bc", keep_layout=True) == "a\n\tb\\x1bc"


@given(st.text())
def test_visible_output_has_no_unsafe_character(text: str) -> None:
    shown = visible(text)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in shown)
    assert not any(c in shown for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("patient 9991001006 not found", "patient *** *** 1006 not found"),
        ("patient 999 100 1006 not found", "patient *** *** 1006 not found"),
        ("patient 999-100-1006 not found", "patient *** *** 1006 not found"),
        ("born 1984-03-14", "born ****-**-**"),
        ("born 19840314", "born ****-**-**"),
        ("born 14/03/1984", "born ****-**-**"),
        ("at 19840314120000", "at ****-**-**"),
        ("fault 2100, code SMSP-0001", "fault 2100, code SMSP-0001"),
        ("tel 01632960184", "tel 01632960184"),
    ],
)
def test_mask_identifiers_hides_nhs_numbers_and_dates(raw: str, masked: str) -> None:
    assert mask_identifiers(raw) == masked


def test_provider_text_masks_then_escapes() -> None:
    assert provider_text("DOB 1984-03-14\x1b[2J") == "DOB ****-**-**\\x1b[2J"
