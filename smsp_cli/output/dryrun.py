"""``--dry-run``: the request a lookup would send, pretty on stdout, and one line on stderr."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from smsp_cli.untrusted.sanitize import visible

if TYPE_CHECKING:
    from smsp_cli.adapters.fhir.requests import FhirRequest
    from smsp_cli.adapters.smsp.envelope import BuiltRequest


def show(request: BuiltRequest, endpoint: str) -> None:
    """The envelope, indented, on stdout; on stderr, that nothing was sent and where it would go."""
    sys.stdout.write(_pretty(request.body))
    sys.stdout.flush()
    # A plain line, sanitised: written directly rather than loading rich to write it as is.
    sys.stderr.write(
        f"dry run: nothing sent to {visible(endpoint)} (SOAPAction {request.soap_action})\n"
    )
    sys.stderr.flush()


def _pretty(body: bytes) -> str:
    from lxml import etree

    from smsp_cli.adapters.smsp import xmlsafe

    root = xmlsafe.parse(body)
    etree.indent(root)
    text = etree.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n"


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
