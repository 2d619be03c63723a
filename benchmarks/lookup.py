"""One lookup over mutual TLS: smsp against curl sending the same envelope, same sandbox, same run.

    python benchmarks/lookup.py [--runs N]

Starts the embedded sandbox provider once on 127.0.0.1, then times N sequential lookups as
(a) `curl` POSTing a prebuilt envelope with the same client certificate (the baseline: one
process, one TLS handshake, no XML work), (b) the `smsp get` console script, and (c) the same
lookup in-process through `smsp_cli.wire.service.call` (no interpreter start-up).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from report import print_table, timed

NHS_NUMBER, DOB = "9991000003", "1984-03-14"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs

    from smsp_cli import operations
    from smsp_cli.models import build_query
    from smsp_cli.sandbox.certs import ensure_credentials
    from smsp_cli.sandbox.embedded import settings_for
    from smsp_cli.sandbox.server import SandboxServer
    from smsp_cli.settings.connection import KEYS, gather, resolve
    from smsp_cli.wire import service

    data = Path(tempfile.mkdtemp(prefix="smsp-bench-"))
    os.environ["SMSP_DATA_DIR"] = str(data)  # the in-process lookups' audit trail, not the user's
    credentials = ensure_credentials(data / "sandbox")
    with SandboxServer(credentials) as server:
        values = settings_for(server.url, credentials)
        settings = resolve(gather({}, {}, values))
        query = build_query(operations.GET, nhs_number=NHS_NUMBER, dob=DOB)
        smsp = shutil.which("smsp", path=str(Path(sys.executable).parent)) or "smsp"
        env = (
            os.environ
            | {KEYS[k][1]: v for k, v in values.items()}
            | {"SMSP_DATA_DIR": str(data), "NO_COLOR": "1"}
        )

        def curl() -> None:
            body = service.prepare(query, settings).body  # fresh ids and timestamp each time
            subprocess.run(
                [
                    "curl",
                    "-s",
                    "-o",
                    "/dev/null",
                    "--fail",
                    "--cert",
                    values["cert"],
                    "--key",
                    values["key"],
                    "--cacert",
                    values["ca_bundle"],
                    "-H",
                    "Content-Type: text/xml; charset=utf-8",
                    "-H",
                    f"SOAPAction: {operations.GET.service}",
                    "--data-binary",
                    "@-",
                    values["endpoint"],
                ],
                input=body,
                check=True,
            )

        def cli() -> None:
            subprocess.run(
                [smsp, "get", NHS_NUMBER, "--dob", DOB, "--json"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
            )

        def in_process() -> None:
            service.call(query, settings)

        rows = {}
        if shutil.which("curl"):
            rows["curl, same envelope (baseline)"] = timed(curl, runs)
        rows["smsp get (console script)"] = timed(cli, runs)
        rows["service.call (in-process)"] = timed(in_process, runs)
    print_table("lookup", rows, runs)


if __name__ == "__main__":
    main()
