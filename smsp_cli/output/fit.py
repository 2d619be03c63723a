"""Tables that stay readable on a narrow terminal: columns give way, names never split.

rich shrinks an over-wide table by squeezing its widest wrappable columns, down to nothing if
need be, and cuts words to fit. Here the widths are decided first, from the text itself:

* a column is never narrower than its longest word (or, for a ``whole`` column such as an NHS
  number, a date or a scenario name, its longest value), so a word is never split;
* when even those minimums do not fit, the least useful columns are left out, one at a time,
  and the caller is told which (to say so under the table);
* the room left over goes to the columns whose text would otherwise wrap.

Only when the columns that must stay cannot fit at all (a terminal narrower than one NHS
number and one name) are words folded, and no column is ever given zero width.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table


@dataclass(frozen=True)
class Column:
    """One column: its header, whether its values stay whole, and how much it matters."""

    header: str
    whole: bool = False  # never wrapped: numbers, dates, codes
    gives_way: int = 0  # 1: the first column left out when the width runs out, 2 next; 0 never
    style: str = ""


@dataclass(frozen=True)
class Layout:
    """Which columns fit, and how wide each is (content only, without padding or borders)."""

    kept: tuple[int, ...]
    widths: tuple[int, ...]
    left_out: tuple[str, ...]
    squeezed: bool = False  # too narrow even for the columns that must stay: words fold


def layout(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int, *, boxed: bool = True
) -> Layout:
    """Choose columns and widths for ``rows`` within ``width`` terminal cells."""
    from rich.cells import cell_len

    minimum = [_minimum(column, index, rows, cell_len) for index, column in enumerate(columns)]
    natural = [
        max([cell_len(column.header)] + [cell_len(row[index]) for row in rows])
        for index, column in enumerate(columns)
    ]
    kept = list(range(len(columns)))
    while sum(minimum[i] for i in kept) + _overhead(len(kept), boxed) > width:
        optional = [index for index in kept if columns[index].gives_way]
        if not optional:
            break
        kept.remove(min(optional, key=lambda index: columns[index].gives_way))
    room = max(width - _overhead(len(kept), boxed), len(kept))
    needed = [minimum[i] for i in kept]
    widths = _share(room, needed, [natural[i] for i in kept], [columns[i].whole for i in kept])
    left_out = tuple(columns[i].header for i in range(len(columns)) if i not in kept)
    return Layout(tuple(kept), tuple(widths), left_out, squeezed=sum(needed) > room)


def _overhead(count: int, boxed: bool) -> int:
    """Cells taken by borders and padding: a boxed table has a border left of each column and
    one at the end, an open one a blank between columns; every column has a space each side,
    except, in an open table, on the outer edges."""
    return 3 * count + 1 if boxed else max(3 * count - 3, 0)


def _minimum(
    column: Column, index: int, rows: Sequence[Sequence[str]], cell_len: Callable[[str], int]
) -> int:
    texts = [column.header] + [row[index] for row in rows]
    if column.whole:
        return max(cell_len(text) for text in texts)
    return max((cell_len(word) for text in texts for word in text.split()), default=1)


def _share(room: int, minimum: list[int], natural: list[int], whole: list[bool]) -> list[int]:
    """Give each column its minimum, then the rest of the room to those that would wrap."""
    if sum(minimum) > room:
        return _squeeze(room, minimum, whole)
    widths = list(minimum)
    spare = room - sum(widths)
    while spare > 0:
        wanting = [i for i, size in enumerate(widths) if size < natural[i]]
        if not wanting:
            break
        share = max(1, spare // len(wanting))
        for index in wanting:
            grant = min(share, natural[index] - widths[index], spare)
            widths[index] += grant
            spare -= grant
    return widths


def _squeeze(room: int, minimum: list[int], whole: list[bool]) -> list[int]:
    """Too narrow even for the columns that must stay: fold words in the wrapping columns
    first, down to a few cells each, then narrow every column alike, never to zero."""
    widths = list(minimum)
    excess = sum(widths) - room
    for index in sorted(range(len(widths)), key=lambda i: -widths[i]):
        if not whole[index] and excess > 0:
            give = min(excess, widths[index] - min(widths[index], _FOLDED))
            widths[index] -= give
            excess -= give
    if excess > 0:
        total = sum(widths)
        widths = [max(1, size * room // total) for size in widths]
    return widths


_FOLDED = 6  # the narrowest a folding column gets before whole columns give way too


def fitted_table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    width: int,
    *,
    boxed: bool = True,
    **options: Any,
) -> tuple[Table, Layout]:
    """A rich table of ``rows`` laid out by :func:`layout` for ``width`` cells."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    plan = layout(columns, rows, width, boxed=boxed)
    if boxed:
        table = Table(**options)
    else:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, **options)
    for index, size in zip(plan.kept, plan.widths, strict=True):
        column = columns[index]
        table.add_column(
            column.header,
            width=size,
            no_wrap=column.whole and not plan.squeezed,
            overflow="fold",
            style=column.style or None,
        )
    for row in rows:
        # Text, not str: a name such as "[bold]" is printed as written, never as markup.
        table.add_row(*(Text(row[index]) for index in plan.kept))
    return table, plan
