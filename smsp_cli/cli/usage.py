"""The command-line classes behind every smsp command: one-line usage errors, plain help.

Typer (through the Click it vendors) reports a missing option, an unknown option or command
or an extra argument in a box, its own way. smsp's commands report every usage error the
same way instead, as the README promises::

    smsp: error: missing --dob
    Try 'smsp get -h' for help.

with exit code 2 and, when ``-o json`` or ``--json`` was given, the error object on stdout.
All missing required options and arguments are named at once. The help pages are written
by :mod:`smsp_cli.cli.helptext`, so they fit an 80-column terminal.

:class:`SmspTyper` is the Typer app to use: its groups and commands get these classes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import typer
from typer._click import exceptions as click_errors
from typer._click.utils import PacifyFlushWrapper
from typer.core import TyperCommand, TyperGroup

from smsp_cli.cli import helptext
from smsp_cli.domain.errors import ExitCode
from smsp_cli.domain.wording import listed


class SmspCommand(TyperCommand):
    """A command whose help fits the terminal and that names every missing option at once."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """Write the plain help page (see :mod:`smsp_cli.cli.helptext`)."""
        formatter.write(helptext.command_help(self, ctx))

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Refuse missing required parameters all at once, before Click finds the first."""
        # Completion parses half-typed command lines (resilient parsing): nothing is missing yet.
        missing = [] if ctx.resilient_parsing else _missing(self, ctx, args)
        if missing:
            raise click_errors.UsageError(f"missing {listed(missing)}", ctx=ctx)
        repeated = [] if ctx.resilient_parsing else _repeated(self, ctx, args)
        if repeated:
            raise click_errors.UsageError(
                f"{listed(repeated)} may be given only once (each takes one value)", ctx=ctx
            )
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        """Run the command inside the one error boundary (:mod:`smsp_cli.cli.reporting`)."""
        from smsp_cli.cli.reporting import reported_errors, wants_json

        with reported_errors(json_output=wants_json(ctx.params)):
            return super().invoke(ctx)


class SmspGroup(TyperGroup):
    """The group: plain help, and every usage error reported as one line with exit code 2."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """Write the plain help page (see :mod:`smsp_cli.cli.helptext`)."""
        formatter.write(helptext.group_help(self, ctx))

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line; a usage error becomes ``smsp: error: ...`` and exit 2."""
        argv = list(sys.argv[1:] if args is None else args)
        try:
            result = super().main(
                args=argv,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except SystemExit:
            # Click meets a reader that has gone (a help page into `| head`) by wrapping stdout
            # and exiting 1; smsp exits 141 for it, as the commands do.
            if not isinstance(sys.stdout, PacifyFlushWrapper):
                raise
            raise BrokenPipeError from None
        except click_errors.NoArgsIsHelpError as error:
            # `smsp` or `smsp config` alone: the help, as a usage error.
            sys.stderr.write(error.format_message() + "\n")
            result = int(ExitCode.USAGE)
        except click_errors.ClickException as error:
            result = report_usage_error(error, argv)
        except typer.Abort:
            sys.stderr.write("smsp: aborted\n")
            result = 1
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else 0)


class SmspTyper(typer.Typer):
    """A Typer app whose groups are :class:`SmspGroup` and commands :class:`SmspCommand`."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("cls", SmspGroup)
        # Help is written by smsp_cli.cli.helptext; no rich boxes, no markup in help strings.
        options.setdefault("rich_markup_mode", None)
        options.setdefault("context_settings", {"help_option_names": ["-h", "--help"]})
        super().__init__(**options)

    def command(self, name: str | None = None, **options: Any) -> Callable[[Any], Any]:
        """Register a command, as an :class:`SmspCommand` unless told otherwise."""
        options.setdefault("cls", SmspCommand)
        return super().command(name, **options)


def report_usage_error(error: click_errors.ClickException, argv: Sequence[str]) -> int:
    """Print a Click error as smsp's one line (and the JSON error object if asked for)."""
    from smsp_cli.cli.reporting import report
    from smsp_cli.domain.errors import UsageError

    ctx = getattr(error, "ctx", None)
    command_path = ctx.command_path if ctx is not None else "smsp"
    report(
        UsageError(_sentence(error.format_message())),
        json_output=wants_json(argv),
        help_command=command_path,
        api=api_in_argv(argv),
    )
    return int(ExitCode.USAGE)


def wants_json(argv: Sequence[str]) -> bool:
    """True when the command line asks for JSON: ``--json``, ``-o json``, ``--output=json``."""
    previous = ""
    for word in argv:
        if word == "--":
            break
        lowered = word.lower()
        if lowered in ("--json", "-ojson", "--output=json") or (
            previous in ("-o", "--output") and lowered == "json"
        ):
            return True
        previous = word
    return False


def api_in_argv(argv: Sequence[str]) -> str | None:
    """The API ``--api NAME`` (or ``--api=NAME``) names, when the command line could not be
    parsed into its flags; else SMSP_API's (see :func:`smsp_cli.cli.reporting.api_named`)."""
    from smsp_cli.cli.reporting import api_named

    previous = ""
    for word in argv:
        if word == "--":
            break
        if previous == "--api":
            return api_named(word) or None
        if word.startswith("--api="):
            return api_named(word.partition("=")[2]) or None
        previous = word
    return None


def _sentence(message: str) -> str:
    """Click's ``Missing option '--dob'.`` as smsp writes errors: ``missing option '--dob'``."""
    text = " ".join(message.split()).rstrip(".")
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        text = text[0].lower() + text[1:]
    return text


def _missing(command: TyperCommand, ctx: Any, args: list[str]) -> list[str]:
    """The required parameters ``args`` leaves out, by the names a user types."""
    try:
        parsed, _, _ = command.make_parser(ctx).parse_args(args=list(args))
    except click_errors.UsageError:
        return []  # Click reports the bad option itself
    params = command.get_params(ctx)
    if any(param.is_eager and parsed.get(param.name or "") for param in params):
        return []  # --help and --version need nothing else
    return [
        _shown_name(param)
        for param in params
        if param.required and parsed.get(param.name or "") in (None, ())
    ]


def _repeated(command: TyperCommand, ctx: Any, args: list[str]) -> list[str]:
    """The single-value options ``args`` gives more than once, by their longest name.

    Click keeps the last of a repeated option silently: ``--given Daniel --given Lee`` would
    send ``Lee`` alone, and a search narrower than the one typed.
    """
    single: dict[str, Any] = {}
    for param in command.get_params(ctx):
        takes_one = not (param.multiple or getattr(param, "is_flag", False)
                         or getattr(param, "count", False))
        if param.param_type_name == "option" and takes_one:
            for name in (*param.opts, *param.secondary_opts):
                single[name] = param
    seen: dict[str, int] = {}
    names: dict[str, str] = {}
    words = iter(args)
    for word in words:
        if word == "--":
            break
        name = word.split("=", 1)[0] if word.startswith("--") else word[:2]
        option = single.get(name)
        if option is None or not word.startswith("-"):
            continue
        key = option.name or name
        seen[key] = seen.get(key, 0) + 1
        names[key] = _shown_name(option)
        if word == name:
            next(words, None)  # its value, which may itself start with "-"
    return [names[key] for key, count in seen.items() if count > 1]


def _shown_name(param: Any) -> str:
    if param.param_type_name == "argument":
        return str(param.metavar or param.name.upper())
    return str(max(param.opts, key=len))


