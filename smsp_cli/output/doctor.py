"""doctor's checklist for people (rich: checks, a timing waterfall, a verdict) and as stable JSON.

The checks are :mod:`smsp_cli.diagnose`'s; what is drawn is only what :class:`Checklist` and
:class:`CheckShown` name, so output needs nothing of the layers above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from smsp_cli.untrusted.sanitize import visible

if TYPE_CHECKING:
    from rich.console import Console

    from smsp_cli.transport.trace import Phase

JSON_SCHEMA_VERSION = 1
_ICONS = {"pass": "✔", "warn": "!", "fail": "✘", "skipped": "·"}
_STYLES = {"pass": "green", "warn": "yellow", "fail": "bold red", "skipped": "dim"}
_BAR_WIDTH = 32


class CheckShown(Protocol):
    """What the checklist shows of one layer's check (``diagnose.Check``)."""

    @property
    def layer(self) -> int: ...
    @property
    def status(self) -> StrEnum: ...
    @property
    def summary(self) -> str: ...
    @property
    def facts(self) -> tuple[tuple[str, str], ...]: ...
    @property
    def cause(self) -> str | None: ...
    @property
    def next_step(self) -> str | None: ...
    @property
    def started(self) -> float: ...
    @property
    def elapsed(self) -> float: ...
    @property
    def sources(self) -> tuple[tuple[str, str], ...]: ...
    @property
    def shown_title(self) -> str: ...
    @property
    def key(self) -> str: ...


class Checklist(Protocol):
    """What the checklist shows of a diagnosis (``diagnose.Report``)."""

    @property
    def endpoint(self) -> str | None: ...
    @property
    def checks(self) -> Sequence[CheckShown]: ...
    @property
    def phases(self) -> tuple[Phase, ...]: ...
    @property
    def total(self) -> float: ...
    @property
    def settings(self) -> tuple[tuple[str, str, str], ...]: ...
    @property
    def failed(self) -> CheckShown | None: ...
    @property
    def warnings(self) -> Sequence[CheckShown]: ...
    @property
    def exit_code(self) -> int: ...
    def source_of(self, key: str) -> str | None: ...


def report_json(report: Checklist) -> dict[str, object]:
    """The report as stable JSON: every layer, always in order, with the same keys."""
    failed = report.failed
    return {
        "schema": JSON_SCHEMA_VERSION,
        "endpoint": report.endpoint,
        "ok": failed is None,
        "exit_code": report.exit_code,
        "failed_layer": failed.key if failed else None,
        "layers": [_check_json(check) for check in report.checks],
        "timings": [
            {
                "phase": phase.name,
                "start_ms": _ms(phase.start),
                "duration_ms": _ms(phase.duration),
                "completed": phase.completed,
            }
            for phase in report.phases
        ],
        "total_ms": _ms(report.total),
    }


def _check_json(check: CheckShown) -> dict[str, object]:
    return {
        "layer": int(check.layer),
        "name": check.key,
        "title": check.shown_title,
        "status": check.status.value,
        "summary": check.summary,
        "cause": check.cause,
        "next_step": check.next_step,
        "facts": dict(check.facts),
        "fact_sources": dict(check.sources),
        "start_ms": _ms(check.started),
        "elapsed_ms": _ms(check.elapsed),
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def print_report(report: Checklist) -> None:
    """The checklist, the timing waterfall and a one-line verdict, on stdout."""
    from rich.text import Text

    from smsp_cli.output.console import stdout_console

    # markup off, and every text through the one sanitiser: certificate names and server
    # answers are the server's words, printed as they are but never as terminal controls.
    console = stdout_console(highlight=False, markup=False, emoji=False)
    console.print(Text(visible(header(report)), style="bold"))
    console.print()
    for check in report.checks:
        _print_check(console, check)
    console.print()
    _print_waterfall(console, report)
    console.print()
    _print_verdict(console, report)


def header(report: Checklist) -> str:
    """``smsp doctor: https://... (from --endpoint), profile opentest (from SMSP_PROFILE)``."""
    if not report.endpoint:
        return "smsp doctor: no endpoint configured"
    parts = [_sourced(report.endpoint, report.source_of("endpoint"))]
    profile = next((value for key, value, _ in report.settings if key == "profile"), None)
    if profile:
        parts.append("profile " + _sourced(profile, report.source_of("profile")))
    return "smsp doctor: " + ", ".join(parts)


def _sourced(value: str, source: str | None) -> str:
    return f"{value} (from {source})" if source else value


def _print_check(console: Console, check: CheckShown) -> None:
    from rich.table import Table
    from rich.text import Text

    status = check.status.value
    # The summary wraps under itself, so a long one never runs back under the icon.
    headline = Table.grid()
    headline.add_column(no_wrap=True)
    headline.add_column(no_wrap=True)
    headline.add_column(overflow="fold")
    headline.add_row(
        Text(f" {_ICONS[status]} ", style=_STYLES[status]),
        Text(f"{int(check.layer)} {check.shown_title:<20}", style="bold"),
        Text(visible(check.summary), style="dim" if status == "skipped" else ""),
    )
    console.print(headline)
    if status == "skipped":
        return
    # Facts under the check, wrapped at words with a hanging indent, names never split.
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=5)
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    sources = dict(check.sources)
    for name, value in check.facts:
        where = f"  (from {sources[name]})" if name in sources else ""
        grid.add_row("", Text(f"{name}:", style="dim"), Text(visible(value) + where, style="dim"))
    for name, text in (("cause:", check.cause), ("next:", check.next_step)):
        if text:
            style = _STYLES[status]
            grid.add_row("", Text(name, style=style), Text(visible(text), style=style))
    console.print(grid)


def _print_waterfall(console: Console, report: Checklist) -> None:
    from rich.table import Table
    from rich.text import Text

    from smsp_cli.output.tracetext import bar, format_seconds

    table = Table(title="Timings", title_justify="left", box=None, show_header=True)
    for column, justify in (("step", "left"), ("start", "right"), ("took", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    table.add_column("", no_wrap=True)
    total = report.total or 1e-9
    rows = [
        (f"{int(c.layer)} {c.shown_title}", c.started, c.elapsed, _STYLES[c.status.value])
        for c in report.checks
        if c.status.value != "skipped"
    ]
    rows += [(f"  POST {p.name}", p.start, p.duration, "cyan") for p in report.phases]
    rows.sort(key=lambda row: row[1])
    for name, start, took, style in rows:
        table.add_row(
            name,
            format_seconds(start),
            format_seconds(took),
            Text(bar(start, took, total, _BAR_WIDTH, "█"), style=style),
        )
    table.add_row("total", "", format_seconds(report.total), "")
    console.print(table)


def _print_verdict(console: Console, report: Checklist) -> None:
    failed = report.failed
    warnings = len(report.warnings)
    if failed is None:
        note = f" ({warnings} warning{'s' if warnings != 1 else ''})" if warnings else ""
        console.print(f"All layers passed{note}.", style="bold green")
        return
    console.print(
        f"Failed at layer {int(failed.layer)}, {failed.shown_title}: {visible(failed.summary)} "
        f"(exit {report.exit_code})",
        style="bold red",
    )
