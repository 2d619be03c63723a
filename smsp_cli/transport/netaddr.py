"""Host names and addresses, as ``-v`` traces and ``smsp doctor`` look them up and show them."""

from __future__ import annotations

import ipaddress
import socket
import threading


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


def resolve_within(host: str, port: int, timeout: float) -> tuple[str, ...]:
    """:func:`resolve`, giving up after ``timeout`` seconds (TimeoutError).

    getaddrinfo has no timeout of its own, so it runs in a daemon thread that is left behind
    if the resolver never answers; nothing else is shared with it.
    """
    if is_ip(host):
        return (host.strip("[]"),)
    answer: list[tuple[str, ...] | OSError] = []

    def lookup() -> None:
        try:
            answer.append(resolve(host, port))
        except OSError as exc:
            answer.append(exc)

    worker = threading.Thread(target=lookup, name="smsp-dns", daemon=True)
    worker.start()
    worker.join(max(timeout, 0.0))
    if not answer:
        raise TimeoutError(f"no DNS answer for {host} within {timeout:g}s")
    found = answer[0]
    if isinstance(found, OSError):
        raise found
    return found
