"""Plain XML templates from templates/, laid out by lxml once, each request's values escaped in.

A placeholder is a whole text node or a whole attribute value of the form ``$name``. lxml
escapes whatever is assigned, and a layout escapes its values as lxml would, so names such as
``O'Brien & <Sons>`` need no care here.

Every request fills two templates, so where each placeholder and each element the caller
needs sits is found once per template. A request is then made from its :class:`Layout`, laid
out once for each shape of request (:func:`laid_out`): a copy of the template is filled by
position with a marker for each value, the caller drops the optional parts it has no value
for, :meth:`Filled.check` makes sure that no placeholder was left behind, and the copy is
serialised by lxml. The layout keeps those bytes, cut at the markers; each request joins its
values into the gaps, each escaped as libxml2 escapes a text or an attribute value, so the
bytes are those that filling and serialising that request's own tree would give (a test
compares the two), for a fraction of the cost.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from smsp_cli.adapters.smsp import xmlsafe

if TYPE_CHECKING:
    from lxml import etree

_PLACEHOLDER = re.compile(r"^\$([a-z_][a-z0-9_]*)$")


class TemplateError(RuntimeError):
    """A template is missing, does not parse, or has a placeholder left unfilled (a bug)."""


def templates_dir() -> Path:
    """templates/ inside an installed package, else beside the package in a source checkout."""
    package = Path(__file__).resolve().parents[2]  # smsp_cli/
    for candidate in (package / "templates", package.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise TemplateError(f"no templates folder beside {package}")


@functools.cache
def _parsed(name: str) -> etree._Element:
    path = templates_dir() / name
    try:
        return xmlsafe.parse(path.read_bytes())
    except OSError as exc:
        raise TemplateError(f"cannot read template {path}: {exc.strerror}") from None
    except xmlsafe.UnsafeXml as exc:
        raise TemplateError(f"template {path} does not parse: {exc}") from None


def load(name: str) -> etree._Element:
    """A fresh, modifiable copy of the template ``name`` (e.g. ``envelope.xml``)."""
    return copy.deepcopy(_parsed(name))


# A template file name, or (outer, slot, inner): a copy of template ``inner`` appended to the
# element at ElementPath ``slot`` (NS prefixes) of template ``outer``.
Template = str | tuple[str, str, str]

# Where a placeholder sits: the element's position in document order, the attribute (None for
# the element's text), and the placeholder's name.
_Slot = tuple[int, str | None, str]


@functools.cache
def _tree(template: Template) -> etree._Element:
    if isinstance(template, str):
        return _parsed(template)
    outer, slot, inner = template
    root = load(outer)
    place = root.find(xmlsafe.clark(slot))
    if place is None:
        raise TemplateError(f"template {outer} has no {slot}")
    place.append(load(inner))
    # The payload template's own layout starts at column 0: laid out again as one document,
    # once per process, so the bytes sent are indented throughout (and --dry-run shows them).
    from lxml import etree

    etree.indent(root)
    return root


@functools.cache
def _slots(template: Template) -> tuple[_Slot, ...]:
    slots: list[_Slot] = []
    for position, element in enumerate(_tree(template).iter()):
        if not isinstance(element.tag, str):
            continue
        match = _PLACEHOLDER.match((element.text or "").strip())
        if match:
            slots.append((position, None, match.group(1)))
        for key, value in element.items():
            match = _PLACEHOLDER.match(str(value).strip())
            if match:
                slots.append((position, str(key), match.group(1)))
    return tuple(slots)


@functools.cache
def _position(template: Template, path: str) -> int:
    tree = _tree(template)
    wanted = tree.find(xmlsafe.clark(path))
    for position, element in enumerate(tree.iter()):
        if element is wanted:
            return position
    raise TemplateError(f"template {template} has no {path}")


class Filled:
    """A filled copy of a template; its elements are found by their place in the template."""

    __slots__ = ("_elements", "_template", "root", "unfilled")

    def __init__(
        self,
        template: Template,
        root: etree._Element,
        elements: list[etree._Element],
        unfilled: list[tuple[etree._Element, str]],
    ) -> None:
        self._template = template
        self.root = root
        self._elements = elements
        self.unfilled = unfilled  # (element, placeholder) for each placeholder left as it was

    def at(self, path: str) -> etree._Element:
        """The element at ``path`` (an ElementPath with NS prefixes, from the root)."""
        return self._elements[_position(self._template, path)]

    def check(self) -> None:
        """Raise TemplateError if a placeholder without a value is still part of the tree."""
        root = self.root
        for element, placeholder in self.unfilled:
            if element is root or any(ancestor is root for ancestor in element.iterancestors()):
                raise TemplateError(f"template placeholder ${placeholder} has no value")


def load_filled(template: Template, values: Mapping[str, str]) -> Filled:
    """A fresh copy of ``template`` with every placeholder ``values`` names filled in.

    The placeholders without a value are left as they are: the caller removes the optional
    parts holding them, then calls :meth:`Filled.check`.
    """
    return _filled(template, lambda _, placeholder: values.get(placeholder))


def _filled(template: Template, value: Callable[[int, str], str | None]) -> Filled:
    """A fresh copy of ``template``, each slot given ``value(slot number, placeholder)``."""
    root = copy.deepcopy(_tree(template))
    elements = list(root.iter())
    unfilled = []
    for number, (position, key, placeholder) in enumerate(_slots(template)):
        element = elements[position]
        given = value(number, placeholder)
        if given is None:
            unfilled.append((element, placeholder))
        elif key is None:
            element.text = given
        else:
            element.set(key, given)
    return Filled(template, root, elements, unfilled)


# A value's marker while a layout is made: characters of Unicode's private use area, which no
# template holds, around the slot's number. lxml writes them through as they are.
_MARK_OPEN = "\ue000"
_MARK_CLOSE = "\ue001"
_MARK = re.compile(f"{_MARK_OPEN}([0-9]+){_MARK_CLOSE}")

# How libxml2 writes a value it was given as a text node or as an attribute value, in a
# document it encodes as UTF-8 (every other character is written as it is).
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTRIBUTE_ESCAPES = str.maketrans({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
    "\r": "&#13;", "\n": "&#10;", "\t": "&#9;",
})
_ESCAPED = re.compile('[&<>"\r\n\t]')  # any character either table escapes


class Layout:
    """A filled template's serialised text, with a gap for each value it carries."""

    __slots__ = ("_gaps", "_pieces")

    def __init__(self, pieces: tuple[str, ...], gaps: tuple[tuple[str, bool], ...]) -> None:
        self._pieces = pieces  # one more than the gaps: the text around them
        self._gaps = gaps  # (placeholder, in an attribute) in document order

    def render(self, values: Mapping[str, str]) -> bytes:
        """UTF-8 bytes with each gap's value escaped; values must be XML characters."""
        given = [values[placeholder] for placeholder, _ in self._gaps]
        # Most requests carry nothing to escape (ids, dates, codes): one search finds that.
        if _ESCAPED.search("".join(given)) is not None:
            given = [value.translate(_ATTRIBUTE_ESCAPES if in_attribute else _TEXT_ESCAPES)
                     for value, (_, in_attribute) in zip(given, self._gaps, strict=True)]
        out: list[str] = [""] * (2 * len(given) + 1)
        out[0::2] = self._pieces
        out[1::2] = given
        return "".join(out).encode("utf-8")


def laid_out(
    template: Template, filled_names: Collection[str], prune: Callable[[Filled], None]
) -> Layout:
    """The layout of ``template`` with the placeholders ``filled_names`` names filled and the
    optional parts ``prune`` drops removed; TemplateError if a placeholder without a value
    is left in the tree (see :meth:`Filled.check`).

    Each slot is marked in the tree by its number, so a placeholder that is a text in one
    place and an attribute value in another is escaped as each.
    """
    slots = _slots(template)
    filled = _filled(template, lambda number, placeholder: (
        f"{_MARK_OPEN}{number}{_MARK_CLOSE}" if placeholder in filled_names else None))
    prune(filled)
    filled.check()
    cut = _MARK.split(serialise(filled.root).decode("utf-8"))
    gaps = tuple((slots[int(number)][2], slots[int(number)][1] is not None)
                 for number in cut[1::2])
    return Layout(tuple(cut[0::2]), gaps)


def placeholders(root: etree._Element) -> set[str]:
    """Names of every ``$placeholder`` still present under ``root``."""
    found: set[str] = set()
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for text in (element.text, *element.attrib.values()):
            match = _PLACEHOLDER.match((text or "").strip())
            if match:
                found.add(match.group(1))
    return found


def fill(root: etree._Element, values: Mapping[str, str]) -> None:
    """Assign each placeholder its value; any placeholder without a value is an error."""
    from lxml import etree

    # Every placeholder holds a "$": text and attributes without one are passed over unparsed.
    for element in root.iter(etree.Element):
        text = element.text
        if text is not None and "$" in text:
            match = _PLACEHOLDER.match(text.strip())
            if match:
                element.text = _value(values, match.group(1))
        for key, value in element.items():
            attribute = str(value)
            if "$" in attribute:
                match = _PLACEHOLDER.match(attribute.strip())
                if match:
                    element.set(key, _value(values, match.group(1)))


def _value(values: Mapping[str, str], name: str) -> str:
    try:
        return values[name]
    except KeyError:
        raise TemplateError(f"template placeholder ${name} has no value") from None


def remove(element: etree._Element) -> None:
    """Drop an optional element (and its tail whitespace) from its tree."""
    parent = element.getparent()
    if parent is None:
        raise TemplateError("cannot remove a template's root element")
    previous = element.getprevious()
    if element.tail and previous is not None:
        previous.tail = element.tail
    elif element.tail:
        parent.text = element.tail
    parent.remove(element)


# The declaration as the spec's examples and the templates write it (lxml's own uses single
# quotes); the body ends with a newline so that --dry-run, which prints these bytes, ends a line.
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def serialise(root: etree._Element) -> bytes:
    """UTF-8 bytes with an XML declaration, as ITK requires (ITK-WS Table 3)."""
    from lxml import etree

    return XML_DECLARATION + etree.tostring(root, encoding="UTF-8", xml_declaration=False) + b"\n"
