"""A rule both the envelope and the payload checks apply: children in XSD sequence order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from smsp_cli.adapters.smsp import xmlsafe

if TYPE_CHECKING:
    from lxml import etree



def in_order(
    parent: etree._Element,
    order: Sequence[str],
    namespace: str,
    problem: Callable[[str], Exception],
) -> list[str]:
    """Local names of ``parent``'s children, checked to follow ``order``, each at most once."""
    names: list[str] = []
    for child in xmlsafe.elements(parent):
        name = xmlsafe.local_name(child)
        if xmlsafe.namespace(child) != namespace or name not in order:
            raise problem(f"{name} is not allowed here")
        if name in names:
            raise problem(f"{name} appears more than once")
        if names and order.index(name) < order.index(names[-1]):
            raise problem(f"{name} must come before {names[-1]}")
        names.append(name)
    return names
