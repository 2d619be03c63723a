"""The envelope a lookup would send, built with nothing secret and no network (``--dry-run``).

A dry run sends nothing, so it needs no certificate, key, CA bundle, passphrase or endpoint.
What it cannot know becomes a visible placeholder in the envelope, which stays
well-formed XML: the endpoint in ``wsa:To``, the username taken from the client certificate's
CN, the audit identity. Settings that are present are used as a lookup would use them, except
that a CN locked behind a passphrase becomes a placeholder: a dry run never asks for one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from smsp_cli.settings.connection import Sourced, check_value

if TYPE_CHECKING:
    from smsp_cli.adapters.smsp.envelope import EnvelopeSettings

ENDPOINT_PLACEHOLDER = "[endpoint: not configured]"
USERNAME_PLACEHOLDER = "[username: from the client certificate's CN]"
AUDIT_ID_PLACEHOLDER = "[audit identity: not configured]"


def envelope_settings(values: Mapping[str, Sourced]) -> EnvelopeSettings:
    """What the envelope carries, from whatever settings there are."""
    from smsp_cli.adapters.smsp.envelope import EnvelopeSettings
    from smsp_cli.settings.identity import AuditId, parse_audit_identity

    endpoint = values.get("endpoint")
    if endpoint is not None:
        check_value("endpoint", endpoint)  # a wrong one is still wrong
    username = values.get("username")
    audit_id = values.get("audit_id")
    sender = values.get("sender_address")
    return EnvelopeSettings(
        endpoint=endpoint.value if endpoint is not None else ENDPOINT_PLACEHOLDER,
        # ITK-WS WS-SEC-02: Username carries the client certificate's Subject CN.
        username=username.value if username is not None else _common_name(values),
        audit_identity=(
            parse_audit_identity(audit_id.value)
            if audit_id is not None
            else (AuditId(AUDIT_ID_PLACEHOLDER, None),)
        ),
        sender_address=sender.value if sender is not None else None,
    )


def _common_name(values: Mapping[str, Sourced]) -> str:
    from smsp_cli.settings import clientcert

    cert = values.get("cert")
    if cert is None:
        return USERNAME_PLACEHOLDER
    key = values.get("key")
    name = clientcert.common_name_unlocked(
        Path(cert.value).expanduser(), Path(key.value).expanduser() if key is not None else None
    )
    return USERNAME_PLACEHOLDER if name is None else name
