"""What a diagnosis returns: the layers, their exit codes, and each layer's verdict."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING

from smsp_cli.fastclasses import dataclass

if TYPE_CHECKING:
    from smsp_cli.transport.trace import Phase


class Layer(IntEnum):
    """The layers, in the order they are checked."""

    CONFIG = 1
    CERTIFICATE = 2
    DNS = 3
    TCP = 4
    TLS = 5
    HTTP = 6
    SMSP = 7  # PDS FHIR profiles: the PDS FHIR read (same exit code, 16)
    CLOCK = 8
    TOKEN = 9  # PDS FHIR only: signing in at the token URL (checked before layer 7)

    @property
    def title(self) -> str:
        """How the checklist names the layer."""
        return _TITLES[self]

    @property
    def key(self) -> str:
        """The layer's name in the JSON report."""
        return self.name.lower()

    @property
    def exit_code(self) -> int:
        """The process exit code when this layer fails: 10 to 18."""
        return 9 + int(self)


_TITLES = {
    Layer.CONFIG: "configuration",
    Layer.CERTIFICATE: "certificate and key",
    Layer.DNS: "DNS",
    Layer.TCP: "TCP connect",
    Layer.TLS: "TLS handshake",
    Layer.HTTP: "HTTP",
    Layer.SMSP: "SMSP",
    Layer.CLOCK: "clock",
    Layer.TOKEN: "token",
}

EXIT_CODE_MEANINGS: dict[int, str] = {
    0: "every layer passed (warnings allowed)",
    Layer.CONFIG.exit_code: "configuration: a setting is missing or invalid",
    Layer.CERTIFICATE.exit_code: (
        "certificate and key: unreadable, key does not match, expired or not yet valid, no CN"
    ),
    Layer.DNS.exit_code: "DNS: the endpoint's host name does not resolve",
    Layer.TCP.exit_code: "TCP connect: refused, timed out or no route",
    Layer.TLS.exit_code: (
        "TLS handshake: server certificate untrusted, expired or for another host name, client "
        "certificate refused, no common protocol, no answer, or not TLS at all"
    ),
    Layer.HTTP.exit_code: (
        "HTTP: no HTTP answer, or a status SOAP does not use (wrong path, redirect, access "
        "refused, gateway error)"
    ),
    Layer.SMSP.exit_code: (
        "SMSP: the reply is not a well-formed SMSP reply or SOAP fault, or is SMSP-0005 or "
        "fault 3000 (PDS FHIR: the read of "
        "the test patient failed, or was refused with 401 or 403)"
    ),
    Layer.CLOCK.exit_code: "clock: more than 60 s away from the server's clock",
    Layer.TOKEN.exit_code: (
        "token (PDS FHIR): the identity service refused the signed JWT, or the token URL "
        "gave no token"
    ),
}


class Status(StrEnum):
    """A check's verdict."""

    PASS = "pass"
    WARN = "warn"  # works, but needs attention
    FAIL = "fail"
    SKIP = "skipped"  # not checked: a layer below failed


@dataclass(frozen=True)
class Check:
    """One layer's verdict, the facts behind it and, when not a pass, the cause and next step."""

    layer: Layer
    status: Status
    summary: str
    facts: tuple[tuple[str, str], ...] = ()
    cause: str | None = None
    next_step: str | None = None
    started: float = 0.0  # seconds from the start of the diagnosis
    elapsed: float = 0.0
    sources: tuple[tuple[str, str], ...] = ()  # fact name -> where its value came from
    title: str | None = None  # instead of the layer's own (PDS FHIR: "signing key", "PDS FHIR")
    name: str | None = None  # instead of the layer's key in the JSON report

    @property
    def shown_title(self) -> str:
        """How the checklist names this check."""
        return self.title or self.layer.title

    @property
    def key(self) -> str:
        """The check's name in the JSON report."""
        return self.name or self.layer.key


@dataclass(frozen=True)
class Report:
    """Every layer's check, in order, and the timings of the SMSP call's phases."""

    endpoint: str | None
    checks: tuple[Check, ...]
    phases: tuple[Phase, ...] = ()  # the POST's own phases, in seconds from the diagnosis start
    total: float = 0.0
    # The effective settings: (key, value, where it came from), also when they do not resolve.
    settings: tuple[tuple[str, str, str], ...] = ()

    def source_of(self, key: str) -> str | None:
        """Where the effective value of ``key`` came from (``--endpoint``, a profile...)."""
        return next((source for name, _, source in self.settings if name == key), None)

    @property
    def failed(self) -> Check | None:
        """The failing check, if any (there is at most one: the climb stops there)."""
        return next((check for check in self.checks if check.status is Status.FAIL), None)

    @property
    def warnings(self) -> tuple[Check, ...]:
        """Checks that passed with a warning."""
        return tuple(check for check in self.checks if check.status is Status.WARN)

    @property
    def exit_code(self) -> int:
        """0 when every layer passed, else the failing layer's code."""
        failed = self.failed
        return failed.layer.exit_code if failed else 0


def fail(
    layer: Layer,
    summary: str,
    cause: str | None,
    next_step: str | None,
    facts: tuple[tuple[str, str], ...] = (),
) -> Check:
    """A failing check."""
    return Check(layer, Status.FAIL, summary, facts, cause=cause, next_step=next_step)


# The order each API's layers are climbed in.
SMSP_ORDER = (Layer.CONFIG, Layer.CERTIFICATE, Layer.DNS, Layer.TCP, Layer.TLS, Layer.HTTP,
              Layer.SMSP, Layer.CLOCK)
FHIR_ORDER = (Layer.CONFIG, Layer.CERTIFICATE, Layer.DNS, Layer.TCP, Layer.TLS, Layer.TOKEN,
              Layer.SMSP, Layer.CLOCK)
# What a PDS FHIR report calls the layers whose SMSP names do not fit: (title, JSON name).
FHIR_NAMES = {Layer.CERTIFICATE: ("signing key", "signing_key"), Layer.SMSP: ("PDS FHIR", "fhir")}


def skipped(failed: Layer, order: tuple[Layer, ...] = SMSP_ORDER,
            names: dict[Layer, tuple[str, str]] | None = None) -> list[Check]:
    """The layers climbed after a failed one, each marked as not checked."""
    titles = names or {}
    failed_title = titles.get(failed, (failed.title, ""))[0]
    later = order[order.index(failed) + 1:] if failed in order else ()
    return [
        Check(layer, Status.SKIP, f"not checked: {failed_title} failed",
              title=titles.get(layer, (None, None))[0], name=titles.get(layer, (None, None))[1])
        for layer in later
    ]
