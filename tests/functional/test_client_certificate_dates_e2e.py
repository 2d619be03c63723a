"""A client certificate out of date is exit 6 before anything is sent, in doctor's words."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.lib.cli import smsp

if TYPE_CHECKING:
    from tests.lib.hostile import HostileProvider

GET = ("get", "9991000003", "--dob", "1984-03-14")


@pytest.fixture
def expired(tmp_path: Path, hostile: HostileProvider, monkeypatch: pytest.MonkeyPatch) -> Path:
    from smsp_cli.sandbox.certs import issue_cert, make_ca

    # Any CA will do: the dates are judged before a connection is opened.
    ca = make_ca("a client CA")
    issued = issue_cert(ca, "smsp sandbox client", server=False,
                        not_before=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
                        not_after=dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC))
    cert, key = tmp_path / "client.pem", tmp_path / "client-key.pem"
    issued.write(cert, key)
    monkeypatch.setenv("SMSP_CERT", str(cert))
    monkeypatch.setenv("SMSP_KEY", str(key))
    return cert


def test_an_expired_client_certificate_is_exit_6_with_no_connection(
    expired: Path, hostile: HostileProvider,
) -> None:
    run = smsp(*GET, "--json")
    assert run.exit_code == 6
    assert hostile.connections == 0
    assert json.loads(run.stdout)["exit_code"] == 6
    assert run.stderr == (
        f"smsp: error: client certificate {expired} expired on 2026-01-01 12:00 UTC: servers "
        "refuse expired certificates (spec §5.8, WS-SEC-01); nothing was sent (renew the endpoint "
        "certificate (NHS endpoint registration) and configure the new one; run 'smsp doctor')\n"
    )


def test_a_batch_with_an_expired_client_certificate_stops_before_row_1(
    expired: Path, hostile: HostileProvider, tmp_path: Path,
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("nhs_number,dob\n9991000003,1984-03-14\n9991000003,1984-03-14\n",
                    encoding="utf-8")
    run = smsp("batch", "get", str(rows))
    assert run.exit_code == 6
    assert hostile.connections == 0
    assert run.stdout == ""
    assert "expired on 2026-01-01 12:00 UTC" in run.stderr


def test_a_certificate_not_yet_valid_is_exit_6(
    tmp_path: Path, hostile: HostileProvider, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from smsp_cli.sandbox.certs import issue_cert, make_ca

    issued = issue_cert(make_ca("a client CA"), "smsp sandbox client", server=False,
                        not_before=dt.datetime(2099, 1, 1, tzinfo=dt.UTC),
                        not_after=dt.datetime(2100, 1, 1, tzinfo=dt.UTC))
    cert, key = tmp_path / "client.pem", tmp_path / "client-key.pem"
    issued.write(cert, key)
    monkeypatch.setenv("SMSP_CERT", str(cert))
    monkeypatch.setenv("SMSP_KEY", str(key))
    run = smsp(*GET)
    assert run.exit_code == 6
    assert hostile.connections == 0
    assert run.stderr.startswith(
        f"smsp: error: client certificate {cert} is not valid until 2099-01-01 00:00 UTC: the "
        "certificate is not yet valid, or this computer's clock is behind; nothing was sent")
