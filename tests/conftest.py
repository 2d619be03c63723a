"""Shared fixtures: an isolated environment, and one real sandbox provider per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from smsp_cli.sandbox.certs import SandboxCredentials
    from smsp_cli.sandbox.fhir_server import FhirSandboxServer
    from smsp_cli.sandbox.server import SandboxServer
    from tests.lib.hostile import HostileProvider

# SMSP_TEST_REFERENCE moves it, so a test can see the suite as a clone of the project alone.
REFERENCE = Path(
    os.environ.get("SMSP_TEST_REFERENCE")
    or Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "smsp"
)
# Where the reference pack comes from, for the reason a test that needs it is skipped.
REFERENCE_ORIGIN = (
    "the SMSP reference pack (official schemas, example messages, Opentest test data), which "
    "lives beside the project checkout as ../shared/reference/smsp (see its SOURCES.md) and is "
    "never copied into the project; a clone of the project alone has none"
)


FUNCTIONAL = Path(__file__).resolve().parent / "functional"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/functional/ ``e2e``: ``pytest -m e2e`` selects them all."""
    for item in items:
        if item.path.is_relative_to(FUNCTIONAL):
            item.add_marker(pytest.mark.e2e)


def reference_path(relative: str = "") -> Path:
    """A file or folder of the reference pack; skips the calling test, saying why, if absent."""
    path = REFERENCE / relative
    if not path.exists():
        pytest.skip(f"needs {path}: {REFERENCE_ORIGIN}")
    return path


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the sandbox keeps its certificates for this test session (never the user's)."""
    return tmp_path_factory.mktemp("smsp-data")


@pytest.fixture(scope="session", autouse=True)
def isolated_session(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The same isolation for session- and module-scoped fixtures, which run before the
    per-test one below: no SMSP_* from the machine, never the user's data or config."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("SMSP_"):
                patch.delenv(name)
        patch.setenv("SMSP_DATA_DIR", str(data_dir))
        patch.setenv("SMSP_CONFIG_DIR", str(tmp_path_factory.mktemp("smsp-config")))
        yield


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, data_dir: Path, tmp_path: Path) -> None:
    """No SMSP_* setting leaks in from the machine; data and config live in temp folders."""
    for name in list(os.environ):
        if name.startswith("SMSP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SMSP_DATA_DIR", str(data_dir))
    monkeypatch.setenv("SMSP_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    # Retries keep their count but not their waiting; tests of the backoff inject their own.
    monkeypatch.setenv("SMSP_RETRY_BACKOFF", "0")


@pytest.fixture(scope="session")
def credentials(data_dir: Path) -> SandboxCredentials:
    """The sandbox CA, server and client certificates for this session."""
    from smsp_cli.sandbox.certs import ensure_credentials

    return ensure_credentials(data_dir / "sandbox")


@pytest.fixture(scope="session")
def sandbox(credentials: SandboxCredentials) -> Iterator[SandboxServer]:
    """One real mutual-TLS sandbox provider on 127.0.0.1 with the built-in patients."""
    from smsp_cli.sandbox.server import SandboxServer

    with SandboxServer(credentials) as server:
        yield server


@pytest.fixture
def sandbox_env(
    sandbox: SandboxServer, credentials: SandboxCredentials, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """SMSP_* variables pointing smsp at the session sandbox, set for this test."""
    from smsp_cli.sandbox.embedded import variables_for

    env = variables_for(sandbox.url, credentials)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture(scope="session")
def provider_credentials(
    credentials: SandboxCredentials, tmp_path_factory: pytest.TempPathFactory
) -> SandboxCredentials:
    """A provider that is not the sandbox: a server certificate from a CA of its own."""
    from tests.lib.foreign import provider_credentials as issued

    return issued(credentials, tmp_path_factory.mktemp("provider"))


@pytest.fixture(scope="module")
def fhir_sandbox(credentials: SandboxCredentials) -> Iterator[FhirSandboxServer]:
    """An embedded PDS FHIR sandbox for the module (a module may override it with options)."""
    from smsp_cli.sandbox.fhir_server import FhirSandboxServer

    with FhirSandboxServer(credentials) as server:
        yield server


@pytest.fixture
def fhir_env(fhir_sandbox: FhirSandboxServer, credentials: SandboxCredentials,
             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """SMSP_* variables for the FHIR sandbox; a fresh data dir, so no token is cached yet."""
    from smsp_cli.adapters.fhir import tokencache
    from smsp_cli.sandbox.embedded import fhir_settings_for
    from smsp_cli.settings.connection import KEYS

    tokencache.forget_process_tokens()
    monkeypatch.setenv("SMSP_DATA_DIR", str(tmp_path / "data"))
    values = fhir_settings_for(fhir_sandbox.url, fhir_sandbox.token_url, credentials)
    env = {KEYS[key][1]: value for key, value in values.items()}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture(scope="session")
def hostile_provider(provider_credentials: SandboxCredentials) -> Iterator[HostileProvider]:
    """One hostile provider (tests/hostile.py) on 127.0.0.1 for the session: not the sandbox."""
    from tests.lib.hostile import HostileProvider

    with HostileProvider(provider_credentials) as provider:
        yield provider


@pytest.fixture
def hostile(
    hostile_provider: HostileProvider, monkeypatch: pytest.MonkeyPatch
) -> HostileProvider:
    """The hostile provider, serving a good reply until told otherwise; smsp pointed at it."""
    from tests.lib.hostile_behaviours import ok_reply

    for name, value in hostile_provider.env().items():
        monkeypatch.setenv(name, value)
    return hostile_provider.serve(ok_reply())
