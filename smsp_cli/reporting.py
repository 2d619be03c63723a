"""The one place where errors become a line on stderr and an exit code."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from smsp_cli.errors import ExitCode, SmspError


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn SmspError into ``smsp: error: <one line>`` and its exit code; never a traceback."""
    from smsp_cli.output.render import stderr_console

    try:
        yield
    except SmspError as error:
        stderr_console().print(f"smsp: error: {error.one_line()}", markup=False, soft_wrap=True)
        raise typer.Exit(int(error.exit_code)) from None
    except KeyboardInterrupt:
        stderr_console().print("smsp: interrupted", markup=False)
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except Exception as error:
        if os.environ.get("SMSP_DEBUG"):
            raise
        # An unexpected failure is a bug in smsp; its text may hold patient data, so only the
        # type is shown unless the user asks for the detail.
        stderr_console().print(
            f"smsp: internal error ({type(error).__name__}); set SMSP_DEBUG=1 for details",
            markup=False,
        )
        raise typer.Exit(int(ExitCode.PROVIDER_FAILED)) from None
