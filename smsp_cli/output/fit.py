"""Tables that stay readable at any width: columns give way, and no unit is ever split.

A *unit* is what a reader takes in at once: a word of a name, an NHS number written 3-3-4
(``999 100 0062``), a full postcode (``BO1 4QX``), a telephone number (``01632 960184``), a
date. rich wraps at every space and folds words to fit; here every cell is wrapped by smsp
instead, between units only, and the widths are decided first, from the text itself:

* a column is never narrower than its longest unit (a ``whole`` column, such as a scenario
  name, than its longest value);
* the room left over goes to the columns whose text would otherwise wrap;
* when even those minimums do not fit, the least useful columns are left out, one at a time,
  and the caller is told which (to say so under the table);
* when the columns that must stay still do not fit, the table becomes one column of
  ``field: value`` lines, each wrapped between units; a unit wider than the terminal is
  written whole, past the edge, never cut.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from smsp_cli.fastclasses import dataclass

if TYPE_CHECKING:
    from rich.console import RenderableType

# Units with spaces inside: an NHS number or a telephone number (groups of digits, nine digits
# or more in all, as 3-3-4, 5-6, 3-4-4 or 4-3-4 are written), or a full UK postcode. Anything
# else is cut at whitespace; text with no space between (``FAIRWEATHER,``) stays together.
_DIGIT_GROUPS = r"\+?\d+(?: \d+){1,3}"
_POSTCODE = r"(?<![A-Za-z0-9])[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}(?![A-Za-z0-9])"
_TOKEN = re.compile(rf"(?P<spaced>{_DIGIT_GROUPS}|{_POSTCODE})|\S+")
_LONG_NUMBER = 9  # digits: fewer is a house number and a street, not one number


@dataclass(frozen=True)
class Column:
    """One column: its header, whether its values stay whole, and how much it matters."""

    header: str
    whole: bool = False  # never wrapped: codes such as a scenario name
    gives_way: int = 0  # 1: the first column left out when the width runs out, 2 next; 0 never
    style: str = ""
    label: bool = False  # the row's field name: one-column lines read `label: the rest`


@dataclass(frozen=True)
class Layout:
    """Which columns fit, and how wide each is (content only, without padding or borders)."""

    kept: tuple[int, ...]
    widths: tuple[int, ...]
    left_out: tuple[str, ...]
    one_column: bool = False  # even the columns that must stay do not fit: field: value lines


def units(text: str) -> list[str]:
    """The pieces ``text`` may be wrapped between, each with the spaces before it kept.

    ``"ring 01632 960184 (home)"`` is ``["ring", " 01632 960184", " (home)"]``; text that
    touches the piece before it (a comma after a postcode) joins that piece.
    """
    pieces: list[str] = []
    end = 0
    for match in _TOKEN.finditer(text):
        gap = text[end:match.start()]
        found = match.group()
        end = match.end()
        digits = sum(char.isdigit() for char in found)
        if match.group("spaced") and not found[0].isalpha() and digits < _LONG_NUMBER:
            # Not one number (a house number and a flat's): its groups are words of their own.
            first, *rest = found.split(" ")
            pieces.extend(_joined(pieces, gap, first))
            pieces.extend(" " + word for word in rest)
            continue
        pieces.extend(_joined(pieces, gap, found))
    return pieces


def _joined(pieces: list[str], gap: str, found: str) -> list[str]:
    if pieces and gap == "":
        pieces[-1] += found  # nothing between: one piece (a comma after a postcode)
        return []
    return [gap + found]


def wrap(text: str, width: int, cell_len: Callable[[str], int], indent: str = "") -> list[str]:
    """``text`` in lines of at most ``width`` cells, broken between units only.

    Lines after the first begin with ``indent``. A unit wider than ``width`` gets a line of its
    own and is written whole.
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = None
        for piece in units(paragraph):
            if line is None:  # the paragraph's own leading spaces are kept
                line = indent + piece.lstrip() if lines else piece
            elif cell_len(line + piece) <= width:
                line += piece
            else:
                lines.append(line)
                line = indent + piece.lstrip()
        lines.append(line or "")
    return lines


def _longest_unit(text: str, cell_len: Callable[[str], int]) -> int:
    return max((cell_len(piece.lstrip()) for piece in units(text)), default=0)


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
            # Not even the columns that must stay: every column, one field to a line.
            return Layout(tuple(range(len(columns))), (), (), one_column=True)
        kept.remove(min(optional, key=lambda index: columns[index].gives_way))
    room = width - _overhead(len(kept), boxed)
    widths = _share(room, [minimum[i] for i in kept], [natural[i] for i in kept])
    left_out = tuple(columns[i].header for i in range(len(columns)) if i not in kept)
    return Layout(tuple(kept), tuple(widths), left_out)


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
        return max(max((cell_len(line) for line in text.split("\n")), default=0)
                   for text in texts)
    return max(max(_longest_unit(text, cell_len) for text in texts), 1)


def _share(room: int, minimum: list[int], natural: list[int]) -> list[int]:
    """Give each column its minimum, then the rest of the room to those that would wrap."""
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


def fitted_table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    width: int,
    *,
    boxed: bool = True,
    left_out_caption: str = "",
    **options: Any,
) -> tuple[RenderableType, Layout]:
    """``rows`` laid out by :func:`layout` for ``width`` cells: a rich table, or, when even the
    columns that must stay do not fit, ``field: value`` lines. Every line is wrapped here:
    print it with ``soft_wrap=True``, so rich neither wraps again nor crops a unit wider than
    the terminal.

    ``left_out_caption`` (``"{} left out at this width"``) is put under a table that had to
    leave columns out, naming them.
    """
    from rich import box
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    plan = layout(columns, rows, width, boxed=boxed)
    if plan.one_column:
        return _one_column(columns, rows, width, options), plan
    if options.get("title"):
        # Wrapped here too: print with soft_wrap=True, so that rich neither wraps nor crops.
        options["title"] = "\n".join(wrap(str(options["title"]), width, cell_len))
    if boxed:
        table = Table(**options)
    else:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, **options)
    for index, size in zip(plan.kept, plan.widths, strict=True):
        column = columns[index]
        table.add_column(
            Text("\n".join(wrap(column.header, size, cell_len))),
            width=size,
            no_wrap=True,  # wrapped here, between units; each line fits its column
            overflow="ignore",
            style=column.style or None,
        )
    if plan.left_out and left_out_caption:
        from smsp_cli.domain.wording import listed

        caption = left_out_caption.format(listed(plan.left_out))
        table.caption = "\n".join(wrap(caption, width, cell_len))
        table.caption_justify = "left"
    for row in rows:
        # Text, not str: a name such as "[bold]" is printed as written, never as markup.
        table.add_row(*(Text("\n".join(wrap(row[index], plan.widths[place], cell_len)))
                        for place, index in enumerate(plan.kept)))
    return table, plan


def _one_column(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int,
    options: dict[str, Any],
) -> RenderableType:
    """Each row as ``field: value`` lines: a label column's value names the line, otherwise
    each column's header does (a blank line between rows)."""
    from rich.cells import cell_len
    from rich.text import Text

    lines: list[str] = []
    title = options.get("title")
    if title:
        lines += [*wrap(str(title), width, cell_len), ""]
    labels = [index for index, column in enumerate(columns) if column.label]
    for number, row in enumerate(rows):
        if labels:
            field = " ".join(row[index] for index in labels if row[index])
            value = " ".join(row[i] for i in range(len(columns)) if i not in labels and row[i])
            text = f"{field}: {value}" if field else f"  {value}"
            lines += wrap(text, width, cell_len, indent="  ")
            continue
        if number:
            lines.append("")
        for index, column in enumerate(columns):
            if row[index]:
                lines += wrap(f"{column.header}: {row[index]}", width, cell_len, indent="  ")
    # Lines already fitted: a unit wider than the terminal is written whole, never cut.
    return Text("\n".join(lines), no_wrap=True, overflow="ignore")
