"""The one place where errors become a line on stderr and an exit code.

Every command runs inside :func:`reported_errors` (:class:`smsp_cli.cli.usage.SmspCommand`
puts it around each command), as twine's ``__main__`` and pip's base command do: commands
raise, and hold no error reporting of their own. Usage errors Typer finds while parsing are
reported by the group the same way (:func:`smsp_cli.cli.usage.report_usage_error`).

With ``-o json`` (or ``--json``) a failure also prints, on stdout, the error object scripts
read: ``{"exit_code": k, "error": {type, message, response_code, fault_code}}``, whose
``message`` is the very line stderr shows.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from smsp_cli.domain.errors import ExitCode, SmspError, Unreachable, UsageError

# 128 + SIGPIPE: what a shell reports for a writer whose reader went away (`smsp ... | head`).
# Windows has no SIGPIPE, but Python raises the same BrokenPipeError there, so the code is the same.
OUTPUT_CLOSED_EXIT = 141


def wants_json(params: Mapping[str, Any]) -> bool:
    """Whether the command's flags ask for JSON (``--json``, ``-o json``): errors are JSON too."""
    if params.get("as_json") or params.get("json_lines"):
        return True
    output = params.get("output")
    return getattr(output, "value", output) == "json"


@contextmanager
def reported_errors(*, json_output: bool = False, help_command: str | None = None,
                    api: str | None = None,
                    leave: Callable[[int], BaseException] | None = None) -> Iterator[None]:
    """Turn SmspError into ``smsp: error: <one line>`` and its exit code; never a traceback.

    The command then ends by raising ``leave(code)``: Typer's Exit by default, SystemExit for
    a lookup read without Typer (:mod:`smsp_cli.cli.plainargs`), which names its command
    (``help_command``) and the ``--api`` it was given itself, there being no Click context.
    """
    if leave is None:
        import typer  # here: the fast paths of main reach exit_status without Typer

        leave = typer.Exit
    try:
        yield
        # Output still in the buffer is written here, inside the boundary, so a reader that has
        # gone is met now rather than by the interpreter's flush at exit.
        sys.stdout.flush()
    except BrokenPipeError:
        from smsp_cli.system.streams import silence_stdout

        silence_stdout()  # the interpreter's own flush at exit would fail again
        raise leave(OUTPUT_CLOSED_EXIT) from None
    except SmspError as error:
        report(error, json_output=json_output, help_command=help_command or _command_path(),
               api=api)
        raise leave(int(error.exit_code)) from None
    except KeyboardInterrupt:
        _line("smsp: interrupted")
        raise leave(130) from None
    except SystemExit:
        raise
    except Exception as error:
        if _typer_ending(error) or os.environ.get("SMSP_DEBUG"):
            raise
        # An unexpected failure is a bug in smsp; its text may hold patient data, so only the
        # type is shown unless the user asks for the detail.
        internal = SmspError(
            f"internal error ({type(error).__name__})", hint="set SMSP_DEBUG=1 for details"
        )
        report(internal, json_output=json_output, api=api)
        raise leave(int(ExitCode.PROVIDER_FAILED)) from None


def _typer_ending(error: Exception) -> bool:
    """Whether ``error`` is Typer's Exit or Abort (only a command run through Typer raises
    them, so Typer is imported already when one is met)."""
    typer = sys.modules.get("typer")
    return typer is not None and isinstance(error, (typer.Exit, typer.Abort))


def exit_status(run: Callable[[], int | None]) -> int:
    """The process's one way out: run the command line and turn how it ended into its exit
    status, for the fast paths of :mod:`smsp_cli.cli.main` and the Typer app alike.

    A reader gone away is 141, Ctrl-C 130; an SmspError is reported as every other is; Typer's
    Exit and a SystemExit with a number carry their status. Anything else (a bug, or a
    SystemExit with a message) goes on to the interpreter, which shows it as it always does.
    """
    try:
        status = run()
        sys.stdout.flush()  # met here, not in the interpreter's flush at exit
    except BrokenPipeError:
        from smsp_cli.system.streams import silence_stdout

        silence_stdout()  # the interpreter's own flush at exit would fail again
        return OUTPUT_CLOSED_EXIT
    except SmspError as error:
        report(error, help_command=_command_path())
        return int(error.exit_code)
    except KeyboardInterrupt:
        _line("smsp: interrupted")
        return 130
    except SystemExit as done:
        if done.code is not None and not isinstance(done.code, int):
            raise
        return done.code or 0
    except Exception as error:
        typer = sys.modules.get("typer")  # only a command run through Typer raises its Exit
        if typer is not None and isinstance(error, typer.Exit):
            return int(error.exit_code)
        raise
    return status or 0


def report(error: SmspError, *, json_output: bool = False, help_command: str | None = None,
           api: str | None = None) -> None:
    """Show one error: its line on stderr and, for scripts, its error object on stdout.

    ``help_command`` (``smsp get``) adds the line that says where help is, after a usage error.
    ``api`` is the one the command line names, for an error found before settings load.
    """
    from smsp_cli.output.jsonshape import error_json

    if isinstance(error, Unreachable) and "smsp doctor" not in (error.hint or ""):
        # TLS, certificate and connection failures: doctor finds which layer and why.
        error.hint = f"{error.hint}; run 'smsp doctor'" if error.hint else "run 'smsp doctor'"
    shape = error_json(error, getattr(error, "api", None) or api or _asked_api())
    if error.result is None and help_command == "smsp verify":
        # A verify command line Typer refused: no answer, so `verified` is null (as every
        # verify failure's is: commands/lookupcall), never missing.
        error.result = {"api": None, "verified": None}
    if error.result is not None:
        shape = {**error.result, **shape}
    if json_output:
        sys.stdout.write(json.dumps(shape, indent=2, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    _line(f"smsp: error: {shape['error']['message']}")
    if help_command is not None and isinstance(error, UsageError):
        _line(f"Try '{help_command} -h' for help.")


def _current_context() -> Any:
    """Click's context of the command running now; None outside one (never imports Typer:
    with no Click loaded there is no context)."""
    click_globals = sys.modules.get("typer._click.globals")
    return None if click_globals is None else click_globals.get_current_context(silent=True)


def _command_path() -> str | None:
    """``smsp get``: the command running now, for the line that says where its help is."""
    ctx = _current_context()
    return ctx.command_path if ctx is not None else None


API_NAMES = ("smsp", "fhir")


def api_named(value: object) -> str | None:
    """``smsp`` or ``fhir`` when ``value`` (a flag's or a variable's) names one, else None."""
    name = str(value).strip().lower() if value else ""
    return name if name in API_NAMES else None


def _asked_api() -> str | None:
    """The API --api or SMSP_API names, for an error before the settings (and the profile's
    api) are read: a usage error says ``fhir`` when the command line asked for PDS FHIR."""
    ctx = _current_context()
    flag = ctx.params.get("api") if ctx is not None else None
    return api_named(flag) or api_named(os.environ.get("SMSP_API"))


def _line(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
