"""Host names and addresses, as ``-v`` traces and ``smsp doctor`` look them up and show them."""

from __future__ import annotations

import ipaddress
import socket


def is_ip(host: str) -> bool:
    """True for an IPv4 or IPv6 address literal (brackets allowed)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def hostport(host: str, port: int) -> str:
    """``host:port``, with an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def resolve(host: str, port: int) -> tuple[str, ...]:
    """The host's TCP addresses, in the resolver's order without repeats; OSError if none."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return tuple(dict.fromkeys(str(entry[4][0]) for entry in found))
