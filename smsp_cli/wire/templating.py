"""Plain XML templates from templates/, filled by assigning to lxml nodes (no string joining).

A placeholder is a whole text node or a whole attribute value of the form ``$name``. lxml
escapes whatever is assigned, so names such as ``O'Brien & <Sons>`` need no care here.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from smsp_cli.wire import xmlsafe

if TYPE_CHECKING:
    from lxml import etree

_PLACEHOLDER = re.compile(r"^\$([a-z_][a-z0-9_]*)$")


class TemplateError(RuntimeError):
    """A template is missing, does not parse, or has a placeholder left unfilled (a bug)."""


def templates_dir() -> Path:
    """templates/ inside an installed package, else beside the package in a source checkout."""
    package = Path(__file__).resolve().parent.parent  # smsp_cli/
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
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        match = _PLACEHOLDER.match((element.text or "").strip())
        if match:
            element.text = _value(values, match.group(1))
        for key, text in element.attrib.items():
            match = _PLACEHOLDER.match(str(text).strip())
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


def serialise(root: etree._Element) -> bytes:
    """UTF-8 bytes with an XML declaration, as ITK requires (ITK-WS Table 3)."""
    from lxml import etree

    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
