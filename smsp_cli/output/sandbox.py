"""What ``smsp sandbox`` shows: its settings, a line a request, and its synthetic patients.

Requests come in as what :class:`RequestShown` names (``sandbox.server.RecordedRequest``):
operation, outcome and ids, never patient values.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Protocol

from smsp_cli.untrusted.sanitize import visible


class RequestShown(Protocol):
    """What the request log shows of one request the sandbox answered."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def http_status(self) -> int: ...
    @property
    def outcome(self) -> str: ...
    @property
    def operation(self) -> str | None: ...
    @property
    def message_id(self) -> str | None: ...
    @property
    def detail(self) -> str | None: ...
    @property
    def rule(self) -> str | None: ...
    @property
    def warnings(self) -> tuple[str, ...]: ...


def request_log() -> Callable[[RequestShown], None]:
    """A line on stderr for each request answered, whole whichever thread answered it."""
    log_lock = threading.Lock()

    def log(request: RequestShown) -> None:
        # Records carry no patient values: operation, outcome and ids only. The path and
        # MessageID are what the client sent: shown through the one sanitiser. One plain
        # write a line (rich's print, unstyled here, cost a tenth of a request).
        line = (f"{request.method} {request.path} {request.http_status} "
                f"{request.operation or '-'} {request.outcome} {request.message_id or '-'}")
        if request.rule is not None:  # refused: why, and the rule the request broke
            line += f" refused: {request.detail} [{request.rule}]"
        # A rule only recommended, or bent by --lenient: one warning line each.
        lines = [visible(line), *(visible(f"  warning: {text}") for text in request.warnings)]
        with log_lock:
            sys.stderr.write("\n".join(lines) + "\n")
            sys.stderr.flush()

    return log


def say_listening(text: str) -> None:
    """Where the sandbox listens, on stderr (data, the settings, go to stdout)."""
    from smsp_cli.output.render import stderr_console

    stderr_console().print(text, markup=False, soft_wrap=True)


def write_settings(api: str, url: str, variables: dict[str, str], in_json: bool) -> None:
    """The settings that reach the server: NAME=value lines, or one JSON line for scripts."""
    if in_json:
        sys.stdout.write(json.dumps({"api": api, "url": url, "variables": variables}) + "\n")
    else:
        sys.stdout.write("".join(f"{name}={value}\n" for name, value in variables.items()))
    sys.stdout.flush()


def print_patients(rows: list[dict[str, object]], scenario_meanings: Mapping[str, str]) -> None:
    """The synthetic patients as a table fitted to the terminal, then what each scenario means."""
    from smsp_cli.output.console import stdout_console
    from smsp_cli.output.fit import Column, fitted_table
    from smsp_cli.output.table import CONFIDENTIAL, nhs
    from smsp_cli.untrusted import bounds

    columns = (
        Column("NHS number", whole=True),
        Column("Name"),
        Column("Gender", whole=True, gives_way=2),
        Column("Born", whole=True, gives_way=3),
        Column("Postcode", whole=True, gives_way=1),
        Column("Scenario", whole=True),
    )
    cells = [
        (
            nhs(str(row.get("nhs_number") or "")),
            _name(row),
            bounds.cut(str(row.get("gender") or "")),
            bounds.cut(str(row.get("birth_date") or "")),
            bounds.cut(str(row.get("postcode") or "")),
            bounds.cut(str(row.get("scenario") or "")),
        )
        for row in rows
    ]
    console = stdout_console(markup=False, highlight=False, emoji=False)
    table, _ = fitted_table(
        columns,
        cells,
        console.width,
        boxed=False,
        left_out_caption="{} left out at this width; --json shows all",
        title=f"{CONFIDENTIAL}\nSandbox patients (synthetic)",
        title_justify="left",
    )
    console.print(table, soft_wrap=True)  # wrapped between units already
    shown = dict.fromkeys(str(row.get("scenario") or "") for row in rows)
    legend = [f"  {name}: {scenario_meanings[name]}" for name in shown if name in scenario_meanings]
    if legend:
        from rich.cells import cell_len

        from smsp_cli.output.fit import wrap

        lines = wrap("Scenarios (the response code each produces):", console.width, cell_len)
        for entry in legend:
            lines += wrap(entry, console.width, cell_len, indent="    ")
        sys.stdout.write("\n".join(lines) + "\n")


def _name(row: dict[str, object]) -> str:
    """``FAIRWEATHER, Eleanor Mary``: the family name first, as NHS patient banners show it."""
    from smsp_cli.untrusted import bounds

    given = row.get("given_names")
    given_text = " ".join(str(name) for name in given) if isinstance(given, list) else ""
    family = str(row.get("family_name") or "").upper()
    return bounds.cut(", ".join(part for part in (family, given_text) if part))
