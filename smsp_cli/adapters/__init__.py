"""The API adapters beneath the orchestrator, and the one small interface they share.

:mod:`smsp_cli.service` runs one call end to end (settings, audit, trace, retries, correlation,
judgement) whichever API answers it; an adapter knows only its API's wire. For each call the
service asks its adapter to:

1. :meth:`Adapter.open_session` (one TLS context and pool, shared by many calls) and name the
   :meth:`Adapter.sender`; before a batch or a dry run, :meth:`Adapter.load_credentials` reads
   what authorising will need (a passphrase asked once), so a bad key is found before any row;
2. :meth:`Adapter.authorise` the exchange (SMSP: nothing; PDS FHIR: a bearer token, signed in
   for when none is cached), and, when the provider refuses it, :meth:`Authorisation.renew`
   it once;
3. :meth:`Adapter.build` the call's request for a validated query, and for each retry
   :meth:`Adapter.again` (SMSP: a new message with fresh ids, spec §5.9; PDS FHIR: the same
   request under the same X-Request-ID, as the API asks);
4. :meth:`Adapter.send` it through the shared transport (:class:`smsp_cli.transport.http.Session`:
   one deadline per attempt, bounded decoding, the trace hooks);
5. :meth:`Adapter.read` the answer into a :class:`Reading` (the domain's
   :class:`~smsp_cli.domain.results.Reply` and what the API adds), or raise the
   :class:`~smsp_cli.domain.errors.SmspError` it means; :meth:`Adapter.retry_wait` says whether
   and when a failed attempt is tried again;
6. follow a reading's :attr:`Reading.follow_up`, a second exchange the answer asks for (PDS
   FHIR's read of a search's one match), as one more exchange of the same call.

The adapters are :mod:`smsp_cli.adapters.smsp.adapter` and :mod:`smsp_cli.adapters.fhir.adapter`.
Nothing here imports an adapter's wire code, so choosing one costs nothing until it sends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from smsp_cli.fastclasses import dataclass

if TYPE_CHECKING:
    import datetime as dt

    import httpx

    from smsp_cli.domain.errors import SmspError
    from smsp_cli.domain.models import Query
    from smsp_cli.domain.results import FhirExchange, Reply
    from smsp_cli.settings.connection import ConnectionSettings
    from smsp_cli.transport.http import HttpReply, Session
    from smsp_cli.transport.retry import RetryPolicy
    from smsp_cli.transport.trace import Trace


class Request(Protocol):
    """One attempt's request, ready to send: the ids the audit trail and ``-v`` name it by."""

    @property
    def message_id(self) -> str:
        """The id this request goes under (SMSP: its wsa:MessageID; PDS FHIR: X-Request-ID)."""
        ...

    @property
    def tracking_id(self) -> str:
        """The id the provider's support staff trace it by (SMSP: the ITK trackingid)."""
        ...

    @property
    def body(self) -> bytes:
        """The bytes it sends (empty for a request without a body)."""
        ...


R = TypeVar("R", bound=Request)

TokenEvent = Callable[[Mapping[str, Any]], None]
"""Hears of each sign-in attempt, for the audit trail's ``token`` record (never the token)."""


class Authorisation(Protocol):
    """What lets one exchange through: nothing for SMSP, a bearer token for PDS FHIR."""

    def headers(self) -> Mapping[str, str]:
        """The headers that carry it (none for SMSP)."""
        ...

    def renew(self, error: SmspError) -> bool:
        """After ``error``: True when it meant the authorisation was refused and a new one is
        now held (at most once an exchange), so the same request is sent once more."""
        ...


@dataclass(frozen=True)
class Reading:
    """One answer read: the domain's reply, and what the API adds to the outcome."""

    reply: Reply  # what the judgement and the correlation rule work from
    message_id: str  # the id of the request the outcome is under
    recorded: Reply | None = None  # what the trail records of this answer (default: reply)
    recorded_fields: Mapping[str, Any] | None = None  # what the API adds to that record
    warnings: tuple[tuple[str, str], ...] = ()  # (code, text) beyond the response code's
    fhir: FhirExchange | None = None  # PDS FHIR: the JSON's ``fhir`` object
    server_certificate: bytes | None = field(default=None, repr=False)  # who answered (DER)
    follow_up: Request | None = None  # a second exchange this answer asks for
    message_ids: tuple[str, ...] = field(default=())  # every attempt's id (the service's)


class Adapter(Protocol[R]):
    """One API's wire: authorise, build a request, send it through the shared transport, read."""

    api: str  # smsp | fhir: the JSON's and the audit trail's "api"

    def open_session(
        self, settings: ConnectionSettings, *, transport: httpx.BaseTransport | None,
        max_connections: int,
    ) -> Session:
        """One TLS context and pool for these settings, its credentials loaded once."""
        ...

    def sender(self, settings: ConnectionSettings, session: Session | None) -> str:
        """Who the calls are sent on behalf of, as the audit trail names them."""
        ...

    def load_credentials(self, settings: ConnectionSettings) -> None:
        """Load now what authorising will need (a passphrase asked once), or raise ConfigError."""
        ...

    def authorise(
        self, settings: ConnectionSettings, session: Session, *, policy: RetryPolicy,
        on_token: TokenEvent,
    ) -> Authorisation:
        """What lets this call's next exchange through (signing in when needed)."""
        ...

    def build(
        self,
        query: Query,
        settings: ConnectionSettings,
        *,
        username: str,
        now: dt.datetime | None = None,
    ) -> R:
        """The call's first request for this query, stamped ``now``, for ``username``."""
        ...

    def again(self, request: R, query: Query, settings: ConnectionSettings, *,
              username: str) -> R:
        """The request of the attempt after ``request`` failed."""
        ...

    def send(
        self, session: Session, request: R, settings: ConnectionSettings, *,
        trace: Trace | None, authorisation: Authorisation,
    ) -> HttpReply:
        """Send ``request`` within the settings' timeouts; the answer, read within its bounds."""
        ...

    def read(self, query: Query, request: R, answer: HttpReply, *,
             before: Reading | None) -> Reading:
        """What ``answer`` says, or raise the SmspError it means; ``before`` is the reading
        whose :attr:`Reading.follow_up` ``request`` is."""
        ...

    def retry_wait(self, error: SmspError, attempt: int, http_status: int | None,
                   policy: RetryPolicy) -> float | None:
        """Seconds to wait before trying again after attempt ``attempt`` failed; None: not."""
        ...


def for_settings(settings: ConnectionSettings) -> Adapter[Any]:
    """The adapter for the API these settings name."""
    if settings.api == "fhir":
        from smsp_cli.adapters.fhir.adapter import FHIR

        return FHIR
    from smsp_cli.adapters.smsp.adapter import SMSP

    return SMSP
