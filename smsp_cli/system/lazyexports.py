"""A package that names what it offers but imports each module only when a name is first used.

A lookup records its calls and may trace them; few commands search the trail or print a trace.
A package's ``__init__`` lists where each name lives and sets
``__getattr__ = lazy_exports(__name__, HOMES)`` (PEP 562), so importing the package costs only
what is used.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``package.homes[name]`` and keeps ``name`` found."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        setattr(sys.modules[package], name, value)  # found directly from now on
        return value

    return __getattr__
