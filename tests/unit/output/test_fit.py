"""Tables wrap between units only: a name word, an NHS number, a postcode, a telephone number."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from smsp_cli.output.fit import Column, layout, units, wrap


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        ("use the new NHS number 999 100 0062",
         ["use", " the", " new", " NHS", " number", " 999 100 0062"]),
        ("FAIRWEATHER, Eleanor Mary", ["FAIRWEATHER,", " Eleanor", " Mary"]),
        ("12 Orchard Way, Borchester, BO1 4QX", ["12", " Orchard", " Way,", " Borchester,",
                                                 " BO1 4QX"]),
        ("Flat 3, 27 Harbour St, BO9 2HT.", ["Flat", " 3,", " 27", " Harbour", " St,",
                                             " BO9 2HT."]),
        ("01632 960184 (home)", ["01632 960184", " (home)"]),
        ("020 7946 0000 (work)", ["020 7946 0000", " (work)"]),
        ("+44 1632 960184", ["+44 1632 960184"]),
        ("born 1984-03-14", ["born", " 1984-03-14"]),
        ("Unit 12 34 Road", ["Unit", " 12", " 34", " Road"]),  # two short numbers: two words
    ],
)
def test_units_keep_numbers_postcodes_and_words_whole(text: str, pieces: list[str]) -> None:
    assert units(text) == pieces


def test_wrap_breaks_between_units_and_lets_a_wide_one_overflow_whole() -> None:
    text = "the NHS number you supplied has been superseded: use the new NHS number 999 100 0062"
    assert wrap(text, 30, cell_len) == [
        "the NHS number you supplied",
        "has been superseded: use the",
        "new NHS number 999 100 0062",
    ]
    assert wrap("Message ID: 2BD3322B-947F-4A08-AF37-C64659CD288C", 20, cell_len, "  ") == [
        "Message ID:",
        "  2BD3322B-947F-4A08-AF37-C64659CD288C",
    ]


def test_columns_give_way_then_the_table_becomes_one_column() -> None:
    columns = (Column("NHS number", whole=True), Column("Name"),
               Column("Postcode", whole=True, gives_way=1))
    rows = [("999 100 0003", "FAIRWEATHER, Eleanor Mary", "BO1 4QX")]
    wide = layout(columns, rows, 60, boxed=False)
    assert (wide.kept, wide.widths, wide.left_out) == ((0, 1, 2), (12, 25, 8), ())
    narrow = layout(columns, rows, 30, boxed=False)
    assert (narrow.kept, narrow.widths, narrow.left_out) == ((0, 1), (12, 15), ("Postcode",))
    assert layout(columns, rows, 20, boxed=False).one_column
