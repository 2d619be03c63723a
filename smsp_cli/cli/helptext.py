"""Help text that fits the terminal: every flag and variable name whole, even at 80 columns.

Typer's boxed help squeezes its columns and cuts long names (``--no-soap-action-q…``,
``SMSP_SOAP_ACTION_QU…``). This writes plain text instead: the usage line, the description,
then one section per panel (Patient, Connection, Output...), each option's names on the
left and its help wrapped at word boundaries (never inside a word or at a hyphen) on the
right, or below the names when they are long. Flags show no type (no ``<bool>``), required
arguments are written bare (``NHS_NUMBER``), optional ones in brackets.
"""

from __future__ import annotations

import shutil
import textwrap
from enum import Enum
from typing import TYPE_CHECKING, Any

from smsp_cli.cli import examples

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from typer._click.core import Command, Context, Parameter
    from typer.core import TyperGroup

_INDENT = 2
_NAMES_MAX = 30  # names longer than this put their help on the next line
_GAP = 2
_MIN_HELP = 30  # narrower than this, help always goes below the names
_MAX_WIDTH = 100


def width() -> int:
    """The width to wrap at: the terminal's (COLUMNS wins), at most 100 for readability."""
    return max(40, min(shutil.get_terminal_size().columns, _MAX_WIDTH))


def command_help(command: Command, ctx: Context) -> str:
    """The help page of a command."""
    lines = [_usage(command, ctx), ""]
    lines += _description(command.help or "")
    arguments = [p for p in command.get_params(ctx) if p.param_type_name == "argument"]
    if arguments:
        lines += _section("Arguments", [_argument_row(p) for p in arguments])
    for panel, params in _panels(p for p in command.get_params(ctx) if p not in arguments):
        lines += _section(panel, [_option_row(p, ctx) for p in params])
    lines += examples.lines(ctx.command_path)
    return "\n".join(lines).rstrip("\n") + "\n"


def group_help(group: TyperGroup, ctx: Context) -> str:
    """The help page of a command group: its commands, then its options."""
    rows = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is not None and not command.hidden:
            rows.append((name, first_paragraph(command.help or "")))
    sections = [
        (panel, [_option_row(p, ctx) for p in params])
        for panel, params in _panels(group.get_params(ctx))
    ]
    return group_page(_usage(group, ctx), group.help or "", rows, sections,
                      examples.lines(ctx.command_path))


def group_page(
    usage: str,
    description: str,
    commands: Sequence[tuple[str, str]],
    sections: Sequence[tuple[str, Sequence[tuple[str, str]]]],
    example_lines: Sequence[str] = (),
) -> str:
    """A group's page from its parts: usage line, description, (name, help) rows of its
    commands, each section of option rows, then its examples."""
    lines = [usage, ""]
    lines += _description(description)
    if commands:
        lines += _section("Commands", commands)
    for title, rows in sections:
        lines += _section(title, rows)
    lines += example_lines
    return "\n".join(lines).rstrip("\n") + "\n"


def usage_line(command: Command, ctx: Context) -> str:
    """``Usage: smsp get [OPTIONS] NHS_NUMBER``."""
    return _usage(command, ctx)


def _usage(command: Command, ctx: Context) -> str:
    pieces = ["[OPTIONS]"]
    for param in command.get_params(ctx):
        if param.param_type_name == "argument":
            name = _argument_name(param)
            pieces.append(name if param.required else f"[{name}]")
    if hasattr(command, "list_commands"):
        pieces.append("COMMAND [ARGS]...")
    return f"Usage: {ctx.command_path} {' '.join(pieces)}"


def _description(text: str) -> list[str]:
    lines: list[str] = []
    for paragraph in _paragraphs(text):
        lines += _wrap(paragraph, width() - _INDENT, " " * _INDENT)
        lines.append("")
    return lines


def _paragraphs(text: str) -> list[str]:
    blocks = textwrap.dedent(text).strip().split("\n\n")
    return [" ".join(block.split()) for block in blocks if block.strip()]


def first_paragraph(text: str) -> str:
    """The first paragraph of a help text, on one line: a command's line in its group's page."""
    paragraphs = _paragraphs(text)
    return paragraphs[0] if paragraphs else ""


def _panels(params: Iterable[Parameter]) -> list[tuple[str, list[Parameter]]]:
    """Options grouped by their help panel, panels in order of first appearance, then the
    ungrouped ones (help included) under "Options"."""
    panels: dict[str, list[Parameter]] = {}
    loose: list[Parameter] = []
    for param in params:
        if getattr(param, "hidden", False):
            continue
        panel = getattr(param, "rich_help_panel", None)
        (panels.setdefault(panel, []) if panel else loose).append(param)
    ordered = list(panels.items())
    if loose:
        ordered.append(("Options", loose))
    return ordered


def _argument_name(param: Parameter) -> str:
    name = param.metavar or (param.name or "").upper()
    return f"{name}..." if param.nargs != 1 else name


def _argument_row(param: Parameter) -> tuple[str, str]:
    return _argument_name(param), _help(param, None)


def _option_row(param: Parameter, ctx: Context) -> tuple[str, str]:
    names = sorted(param.opts, key=lambda opt: (opt.startswith("--"), opt))
    shown = ", ".join(names)
    if param.secondary_opts:
        shown += " / " + ", ".join(param.secondary_opts)
    if not getattr(param, "is_flag", False) and not getattr(param, "count", False):
        shown += f" {_option_metavar(param)}"
    return shown, _help(param, ctx)


def _option_metavar(param: Parameter) -> str:
    if param.metavar:
        return param.metavar
    # Typer before 0.29 declares choices as Click does, on the type; 0.29 on a descriptor.
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None:
        choices = descriptor.choices if descriptor.is_choice else None
    else:
        choices = getattr(param.type, "choices", None)
    if choices:
        return "[" + "|".join(_plain(choice) for choice in choices) + "]"
    return (param.name or "value").upper()


def _help(param: Parameter, ctx: Context | None) -> str:
    text = " ".join((getattr(param, "help", None) or "").split())
    extras = []
    default = _default(param, ctx)
    if default:
        extras.append(f"[default: {default}]")
    if param.required:
        extras.append("[required]")
    return " ".join([text, *extras]).strip()


def _default(param: Parameter, ctx: Context | None) -> str | None:
    if ctx is None or getattr(param, "show_default", None) is False:
        return None
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    value: Any = param.default
    if value is None or callable(value) or value == "":
        return None
    return _plain(value)


def _plain(value: object) -> str:
    return str(value.value) if isinstance(value, Enum) else str(value)


def _section(title: str, rows: Sequence[tuple[str, str]]) -> list[str]:
    total = width()
    longest = max((len(name) for name, _ in rows if len(name) <= _NAMES_MAX), default=0)
    help_at = _INDENT + longest + _GAP
    below = total - help_at < _MIN_HELP
    lines = [f"{title}:"]
    for name, text in rows:
        lead = " " * _INDENT + name
        if not text:
            lines.append(lead)
        elif below or len(name) > _NAMES_MAX:
            lines.append(lead)
            indent = " " * (_INDENT + 4)
            lines += _wrap(text, total - len(indent), indent)
        else:
            wrapped = _wrap(text, total - help_at, " " * help_at)
            lines.append(lead.ljust(help_at) + wrapped[0].lstrip())
            lines += wrapped[1:]
    lines.append("")
    return lines


def _wrap(text: str, size: int, indent: str) -> list[str]:
    # Words are never broken, at hyphens or anywhere: a flag such as --no-soap-action-quoted
    # or a variable such as SMSP_SOAP_ACTION_QUOTED is read whole or not at all.
    return textwrap.wrap(
        text,
        width=max(size, 10) + len(indent),
        initial_indent=indent,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [indent]
