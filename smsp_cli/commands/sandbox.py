"""``smsp sandbox``: run the embedded SMSP provider and list its synthetic patients."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from smsp_cli.reporting import reported_errors

if TYPE_CHECKING:
    from smsp_cli.sandbox.patients import SandboxPatient
    from smsp_cli.sandbox.server import RecordedRequest

app = typer.Typer(
    help="The embedded sandbox provider: real mutual TLS, synthetic patients.", no_args_is_help=True
)


def _patients(csv_path: Path | None) -> tuple[SandboxPatient, ...]:
    from smsp_cli.errors import ConfigError
    from smsp_cli.sandbox.builtin import BUILT_IN
    from smsp_cli.sandbox.opentest import load_csv

    if csv_path is None:
        return BUILT_IN
    try:
        return load_csv(csv_path)
    except OSError as exc:
        raise ConfigError(f"cannot read patients file {csv_path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"patients file: {exc}") from None


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.", min=0, max=65535)] = 0,
    patients_csv: Annotated[
        Path | None,
        typer.Option(
            "--patients",
            metavar="FILE.csv",
            help="Patients in the Opentest CSV format instead of the built-in ones.",
        ),
    ] = None,
) -> None:
    """Serve the sandbox provider over HTTPS with mutual TLS until interrupted."""
    with reported_errors():
        from smsp_cli.output.render import stderr_console
        from smsp_cli.sandbox.certs import ensure_credentials
        from smsp_cli.sandbox.embedded import settings_for
        from smsp_cli.sandbox.paths import sandbox_dir
        from smsp_cli.sandbox.server import SandboxServer
        from smsp_cli.settings.connection import KEYS

        records = _patients(patients_csv)
        credentials = ensure_credentials(sandbox_dir())
        console = stderr_console()

        def log(request: RecordedRequest) -> None:
            # Records carry no patient values: operation, outcome and ids only.
            console.print(
                f"{request.method} {request.path} {request.http_status} "
                f"{request.operation or '-'} {request.outcome} {request.message_id or '-'}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )

        server = SandboxServer(credentials, host=host, port=port, patients=records, on_request=log)
        with server:
            for key, value in settings_for(server.url, credentials).items():
                sys.stdout.write(f"{KEYS[key][1]}={value}\n")
            sys.stdout.flush()
            console.print(
                f"sandbox provider listening on {server.url} with {len(records)} synthetic "
                "patients; Ctrl-C stops it",
                markup=False,
                soft_wrap=True,
            )
            server.serve_forever()


@app.command("patients")
def list_patients(
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
    patients_csv: Annotated[
        Path | None,
        typer.Option(
            "--patients", metavar="FILE.csv", help="List the patients of this CSV instead."
        ),
    ] = None,
) -> None:
    """List the sandbox's synthetic patients and the outcome each one produces."""
    with reported_errors():
        records = _patients(patients_csv)
        rows = [record.to_json() for record in records]
        if as_json:
            sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
            return
        _print_patients(rows)


def _print_patients(rows: list[dict[str, object]]) -> None:
    from rich.console import Console
    from rich.table import Table

    from smsp_cli.models import format_nhs_number

    table = Table(
        title="Sandbox patients (synthetic)",
        caption="NHS Confidential: personal data about a patient",
    )
    for column in ("NHS number", "Family", "Given", "Gender", "Born", "Postcode", "Scenario"):
        # Numbers, dates and postcodes stay whole; names fold onto a second line instead.
        whole = column in ("NHS number", "Born", "Postcode", "Scenario", "Gender")
        table.add_column(column, no_wrap=whole, overflow="fold")
    for row in rows:
        given = row.get("given_names") or []
        table.add_row(
            format_nhs_number(str(row["nhs_number"])),
            str(row.get("family_name") or ""),
            " ".join(str(g) for g in given) if isinstance(given, list) else "",
            str(row.get("gender") or ""),
            str(row.get("birth_date") or ""),
            str(row.get("postcode") or ""),
            str(row.get("scenario") or ""),
        )
    Console(markup=False, highlight=False).print(table)
