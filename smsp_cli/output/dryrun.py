"""``--dry-run``: the request a lookup would send, on stdout, and one line on stderr."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from smsp_cli.untrusted.sanitize import visible

if TYPE_CHECKING:
    from smsp_cli.adapters.fhir.requests import FhirRequest
    from smsp_cli.adapters.smsp.envelope import BuiltRequest


def show(request: BuiltRequest, endpoint: str) -> None:
    """The envelope on stdout, byte for byte as a send would put it on the wire (ids and times
    aside: a send makes its own); on stderr, that nothing was sent and where it would go."""
    sys.stdout.flush()
    out = getattr(sys.stdout, "buffer", None)
    if out is None:  # a text-only stream (a test runner's): the body is UTF-8, so no change
        sys.stdout.write(request.body.decode("utf-8"))
    else:
        out.write(request.body)
        out.flush()
    sys.stdout.flush()
    # A plain line, sanitised: written directly rather than loading rich to write it as is.
    sys.stderr.write(
        f"dry run: nothing sent to {visible(endpoint)} (SOAPAction {request.soap_action})\n"
    )
    sys.stderr.flush()


def show_http(requests: list[FhirRequest]) -> None:
    """Each PDS FHIR request as it would go: method, URL and headers (no token is asked for)."""
    from urllib.parse import urlencode

    from smsp_cli.adapters.fhir.requests import NOT_REQUESTED

    blocks = []
    for request in requests:
        query = f"?{urlencode(request.params)}" if request.params else ""
        lines = [f"{request.method} {request.url}{query}"]
        lines += [f"{name}: {value}" for name, value in request.headers(NOT_REQUESTED).items()]
        blocks.append("\n".join(visible(line) for line in lines))
    sys.stdout.write("\n\n".join(blocks) + "\n")
    sys.stdout.flush()
    host = requests[0].url.split("/")[2] if requests else ""
    count = "request" if len(requests) == 1 else f"{len(requests)} requests"
    sys.stderr.write(f"dry run: nothing sent to {visible(host)} (the {count} above; "
                     "no token asked for)\n")
    sys.stderr.flush()
