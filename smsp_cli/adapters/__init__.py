"""The API adapters beneath the orchestrator, and the one small interface they share.

:mod:`smsp_cli.service` runs one call end to end (settings, audit, trace, retries, judgement)
whichever API answers it; an adapter knows only its API's wire. For each attempt the service
asks its adapter to:

1. :meth:`Adapter.build` the request for a validated query (fresh ids every attempt);
2. :meth:`Adapter.send` it through the shared transport (:class:`smsp_cli.transport.http.Session`:
   one TLS context, one deadline per attempt, bounded decoding, the trace hooks);
3. :meth:`Adapter.read` the answer into the domain's :class:`~smsp_cli.domain.results.Reply`,
   or raise the :class:`~smsp_cli.domain.errors.SmspError` it means.

The SMSP adapter is :mod:`smsp_cli.adapters.smsp.adapter`. Nothing here imports an adapter's wire
code, so choosing one costs nothing until it sends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    import datetime as dt

    from smsp_cli.domain.models import Query
    from smsp_cli.domain.results import Reply
    from smsp_cli.settings.connection import ConnectionSettings
    from smsp_cli.transport.http import HttpReply, Session
    from smsp_cli.transport.trace import Trace


class Request(Protocol):
    """One attempt's request, ready to send: the ids the audit trail and ``-v`` name it by."""

    @property
    def message_id(self) -> str:
        """The id this request goes under (SMSP: its wsa:MessageID)."""
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


class Adapter(Protocol[R]):
    """One API's wire: build a request, send it through the shared transport, read the reply."""

    def build(
        self,
        query: Query,
        settings: ConnectionSettings,
        *,
        username: str,
        now: dt.datetime | None = None,
    ) -> R:
        """The request for this query, stamped ``now``, sent on behalf of ``username``."""
        ...

    def send(
        self, session: Session, request: R, settings: ConnectionSettings, *, trace: Trace | None
    ) -> HttpReply:
        """Send ``request`` within the settings' timeouts; the answer, read within its bounds."""
        ...

    def read(self, query: Query, answer: HttpReply) -> Reply:
        """The domain's reply in ``answer``, or raise the SmspError it means."""
        ...


def for_settings(settings: ConnectionSettings) -> Adapter[Any]:
    """The adapter for the API these settings name (today every profile speaks SMSP)."""
    from smsp_cli.adapters.smsp.adapter import SMSP

    return SMSP
