"""Peak memory of smsp against hostile replies of about 10 MiB, each under the body cap.

    python benchmarks/memory.py [--shapes attributes,namespaces,...] [--concurrency 8,64]
    python benchmarks/memory.py --api fhir [--shapes deep-arrays,...] [--concurrency 8]

A hostile provider (tests/lib/hostile.py: real mutual TLS on 127.0.0.1) answers every request
with one ~10 MiB reply: a real getPatientDetailsResponse whose SOAP header carries one of the
shapes below. For each shape it runs `smsp get` once, then `smsp batch get` of two rows per
worker at each ``--concurrency``, and prints the process's own peak resident memory (its
``VmHWM``, written by benchmarks/peak/sitecustomize.py as it exits) and its exit code.
A good reply (the sandbox's own, a few KiB) is the baseline of the same run.

With ``--api fhir`` the reads go to the same hostile provider (asking for no client
certificate, as PDS FHIR does not), signed in at an embedded FHIR sandbox's identity service,
and each reply is a ~10 MiB ``application/fhir+json`` Patient carrying one of the JSON shapes
(:data:`FHIR_SHAPES`): nesting, millions of tiny keys or values, huge strings.

``--shapes framing-header-line,...`` (:data:`FRAMING_SHAPES`, either API) sends whole raw
replies whose HTTP framing is oversized: a 1 MiB header line, 2 MiB of headers, a 1 MiB
chunk-size line, 2 MiB of trailers.

Budgets (issue: any reply within the body cap): one lookup at most 100 MiB, a batch at most
400 MiB at --concurrency 8 and 1 GiB at 64. Exits 1 when one is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.lib.hostile import Behaviour, HostileProvider, Part  # noqa: E402
from tests.lib.hostile_behaviours import http_reply, patient_reply  # noqa: E402

if TYPE_CHECKING:
    from smsp_cli.sandbox.certs import SandboxCredentials

SIZE = 10 * 1024 * 1024 - 64 * 1024  # under the 10 MiB cap, with room for the envelope
ONE_LOOKUP_MIB = 100
BATCH_MIB = {8: 400, 64: 1024}
PEAK = Path(__file__).with_name("peak")


def _repeat(unit: Callable[[int], str], size: int) -> bytes:
    parts, total, n = [], 0, 0
    while total < size:
        piece = unit(n)
        parts.append(piece)
        total += len(piece)
        n += 1
    return "".join(parts).encode()


def _attributes_in_one_element(size: int) -> bytes:
    return b"<x " + _repeat(lambda n: f'a{n}="" ', size) + b"/>"


def _attributes(size: int) -> bytes:
    # 32 attributes an element: within the per-element limit, far over any total.
    one = "<x " + " ".join(f'a{n}=""' for n in range(32)) + "/>"
    return _repeat(lambda n: one, size)


def _namespaces(size: int) -> bytes:
    one = "<x " + " ".join(f'xmlns:n{n}="u"' for n in range(16)) + "/>"
    return _repeat(lambda n: one, size)


def _namespaces_in_one_element(size: int) -> bytes:
    return b"<x " + _repeat(lambda n: f'xmlns:n{n}="u" ', size) + b"/>"


def _deep(size: int) -> bytes:
    depth = size // 7
    return b"<d>" * depth + b"</d>" * depth


def _elements(size: int) -> bytes:
    return b"<e/>" * (size // 4)


def _comments(size: int) -> bytes:
    return b"<!---->" * (size // 7)


def _text(size: int) -> bytes:
    return b"<t>" + b"x" * size + b"</t>"


def _legal(size: int) -> bytes:
    # Within every limit: 99,000 elements, 19,000 attributes, text well under 1 MiB a node.
    count, with_attribute = 99_000, 19_000
    filler = "y" * (size // count - 7)
    return _repeat(lambda n: f'<e a="{n}">{filler}</e>' if n < with_attribute
                   else f"<e>{filler}</e>", size)


def _json_repeat(opening: str, unit: str, closing: str, size: int) -> bytes:
    count = max(1, (size - len(opening) - len(closing)) // (len(unit) + 1))
    return (opening + ",".join([unit] * count) + closing).encode()


def _json_keys(size: int) -> bytes:
    return b"{" + _repeat(lambda n: f'"k{n}":0,', size - 16) + b'"end":0}'


def _at_the_limit(unit: str, separators: int) -> Callable[[int], bytes]:
    """As many ``unit`` s as the separator limit lets through, then strings to the cap, each
    within the string limits: the most the parser is ever given to build (refused afterwards,
    by the value count)."""

    def shape(size: int) -> bytes:
        structure = ("[" + ",".join([unit] * separators) + "]").encode()
        string = b'"' + b"x" * 65_000 + b'"'
        strings = (size - len(structure) - 16) // (len(string) + 1)
        return b'{"s":' + structure + b',"p":[' + b",".join([string] * strings) + b"]}"

    return shape


FHIR_SHAPES: dict[str, Callable[[int], bytes]] = {
    "deep-arrays": lambda size: b"[" * (size // 2) + b"]" * (size // 2),
    "deep-objects": lambda size: b'{"a":' * (size // 6) + b"0" + b"}" * (size // 6),
    "tiny-keys": _json_keys,
    "empty-objects": lambda size: _json_repeat("[", "{}", "]", size),
    "empty-arrays": lambda size: _json_repeat("[", "[]", "]", size),
    "short-strings": lambda size: _json_repeat("[", '"ab"', "]", size),
    "numbers": lambda size: _json_repeat("[", "1.5", "]", size),
    "zeros": lambda size: _json_repeat("[", "0", "]", size),
    "huge-string": lambda size: b'"' + b"x" * (size - 2) + b'"',
    "huge-astral-string": lambda size: ('"' + "\U0001F600"[:0] + "😀" * (size // 4 - 1)
                                        + '"').encode(),
    "huge-escaped-string": lambda size: b'"' + b"\\u00e9" * ((size - 2) // 6) + b'"',
    # Just within the separator and quote limits (4 x 50,000 each), less what the rest holds.
    "empty-objects-at-limit": _at_the_limit("{}", 199_000),
    "keys-at-limit": _at_the_limit('{"k":0}', 66_660),
    "short-strings-at-limit": _at_the_limit('"ab"', 99_000),
    "numbers-at-limit": _at_the_limit("1.5", 199_000),
}


def fhir_body(shape: str) -> bytes:
    """A Patient with ~10 MiB of ``shape`` as the value of one of its keys."""
    head = b'{"resourceType":"Patient","id":"9991000003","x":'
    return head + FHIR_SHAPES[shape](SIZE - len(head) - 1) + b"}"


def fhir_good() -> bytes:
    """The FHIR sandbox's own record of the patient, a few KiB."""
    import json

    from smsp_cli.sandbox import fhir_records
    from smsp_cli.sandbox.builtin import BUILT_IN

    return json.dumps(fhir_records.resource(BUILT_IN[0])).encode()


SHAPES: dict[str, Callable[[int], bytes]] = {
    "attributes": _attributes,
    "attributes-one-element": _attributes_in_one_element,
    "namespaces": _namespaces,
    "namespaces-one-element": _namespaces_in_one_element,
    "deep": _deep,
    "elements": _elements,
    "comments": _comments,
    "text": _text,
    "legal-at-limits": _legal,
}


MIB = 1 << 20
_CHUNKED = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n"

# Whole raw replies whose HTTP framing is oversized (`--shapes framing-...`, either API):
# refused on the bytes as they arrive, so none should cost more than a good reply.
FRAMING_SHAPES: dict[str, Callable[[], bytes]] = {
    "framing-header-line": lambda: (b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * MIB
                                    + b"\r\nContent-Length: 0\r\n\r\n"),
    "framing-header-section": lambda: (b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * (2 * MIB // 8)
                                       + b"Content-Length: 0\r\n\r\n"),
    "framing-chunk-size-line": lambda: _CHUNKED + b"0" * MIB + b"5\r\nhello\r\n0\r\n\r\n",
    "framing-trailers": lambda: (_CHUNKED + b"4\r\n<x/>\r\n0\r\n"
                                 + (b"X-T: " + b"t" * 1000 + b"\r\n") * 2100 + b"\r\n"),
}


def hostile_body(shape: str) -> bytes:
    """The built-in patient's reply with ~10 MiB of ``shape`` in its SOAP header."""
    body = patient_reply()
    blob = SHAPES[shape](SIZE - len(body))
    return body.replace(b"</soap:Header>", blob + b"</soap:Header>", 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", choices=("smsp", "fhir"), default="smsp")
    parser.add_argument("--shapes", default=None)
    parser.add_argument("--concurrency", default="8,64")
    args = parser.parse_args()
    fhir = args.api == "fhir"
    args.shapes = args.shapes or ",".join(FHIR_SHAPES if fhir else SHAPES)
    smsp = shutil.which("smsp", path=str(Path(sys.executable).parent)) or "smsp"
    work = Path(tempfile.mkdtemp(prefix="smsp-memory-bench-"))
    levels = [int(level) for level in args.concurrency.split(",") if level]

    from smsp_cli.sandbox.certs import ensure_credentials

    credentials = ensure_credentials(work / "sandbox")
    missed = 0
    with contextlib.ExitStack() as stack:
        provider = stack.enter_context(HostileProvider(credentials, client_certificates=not fhir))
        env = _environment(provider, work)
        if fhir:
            env |= _fhir_environment(stack, provider, credentials)
        shapes = ["good", *args.shapes.split(",")]
        header = f"{'reply':24} {'bytes':>9} {'get MiB':>8} {'exit':>4}"
        header += "".join(f" {f'c{level} MiB':>8} {'exit':>4}" for level in levels)
        print(header)
        for shape in shapes:
            if shape in FRAMING_SHAPES:
                body = reply = FRAMING_SHAPES[shape]()
            elif fhir:
                body = fhir_good() if shape == "good" else fhir_body(shape)
                reply = http_reply(body, headers=(("Content-Type", "application/fhir+json"),))
            else:
                body = patient_reply() if shape == "good" else hostile_body(shape)
                reply = http_reply(body)
            provider.serve(Behaviour((Part(reply),), name=shape))
            peak, code = _peak(env, work, [smsp, "get", "9991000003", "--dob", "1984-03-14",
                                           "--json", "--max-attempts", "1"])
            missed += peak > ONE_LOOKUP_MIB
            line = f"{shape:24} {len(body):9} {peak:8.1f} {code:4}"
            for level in levels:
                (work / "out.jsonl").unlink(missing_ok=True)
                rows = work / f"rows-{level}.csv"
                rows.write_text("id,nhs_number,dob\n" + "".join(
                    f"r{n},9991000003,1984-03-14\n" for n in range(2 * level)))
                peak, code = _peak(env, work, [smsp, "batch", "get", str(rows), "--concurrency",
                                               str(level), "--out", str(work / "out.jsonl"),
                                               "--max-attempts", "1"])
                missed += peak > BATCH_MIB[level]
                line += f" {peak:8.1f} {code:4}"
            print(line, flush=True)
    print(f"budgets: get <= {ONE_LOOKUP_MIB} MiB; batch "
          + ", ".join(f"c{level} <= {BATCH_MIB[level]} MiB" for level in levels)
          + (f": {missed} MISSED" if missed else ": all ok"))
    shutil.rmtree(work, ignore_errors=True)
    return 1 if missed else 0


def _environment(provider: HostileProvider, work: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("SMSP_")}
    env |= provider.env()
    env |= {"SMSP_DATA_DIR": str(work / "data"), "NO_COLOR": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PEAK), env.get("PYTHONPATH")]))}
    return env


def _fhir_environment(stack: contextlib.ExitStack, provider: HostileProvider,
                      credentials: SandboxCredentials) -> dict[str, str]:
    """Sign in at an embedded FHIR sandbox; read from the hostile provider (kind test)."""
    from smsp_cli.sandbox.embedded import fhir_settings_for
    from smsp_cli.sandbox.fhir_server import FHIR_PATH, FhirSandboxServer
    from smsp_cli.settings.connection import KEYS

    sandbox = stack.enter_context(FhirSandboxServer(credentials))
    base = provider.url.rsplit("/smsp/pds", 1)[0]
    values = fhir_settings_for(base + FHIR_PATH, sandbox.token_url, credentials)
    values["kind"] = "test"
    return {KEYS[key][1]: value for key, value in values.items()}


def _peak(env: dict[str, str], work: Path, command: list[str]) -> tuple[float, int]:
    """Run ``command``; its own peak resident MiB (VmHWM at exit) and its exit code."""
    figure = work / "vmhwm"
    figure.unlink(missing_ok=True)
    done = subprocess.run(command, env=env | {"SMSP_BENCH_VMHWM_FILE": str(figure)},
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600,
                          check=False)
    return int(figure.read_text().split()[-1]) / 1024, done.returncode


if __name__ == "__main__":
    sys.exit(main())
