"""The built-in ``sandbox`` profile: an in-process provider on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smsp_cli.sandbox.certs import SandboxCredentials
    from smsp_cli.sandbox.server import RecordedRequest

# An ASID-shaped audit identity (all digits) for the sandbox; real ASIDs come from NHS
# endpoint registration (spec §7.1).
SANDBOX_AUDIT_ID = "999000000001"


@contextmanager
def running_sandbox() -> Iterator[dict[str, str]]:
    """Start the embedded provider and yield the profile values that point smsp at it."""
    from smsp_cli.sandbox.certs import ensure_credentials
    from smsp_cli.sandbox.paths import sandbox_dir
    from smsp_cli.sandbox.server import SandboxServer

    credentials = ensure_credentials(sandbox_dir())
    with SandboxServer(credentials, lenient=lenient_from_environment()) as server:
        try:
            yield settings_for(server.url, credentials)
        finally:
            _report_warnings(server.requests)


LENIENT_VARIABLE = "SMSP_SANDBOX_LENIENT"


def lenient_from_environment() -> bool:
    """``SMSP_SANDBOX_LENIENT=1``: the in-process sandbox bends the rules third-party providers
    bend (``smsp sandbox serve --lenient``); unset, empty or 0, it is strict."""
    import os

    from smsp_cli.domain.errors import ConfigError

    value = os.environ.get(LENIENT_VARIABLE, "").strip().lower()
    if value in {"", "0", "false", "no"}:
        return False
    if value in {"1", "true", "yes"}:
        return True
    raise ConfigError(f"{LENIENT_VARIABLE} must be 1 (lenient) or 0 (strict), not {value[:20]!r}")


def _report_warnings(requests: list[RecordedRequest]) -> None:
    """The sandbox's warning lines (rules it let pass), reported once the lookup is done: the
    command line shows each as ``smsp: sandbox: warning: ...``."""
    from smsp_cli.domain.notices import Notice, report

    for request in requests:
        for text in request.warnings:
            report(Notice(f"sandbox: warning: {text}"))


def settings_for(url: str, credentials: SandboxCredentials) -> dict[str, str]:
    """The connection settings, by setting name, that reach a sandbox at ``url``."""
    return {
        "endpoint": url,
        "cert": str(credentials.client_cert),
        "key": str(credentials.client_key),
        "ca_bundle": str(credentials.ca_cert),
        "audit_id": SANDBOX_AUDIT_ID,
        "kind": "sandbox",
    }


def variables_for(url: str, credentials: SandboxCredentials) -> dict[str, str]:
    """The same settings as the SMSP_* environment variables (what ``sandbox serve`` prints)."""
    from smsp_cli.settings.connection import KEYS

    return {KEYS[key][1]: value for key, value in settings_for(url, credentials).items()}


@contextmanager
def running_fhir_sandbox() -> Iterator[dict[str, str]]:
    """Start the embedded PDS FHIR provider; yield the profile values that point smsp at it."""
    from smsp_cli.sandbox.certs import ensure_credentials
    from smsp_cli.sandbox.fhir_server import FhirSandboxServer
    from smsp_cli.sandbox.paths import sandbox_dir

    credentials = ensure_credentials(sandbox_dir())
    with FhirSandboxServer(credentials) as server:
        yield fhir_settings_for(server.url, server.token_url, credentials)


def fhir_settings_for(url: str, token_url: str, credentials: SandboxCredentials
                      ) -> dict[str, str]:
    """The PDS FHIR settings, by setting name, that reach a FHIR sandbox at ``url``."""
    from smsp_cli.sandbox.fhir_server import API_KEY, KEY_ID, SIGNING_KEY_FILE

    return {
        "api": "fhir",
        "endpoint": url,
        "token_url": token_url,
        "api_key": API_KEY,
        "signing_key": str(credentials.directory / SIGNING_KEY_FILE),
        "signing_key_id": KEY_ID,
        "ca_bundle": str(credentials.ca_cert),
        "kind": "sandbox",
    }
