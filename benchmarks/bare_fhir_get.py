"""The floor for one PDS FHIR read: one GET with a bearer token over TLS, parse the JSON, exit.

    python benchmarks/bare_fhir_get.py NHS_NUMBER

What a minimal Python client must do and nothing more: httpx with an ``ssl.SSLContext`` (the
CA bundle), the headers PDS FHIR asks for (Accept, Authorization, a fresh X-Request-ID), the
JSON parsed and the record's id printed. The settings come from the variables
``smsp sandbox serve --api fhir`` prints; the token (already got) from BENCH_TOKEN.
"""

import json
import os
import ssl
import sys
import uuid

import httpx

context = ssl.create_default_context(cafile=os.environ["SMSP_CA_BUNDLE"])
headers = {
    "Accept": "application/fhir+json",
    "Authorization": f"Bearer {os.environ['BENCH_TOKEN']}",
    "X-Request-ID": str(uuid.uuid4()),
}
with httpx.Client(verify=context, timeout=30) as client:
    reply = client.get(f"{os.environ['SMSP_ENDPOINT']}/Patient/{sys.argv[1]}", headers=headers)
print(reply.status_code, json.loads(reply.content).get("id"))
