"""A loopback port where nothing listens: connecting to it is refused at once."""

from __future__ import annotations

import socket


def closed_port() -> int:
    """A port the kernel just handed out and took back (nothing listens on it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def closed_url() -> str:
    """An SMSP endpoint on :func:`closed_port`."""
    return f"https://127.0.0.1:{closed_port()}/smsp/pds"
