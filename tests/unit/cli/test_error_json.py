"""The error object scripts read on stdout with -o json, and batch rows carry."""

from __future__ import annotations

import pytest

from smsp_cli.domain.errors import ConfigError, ExitCode, ProviderRejected, Unreachable, UsageError
from smsp_cli.domain.results import Fault
from smsp_cli.output.jsonshape import ERROR_TYPES, error_json


def test_every_failing_exit_code_has_its_type() -> None:
    assert ERROR_TYPES == {
        2: "usage", 3: "rejected", 4: "provider_failed", 5: "unreachable", 6: "config"
    }
    assert set(ERROR_TYPES) == {code for code in ExitCode if code >= 2}


@pytest.mark.parametrize(
    ("error", "code", "kind"),
    [
        (UsageError("dob: is required"), 2, "usage"),
        (Unreachable("connection refused", hint="is it running?"), 5, "unreachable"),
        (ConfigError("no endpoint"), 6, "config"),
    ],
)
def test_error_json_carries_exit_code_type_and_one_line(error: Exception, code: int,
                                                        kind: str) -> None:
    assert isinstance(error, UsageError | Unreachable | ConfigError)
    shape = error_json(error)
    assert shape == {
        "api": "smsp",
        "exit_code": code,
        "error": {"type": kind, "message": error.one_line(), "response_code": None,
                  "fault_code": None, "fields": []},
    }


def test_error_json_names_the_fault_code() -> None:
    fault = Fault(faultcode="SOAP-ENV:Client", faultstring="Access denied", error_code="3000")
    shape = error_json(ProviderRejected("fault 3000: Access Denied", fault=fault))
    assert shape["exit_code"] == 3
    assert shape["error"]["type"] == "rejected"
    assert shape["error"]["fault_code"] == "3000"
