"""The events an audit trail record can be (its ``event`` field): a public contract.

The trail writes them (:mod:`smsp_cli.audit.records`) and the audit table shows them
(:mod:`smsp_cli.output.audit`), so they live on the ground floor both can read.
"""

from __future__ import annotations

SENT = "sent"
RECEIVED = "received"
FAILED = "failed"
CONFIG = "config"
INTEGRITY = "integrity"
TOKEN = "token"  # PDS FHIR: a token request (token URL, outcome; never the token or the JWT)
