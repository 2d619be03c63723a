"""``smsp doctor``'s checks: climb the connection layer by layer and stop at the first failure.

1. configuration    every setting present and valid
2. certificate      our certificate and key: readable, matching, in date, chain, CN vs username
3. DNS              the endpoint's host name resolves
4. TCP              something accepts connections on the port
5. TLS              the handshake: server certificate, host name, our certificate accepted
6. HTTP             the POST gets an HTTP answer on a status SOAP uses (200, or 500 for faults)
7. SMSP             the answer is a well-formed business reply or SOAP fault
8. clock            our clock against the server's Date header (timestamps live 10 minutes)

Every check returns a :class:`Check`; nothing here prints. A failing layer stops the climb,
because each layer needs the one below it, and the layers above are reported as skipped. Each
failing layer has its own exit code (:data:`EXIT_CODE_MEANINGS`, documented in the README).

Layers 1-2 live in :mod:`.local`, 3-4 in :mod:`.network`, 5 in :mod:`.tls` (and
:mod:`.tls_failure`), 6-7 in :mod:`.soap`, 8 in :mod:`.clock`; :mod:`.climb` runs them and
:mod:`.report` holds the types. Nothing heavy (cryptography, httpx, lxml) is imported until a
check runs.
"""

from smsp_cli.diagnose.climb import diagnose, diagnose_settings
from smsp_cli.diagnose.clock import Clock, utc_now
from smsp_cli.diagnose.network import Target
from smsp_cli.diagnose.report import EXIT_CODE_MEANINGS, Check, Layer, Report, Status
from smsp_cli.diagnose.soap import probe_query
from smsp_cli.diagnose.tls import check_tls

__all__ = [
    "EXIT_CODE_MEANINGS",
    "Check",
    "Clock",
    "Layer",
    "Report",
    "Status",
    "Target",
    "check_tls",
    "diagnose",
    "diagnose_settings",
    "probe_query",
    "utc_now",
]
