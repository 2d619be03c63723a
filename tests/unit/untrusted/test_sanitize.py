"""The one sanitiser: unsafe characters made visible, identifiers masked in provider text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsp_cli.untrusted.sanitize import mask_identifiers, provider_text, visible


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


def test_unsafe_ranges_are_exactly_this_pythons_invisible_characters() -> None:
    import unicodedata

    from smsp_cli.untrusted.sanitize import UNSAFE_RANGES

    categories = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}
    listed = {point for first, last in UNSAFE_RANGES for point in range(first, last + 1)}
    expected = {p for p in range(0x110000) if unicodedata.category(chr(p)) in categories}
    assert listed == expected


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("soft\xadhyphen", "soft\\xadhyphen"),
        ("\ufeffbom", "\\ufeffbom"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("private\ue000", "private\\ue000"),
    ],
)
def test_visible_escapes_invisible_format_and_private_characters(raw: str, shown: str) -> None:
    assert visible(raw) == shown


@given(st.text())
def test_visible_output_is_printable_apart_from_spaces_and_unassigned(text: str) -> None:
    import unicodedata

    shown = visible(text)
    assert all(
        c.isprintable() or unicodedata.category(c) in ("Zs", "Cn") for c in shown
    ), ascii(shown)


def test_hide_identifiers_replaces_numbers_and_dates_whole() -> None:
    from smsp_cli.untrusted.sanitize import hide_identifiers

    text = "no 999 100 0003 born 1984-03-14 or 14/03/1984, ref 9991000003"
    assert hide_identifiers(text, "[x]") == "no [x] born [x] or [x], ref [x]"


def test_hide_values_hides_given_words_in_any_case_and_wildcard_stems() -> None:
    from smsp_cli.untrusted.sanitize import hide_values

    text = "FAIRWEATHER, Eleanor (Fairweathers) at BO1 4QX; Elle"
    assert hide_values(text, ["Fairweather", "bo1 4qx", "El*", "E"], "***") == (
        "***, *** (Fairweathers) at ***; ***"
    )
