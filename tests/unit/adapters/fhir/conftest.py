"""A FHIR profile with a fresh signing key, for the unit tests of one FHIR call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from smsp_cli.adapters.fhir import tokencache
from smsp_cli.settings.connection import ConnectionSettings, gather, resolve
from tests.lib.fhir_provider import ENDPOINT, TOKEN_URL


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("keys") / "signing.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    return path


@pytest.fixture
def settings(signing_key: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
             ) -> Iterator[ConnectionSettings]:
    monkeypatch.setenv("SMSP_DATA_DIR", str(tmp_path / "data"))
    tokencache.forget_process_tokens()
    yield resolve(gather({}, {}, {
        "api": "fhir", "endpoint": ENDPOINT, "api_key": "app-key", "token_url": TOKEN_URL,
        "signing_key": str(signing_key), "signing_key_id": "kid-7", "ods_code": "Y12345",
        "max_attempts": "3",
    }))
    tokencache.forget_process_tokens()
