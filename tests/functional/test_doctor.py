"""smsp doctor against real servers on 127.0.0.1, each deliberately broken in one layer.

Every broken set-up is built here from the sandbox's certificate helpers: a private CA with
good, expired and foreign client certificates, a server certificate for the wrong host name,
a port nobody listens on, a socket that accepts and stays silent, a plain-HTTP server and a
provider whose clock is 20 minutes slow. Each must be diagnosed at the right layer, with a
message naming the cause and the layer's documented exit code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from smsp_cli import diagnose
from smsp_cli.diagnose import Layer, Status
from smsp_cli.sandbox.certs import (
    IssuedCert,
    SandboxCredentials,
    issue_cert,
    make_ca,
    write_atomically,
)
from smsp_cli.sandbox.embedded import SANDBOX_AUDIT_ID, settings_for
from smsp_cli.sandbox.server import SandboxServer
from smsp_cli.settings import connection as settings_module
from tests.lib.canned import CannedProvider
from tests.lib.cli import Run, smsp
from tests.lib.ports import closed_port

README = Path(__file__).resolve().parents[2] / "README.md"
# A server's certificate names are the server's words: ESC [31m would turn the terminal red and
# U+202E reverse the rest of the line, were they printed raw.
HOSTILE_CN = "evil\x1b[31m\u202eprovider"
HOSTILE_CN_SHOWN = "evil\\x1b[31m\\u202eprovider"
TIMEOUT = "1"


# --- a private PKI and servers built from it ---------------------------------------------


@dataclass(frozen=True)
class Pki:
    """PEM files for one private CA, another CA, and the certificates the tests need."""

    directory: Path
    ca: Path
    other_ca: Path
    server: SandboxCredentials  # a server for 127.0.0.1 trusting only ``ca``
    wrong_name: SandboxCredentials  # a server certificate for provider.example only
    hostile_name: SandboxCredentials  # for 127.0.0.1, its CN holding ESC and U+202E
    client: tuple[Path, Path]
    expired: tuple[Path, Path]
    foreign: tuple[Path, Path]  # issued by the other CA


def _pair(issued: IssuedCert, directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}-key.pem"
    issued.write(cert, key)
    return cert, key


def _server_set(
    directory: Path, ca: IssuedCert, server: IssuedCert, client: IssuedCert
) -> SandboxCredentials:
    directory.mkdir(mode=0o700)
    write_atomically(directory / "ca.pem", ca.cert_pem, private=False)
    server_cert, server_key = _pair(server, directory, "server")
    client_cert, client_key = _pair(client, directory, "client")
    return SandboxCredentials(
        directory,
        directory / "ca.pem",
        server_cert,
        server_key,
        client_cert,
        client_key,
        client.common_name,
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("doctor-pki")
    now = dt.datetime.now(dt.UTC)
    ca, other = make_ca("doctor test CA"), make_ca("doctor other CA")
    write_atomically(directory / "ca.pem", ca.cert_pem, private=False)
    write_atomically(directory / "other-ca.pem", other.cert_pem, private=False)
    client = issue_cert(ca, "doctor client", server=False)
    good = issue_cert(ca, "localhost", server=True, sans=("localhost", "127.0.0.1"))
    wrong = issue_cert(ca, "provider.example", server=True, sans=("provider.example",))
    hostile = issue_cert(ca, HOSTILE_CN, server=True, sans=("127.0.0.1",))
    expired = issue_cert(
        ca,
        "doctor expired client",
        server=False,
        not_before=now - dt.timedelta(days=30),
        not_after=now - dt.timedelta(days=1),
    )
    return Pki(
        directory=directory,
        ca=directory / "ca.pem",
        other_ca=directory / "other-ca.pem",
        server=_server_set(directory / "server", ca, good, client),
        wrong_name=_server_set(directory / "wrong-name", ca, wrong, client),
        hostile_name=_server_set(directory / "hostile-name", ca, hostile, client),
        client=_pair(client, directory, "client"),
        expired=_pair(expired, directory, "expired"),
        foreign=_pair(
            issue_cert(other, "doctor foreign client", server=False), directory, "foreign"
        ),
    )


@pytest.fixture(scope="module")
def own_server(pki: Pki) -> Iterator[SandboxServer]:
    """A real sandbox provider trusting only the test CA (whose key the tests hold)."""
    with SandboxServer(pki.server, timeout=2) as server:
        yield server


@pytest.fixture(scope="module")
def wrong_name_server(pki: Pki) -> Iterator[SandboxServer]:
    """A sandbox provider whose certificate names provider.example, not 127.0.0.1."""
    with SandboxServer(pki.wrong_name, timeout=2) as server:
        yield server


def _doctor(url: str, cert: Path | None, key: Path | None, ca: Path, *extra: str) -> Run:
    args = ["doctor", "--endpoint", url, "--ca-bundle", str(ca), "--audit-id", SANDBOX_AUDIT_ID]
    if cert is not None and key is not None:
        args += ["--cert", str(cert), "--key", str(key)]
    return smsp(*args, "--timeout", TIMEOUT, "--json", *extra)


def _failed(run: Run, layer: Layer) -> dict[str, Any]:
    """The report's failing layer, after checking it is ``layer`` with its exit code."""
    report = run.json()
    assert run.exit_code == layer.exit_code, run.stdout + run.stderr
    assert report["exit_code"] == layer.exit_code
    assert report["failed_layer"] == layer.key
    failing = report["layers"][int(layer) - 1]
    assert failing["status"] == "fail"
    assert failing["cause"]
    assert failing["next_step"]
    for later in report["layers"][int(layer) :]:
        assert later["status"] == "skipped"
    return failing  # type: ignore[no-any-return]


# --- a healthy sandbox ------------------------------------------------------------------


@pytest.mark.usefixtures("sandbox_env")
def test_a_healthy_sandbox_passes_every_layer() -> None:
    run = smsp("doctor", "--json")
    assert run.exit_code == 0, run.stdout + run.stderr
    report = run.json()
    assert set(report) == {
        "schema",
        "endpoint",
        "ok",
        "exit_code",
        "failed_layer",
        "layers",
        "timings",
        "total_ms",
    }
    assert (report["ok"], report["exit_code"], report["failed_layer"]) == (True, 0, None)
    assert [layer["name"] for layer in report["layers"]] == [
        "config",
        "certificate",
        "dns",
        "tcp",
        "tls",
        "http",
        "smsp",
        "clock",
    ]
    assert {layer["status"] for layer in report["layers"]} == {"pass"}
    for layer in report["layers"]:
        assert set(layer) == {
            "layer",
            "name",
            "title",
            "status",
            "summary",
            "cause",
            "next_step",
            "facts",
            "fact_sources",
            "start_ms",
            "elapsed_ms",
        }
    tls = report["layers"][4]["facts"]
    assert tls["protocol"].startswith("TLSv1.3")
    assert "matches" in tls["host name"]
    assert tls["client certificate"].startswith("required")
    assert tls["our certificate"].startswith("accepted")
    assert "SMSP-0000" in report["layers"][6]["summary"]
    assert [t["phase"] for t in report["timings"]] == [
        "dns",
        "connect",
        "tls",
        "request sent",
        "first byte",
        "body",
    ]


def test_the_checklist_and_waterfall_on_a_terminal() -> None:
    run = smsp("doctor", "--profile", "sandbox")
    assert run.exit_code == 0, run.stdout + run.stderr
    for title in (
        "configuration",
        "certificate and key",
        "DNS",
        "TCP connect",
        "TLS handshake",
        "HTTP",
        "SMSP",
        "clock",
        "Timings",
        "POST first byte",
        "All layers passed",
    ):
        assert title in run.stdout


# --- broken set-ups, one per layer ------------------------------------------------------


def test_no_client_certificate_configured_fails_configuration(
    pki: Pki, own_server: SandboxServer
) -> None:
    run = _doctor(own_server.url, None, None, pki.ca)
    failing = _failed(run, Layer.CONFIG)
    assert failing["summary"] == "no client certificate configured"
    assert "--cert" in failing["next_step"]


def test_a_file_with_no_certificate_in_it_fails_the_certificate_layer(
    pki: Pki, own_server: SandboxServer
) -> None:
    key = pki.client[1]
    failing = _failed(_doctor(own_server.url, key, key, pki.ca), Layer.CERTIFICATE)
    assert "not readable PEM" in failing["summary"]
    assert "no usable certificate" in failing["cause"]


def test_expired_client_certificate(pki: Pki, own_server: SandboxServer) -> None:
    failing = _failed(_doctor(own_server.url, *pki.expired, pki.ca), Layer.CERTIFICATE)
    assert failing["summary"].startswith("client certificate expired on ")
    assert "renew" in failing["next_step"]


def test_key_not_matching_the_certificate(pki: Pki, own_server: SandboxServer) -> None:
    cert, key = pki.client[0], pki.foreign[1]
    failing = _failed(_doctor(own_server.url, cert, key, pki.ca), Layer.CERTIFICATE)
    assert "does not match" in failing["summary"]
    assert "not the one the certificate was issued for" in failing["cause"]


def test_unresolvable_host(pki: Pki) -> None:
    # .invalid never resolves (RFC 6761), so no query leaves this machine for an answer.
    url = "https://smsp-doctor-test.invalid/smsp/pds"
    failing = _failed(_doctor(url, *pki.client, pki.ca), Layer.DNS)
    assert failing["summary"].startswith("cannot resolve smsp-doctor-test.invalid")
    assert "does not exist" in failing["cause"] or "did not give an answer" in failing["cause"]


def test_connection_refused(pki: Pki) -> None:
    port = closed_port()
    failing = _failed(_doctor(f"https://127.0.0.1:{port}/smsp/pds", *pki.client, pki.ca), Layer.TCP)
    assert failing["summary"] == f"connection to 127.0.0.1:{port} refused"
    assert "nothing listens" in failing["cause"]


def test_wrong_ca_bundle(pki: Pki, sandbox: SandboxServer, credentials: SandboxCredentials) -> None:
    run = _doctor(sandbox.url, credentials.client_cert, credentials.client_key, pki.other_ca)
    failing = _failed(run, Layer.TLS)
    assert failing["summary"].startswith("the server's certificate is not trusted")
    assert "smsp sandbox CA" in failing["cause"]
    assert str(pki.other_ca) in failing["cause"]
    assert "--ca-bundle" in failing["next_step"]


def test_client_certificate_from_another_ca(pki: Pki, own_server: SandboxServer) -> None:
    run = _doctor(own_server.url, *pki.foreign, pki.ca)
    failing = _failed(run, Layer.TLS)
    assert failing["summary"] == "the server sent TLS alert 'unknown ca'"
    assert "does not trust the CA that issued your client certificate" in failing["cause"]
    assert "doctor other CA" in failing["cause"]
    # The local layer already warned that nothing here completes that certificate's chain.
    assert run.json()["layers"][1]["status"] == "warn"


def test_a_server_certificate_used_as_client_certificate(
    pki: Pki, own_server: SandboxServer
) -> None:
    pair = (pki.server.server_cert, pki.server.server_key)
    run = _doctor(own_server.url, *pair, pki.ca)
    failing = _failed(run, Layer.TLS)
    assert failing["summary"] == "the server sent TLS alert 'unsupported certificate'"
    local = run.json()["layers"][1]
    assert local["status"] == "warn"
    assert "not for client authentication" in local["summary"]


def test_server_host_name_mismatch(pki: Pki, wrong_name_server: SandboxServer) -> None:
    failing = _failed(_doctor(wrong_name_server.url, *pki.client, pki.ca), Layer.TLS)
    assert failing["summary"] == "server certificate does not match host name 127.0.0.1"
    assert "DNS:provider.example" in failing["cause"]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose listener never accepts: TCP connects (the backlog), then nothing."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def test_a_server_certificate_name_with_controls_is_shown_escaped(pki: Pki) -> None:
    with SandboxServer(pki.hostile_name, timeout=2) as server:
        run = smsp("doctor", "--endpoint", server.url, "--ca-bundle", str(pki.ca),
                   "--cert", str(pki.client[0]), "--key", str(pki.client[1]),
                   "--audit-id", SANDBOX_AUDIT_ID, "--timeout", TIMEOUT)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "\x1b" not in run.stdout + run.stderr
    assert "\u202e" not in run.stdout + run.stderr
    shown = " ".join(run.stdout.split())  # the facts column may wrap
    assert f"server certificate: CN={HOSTILE_CN_SHOWN}, issued by CN=doctor test CA" in shown


def test_a_server_that_never_answers(pki: Pki, silent_port: int) -> None:
    url = f"https://127.0.0.1:{silent_port}/smsp/pds"
    started = time.monotonic()
    failing = _failed(_doctor(url, *pki.client, pki.ca), Layer.TLS)
    assert time.monotonic() - started < 10
    assert failing["summary"] == f"no TLS answer from 127.0.0.1:{silent_port} within 1 s"
    assert "never answered the TLS handshake" in failing["cause"]


class _PlainHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextlib.contextmanager
def _serving(server: ThreadingHTTPServer) -> Iterator[int]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_server_speaking_plain_http(pki: Pki) -> None:
    with _serving(ThreadingHTTPServer(("127.0.0.1", 0), _PlainHandler)) as port:
        failing = _failed(
            _doctor(f"https://127.0.0.1:{port}/smsp/pds", *pki.client, pki.ca), Layer.TLS
        )
    assert failing["summary"] == f"127.0.0.1:{port} speaks plain HTTP, not TLS"
    assert failing["facts"]["plain HTTP answer"].startswith("HTTP/1.0 200")


def test_a_wrong_path_fails_http(sandbox: SandboxServer, credentials: SandboxCredentials) -> None:
    url = sandbox.url.replace("/smsp/pds", "/nothing-here")
    run = _doctor(url, credentials.client_cert, credentials.client_key, credentials.ca_cert)
    failing = _failed(run, Layer.HTTP)
    assert failing["summary"] == "HTTP 404 Not Found"
    assert "no SMSP service at this path" in failing["cause"]


# --- a provider with canned answers: a slow clock, or not SMSP at all -------------------


def _sandbox_settings(
    sandbox: SandboxServer, credentials: SandboxCredentials
) -> settings_module.ConnectionSettings:
    values = settings_module.gather(
        {}, env={}, profile_values=settings_for(sandbox.url, credentials)
    )
    return settings_module.resolve(values)


@pytest.fixture(scope="module")
def real_reply(sandbox: SandboxServer, credentials: SandboxCredentials) -> bytes:
    """A genuine verifyNHSNumber reply from the sandbox, for the canned provider to replay."""
    from smsp_cli import service
    from smsp_cli.transport.trace import Trace

    trace = Trace()
    service.call(diagnose.probe_query(), _sandbox_settings(sandbox, credentials), trace=trace)
    assert trace.response_body
    return trace.response_body


def test_clock_skew_beyond_the_window(pki: Pki, real_reply: bytes) -> None:
    provider = CannedProvider(pki.server, real_reply, clock_offset=-20 * 60)
    with _serving(provider) as port:
        run = _doctor(f"https://127.0.0.1:{port}/smsp/pds", *pki.client, pki.ca)
    failing = _failed(run, Layer.CLOCK)
    assert failing["summary"] == "local clock is 20.0 min ahead of the server"
    assert "NTP" in failing["next_step"]
    assert run.json()["layers"][6]["status"] == "pass"


def test_a_wrong_local_clock_through_the_python_api(
    sandbox: SandboxServer, credentials: SandboxCredentials
) -> None:
    settings = _sandbox_settings(sandbox, credentials)

    def fast() -> dt.datetime:
        return dt.datetime.now(dt.UTC) + dt.timedelta(minutes=11)

    report = diagnose.diagnose_settings(settings, clock=fast)
    assert report.exit_code == Layer.CLOCK.exit_code == 17
    assert report.failed is not None
    assert report.failed.summary == "local clock is 11.0 min ahead of the server"
    assert "future" in (report.failed.cause or "")


def test_a_clock_far_behind_is_caught_by_the_certificate_dates(
    sandbox: SandboxServer, credentials: SandboxCredentials
) -> None:
    settings = _sandbox_settings(sandbox, credentials)

    def slow() -> dt.datetime:
        return dt.datetime.now(dt.UTC) - dt.timedelta(days=2)

    report = diagnose.diagnose_settings(settings, clock=slow)
    assert report.exit_code == Layer.CERTIFICATE.exit_code
    assert report.failed is not None
    assert report.failed.summary.startswith("client certificate is not valid until ")
    assert "clock" in (report.failed.cause or "")


def test_a_few_seconds_of_skew_is_a_warning(
    sandbox: SandboxServer, credentials: SandboxCredentials
) -> None:
    settings = _sandbox_settings(sandbox, credentials)

    def fast() -> dt.datetime:
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=20)

    report = diagnose.diagnose_settings(settings, clock=fast)
    assert report.exit_code == 0
    assert [c.layer for c in report.warnings] == [Layer.CLOCK]
    # The Date header has one-second resolution.
    assert re.fullmatch(
        r"local clock is (19|20|21) s ahead of the server", report.warnings[0].summary
    )


def test_a_reply_that_is_not_smsp_fails_the_smsp_layer(pki: Pki) -> None:
    with _serving(CannedProvider(pki.server, b"<html><body>hello</body></html>")) as port:
        run = _doctor(f"https://127.0.0.1:{port}/smsp/pds", *pki.client, pki.ca)
    failing = _failed(run, Layer.SMSP)
    assert failing["summary"].startswith("not a usable SMSP reply")
    assert run.json()["layers"][5]["status"] == "pass"


@pytest.mark.usefixtures("sandbox_env")
def test_fault_3000_fails_the_smsp_layer_as_batch_stops_on_it() -> None:
    run = smsp("doctor", "--nhs-number", "9991000186", "--dob", "1970-01-26", "--json")
    assert run.exit_code == 16, run.stdout + run.stderr
    smsp_layer = run.json()["layers"][6]
    assert smsp_layer["status"] == "fail"
    assert smsp_layer["summary"].startswith("SOAP fault 3000")
    assert smsp_layer["cause"] == "the provider denied access (SOAP fault 3000): no lookup can pass"
    assert "ASID and client certificate are registered" in smsp_layer["next_step"]


@pytest.mark.usefixtures("sandbox_env")
def test_smsp_0005_fails_the_smsp_layer() -> None:
    run = smsp("doctor", "--nhs-number", "9991000208", "--dob", "1992-06-15", "--json")
    assert run.exit_code == 16, run.stdout + run.stderr
    smsp_layer = run.json()["layers"][6]
    assert smsp_layer["status"] == "fail"
    assert smsp_layer["summary"].endswith("answered SMSP-0005 (Author Credentials Error)")
    assert "check the audit identity" in smsp_layer["next_step"]


@pytest.mark.usefixtures("sandbox_env")
def test_a_soap_fault_2200_proves_the_soap_layer_but_warns() -> None:
    run = smsp("doctor", "--nhs-number", "9991000178", "--dob", "1981-07-19", "--json")
    assert run.exit_code == 0, run.stdout + run.stderr
    smsp_layer = run.json()["layers"][6]
    assert smsp_layer["status"] == "warn"
    assert smsp_layer["summary"].startswith("SOAP fault 2200")


# --- the TLS layer on its own: what the server says about our certificate ---------------


def _tls_check(pki: Pki, server: SandboxServer, pair: tuple[Path, Path] | None) -> diagnose.Check:
    context = ssl.create_default_context(cafile=pki.ca)
    if pair is not None:
        context.load_cert_chain(*pair)  # ssl loads an expired certificate without complaint
    target = diagnose.Target.parse(server.url)
    return diagnose.check_tls(
        target,
        context,
        address=("127.0.0.1", target.port),
        timeout=2,
        ca_bundle=pki.ca,
        client=None,
        now=dt.datetime.now(dt.UTC),
    )


def test_the_server_rejects_an_expired_client_certificate_in_the_handshake(
    pki: Pki, own_server: SandboxServer
) -> None:
    check = _tls_check(pki, own_server, pki.expired)
    assert check.status is Status.FAIL
    assert check.summary == "the server sent TLS alert 'certificate expired'"
    assert "has expired" in (check.cause or "")


def test_the_server_demands_a_client_certificate_in_the_handshake(
    pki: Pki, own_server: SandboxServer
) -> None:
    check = _tls_check(pki, own_server, None)
    assert check.status is Status.FAIL
    assert check.summary == "the server sent TLS alert 'certificate required'"
    assert check.cause == "the server requires a client certificate and none was sent"


def test_ca_names_are_read_from_a_certificate_request() -> None:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    from smsp_cli.diagnose import tlsprobe

    names = [
        x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "NHS"),
                x509.NameAttribute(NameOID.COMMON_NAME, "NHS Level 1C"),
            ]
        ).public_bytes(),
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Sub CA é")]).public_bytes(),
    ]
    listed = b"".join(len(n).to_bytes(2, "big") + n for n in names)
    body = b"\x01\x40" + b"\x00\x02\x04\x03" + len(listed).to_bytes(2, "big") + listed
    assert tlsprobe.parse_certificate_request(body) == ("CN=NHS Level 1C, O=NHS", "CN=Sub CA é")


# --- options and documentation ----------------------------------------------------------


def test_a_test_patient_needs_both_number_and_date() -> None:
    run = smsp("doctor", "--nhs-number", "9991000003")
    assert run.exit_code == 2
    assert "--nhs-number and --dob go together" in run.stderr


def test_readme_documents_the_doctor_exit_codes() -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Diagnosing connections\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, "README has no '## Diagnosing connections' section"
    rows = re.findall(r"^\| (\d+) \| (.+?) \|$", match.group(1), re.M)
    assert {int(code): meaning for code, meaning in rows} == diagnose.EXIT_CODE_MEANINGS
    assert set(diagnose.EXIT_CODE_MEANINGS) == {0} | {layer.exit_code for layer in Layer}


class _RedirectingHandler(BaseHTTPRequestHandler):
    """A provider that redirects, echoing the patient in Location and its headers."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(302, "Found 9434765919")
        self.send_header("Location", "https://elsewhere.example/pds?nhs=9434765919&dob=1984-03-14")
        self.send_header("Server", "Gateway for 943 476 5919")
        self.send_header("Content-Type", "text/xml; patient=9434765919")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


class _RedirectingProvider(CannedProvider):
    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(5)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except OSError:
            return
        with contextlib.closing(tls):
            _RedirectingHandler(tls, client_address, self)


def test_doctor_masks_identifiers_in_every_header_it_shows(pki: Pki) -> None:
    provider = _RedirectingProvider(pki.server, b"")
    with _serving(provider) as _:
        url = provider.url
        report = _doctor(url, *pki.client, pki.ca)
        checklist = smsp("doctor", "--endpoint", url, "--ca-bundle", str(pki.ca), "--audit-id",
                         SANDBOX_AUDIT_ID, "--cert", str(pki.client[0]), "--key",
                         str(pki.client[1]), "--timeout", TIMEOUT)
    failing = _failed(report, Layer.HTTP)
    assert failing["cause"] == ("the server redirects to "
                                "https://elsewhere.example/pds?nhs=*** *** 5919&dob=****-**-**")
    assert failing["facts"]["server"] == "Gateway for *** *** 5919"
    assert failing["facts"]["content type"] == "text/xml; patient=*** *** 5919"
    assert failing["summary"] == "HTTP 302 Found *** *** 5919"
    for shown in (report.stdout + report.stderr, checklist.stdout + checklist.stderr):
        assert "9434765919" not in shown
        assert "943 476 5919" not in shown
        assert "1984-03-14" not in shown
    assert "*** *** 5919&dob=****-**-**" in checklist.stdout
