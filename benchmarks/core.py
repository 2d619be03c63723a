"""The core path of a lookup: build one envelope and parse one reply, for each operation.

    python benchmarks/core.py [--runs N] [--limit-us 300]

For each of the five operations a real reply is fetched once from the embedded sandbox over
mutual TLS. With the sandbox stopped, ``envelope.build_request`` (fresh ids and timestamp,
every check) and ``replies.parse_reply`` (the hardened parser, every check, the typed result)
are then timed together with timeit, in CPU time, as the median of N repeats of a batch.
Prints the figures and exits 1 when an operation's median is over the limit (300 µs).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import timeit
from pathlib import Path

QUERIES = {
    "verify": {"nhs_number": "9991000003", "dob": "1984-03-14"},
    "get": {"nhs_number": "9991000003", "dob": "1984-03-14"},
    "search": {"family": "Fairweather", "dob": "1984-03-14", "gender": "female"},
    "trace": {"family": "Fairweather", "dob": "1984-03-14", "gender": "female"},
    "details": {"nhs_number": "9991000003", "dob": "1984-03-14"},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="repeats per operation")
    parser.add_argument("--limit-us", type=float, default=300.0, help="target per operation")
    arguments = parser.parse_args()

    from smsp_cli.adapters.smsp.envelope import EnvelopeSettings, build_request
    from smsp_cli.adapters.smsp.replies import parse_reply
    from smsp_cli.domain import operations
    from smsp_cli.domain.models import build_query
    from smsp_cli.settings.identity import parse_audit_identity

    settings, replies = _sandbox_replies()
    envelope_settings = EnvelopeSettings(
        endpoint=settings.endpoint,
        username=settings.username or "",
        audit_identity=parse_audit_identity(settings.audit_id),
    )
    print(f"{'operation':10} {'reply bytes':>11} {'median µs':>10} {'best µs':>8}   "
          f"({arguments.runs} repeats, CPU time)")
    medians = {}
    for name, fields in QUERIES.items():
        query = build_query(operations.BY_COMMAND[name], **fields)
        body, content_type = replies[name]

        def build_and_parse(query=query, body=body, content_type=content_type):
            build_request(query, envelope_settings)
            parse_reply(200, body, expected=query.operation.reply, content_type=content_type)

        # CPU time: on a shared machine, time spent waiting for a core is not the code's cost.
        timer = timeit.Timer(build_and_parse, timer=time.process_time)
        batch, _ = timer.autorange()
        per_call = [seconds / batch for seconds in timer.repeat(arguments.runs, batch)]
        medians[name] = statistics.median(per_call) * 1e6
        print(f"{name:10} {len(body):11} {medians[name]:10.1f} {min(per_call) * 1e6:8.1f}")
    missed = 0
    for name, median in medians.items():
        verdict = "ok" if median <= arguments.limit_us else "MISSED"
        missed += verdict != "ok"
        print(f"target: {name} build + parse <= {arguments.limit_us:g} µs: {median:.1f} {verdict}")
    return 1 if missed else 0


def _sandbox_replies():  # -> (ConnectionSettings, {operation: (body, content type)})
    """One real reply per operation from the embedded sandbox, which is stopped afterwards."""
    from smsp_cli import service
    from smsp_cli.adapters.smsp.replies import parse_reply
    from smsp_cli.domain import operations
    from smsp_cli.domain.models import build_query
    from smsp_cli.sandbox.certs import ensure_credentials
    from smsp_cli.sandbox.embedded import settings_for
    from smsp_cli.sandbox.server import SandboxServer
    from smsp_cli.settings.connection import gather, resolve
    from smsp_cli.transport import http as transport

    credentials = ensure_credentials(Path(tempfile.mkdtemp(prefix="smsp-core-")) / "sandbox")
    replies = {}
    with SandboxServer(credentials) as server:
        values = settings_for(server.url, credentials) | {"username": credentials.client_cn}
        settings = resolve(gather({}, {}, values))
        context = transport.ssl_context(settings.ca_bundle, settings.cert, settings.key)
        for name, fields in QUERIES.items():
            query = build_query(operations.BY_COMMAND[name], **fields)
            request = service.prepare(query, settings)
            reply = transport.post(
                settings.endpoint,
                request.body,
                soap_action=request.soap_action,
                context=context,
                connect_timeout=10,
                read_timeout=30,
            )
            content_type = reply.headers.get("content-type")
            code = parse_reply(200, reply.body, content_type=content_type).response_code
            if code != "SMSP-0000":
                raise SystemExit(f"{name}: the sandbox answered {code}")
            replies[name] = (reply.body, content_type)
    return settings, replies


if __name__ == "__main__":
    sys.exit(main())
