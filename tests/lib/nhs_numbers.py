"""Known-answer NHS numbers, written out so tests never make them with the code under test.

``OPENTEST`` are the first fifty NHS numbers of NHS Digital's Opentest test data
(../shared/reference/smsp/test-data/opentest_test_data.csv), in file order: valid numbers,
issued for testing, none of them a built-in sandbox patient (so the sandbox answers each with
DEMOG-0001, not found).
"""

from __future__ import annotations

OPENTEST: tuple[str, ...] = (
    "9449304424", "9449305552", "9449306621", "9449306613", "9449306605",
    "9449306494", "9449306583", "9449306680", "9449306567", "9449306559",
    "9449306540", "9449306532", "9449305641", "9449306524", "9449306516",
    "9449306257", "9449306591", "9449306281", "9449306052", "9449306044",
    "9449306036", "9449306028", "9449306001", "9449305536", "9449305994",
    "9449305986", "9449305870", "9449305951", "9449306060", "9449305935",
    "9449305927", "9449305919", "9449305900", "9449305897", "9449305528",
    "9449305889", "9449306168", "9449306184", "9449305978", "9449306249",
    "9449306230", "9449306222", "9449306214", "9449306206", "9449306192",
    "9449305501", "9449306079", "9449306176", "9449306265", "9449306141",
)


def spaced(number: str) -> str:
    """``999 100 0003``: the 3-3-4 form NHS Digital's display standard gives an NHS number.

    Written here, not taken from smsp, so a change to smsp's own formatting cannot hide a leak.
    """
    assert len(number) == 10, number
    assert number.isdigit(), number
    return f"{number[:3]} {number[3:6]} {number[6:]}"
