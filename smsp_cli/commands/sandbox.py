"""``smsp sandbox``: run the embedded SMSP provider and list its synthetic patients."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from smsp_cli.cli.options import DataJsonOpt, DataOutputOpt, wants_json
from smsp_cli.cli.usage import SmspTyper
from smsp_cli.output.formats import DataFormat

if TYPE_CHECKING:
    from smsp_cli.sandbox.patients import SandboxPatient

app = SmspTyper(
    help="The embedded sandbox provider: real mutual TLS, synthetic patients.", no_args_is_help=True
)


def _patients(csv_path: Path | None) -> tuple[SandboxPatient, ...]:
    from smsp_cli.domain.errors import ConfigError
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
    api: Annotated[
        str,
        typer.Option("--api", metavar="API",
                     help="smsp (SOAP, mutual TLS) or fhir (PDS FHIR and its token service)."),
    ] = "smsp",
    output: Annotated[
        DataFormat,
        typer.Option("--output", "-o", case_sensitive=False,
                     help="table: NAME=value lines; json: one JSON object line."),
    ] = DataFormat.table,
    as_json: DataJsonOpt = False,
    lenient: Annotated[
        bool,
        typer.Option("--lenient",
                     help="Accept, with a warning line each, what third-party providers let "
                          "pass: a wsse:Username other than the certificate's CN, a charset "
                          "other than UTF-8, a SOAPAction other than wsa:Action."),
    ] = False,
) -> None:
    """Serve the sandbox provider over HTTPS until interrupted (--api fhir: PDS FHIR)."""
    from smsp_cli.settings.fhir import check_api

    in_json = wants_json(output, as_json)
    if check_api(api, "--api") == "fhir":
        _serve_fhir(host, port, _patients(patients_csv), in_json)
        return
    from smsp_cli.output.sandbox import request_log, say_listening, write_settings
    from smsp_cli.sandbox.certs import ensure_credentials
    from smsp_cli.sandbox.embedded import variables_for
    from smsp_cli.sandbox.paths import sandbox_dir
    from smsp_cli.sandbox.server import SandboxServer

    records = _patients(patients_csv)
    credentials = ensure_credentials(sandbox_dir())
    server = SandboxServer(credentials, host=host, port=port, patients=records,
                           on_request=request_log(), lenient=lenient)
    _warn_if_every_interface(host)
    with _listening(server, host, port):
        write_settings("smsp", server.url, variables_for(server.url, credentials), in_json)
        say_listening(f"sandbox provider listening on {server.url} with {len(records)} synthetic "
                      "patients; Ctrl-C stops it")
        server.serve_forever()


def _serve_fhir(
    host: str, port: int, records: tuple[SandboxPatient, ...], in_json: bool
) -> None:
    from smsp_cli.output.sandbox import say_listening, write_settings
    from smsp_cli.sandbox.certs import ensure_credentials
    from smsp_cli.sandbox.embedded import fhir_settings_for
    from smsp_cli.sandbox.fhir_server import FhirSandboxServer
    from smsp_cli.sandbox.paths import sandbox_dir
    from smsp_cli.settings.connection import KEYS

    credentials = ensure_credentials(sandbox_dir())
    server = FhirSandboxServer(credentials, host=host, port=port, patients=records)
    _warn_if_every_interface(host)
    with _listening(server, host, port):
        values = fhir_settings_for(server.url, server.token_url, credentials)
        write_settings("fhir", server.url,
                       {KEYS[key][1]: value for key, value in values.items()}, in_json)
        say_listening(f"PDS FHIR sandbox listening on {server.url} (token URL "
                      f"{server.token_url}) with {len(records)} synthetic patients; "
                      "Ctrl-C stops it")
        server.serve_forever()


def _warn_if_every_interface(host: str) -> None:
    from smsp_cli.system.streams import note

    if host in ("0.0.0.0", "::"):
        note(f"warning: --host {host} listens on every network interface, not only on this "
             "machine: anyone who can reach this port can call the sandbox")


@contextlib.contextmanager
def _listening(server: Any, host: str, port: int) -> Iterator[None]:
    """Start ``server``; an address in use or refused is a plain error (exit 6), not a crash."""
    import errno

    from smsp_cli.domain.errors import ConfigError

    try:
        server.start()
    except OSError as exc:
        where = f"port {port} on {host}"
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"{where} is already in use",
                              hint="stop what listens there, or pick another --port; "
                                   "--port 0 picks a free one") from None
        if exc.errno == errno.EACCES:
            raise ConfigError(f"{where} needs privileges smsp does not have",
                              hint="pick a port above 1023") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ConfigError(f"{host} is not an address of this machine",
                              hint="use --host 127.0.0.1") from None
        raise ConfigError(f"cannot listen on {where}: {exc.strerror or exc}") from None
    try:
        yield
    finally:
        server.stop()


@app.command("patients")
def list_patients(
    output: DataOutputOpt = DataFormat.table,
    as_json: DataJsonOpt = False,
    patients_csv: Annotated[
        Path | None,
        typer.Option(
            "--patients", metavar="FILE.csv", help="List the patients of this CSV instead."
        ),
    ] = None,
) -> None:
    """List the sandbox's synthetic patients and the outcome each one produces."""
    records = _patients(patients_csv)
    rows = [record.to_json() for record in records]
    if wants_json(output, as_json):
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return
    from smsp_cli.output.sandbox import print_patients
    from smsp_cli.sandbox.patients import SCENARIO_MEANINGS

    print_patients(rows, SCENARIO_MEANINGS)
