"""When and how often a failed SMSP call is tried again (spec §5.7, §5.9).

Retried, a bounded number of times with exponential backoff and full jitter:

* a connect error or timeout (ITK COR-REL-02 / WS-REL-02: the client MAY retry when no
  response arrives) and a connection dropped mid-exchange;
* HTTP 502, 503 and 504 without a SOAP fault: a gateway or a busy provider;
* SOAP fault 2100, "Processing Error (Retryable)" (ToolkitSOAPErrorCodes).

Never retried: faults 1000 (the message is wrong), 2200 (not retryable) and 3000 (access
denied), any other HTTP status, TLS and certificate failures (a TLS alert refusing our client
certificate included), broken or oversized HTTP framing, and every business response code
(SMSP-0004 included: the provider already answered). The PDS operations are read-only, so a
retry is safe; each attempt is a new message with a fresh MessageID, trackingid and timestamp
(spec §5.9), which the caller builds.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import field

from smsp_cli.domain.errors import SmspError
from smsp_cli.fastclasses import dataclass

RETRYABLE_HTTP_STATUSES = frozenset({502, 503, 504})
RETRYABLE_FAULT_CODES = frozenset({"2100"})
DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF = 0.5  # seconds: the ceiling of the first wait
MAX_BACKOFF = 8.0  # seconds: the ceiling of any one wait


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, and how long to wait between them (sleep and random injectable)."""

    attempts: int = DEFAULT_ATTEMPTS
    backoff: float = DEFAULT_BACKOFF
    max_backoff: float = MAX_BACKOFF
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    random: Callable[[], float] = field(default=random.random, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.backoff < 0 or self.max_backoff < 0:
            raise ValueError("backoff must not be negative")

    def delay(self, failed_attempt: int) -> float:
        """Seconds to wait after attempt number ``failed_attempt`` (1-based) failed.

        Full jitter: uniform in [0, min(max_backoff, backoff * 2**(n-1))], so many clients
        retrying a busy provider spread out instead of arriving together.
        """
        ceiling = min(self.max_backoff, self.backoff * 2.0 ** (failed_attempt - 1))
        return float(ceiling * self.random())

    def should_retry(self, error: SmspError, attempt: int, http_status: int | None) -> bool:
        """True when ``attempt`` failed with a retryable ``error`` and attempts remain."""
        return attempt < self.attempts and is_retryable(error, http_status)


def is_retryable(error: SmspError, http_status: int | None = None) -> bool:
    """Whether this failure may pass if the same request is sent again as a new message."""
    from smsp_cli.transport.http import TransientNetworkError

    if error.fault is not None:
        # The fault's code decides, whatever the HTTP status it came on.
        return error.fault.error_code in RETRYABLE_FAULT_CODES
    if isinstance(error, TransientNetworkError):
        return True
    return http_status in RETRYABLE_HTTP_STATUSES


@dataclass(frozen=True)
class AttemptEvent:
    """One attempt, for -v and the local record: which message, and what became of it."""

    number: int
    attempts: int
    message_id: str
    tracking_id: str
    failure: str | None = None  # the one-line error, when the attempt failed
    retry_in: float | None = None  # seconds before the next attempt, when there is one
    http_status: int | None = None  # the status that failed it, when one did (429: slow down)

    def describe(self) -> str:
        """A line for stderr with -v (ids only: no patient data)."""
        head = f"attempt {self.number}/{self.attempts}: MessageID {self.message_id}"
        if self.failure is None:
            return f"{head} answered"
        if self.retry_in is None:
            return f"{head} failed: {self.failure}"
        return f"{head} failed: {self.failure}; retrying in {self.retry_in:.2f}s"
