"""Real-provider set-ups end to end, over mutual TLS against the sandbox: profiles from the config
file, PKCS#12 and encrypted PEM with passphrases from a file, the keyring or a prompt, every
audit identity form, the guard rails, and no secret in any output, log or trace."""

from __future__ import annotations

import io
import json
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from keyring.backends import fail
from lxml import etree

from smsp_cli.adapters.smsp.xmlsafe import NS
from smsp_cli.output import banner
from smsp_cli.settings import config, credentials, identity
from tests.lib.cli import Run, smsp
from tests.lib.schemas import DISTRIBUTION_ENVELOPE, assert_valid, split_envelope
from tests.unit.settings.test_clientcert import encrypted_pem, pkcs12_file
from tests.unit.settings.test_credentials import MemoryKeyring, passphrase_file, use_keyring

if TYPE_CHECKING:
    from smsp_cli.sandbox.certs import SandboxCredentials
    from smsp_cli.sandbox.server import SandboxServer

PASSPHRASE = "Tr0ub4dor&3 never-print-me"
FOUND = ("9991000003", "--dob", "1984-03-14")
SMARTCARD = "urp=555021935107,user=555021936108,role=R8000,org=urn:nhs-uk:identity:ods:RHM"


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    yield from use_keyring(MemoryKeyring())


@pytest.fixture
def no_keyring() -> Iterator[object]:
    yield from use_keyring(fail.Keyring())


@pytest.fixture
def record_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where this test's audit trail goes (the sandbox keeps the session's certificates)."""
    directory = tmp_path / "data"
    monkeypatch.setenv("SMSP_DATA_DIR", str(directory))
    return directory


@pytest.fixture
def profile(
    sandbox: SandboxServer, credentials: SandboxCredentials, record_dir: Path
) -> dict[str, config.Value]:
    """Default profile 'live' (kind live) pointing at the session sandbox with PEM files."""
    values: dict[str, config.Value] = {
        "kind": "live",
        "endpoint": sandbox.url,
        "cert": str(credentials.client_cert),
        "key": str(credentials.client_key),
        "ca_bundle": str(credentials.ca_cert),
        "audit_id": "868000003114",
        "retry_backoff": 0.01,
    }
    _save(values)
    return values


def _save(values: dict[str, config.Value], name: str = "live") -> None:
    config.save(config.Config(config.config_path(), name, {name: values}))


def _set(**changes: config.Value) -> None:
    loaded = config.load()
    name = loaded.default_profile or "live"
    values = dict(loaded.profiles[name])
    for key, value in changes.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    _save(values, name)


def _lookup(*extra: str) -> Run:
    return smsp("get", *FOUND, "--json", *extra)


def _record_of(sandbox: SandboxServer, run: Run) -> object:
    message_id = run.json()["message_id"]
    return next(r for r in sandbox.requests if r.message_id == message_id)


# --- PKCS#12 and encrypted PEM over mutual TLS ------------------------------------------------


@pytest.fixture(params=["pkcs12", "encrypted-pem"])
def locked_credentials(
    request: pytest.FixtureRequest, credentials: SandboxCredentials, tmp_path: Path,
    profile: dict[str, config.Value],
) -> str:
    """The profile's certificate as a password-protected PKCS#12, or its key encrypted."""
    if request.param == "pkcs12":
        p12 = pkcs12_file(credentials, tmp_path / "nhs-endpoint.p12", PASSPHRASE)
        _set(cert=str(p12), key=None)  # NHS issues one PKCS#12; no separate key
    else:
        _set(key=str(encrypted_pem(credentials, tmp_path / "key.enc.pem", PASSPHRASE)))
    return str(request.param)


def test_passphrase_from_a_file_completes_a_lookup(
    locked_credentials: str, sandbox: SandboxServer, credentials: SandboxCredentials,
    tmp_path: Path,
) -> None:
    run = _lookup("--passphrase-file", str(passphrase_file(tmp_path, PASSPHRASE)), "--no-input")
    assert run.exit_code == 0, run.stderr
    assert run.json()["patient"]["family_name"] == "Fairweather"
    record = _record_of(sandbox, run)
    # The sandbox checks wsse:Username against the TLS client certificate's CN: the CN was
    # read from the PKCS#12 or PEM certificate, and that certificate was presented.
    assert record.username == record.client_cn == credentials.client_cn  # type: ignore[attr-defined]


def test_passphrase_from_the_keyring_completes_a_lookup(
    locked_credentials: str, memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    stored = smsp("auth", "set", "--passphrase-file", str(passphrase_file(tmp_path, PASSPHRASE)))
    assert stored.exit_code == 0, stored.stderr
    run = _lookup("--no-input")
    assert run.exit_code == 0, run.stderr
    assert memory_keyring.entries == {("smsp", "live"): PASSPHRASE}


def test_passphrase_file_from_the_profile(locked_credentials: str, tmp_path: Path) -> None:
    _set(passphrase_file=str(passphrase_file(tmp_path, PASSPHRASE)))
    run = _lookup("--no-input")
    assert run.exit_code == 0, run.stderr


def test_passphrase_from_a_hidden_prompt(
    locked_credentials: str, no_keyring: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    monkeypatch.setattr(credentials, "stdin_is_terminal", lambda: True)
    monkeypatch.setattr(credentials, "prompt_hidden", lambda p: asked.append(p) or PASSPHRASE)
    run = _lookup()
    assert run.exit_code == 0, run.stderr
    assert len(asked) == 1  # once per run, although the certificate and key both need it
    assert "no keyring backend is available" in run.stderr  # said, then asked instead


def test_no_input_on_a_terminal_fails_with_the_fixing_command(
    locked_credentials: str, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(prompt: str) -> str:
        raise AssertionError("prompted despite --no-input")

    monkeypatch.setattr(credentials, "stdin_is_terminal", lambda: True)
    monkeypatch.setattr(credentials, "prompt_hidden", refuse)
    run = _lookup("--no-input")
    assert run.exit_code == 6
    assert "smsp auth set --profile live" in run.stderr
    assert "Traceback" not in run.stderr


def test_headless_without_keyring_or_file_fails_pointing_to_a_file(
    locked_credentials: str, no_keyring: object
) -> None:
    run = _lookup()
    assert run.exit_code == 6
    assert "no keyring backend is available" in run.stderr
    assert "--passphrase-file FILE" in run.stderr


def test_a_wrong_passphrase_is_one_clear_line(locked_credentials: str, tmp_path: Path) -> None:
    wrong = "definitely-not-the-passphrase"
    run = _lookup("--passphrase-file", str(passphrase_file(tmp_path, wrong)))
    assert run.exit_code == 6
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert re.match(r"smsp: error: the passphrase from passphrase file \S+ does not "
                    r"(unlock client key|open PKCS#12 file)", lines[0])
    assert wrong not in run.stderr + run.stdout


# --- audit identities reach the provider ------------------------------------------------------

AUDIT_FORMS = {
    "asid": ("868000003114", [("868000003114", identity.ASID_TYPE)]),
    "itk-urn": (
        "urn:nhs-uk:identity:ods:R59:oncology:ooh:DrJNS",
        [("urn:nhs-uk:identity:ods:R59:oncology:ooh:DrJNS", identity.ITK_IDENTITY_TYPE)],
    ),
    "smartcard": (
        SMARTCARD,
        [
            ("555021935107", "1.2.826.0.1285.0.2.0.67"),
            ("555021936108", "1.2.826.0.1285.0.2.0.65"),
            ("R8000", "1.2.826.0.1285.0.2.1.104"),
            ("urn:nhs-uk:identity:ods:RHM", "2.16.840.1.113883.2.1.3.2.4.18.27"),
        ],
    ),
}


@pytest.mark.parametrize(("audit_id", "expected"), AUDIT_FORMS.values(), ids=AUDIT_FORMS.keys())
def test_each_audit_identity_form_reaches_the_sandbox_in_a_valid_envelope(
    profile: dict[str, config.Value], sandbox: SandboxServer, audit_id: str,
    expected: list[tuple[str, str]],
) -> None:
    assert smsp("config", "set", "audit_id", audit_id).exit_code == 0
    run = _lookup()
    assert run.exit_code == 0, run.stderr
    record = _record_of(sandbox, run)
    assert list(record.audit_ids) == [uri for uri, _ in expected]  # type: ignore[attr-defined]
    dry = smsp("get", *FOUND, "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    de, _ = split_envelope(dry.stdout.encode())
    assert_valid(de, DISTRIBUTION_ENVELOPE)
    ids = de.findall("itk:header/itk:auditIdentity/itk:id", NS)
    assert [(e.get("uri"), e.get("type")) for e in ids] == expected


def test_an_incomplete_smartcard_set_is_refused_before_sending(
    profile: dict[str, config.Value],
) -> None:
    run = smsp("get", *FOUND, "--audit-id", "urp=555021935107,role=R8000")
    assert run.exit_code == 2
    assert "user=, org=" in run.stderr


# --- per-profile provider settings -----------------------------------------------------------


def test_sender_address_is_sent_as_wsa_from(profile: dict[str, config.Value]) -> None:
    _set(sender_address="https://client.example/smsp")
    dry = smsp("get", *FOUND, "--dry-run")
    root = etree.fromstring(dry.stdout.encode())
    assert root.findtext("soap:Header/wsa:From/wsa:Address", namespaces=NS) == (
        "https://client.example/smsp"
    )
    assert _lookup().exit_code == 0


def test_quoted_soap_action_and_tls_1_3_work_against_the_sandbox(
    profile: dict[str, config.Value],
) -> None:
    _set(soap_action_quoted=True, min_tls_version="1.3", connect_timeout=5, read_timeout=5)
    run = _lookup()
    assert run.exit_code == 0, run.stderr


def test_soap_action_is_quoted_only_when_asked(credentials: SandboxCredentials) -> None:
    from smsp_cli import service
    from smsp_cli.domain import operations
    from smsp_cli.domain.models import build_query
    from smsp_cli.settings.connection import gather, resolve

    seen: list[str] = []

    def provider(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["SOAPAction"])
        return httpx.Response(404)

    query = build_query(operations.GET, nhs_number=FOUND[0], dob=FOUND[2])
    for quoted in ("false", "true"):
        settings = resolve(gather({}, {"SMSP_SOAP_ACTION_QUOTED": quoted}, {
            "endpoint": "https://provider.test/smsp/pds", "cert": str(credentials.client_cert),
            "key": str(credentials.client_key), "ca_bundle": str(credentials.ca_cert),
            "audit_id": "1",
        }))
        with pytest.raises(Exception, match="404"):
            service.call(query, settings, transport=httpx.MockTransport(provider))
    assert seen == [operations.GET.service, f'"{operations.GET.service}"']


def test_the_username_setting_overrides_the_certificate_cn(
    profile: dict[str, config.Value], sandbox: SandboxServer
) -> None:
    _set(username="someone else")
    run = _lookup()
    assert run.exit_code == 3  # the sandbox, like a strict provider, wants the CN (WS-SEC-07)


# --- guard rails ------------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_live_banner_on_a_terminal_names_the_caller(profile: dict[str, config.Value]) -> None:
    from smsp_cli import service



    with service.run_settings({}) as settings:
        shown = _Terminal()
        banner.announce(settings, stream=shown)
        quiet = io.StringIO()
        banner.announce(settings, stream=quiet)
    text = shown.getvalue()
    assert text.startswith(
        "Computer Misuse Act 1990 \u2013 Unauthorised access to this system is an offence\n"
    )
    assert banner.caller() in text
    assert "868000003114" in text
    assert quiet.getvalue() == ""  # not a terminal: scripts' stderr stays clean


@pytest.mark.parametrize("kind", ["live", "test", "sandbox"])
def test_answers_of_the_sandbox_are_labelled_synthetic_once_whatever_the_kind(
    profile: dict[str, config.Value], kind: str, credentials: SandboxCredentials,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The profile points at the sandbox server, whose certificate comes from the sandbox CA in
    # smsp's data directory: its data is synthetic whatever the profile's kind says, and one
    # line says so (no second "environment" label).
    monkeypatch.setenv("SMSP_DATA_DIR", str(credentials.directory.parent))
    _set(kind=kind)
    run = _lookup()
    assert run.exit_code == 0, run.stderr
    assert run.json()["response_code"] == "SMSP-0000"  # stdout stays clean JSON
    assert (run.json()["synthetic"], run.json()["environment"]) == (True, "sandbox")
    assert "Computer Misuse Act" not in run.stderr  # CliRunner's stderr is not a terminal
    assert run.stderr == "smsp: SANDBOX: synthetic data from the embedded provider, not from PDS\n"


@pytest.mark.parametrize(("kind", "environment", "stderr"), [
    ("live", "live", ""),
    ("test", "test", "smsp: TEST environment (profile live): data from a test provider, not "
     "live patient data\n"),
    # A profile calling itself a sandbox vouches for nothing: unproven data is treated as live.
    ("sandbox", "live", ""),
])
def test_a_sandbox_whose_ca_is_not_in_the_data_directory_is_not_vouched_for(
    profile: dict[str, config.Value], kind: str, environment: str, stderr: str
) -> None:
    # The same server, but this run's data directory (record_dir) holds another sandbox CA or
    # none: smsp did not make that server, so its answers get the profile's kind.
    _set(kind=kind)
    run = _lookup()
    assert run.exit_code == 0, run.stderr
    assert (run.json()["synthetic"], run.json()["environment"]) == (False, environment)
    assert run.stderr == stderr


def test_calls_to_real_providers_are_in_the_audit_trail_without_demographics(
    profile: dict[str, config.Value], record_dir: Path
) -> None:
    first = _lookup()
    second = smsp("get", "9991000151", "--dob", "1963-03-03", "--json")  # fault 2100, retried
    assert (first.exit_code, second.exit_code) == (0, 4)
    path = record_dir / "audit" / "audit.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]
    # One sent and one received record per attempt: 1 attempt, then 3 attempts of a fault.
    assert [line["event"] for line in lines] == ["sent", "received"] * 4
    assert [line["seq"] for line in lines] == list(range(1, 9))
    assert lines[0]["prev"] is None
    assert lines[0]["user"] == banner.caller()
    assert lines[0]["profile"] == "live"
    assert lines[0]["operation"] == "getPatientDetailsByNHSNumber"
    assert lines[0]["message_id"] == first.json()["message_id"]
    assert lines[0]["nhs_numbers"] == ["9991000003"]
    assert lines[1]["response_code"] == "SMSP-0000"
    assert len({line["message_id"] for line in lines[2:]}) == 3
    assert {line["fault_code"] for line in lines[2:] if line["event"] == "received"} == {"2100"}
    for patient_value in ("Fairweather", "Eleanor", "1984-03-14", "19840314", "1963"):
        assert patient_value not in text


def test_sandbox_calls_are_recorded_too(profile: dict[str, config.Value], record_dir: Path) -> None:
    _set(kind="sandbox")
    assert _lookup().exit_code == 0
    lines = (record_dir / "audit" / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["environment"] for line in lines] == ["sandbox", "sandbox"]


def test_an_unwritable_trail_stops_the_call_before_sending(
    profile: dict[str, config.Value], record_dir: Path, sandbox: SandboxServer
) -> None:
    (record_dir / "audit" / "audit.jsonl").mkdir(parents=True)  # a directory, not a file
    before = len(sandbox.requests)
    run = _lookup()
    assert run.exit_code == 6
    assert json.loads(run.stdout)["error"]["type"] == "config"
    assert "audit trail" in run.stderr
    assert len(sandbox.requests) == before


# --- no secret in any output, log or trace -----------------------------------------------------


def test_the_passphrase_never_appears_anywhere(
    credentials: SandboxCredentials, profile: dict[str, config.Value],
    memory_keyring: MemoryKeyring, tmp_path: Path, record_dir: Path,
) -> None:
    p12 = pkcs12_file(credentials, tmp_path / "endpoint.p12", PASSPHRASE)
    _set(cert=str(p12), key=None, kind="test")
    right = passphrase_file(tmp_path, PASSPHRASE)
    wrong_dir = tmp_path / "wrong"
    wrong_dir.mkdir()
    wrong = passphrase_file(wrong_dir, "wrong " + PASSPHRASE[::-1])
    trace = tmp_path / "trace.txt"
    runs = [
        smsp("auth", "set", "--passphrase-file", str(right)),
        smsp("auth", "status"),
        smsp("config", "show", "--sources"),
        smsp("config", "show", "--sources", "--passphrase-file", str(right)),
        smsp("get", *FOUND, "-vv", "--trace-file", str(trace), "--reveal"),
        smsp("get", *FOUND, "--dry-run"),
        smsp("get", "9991000151", "--dob", "1963-03-03", "-v"),  # failure path, retried
        smsp("get", *FOUND, "--passphrase-file", str(wrong)),  # wrong passphrase path
        smsp("auth", "set", "--passphrase-file", str(wrong)),
    ]
    assert [run.exit_code for run in runs] == [0, 0, 0, 0, 0, 0, 4, 6, 6], [r.stderr for r in runs]
    memory_keyring.entries.clear()
    runs.append(smsp("get", *FOUND, "--no-input"))  # no passphrase anywhere
    assert runs[-1].exit_code == 6
    written = [trace.read_text(encoding="utf-8"), config.config_path().read_text(encoding="utf-8"),
               (record_dir / "audit" / "audit.jsonl").read_text(encoding="utf-8")]
    for text in [*written, *(run.stdout + run.stderr for run in runs)]:
        assert PASSPHRASE not in text
        assert PASSPHRASE[::-1] not in text
        assert "Traceback" not in text


def test_config_init_with_a_pkcs12_needs_no_key_and_suggests_auth_set(
    credentials: SandboxCredentials, sandbox: SandboxServer, tmp_path: Path, record_dir: Path,
    memory_keyring: MemoryKeyring,
) -> None:
    p12 = pkcs12_file(credentials, tmp_path / "issued.p12", PASSPHRASE)
    run = smsp("config", "init", "--no-input", "--profile", "opentest", "--kind", "test",
               "--endpoint", sandbox.url, "--cert", str(p12),
               "--ca-bundle", str(credentials.ca_cert), "--audit-id", "868000003114")
    assert run.exit_code == 0, run.stderr
    assert "smsp auth set --profile opentest" in run.stderr
    assert "key" not in config.load().profiles["opentest"]
    stored = smsp("auth", "set", "--passphrase-file", str(passphrase_file(tmp_path, PASSPHRASE)))
    assert stored.exit_code == 0, stored.stderr
    lookup = _lookup("--no-input")
    assert lookup.exit_code == 0, lookup.stderr
    # This run's data directory holds no sandbox CA: the profile's kind labels the answer.
    assert lookup.stderr == ("smsp: TEST environment (profile opentest): data from a test "
                             "provider, not live patient data\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("urp=1,user=2,org=urn:nhs-uk:identity:ods:RHM", ["1", "2", "urn:nhs-uk:identity:ods:RHM"]),
        ("org=urn:nhs-uk:identity:ods:RHM, urp=1 user=2 role=R1", ["1", "2", "R1",
                                                                   "urn:nhs-uk:identity:ods:RHM"]),
        ("sso=TOKEN,org=urn:nhs-uk:identity:ods:RHM", ["TOKEN", "urn:nhs-uk:identity:ods:RHM"]),
        ("asid=868000003114", ["868000003114"]),
    ],
)
def test_smartcard_forms_parse_in_envelope_order(text: str, expected: list[str]) -> None:
    assert [audit.uri for audit in identity.parse_audit_identity(text)] == expected


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("urp=1,user=2", "missing org="),
        ("urp=1,org=urn:nhs-uk:identity:ods:RHM", "missing user="),
        ("sso=T", "needs org="),
        ("sso=T,urp=1,user=2,org=urn:nhs-uk:identity:ods:RHM", "do not mix"),
        ("urp=1,user=2,role=3,org=urn:nhs-uk:identity:ods:RHM,asid=4", "at most 4"),
        ("urp=1,urp=2", "twice"),
        ("urp=1,user=2,org=RHM", "org= must be"),
        ("868000003114,urp=1", "cannot be mixed"),
        ("colour=blue", "keys urp, user, role, sso, org, asid"),
        ("asid=12ab", "all digits"),
    ],
)
def test_incomplete_or_mixed_audit_forms_are_refused(text: str, rule: str) -> None:
    from smsp_cli.domain.errors import ValidationError

    with pytest.raises(ValidationError, match=re.escape(rule)):
        identity.parse_audit_identity(text)
