"""Certificates for a provider that is not the embedded sandbox, as every real one is not.

Its server certificate comes from a CA of its own, so nothing it sends can make its answers
look like the sandbox's (only a certificate from the sandbox CA in smsp's data directory
does). It still takes the sandbox's client certificate, so smsp reaches it with the sandbox's
settings and a CA bundle that also trusts the provider's CA.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from smsp_cli.sandbox.certs import (
    SERVER_CN,
    SERVER_SANS,
    SandboxCredentials,
    issue_cert,
    make_ca,
    write_atomically,
)

PROVIDER_CA_CN = "a test provider's CA"


def provider_credentials(sandbox: SandboxCredentials, directory: Path) -> SandboxCredentials:
    """The sandbox's set with the server certificate replaced by one from another CA.

    ``ca_cert`` becomes a bundle of both CAs: the provider checks client certificates against
    it, and smsp, given it as its CA bundle, verifies the provider's certificate with it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    ca = make_ca(PROVIDER_CA_CN)
    server = issue_cert(ca, SERVER_CN, server=True, sans=SERVER_SANS)
    bundle = directory / "bundle.pem"
    write_atomically(bundle, sandbox.ca_cert.read_bytes() + ca.cert_pem, private=False)
    server.write(directory / "server.pem", directory / "server-key.pem")
    return replace(sandbox, directory=directory, ca_cert=bundle,
                   server_cert=directory / "server.pem", server_key=directory / "server-key.pem")
