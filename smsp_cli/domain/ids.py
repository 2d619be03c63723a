"""The identifier form ITK uses everywhere: an upper-case DCE UUID (spec §5.3, COR-DEH-02)."""

from __future__ import annotations

import re
import uuid

UUID = "[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}"
UPPER_UUID = re.compile(f"^{UUID}$")


def new_uuid() -> str:
    """A fresh random UUID in upper case, as MessageID, trackingid and payload ids require."""
    return str(uuid.uuid4()).upper()
