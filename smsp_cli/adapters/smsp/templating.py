"""Plain XML templates from templates/, filled by assigning to lxml nodes (no string joining).

A placeholder is a whole text node or a whole attribute value of the form ``$name``. lxml
escapes whatever is assigned, so names such as ``O'Brien & <Sons>`` need no care here.

Every request fills two templates, so where each placeholder and each element the caller
needs sits is found once per template (:func:`load_filled`): a fresh copy is filled by
position, the caller drops the optional parts it has no value for, and :meth:`Filled.check`
makes sure that no placeholder was left behind.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Mapping
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
    root = copy.deepcopy(_tree(template))
    elements = list(root.iter())
    unfilled = []
    for position, key, placeholder in _slots(template):
        element = elements[position]
        value = values.get(placeholder)
        if value is None:
            unfilled.append((element, placeholder))
        elif key is None:
            element.text = value
        else:
            element.set(key, value)
    return Filled(template, root, elements, unfilled)


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
