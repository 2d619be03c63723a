"""The config file as TOML text: smsp writes the whole file, in a fixed order.

tomllib reads it back to exactly the values written; comments are not kept.
"""

from __future__ import annotations

from collections.abc import Mapping

from smsp_cli.settings.connection import KEYS

Value = str | bool | int | float

_HEADER = (
    "# smsp configuration: profiles of SMSP providers (see `smsp config --help`).\n"
    "# Written by smsp with mode 0600; passphrases are never stored here (`smsp auth set`).\n"
)


def render(default_profile: str | None, profiles: Mapping[str, Mapping[str, Value]]) -> str:
    """The file's text; profile names must already be checked bare TOML keys."""
    lines = [_HEADER]
    if default_profile is not None:
        lines.append(f"default_profile = {_toml(default_profile)}\n")
    for name in sorted(profiles):
        lines.append(f"\n[profiles.{name}]\n")
        values = profiles[name]
        # Settings order, so files read alike.
        for key in sorted(values, key=lambda k: list(KEYS).index(k) if k in KEYS else len(KEYS)):
            lines.append(f"{key} = {_toml(values[key])}\n")
    return "".join(lines)


def _toml(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("config numbers must be finite")
        return repr(value)
    return _basic_string(value)


# TOML basic strings: backslash, quote and control characters must be escaped.
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}


def _basic_string(text: str) -> str:
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


