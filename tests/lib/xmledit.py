"""Small edits to a request's XML tree, for tests that break one rule at a time."""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from smsp_cli.adapters.smsp.xmlsafe import NS

Edit = Callable[[etree._Element], object]

DE = "soap:Body/itk:DistributionEnvelope"
DE_HEADER = f"{DE}/itk:header"
ITEM = f"{DE_HEADER}/itk:manifest/itk:manifestitem"


def find(root: etree._Element, path: str) -> etree._Element:
    """The element at ``path`` (prefixes from xmlsafe.NS); the test fails if it is missing."""
    element = root.find(path, NS)
    assert element is not None, path
    return element


def drop(path: str) -> Edit:
    """An edit that removes the element at ``path``."""

    def change(root: etree._Element) -> None:
        element = find(root, path)
        parent = element.getparent()
        assert parent is not None
        parent.remove(element)

    return change


def set_text(path: str, text: str) -> Edit:
    """An edit that replaces the text of the element at ``path``."""

    def change(root: etree._Element) -> None:
        find(root, path).text = text

    return change


def set_attribute(path: str, name: str, value: str | None) -> Edit:
    """An edit that sets an attribute, or removes it when ``value`` is None."""

    def change(root: etree._Element) -> None:
        element = find(root, path)
        if value is None:
            del element.attrib[name]
        else:
            element.set(name, value)

    return change
