"""The identifier form ITK uses everywhere: an upper-case DCE UUID (spec §5.3, COR-DEH-02).

Every request carries several fresh random (version 4) UUIDs: a `get` envelope four, a PDS
FHIR read one. ``uuid.uuid4()`` asks the kernel for 16 bytes each time (one ``getrandom``
system call, which releases the GIL: in a batch, each one is a chance for a hand-off between
its threads). The ids here are the same version 4 UUIDs, drawn from the same source
(``os.urandom``), but the bytes are fetched a block at a time and handed out 16 by 16, each
exactly once. A forked child starts with an empty pool, so it never repeats its parent's ids.
"""

from __future__ import annotations

import os
import re
import threading

UUID = "[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}"
UPPER_UUID = re.compile(f"^{UUID}$")

_UUID_BYTES = 16
_BLOCK_BYTES = 256 * _UUID_BYTES  # one getrandom for 256 ids
# RFC 4122 §4.4: the version (4) in the high nibble of octet 6, the variant (10x) in octet 8.
_VERSION_MASK = ~(0xF000 << 64) & ~(0xC000 << 48)
_VERSION_4 = (0x4000 << 64) | (0x8000 << 48)


class _RandomBytes:
    """os.urandom bytes fetched a block at a time, each handed out once, from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._block = b""
        self._next = 0

    def take(self, size: int) -> bytes:
        with self._lock:
            start = self._next
            if start + size > len(self._block):
                self._block, start = os.urandom(_BLOCK_BYTES), 0
            self._next = start + size
            return self._block[start : start + size]

    def forget(self) -> None:
        """Drop what is left (in a forked child: those bytes are its parent's ids too)."""
        self._lock = threading.Lock()  # a thread of the parent may have held it at the fork
        self._block, self._next = b"", 0


_POOL = _RandomBytes()
if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_POOL.forget)


def random_uuid() -> str:
    """A fresh random (version 4) UUID in its canonical lower-case form, as str(uuid4())."""
    return _formatted(f"{_random_value():032x}")


def new_uuid() -> str:
    """A fresh random UUID in upper case, as MessageID, trackingid and payload ids require."""
    return _formatted(f"{_random_value():032X}")


def _random_value() -> int:
    return int.from_bytes(_POOL.take(_UUID_BYTES), "big") & _VERSION_MASK | _VERSION_4


def _formatted(digits: str) -> str:
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
