"""The README is part of the contract: its exit-code table must match the code."""

from __future__ import annotations

import re
from pathlib import Path

from smsp_cli.domain import errors
from smsp_cli.domain.errors import EXIT_CODE_MEANINGS, ExitCode

README = Path(__file__).resolve().parents[2] / "README.md"


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def _exit_code_rows() -> dict[int, str]:
    rows = re.findall(r"^\| (\d+) \| (.+?) \|$", _section("Exit codes"), re.M)
    return {int(code): meaning for code, meaning in rows}


def test_readme_exit_code_table_matches_the_code() -> None:
    documented = _exit_code_rows()
    assert documented == {int(code): meaning for code, meaning in EXIT_CODE_MEANINGS.items()}


# Which README row describes each error class: the code the class carries must be that row's.
_ROW_OF = {
    errors.UsageError: "usage or validation error",
    errors.ValidationError: "usage or validation error",
    errors.ProviderRejected: "provider rejected the request",
    errors.ProviderFailed: "provider failed or answered unusably",
    errors.UnsafeReply: "provider failed or answered unusably",
    errors.MismatchedReply: "provider failed or answered unusably",
    errors.MalformedHttp: "provider failed or answered unusably",
    errors.Unreachable: "could not reach the provider",
    errors.UntrustedServer: "could not reach the provider",
    errors.CertificateRefused: "could not reach the provider",
    errors.ConfigError: "local configuration or credential problem",
    errors.PassphraseRejected: "local configuration or credential problem",
}


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    return found.union(*(_subclasses(child) for child in found))


def test_every_error_class_exits_with_the_code_its_readme_row_documents() -> None:
    from smsp_cli.adapters.fhir.replies import FhirFailed, FhirRejected
    from smsp_cli.adapters.fhir.signin import TokenRefused
    from smsp_cli.audit.trail import TrailUnavailable
    from smsp_cli.transport.http import NotSent, TransientNetworkError

    rows = {**_ROW_OF, TransientNetworkError: "could not reach the provider",
            NotSent: "could not reach the provider",
            TrailUnavailable: "local configuration or credential problem",
            FhirRejected: "provider rejected the request",
            FhirFailed: "provider failed or answered unusably",
            TokenRefused: "local configuration or credential problem"}
    documented = _exit_code_rows()
    assert set(documented) == {int(code) for code in ExitCode}
    # Private classes (a leading underscore) signal inside smsp and never reach the user.
    classes = {c for c in _subclasses(errors.SmspError)
               if c.__module__.startswith("smsp_cli") and not c.__name__.startswith("_")}
    assert set(rows) >= classes, "a new error class needs a row here"
    for cls, words in rows.items():
        code = int(cls.exit_code)
        assert documented[code].startswith(words), f"{cls.__name__} exits {code}"
    # The numbers themselves are what scripts depend on.
    assert [int(code) for code in ExitCode] == [0, 1, 2, 3, 4, 5, 6]


def test_readme_lists_every_lookup_command() -> None:
    from smsp_cli.domain import operations

    commands = _section("Commands")
    for op in operations.ALL:
        assert f"`smsp {op.command} " in commands
        assert op.name in commands


def test_readme_opens_with_the_two_setup_commands() -> None:
    start = _section("Start here (Python 3.11)")
    blocks = re.findall(r"```sh\n(.*?)\n```", start, re.S)
    assert len(blocks) == 2
    assert "--profile sandbox" in blocks[0]
    assert "pytest" in blocks[1]
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert blocks[1] in ci, ".ci/run must run the README's test command verbatim"


def test_readme_describes_the_audit_trail() -> None:
    from smsp_cli.audit.paths import CURRENT_NAME

    section = _section("Audit trail")
    for needed in (CURRENT_NAME, "SMSP_DATA_DIR", "smsp audit search", "smsp audit verify",
                   "smsp audit path", "audit_syslog", "Never recorded", "audit_max_bytes"):
        assert needed in section, needed
    for flag in ("--nhs-number", "--message-id", "--user", "--since", "--until",
                 "--environment"):
        assert flag in section, flag
    assert "access.jsonl` in your data directory" not in README.read_text(encoding="utf-8")


def test_readme_lists_every_warning_code_with_its_meaning() -> None:
    from smsp_cli.domain.warning_codes import WARNING_CODES

    rows = dict(re.findall(r"^\| `([a-z-]+)` \| (.+?) \|$", _section("Output"), re.M))
    assert rows == WARNING_CODES


def test_readme_lists_every_telecom_use_word_and_has_a_changes_section() -> None:
    from smsp_cli.domain.results import TELECOM_USES

    output = " ".join(_section("Output").split())
    for code, word in TELECOM_USES.items():
        assert f"`{word}` ({code})" in output
    assert "Telecom `use` is now a word" in _section("Changes")
