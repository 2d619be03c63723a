"""The Typer options of the shared flags, built from their one declaration.

Each connection, provider and output flag, and each lookup's patient fields, is a row of
:mod:`smsp_cli.cli.flagtable` (which the Typer-free reader of a plain lookup uses as well);
here the rows become Typer options. ``lookup_options`` appends the connection and output
options to a command's signature and hands the command two small bundles instead of a dozen
parameters.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any

import typer

from smsp_cli.cli.completion import gender_words, profile_names
from smsp_cli.cli.flagtable import (
    BATCH_FLAGS,
    CONNECTION_FLAGS,
    COUNT,
    OUTPUT_FLAGS,
    PATIENT_PANEL,
    SWITCH,
    Field,
    Flag,
)

# Declared without Typer (a plain lookup command line builds them too); named here as before.
from smsp_cli.cli.settingflags import ConnectionOptions as ConnectionOptions
from smsp_cli.cli.settingflags import OutputOptions as OutputOptions
from smsp_cli.output.formats import DataFormat, OutputFormat

# The profile a config or auth command works on, and a profile named as an argument: both
# complete to the profiles in the config file.
ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile",
        metavar="NAME",
        help="The profile (default: the default profile).",
        autocompletion=profile_names,
    ),
]
ProfileArg = Annotated[
    str, typer.Argument(metavar="NAME", help="The profile.", autocompletion=profile_names)
]
# Every command that prints data takes -o json / --json (a stable shape each, in the README);
# the lookups' own --output (which adds xml) is declared with the lookup options below.
DataOutputOpt = Annotated[
    DataFormat,
    typer.Option("--output", "-o", help="table for people, json for scripts.",
                 case_sensitive=False),
]
DataJsonOpt = Annotated[bool, typer.Option("--json", help="Same as --output json.")]


def wants_json(output: DataFormat, as_json: bool) -> bool:
    """Whether ``-o json`` or ``--json`` was given."""
    return as_json or output is DataFormat.json


_COMPLETERS = {"profile": profile_names, "gender": gender_words}


def typer_option(flag: Flag) -> Any:
    """``flag`` of the table as Typer declares it: ``Annotated[type, typer.Option(...)]``."""
    spellings = list(flag.spellings)
    extra: dict[str, Any] = {}
    hint: Any = str | None
    if flag.kind == SWITCH:
        hint = bool
        if flag.off:
            spellings = [f"{spellings[0]}/{flag.off}"]
            hint = bool | None
            extra["show_default"] = False
    elif flag.kind == COUNT:
        hint = int
        extra["count"] = True
    elif flag.choices:
        hint = flag.choices
        extra["case_sensitive"] = False
    if flag.metavar:
        extra["metavar"] = flag.metavar
    if flag.completes:
        extra["autocompletion"] = _COMPLETERS[flag.completes]
    return Annotated[
        hint, typer.Option(*spellings, help=flag.help, rich_help_panel=flag.panel, **extra)
    ]


def field_parameter(field: Field) -> inspect.Parameter:
    """A lookup's patient field as a parameter of its Typer command."""
    extra: dict[str, Any] = {"metavar": field.metavar, "help": field.text}
    if field.required:
        extra["show_default"] = False
    if field.completes:
        extra["autocompletion"] = _COMPLETERS[field.completes]
    if field.flag is None:
        declared: Any = typer.Argument(**extra)
    else:
        declared = typer.Option(field.flag, rich_help_panel=PATIENT_PANEL, **extra)
    hint = str if field.required else str | None
    default = inspect.Parameter.empty if field.required else None
    return inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY,
                             annotation=Annotated[hint, declared], default=default)


_CONNECTION_PARAMETERS: dict[str, Any] = {
    flag.name: typer_option(flag) for flag in CONNECTION_FLAGS
}
_CONNECTION_DEFAULTS: dict[str, Any] = {flag.name: flag.default for flag in CONNECTION_FLAGS}
_BATCH_PARAMETERS: dict[str, Any] = {flag.name: typer_option(flag) for flag in BATCH_FLAGS}
_BATCH_DEFAULTS: dict[str, Any] = {flag.name: flag.default for flag in BATCH_FLAGS}
_OUTPUT_PARAMETERS: dict[str, Any] = {flag.name: typer_option(flag) for flag in OUTPUT_FLAGS}
_OUTPUT_DEFAULTS: dict[str, Any] = {flag.name: flag.default for flag in OUTPUT_FLAGS}


def _keyword_parameters(
    hints: dict[str, Any], defaults: dict[str, Any]
) -> list[inspect.Parameter]:
    return [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=hint,
                          default=defaults[name])
        for name, hint in hints.items()
    ]


def with_parameters(
    wrapper: Callable[..., None],
    signature: inspect.Signature,
    own: list[inspect.Parameter],
    extra: list[inspect.Parameter],
) -> Callable[..., None]:
    """``wrapper`` as Typer sees it: the command's own parameters, then the shared flags."""
    params = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        else p
        for p in own
    ]
    wrapper.__signature__ = signature.replace(parameters=[*params, *extra])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in (*params, *extra)}
    del wrapper.__wrapped__  # type: ignore[attr-defined]
    return wrapper


def lookup_options(
    command: Callable[..., None],
) -> Callable[..., None]:
    """Give a command ``conn: ConnectionOptions`` and ``out: OutputOptions`` from shared flags."""
    signature = inspect.signature(command, eval_str=True)
    own = [p for name, p in signature.parameters.items() if name not in ("conn", "out")]
    extra = _keyword_parameters(_CONNECTION_PARAMETERS, _CONNECTION_DEFAULTS) + (
        _keyword_parameters(_OUTPUT_PARAMETERS, _OUTPUT_DEFAULTS)
    )

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        conn = ConnectionOptions(**{name: kwargs.pop(name) for name in _CONNECTION_PARAMETERS})
        as_json = kwargs.pop("as_json")
        output = kwargs.pop("output")
        out = OutputOptions(
            output=OutputFormat.json if as_json else output,
            dry_run=kwargs.pop("dry_run"),
            verbose=kwargs.pop("verbose"),
            trace_file=kwargs.pop("trace_file"),
            reveal=kwargs.pop("reveal"),
        )
        command(*args, conn=conn, out=out, **kwargs)

    return with_parameters(wrapper, signature, own, extra)


def connection_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give a command ``conn: ConnectionOptions`` from the shared connection flags alone."""
    return _with_connection(command, _CONNECTION_PARAMETERS, _CONNECTION_DEFAULTS)


def batch_options(command: Callable[..., None]) -> Callable[..., None]:
    """As :func:`connection_options`, with the batch's own settings (--concurrency and
    --rate-limit) in ``conn`` too: they layer like every other setting."""
    return _with_connection(command, {**_CONNECTION_PARAMETERS, **_BATCH_PARAMETERS},
                            {**_CONNECTION_DEFAULTS, **_BATCH_DEFAULTS})


def _with_connection(
    command: Callable[..., None], hints: dict[str, Any], defaults: dict[str, Any]
) -> Callable[..., None]:
    signature = inspect.signature(command, eval_str=True)
    own = [p for name, p in signature.parameters.items() if name != "conn"]
    extra = _keyword_parameters(hints, defaults)

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        conn = ConnectionOptions(**{name: kwargs.pop(name) for name in hints})
        command(*args, conn=conn, **kwargs)

    return with_parameters(wrapper, signature, own, extra)
