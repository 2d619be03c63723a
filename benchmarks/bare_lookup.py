"""The floor for one lookup: POST a prebuilt envelope over mutual TLS, parse the reply, exit.

    python benchmarks/bare_lookup.py ENVELOPE_FILE SOAP_ACTION

What a minimal Python client must do and nothing more: httpx with an ``ssl.SSLContext`` (CA
bundle, client certificate and key), the same headers smsp sends, lxml with DTDs, entities and
the network refused, and the response code printed. Settings come from the variables
``smsp sandbox serve`` prints (SMSP_ENDPOINT, SMSP_CERT, SMSP_KEY, SMSP_CA_BUNDLE).
"""

import os
import ssl
import sys
from pathlib import Path

import httpx
from lxml import etree

envelope = Path(sys.argv[1]).read_bytes()
context = ssl.create_default_context(cafile=os.environ["SMSP_CA_BUNDLE"])
context.load_cert_chain(os.environ["SMSP_CERT"], os.environ["SMSP_KEY"])
headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": sys.argv[2]}
with httpx.Client(verify=context, timeout=30) as client:
    reply = client.post(os.environ["SMSP_ENDPOINT"], content=envelope, headers=headers)
parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
root = etree.fromstring(reply.content, parser)
code = root.find(".//{urn:hl7-org:v3}*[@codeSystem='2.16.840.1.113883.2.1.3.2.4.17.285']")
print(reply.status_code, code.get("code") if code is not None else None)
