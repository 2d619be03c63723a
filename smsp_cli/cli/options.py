"""Options shared by every lookup command, declared once.

``lookup_options`` appends the connection and output options to a command's signature and
hands the command two small bundles instead of a dozen parameters.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any

import typer

from smsp_cli.cli.completion import profile_names

# Declared without Typer (a plain lookup command line builds them too); named here as before.
from smsp_cli.cli.settingflags import ConnectionOptions as ConnectionOptions
from smsp_cli.cli.settingflags import OutputOptions as OutputOptions
from smsp_cli.output.formats import DataFormat, OutputFormat

CONNECTION_PANEL = "Connection"
TUNING_PANEL = "Provider tuning"
OUTPUT_PANEL = "Output"


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


def connection_option(
    flag: str, variable: str, text: str, metavar: str, **extra: Any
) -> Any:
    """A connection flag in the Connection help panel, its variable named in its help."""
    return typer.Option(
        flag,
        help=f"{text} (env {variable})",
        metavar=metavar,
        rich_help_panel=CONNECTION_PANEL,
        **extra,
    )


_CONNECTION_PARAMETERS: dict[str, Any] = {
    "profile": Annotated[
        str | None,
        connection_option(
            "--profile",
            "SMSP_PROFILE",
            "Connection profile ('sandbox' = embedded provider).",
            "NAME",
            autocompletion=profile_names,
        ),
    ],
    "endpoint": Annotated[
        str | None,
        connection_option("--endpoint", "SMSP_ENDPOINT", "Provider URL (https://...).", "URL")
    ],
    "cert": Annotated[
        str | None,
        connection_option(
            "--cert", "SMSP_CERT", "Client certificate: PEM, or PKCS#12 (.p12/.pfx).", "FILE",
        ),
    ],
    "key": Annotated[
        str | None,
        connection_option(
            "--key", "SMSP_KEY", "Client private key (PEM); none with PKCS#12.", "FILE",
        ),
    ],
    "ca_bundle": Annotated[
        str | None,
        connection_option(
            "--ca-bundle", "SMSP_CA_BUNDLE", "CA certificates that sign the provider (PEM).", "FILE"
        ),
    ],
    "audit_id": Annotated[
        str | None,
        connection_option(
            "--audit-id",
            "SMSP_AUDIT_ID",
            "Audit identity: an ASID (digits) or urn:nhs-uk:identity:...",
            "ID",
        ),
    ],
    "username": Annotated[
        str | None,
        connection_option(
            "--username",
            "SMSP_USERNAME",
            "wsse:Username (default: the client certificate's CN).",
            "NAME",
        ),
    ],
    "timeout": Annotated[
        str | None,
        connection_option(
            "--timeout", "SMSP_TIMEOUT", "Connect and read timeout in seconds.", "SECONDS",
        ),
    ],
    "api": Annotated[
        str | None,
        connection_option(
            "--api", "SMSP_API", "smsp (SOAP, the default) or fhir (PDS FHIR).", "API"
        ),
    ],
    "signing_key": Annotated[
        str | None,
        connection_option(
            "--signing-key", "SMSP_SIGNING_KEY", "PDS FHIR: RSA private key that signs (PEM).",
            "FILE",
        ),
    ],
    "signing_key_id": Annotated[
        str | None,
        connection_option(
            "--signing-key-id", "SMSP_SIGNING_KEY_ID", "PDS FHIR: the key's id (JWT kid).", "KID"
        ),
    ],
    "passphrase_file": Annotated[
        str | None,
        typer.Option(
            "--passphrase-file",
            metavar="FILE",
            help="Read the key or PKCS#12 passphrase from this file (never from argv).",
            rich_help_panel=CONNECTION_PANEL,
        ),
    ],
    "no_input": Annotated[
        bool,
        typer.Option(
            "--no-input", help="Never prompt; fail instead.", rich_help_panel=CONNECTION_PANEL
        ),
    ],
}


def _tuning(flag: str, variable: str, text: str, metavar: str) -> Any:
    return typer.Option(
        flag, help=f"{text} (env {variable})", metavar=metavar, rich_help_panel=TUNING_PANEL
    )


_CONNECTION_PARAMETERS.update(
    {
        "kind": Annotated[
            str | None,
            _tuning(
                "--kind", "SMSP_KIND", "live, test or sandbox: how results are labelled.", "KIND"
            ),
        ],
        "sender_address": Annotated[
            str | None,
            _tuning("--from", "SMSP_FROM", "wsa:From address to send (optional).", "ADDRESS"),
        ],
        "soap_action_quoted": Annotated[
            bool | None,
            typer.Option(
                "--soap-action-quoted/--no-soap-action-quoted",
                help="Quote SOAPAction (default unquoted). (env SMSP_SOAP_ACTION_QUOTED)",
                rich_help_panel=TUNING_PANEL,
                show_default=False,
            ),
        ],
        "connect_timeout": Annotated[
            str | None,
            _tuning(
                "--connect-timeout",
                "SMSP_CONNECT_TIMEOUT",
                "Connect timeout in seconds.",
                "SECONDS",
            ),
        ],
        "read_timeout": Annotated[
            str | None,
            _tuning("--read-timeout", "SMSP_READ_TIMEOUT", "Read timeout in seconds.", "SECONDS"),
        ],
        "min_tls_version": Annotated[
            str | None,
            _tuning(
                "--min-tls-version",
                "SMSP_MIN_TLS_VERSION",
                "Lowest TLS version: 1.2 or 1.3.",
                "VER",
            ),
        ],
        "max_attempts": Annotated[
            str | None,
            _tuning("--max-attempts", "SMSP_MAX_ATTEMPTS", "Attempts for retryable failures.", "N"),
        ],
        "retry_backoff": Annotated[
            str | None,
            _tuning(
                "--retry-backoff", "SMSP_RETRY_BACKOFF", "First retry delay in seconds.", "SECONDS"
            ),
        ],
        "token_url": Annotated[
            str | None,
            _tuning("--token-url", "SMSP_TOKEN_URL", "PDS FHIR: token URL (default by endpoint).",
                    "URL"),
        ],
        "ods_code": Annotated[
            str | None,
            _tuning("--ods-code", "SMSP_ODS_CODE", "PDS FHIR: your organisation's ODS code.",
                    "CODE"),
        ],
    }
)
_CONNECTION_DEFAULTS: dict[str, Any] = dict.fromkeys(_CONNECTION_PARAMETERS)
_CONNECTION_DEFAULTS["no_input"] = False

_OUTPUT_PARAMETERS: dict[str, Any] = {
    "output": Annotated[
        OutputFormat,
        typer.Option(
            "--output",
            "-o",
            help="table for people, json or xml for scripts.",
            rich_help_panel=OUTPUT_PANEL,
            case_sensitive=False,
        ),
    ],
    "as_json": Annotated[
        bool, typer.Option("--json", help="Same as --output json.", rich_help_panel=OUTPUT_PANEL)
    ],
    "dry_run": Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Print the envelope that would be sent; send nothing.",
            rich_help_panel=OUTPUT_PANEL,
        ),
    ],
    "verbose": Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            help="Show phase timings, headers and redacted envelopes on stderr.",
            rich_help_panel=OUTPUT_PANEL,
        ),
    ],
    "trace_file": Annotated[
        str | None,
        typer.Option(
            "--trace-file",
            metavar="FILE",
            help="Write the full exchange to FILE (mode 0600).",
            rich_help_panel=OUTPUT_PANEL,
        ),
    ],
    "reveal": Annotated[
        bool,
        typer.Option(
            "--reveal",
            help="Do not redact patient data in -v output and traces.",
            rich_help_panel=OUTPUT_PANEL,
        ),
    ],
}
_OUTPUT_DEFAULTS: dict[str, Any] = {
    "output": OutputFormat.table,
    "as_json": False,
    "dry_run": False,
    "verbose": 0,
    "trace_file": None,
    "reveal": False,
}


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
    signature = inspect.signature(command, eval_str=True)
    own = [p for name, p in signature.parameters.items() if name != "conn"]
    extra = _keyword_parameters(_CONNECTION_PARAMETERS, _CONNECTION_DEFAULTS)

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        conn = ConnectionOptions(**{name: kwargs.pop(name) for name in _CONNECTION_PARAMETERS})
        command(*args, conn=conn, **kwargs)

    return with_parameters(wrapper, signature, own, extra)
