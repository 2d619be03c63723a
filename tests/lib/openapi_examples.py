"""The example document an OpenAPI schema describes, composed from its fields' own examples.

The PDS FHIR specification's example records (`components/examples/Patient.json` and the search
Bundles) are kept in its repository as links to files outside the specification, so a copy of the
specification may hold only the links. Every field of its schemas carries an `example`, though,
and composing them is what an OpenAPI renderer shows as the example record: the same patient
(9000000009, Jane Smith), with every period ending on the example date 2025-12-31.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml


def example_of(schema_file: Path) -> Any:
    """The example document of the schema in `schema_file`, its `$ref`s followed."""
    return _compose(_load(schema_file), schema_file.parent)


def is_link_stub(example_file: Path) -> bool:
    """True for a file that only holds the path of the example it stands for (a copied link)."""
    text = example_file.read_text(encoding="utf-8").strip()
    return not text.startswith(("{", "[")) and text.endswith(".json")


def _load(path: Path) -> Any:
    return _plain(yaml.safe_load(path.read_text(encoding="utf-8")))


def _plain(value: Any) -> Any:
    # YAML reads an unquoted 2025-12-31 as a date; JSON, and so FHIR, carries it as text.
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _compose(schema: Any, here: Path) -> Any:
    if "$ref" in schema:
        target = (here / schema["$ref"]).resolve()
        return _compose(_load(target), target.parent)
    if "example" in schema:
        return schema["example"]
    for combined in ("allOf", "anyOf", "oneOf"):
        if combined in schema:
            return _compose(schema[combined][0], here)
    if schema.get("type") == "array" and "items" in schema:
        item = _compose(schema["items"], here)
        return None if item is None else [item]
    if "properties" in schema:
        composed = {name: _compose(part, here) for name, part in schema["properties"].items()}
        return {name: value for name, value in composed.items() if value is not None}
    return schema.get("default")
