"""The config file as TOML text, written with tomlkit so that the user's own lines survive.

An existing file is edited in place: only the values that changed are set, keys and profiles
that went are removed, new profiles are added at the end (settings in their usual order), and
everything else (comments, blank lines, the order of the user's profiles) stays as it was. A new
file starts from smsp's header comment. The result is read back with tomllib before it is
used; should an unusual hand-written layout not give exactly the values meant, the file is
written afresh instead, so a value is never wrong to keep a comment.

tomlkit is imported here only, when a command writes the file: reading uses tomllib.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from smsp_cli.settings.connection import KEYS

if TYPE_CHECKING:
    from tomlkit import TOMLDocument
    from tomlkit.items import Table

Value = str | bool | int | float

_HEADER = (
    "# smsp configuration: profiles of SMSP providers (see `smsp config --help`).\n"
    "# Written by smsp with mode 0600; passphrases are never stored here (`smsp auth set`).\n"
)


def render(
    default_profile: str | None,
    profiles: Mapping[str, Mapping[str, Value]],
    previous: str | None = None,
) -> str:
    """The file's text, as ``previous`` (the file as it is, if any) edited to hold these values.

    Profile names must already be checked bare TOML keys.
    """
    for values in profiles.values():
        for value in values.values():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError("config numbers must be finite")
    meant = {
        **({"default_profile": default_profile} if default_profile is not None else {}),
        **({"profiles": {name: dict(values) for name, values in profiles.items()}}
           if profiles else {}),
    }
    if previous is not None and previous.strip():  # an empty file gets the header too
        edited = _edited(previous, default_profile, profiles)
        if edited is not None and _reads_as(edited, meant):
            return edited
    return _edited(_HEADER, default_profile, profiles) or ""


def _edited(
    text: str, default_profile: str | None, profiles: Mapping[str, Mapping[str, Value]]
) -> str | None:
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        document = tomlkit.parse(text)
        _set_default(document, default_profile)
        _set_profiles(document, profiles)
        return tomlkit.dumps(document)
    except (TOMLKitError, TypeError, ValueError, KeyError):
        return None  # a layout tomlkit cannot edit: the caller writes the file afresh


def _set_default(document: TOMLDocument, name: str | None) -> None:
    if name is None:
        if "default_profile" in document:
            del document["default_profile"]
    elif not _same(document.get("default_profile"), name):
        document["default_profile"] = name


def _set_profiles(document: TOMLDocument, profiles: Mapping[str, Mapping[str, Value]]) -> None:
    import tomlkit

    tables: Any = document.get("profiles")
    if tables is None:
        if not profiles:
            return
        tables = tomlkit.table(is_super_table=True)
        document["profiles"] = tables
    for name in [name for name in tables if name not in profiles]:
        del tables[name]
    for name in sorted(profiles):
        values = profiles[name]
        if name in tables:
            _set_values(tables[name], values)
        else:
            table = tomlkit.table()
            for key in _in_settings_order(values):
                table[key] = values[key]
            tables[name] = table
    if not profiles:
        del document["profiles"]


def _set_values(table: Table, values: Mapping[str, Value]) -> None:
    for key in [key for key in table if key not in values]:
        del table[key]
    for key in _in_settings_order(values):
        # Only a changed value is set, so an unchanged line keeps its comment.
        if key not in table or not _same(table[key], values[key]):
            table[key] = values[key]


def _same(item: object, value: Value) -> bool:
    """The item holds ``value`` itself: equal and of the same type (true is not 1)."""
    plain = item.unwrap() if hasattr(item, "unwrap") else item
    return type(plain) is type(value) and plain == value


def _in_settings_order(values: Mapping[str, Value]) -> list[str]:
    # Settings order, so files read alike.
    order = list(KEYS)
    return sorted(values, key=lambda key: order.index(key) if key in order else len(order))


def _reads_as(text: str, meant: Mapping[str, object]) -> bool:
    import tomllib

    try:
        found = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False
    return _typed(found) == _typed(meant)


def _typed(value: object) -> object:
    """``value`` with each leaf paired with its type, so that true and 1 compare unequal."""
    if isinstance(value, Mapping):
        return {key: _typed(item) for key, item in value.items()}
    return (type(value), value)
