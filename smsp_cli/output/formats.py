"""The output formats a lookup offers, apart from the renderers, so that parsing flags is cheap."""

from __future__ import annotations

from enum import StrEnum


class OutputFormat(StrEnum):
    """--output choices."""

    table = "table"
    json = "json"
    xml = "xml"


class DataFormat(StrEnum):
    """--output choices of a command that prints data but no provider reply (no xml)."""

    table = "table"
    json = "json"
