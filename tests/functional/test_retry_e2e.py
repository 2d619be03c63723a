"""Retries (spec §5.9) end to end: the real CLI against the real sandbox, counted server-side."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tests.lib.cli import smsp
from tests.lib.ports import closed_port

if TYPE_CHECKING:
    from smsp_cli.sandbox.server import SandboxServer


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch, sandbox_env: dict[str, str]) -> None:
    monkeypatch.setenv("SMSP_RETRY_BACKOFF", "0.01")


def test_fault_2100_is_retried_to_the_bound_with_distinct_message_ids(
    sandbox: SandboxServer, fast_retries: None
) -> None:
    run = smsp("get", "9991000151", "--dob", "1963-03-03", "-v")
    assert run.exit_code == 4
    sent = re.findall(r"attempt (\d)/3: MessageID (\S+)", run.stderr)
    assert [number for number, _ in sent] == ["1", "2", "3"]
    ids = {message_id for _, message_id in sent}
    assert len(ids) == 3
    answered = [r for r in sandbox.requests if r.message_id in ids]
    assert len(answered) == 3  # counted by the provider: three requests, then it stopped
    assert {r.outcome for r in answered} == {"2100"}
    assert "after 3 attempts" in run.stderr


def test_max_attempts_sets_the_bound(sandbox: SandboxServer, fast_retries: None,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSP_MAX_ATTEMPTS", "2")
    run = smsp("get", "9991000151", "--dob", "1963-03-03", "-v")
    ids = set(re.findall(r"attempt \d/2: MessageID (\S+)", run.stderr))
    assert len([r for r in sandbox.requests if r.message_id in ids]) == 2


@pytest.mark.parametrize(
    ("nhs_number", "dob", "exit_code"),
    [("9991000186", "1970-01-26", 3), ("9991000003", "1984-03-14", 0)],
    ids=["fault-3000", "success"],
)
def test_access_denied_and_success_are_sent_once(
    sandbox: SandboxServer, fast_retries: None, nhs_number: str, dob: str, exit_code: int
) -> None:
    run = smsp("get", nhs_number, "--dob", dob, "-v", "--json")
    assert run.exit_code == exit_code, run.stderr
    ids = set(re.findall(r"attempt \d/3: MessageID (\S+)", run.stderr))
    assert len(ids) == 1
    assert len([r for r in sandbox.requests if r.message_id in ids]) == 1


def test_a_business_no_match_is_sent_once(sandbox: SandboxServer, fast_retries: None) -> None:
    run = smsp("trace", "--family", "Nobody", "--dob", "1901-01-01", "--gender", "f", "-v")
    assert run.exit_code == 1
    assert len(re.findall(r"attempt \d/3", run.stderr)) == 1


def test_a_closed_port_is_retried_and_each_attempt_shown(fast_retries: None) -> None:
    run = smsp("get", "9991000003", "--dob", "1984-03-14", "-v",
               "--endpoint", f"https://127.0.0.1:{closed_port()}/smsp/pds")
    assert run.exit_code == 5
    assert len(re.findall(r"attempt \d/3: MessageID \S+ failed: connection to", run.stderr)) == 3
    assert "retrying in" in run.stderr
    assert "refused" in run.stderr


def test_without_v_attempts_are_not_shown(fast_retries: None) -> None:
    run = smsp("get", "9991000151", "--dob", "1963-03-03")
    assert run.exit_code == 4
    assert "attempt 1/3" not in run.stderr
