"""Layers 3 and 4: where the endpoint is, whether its name resolves, whether it takes a call."""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import replace
from urllib.parse import urlsplit

from smsp_cli.diagnose.report import Check, Layer, Status, fail
from smsp_cli.fastclasses import dataclass
from smsp_cli.output.tracetext import format_seconds
from smsp_cli.transport.deadline import Deadline
from smsp_cli.transport.netaddr import hostport, is_ip, resolve_within


@dataclass(frozen=True)
class Target:
    """The endpoint URL, taken apart."""

    host: str
    port: int
    path: str
    netloc: str

    @classmethod
    def parse(cls, url: str) -> Target:
        """Split an https:// URL; ValueError if it has no host or a bad port."""
        parts = urlsplit(url)
        if not parts.hostname:
            raise ValueError(f"endpoint {url!r} has no host name")
        return cls(parts.hostname, parts.port or 443, parts.path or "/", parts.netloc)


# --- 3. DNS ------------------------------------------------------------------------------


def check_dns(host: str, port: int, *, timeout: float) -> tuple[Check, tuple[str, ...]]:
    """Resolve the endpoint's host, within ``timeout`` (getaddrinfo itself has none)."""
    if is_ip(host):
        return Check(Layer.DNS, Status.PASS, f"{host} is an IP address: no lookup needed"), (
            host.strip("[]"),
        )
    try:
        found = resolve_within(host, port, timeout)
    except TimeoutError:
        return fail(
            Layer.DNS,
            f"no DNS answer for {host} within {timeout:g} s",
            "the DNS servers configured here do not answer",
            "check the network and DNS settings; NHS endpoints resolve only on the VPN or HSCN",
        ), ()
    except OSError as exc:
        return _dns_failure(host, exc), ()
    return Check(
        Layer.DNS,
        Status.PASS,
        f"{host} resolves to {', '.join(found)}",
        (("addresses", ", ".join(found)),),
    ), found


def _dns_failure(host: str, error: OSError) -> Check:
    temporary = getattr(socket, "EAI_AGAIN", None)
    if error.errno == temporary:
        cause = "the DNS servers did not give an answer (a temporary failure)"
    else:
        cause = "DNS says the name does not exist"
    return fail(
        Layer.DNS,
        f"cannot resolve {host}: {error.strerror or error}",
        cause,
        "check the host name in the endpoint; NHS endpoints (Opentest, PTL, live) resolve only "
        "on the VPN or HSCN, with its DNS servers",
    )


# --- 4. TCP ------------------------------------------------------------------------------


def check_tcp(
    addresses: tuple[str, ...], port: int, *, timeout: float
) -> tuple[Check, tuple[str, int] | None]:
    """Connect to each address in turn; the first that accepts is used from here on.

    All the addresses together get ``timeout`` seconds, as a lookup's connect does.
    """
    failures: list[tuple[str, OSError]] = []
    limit = Deadline.after(timeout)
    for address in addresses:
        started = time.perf_counter()
        try:
            with socket.create_connection((address, port), timeout=limit.bound(timeout)):
                took = time.perf_counter() - started
        except OSError as exc:
            failures.append((address, exc))
            continue
        facts = [("connected", f"{hostport(address, port)} in {format_seconds(took)}")]
        facts += [("failed first", f"{hostport(a, port)}: {os_reason(e)}") for a, e in failures]
        return Check(
            Layer.TCP, Status.PASS, f"{hostport(address, port)} accepts connections", tuple(facts)
        ), (address, port)
    if not failures:
        return fail(Layer.TCP, "no address to connect to", None, None), None
    return _tcp_failure(failures, port, timeout), None


def _tcp_failure(failures: list[tuple[str, OSError]], port: int, timeout: float) -> Check:
    address, error = failures[-1]
    where = hostport(address, port)
    facts = tuple((hostport(a, port), os_reason(e)) for a, e in failures)
    if isinstance(error, ConnectionRefusedError):
        check = fail(
            Layer.TCP,
            f"connection to {where} refused",
            f"nothing listens on port {port} there (or a firewall rejects the connection)",
            "check the port in the endpoint, and that the provider is running",
        )
    elif isinstance(error, TimeoutError):
        check = fail(
            Layer.TCP,
            f"no answer from {where} within {timeout:g} s",
            "a firewall drops the packets, or the host is reachable only over the VPN or HSCN",
            "check the VPN/HSCN connection and firewall rules; raise --timeout if the link is slow",
        )
    else:
        check = fail(
            Layer.TCP,
            f"cannot connect to {where}: {os_reason(error)}",
            "there is no network route to the provider",
            "check the VPN/HSCN connection and routing",
        )
    return replace(check, facts=facts)


def os_reason(error: BaseException | None) -> str:
    """Why a socket operation failed, in a few words."""
    if error is None:
        return "unknown error"
    if isinstance(error, ssl.SSLError) and error.reason:
        return str(error.reason)
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
