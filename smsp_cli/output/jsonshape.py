"""The stable JSON shape of results: a public contract that scripts depend on.

Change it only on purpose, with a test that pins it (tests/test_json_shape.py).
"""

from __future__ import annotations

from typing import Any

from smsp_cli.domain.errors import ExitCode, SmspError
from smsp_cli.domain.operations import ReplyKind
from smsp_cli.domain.results import Address, GpPractice, Outcome, Patient
from smsp_cli.output.messages import error_message
from smsp_cli.untrusted.sanitize import visible


def address_json(address: Address) -> dict[str, Any]:
    """An address as {use, lines, postcode}."""
    return {"use": address.use, "lines": list(address.lines), "postcode": address.postcode}


def gp_practice_json(practice: GpPractice | None) -> dict[str, Any] | None:
    """A GP practice as {code, name, address, telephone}, or None."""
    if practice is None:
        return None
    return {
        "code": practice.code,
        "name": practice.name,
        "address": address_json(practice.address) if practice.address else None,
        "telephone": practice.telephone,
    }


def patient_json(patient: Patient | None) -> dict[str, Any] | None:
    """A patient with the documented keys, or None."""
    if patient is None:
        return None
    return {
        "nhs_number": patient.nhs_number,
        "local_identifier": patient.local_identifier,
        "title": patient.title,
        "given_names": list(patient.given_names),
        "family_name": patient.family_name,
        "gender": patient.gender,
        "birth_date": patient.birth_date,
        "death_date": patient.death_date,
        "addresses": [address_json(address) for address in patient.addresses],
        "telecoms": [{"use": t.use, "value": t.value} for t in patient.telecoms],
        "gp_practice": gp_practice_json(patient.gp_practice),
        "restricted": patient.restricted,
    }


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    """The whole result of one lookup."""
    reply = outcome.reply
    shape: dict[str, Any] = {
        "api": outcome.api,
        "operation": outcome.operation.name,
        "response_code": reply.response_code,
        "response_text": outcome.response_text,
        "message_id": outcome.message_id,
        "warnings": list(outcome.warnings),
    }
    kind = outcome.operation.reply
    if kind is ReplyKind.VERIFY:
        shape["verified"] = outcome.verified  # the verdict table (domain/verdict.py)
        shape["nhs_number"] = reply.nhs_number
    elif kind is ReplyKind.NHS_NUMBER:
        shape["nhs_number"] = reply.nhs_number
        shape["local_identifier"] = reply.local_identifier
    else:
        shape["patient"] = patient_json(reply.patient)
    shape["warning_codes"] = list(outcome.warning_codes)
    shape["superseded_nhs_number"] = outcome.superseded_nhs_number
    shape["synthetic"] = outcome.synthetic
    shape["environment"] = outcome.environment
    if outcome.fhir is not None:
        exchange = outcome.fhir
        shape["fhir"] = {
            "http_status": exchange.http_status,
            "issue_code": exchange.issue_code,
            "diagnostics": visible(exchange.diagnostics) if exchange.diagnostics else None,
            "request_id": exchange.request_id,
            "version_id": exchange.version_id,
        }
    error = outcome_error(outcome)
    if error is not None:
        # A reply that is a result but exits 2-6 (SMSP-0001, SMSP-0004, an unknown code...):
        # the result keys stay, and scripts branch on the same keys as for any failure.
        shape["exit_code"] = outcome.exit_code
        shape["error"] = error
        shape["message_ids"] = list(outcome.message_ids or (outcome.message_id,))
    return shape


def outcome_error(outcome: Outcome) -> dict[str, Any] | None:
    """The error object for a reply that exits 2-6 (with its ``response_code``), else None."""
    message = error_message(outcome)
    if message is None:
        return None
    return error_object(outcome.exit_code, message, response_code=outcome.reply.response_code)


# The ``type`` of an error object, by exit code: a public contract like the exit codes.
ERROR_TYPES: dict[int, str] = {
    ExitCode.USAGE: "usage",
    ExitCode.REJECTED: "rejected",
    ExitCode.PROVIDER_FAILED: "provider_failed",
    ExitCode.UNREACHABLE: "unreachable",
    ExitCode.CONFIG: "config",
}


def error_object(
    exit_code: int, message: str, *, response_code: str | None = None,
    fault_code: str | None = None, fields: tuple[tuple[str, str], ...] = (),
) -> dict[str, Any]:
    """``{type, message, response_code, fault_code, fields}``: what went wrong, for scripts.

    ``fields`` names each input field at fault (by its batch column name) and its rule; it is
    empty for anything but a validation error.
    """
    return {
        "type": ERROR_TYPES.get(exit_code, "provider_failed"),
        "message": message,
        "response_code": response_code,
        "fault_code": fault_code,
        "fields": [{"field": name, "rule": visible(rule)} for name, rule in fields],
    }


def error_json(error: SmspError, api: str | None = None) -> dict[str, Any]:
    """``{exit_code, error}`` for a failure, as ``-o json`` prints it and batch rows carry it.

    ``message`` is the one line stderr shows for the same failure.
    """
    code = int(error.exit_code)
    fault_code = error.fault.error_code if error.fault is not None else None
    line = visible(error.one_line())
    if error.message_ids:
        # Something was sent: the call is named, so the user can quote it to the provider.
        line += f" (MessageID {visible(error.message_ids[-1])})"
    shape: dict[str, Any] = {
        "api": api or getattr(error, "api", None) or "smsp",
        "exit_code": code,
        "error": error_object(
            code, line, fault_code=fault_code, fields=getattr(error, "fields", ()),
        ),
    }
    if error.message_ids:
        shape["message_id"] = error.message_ids[-1]
        shape["message_ids"] = list(error.message_ids)
    issue_code = getattr(error, "issue_code", None)
    if (error.http_status is not None or issue_code is not None) and shape["api"] == "fhir":
        shape["fhir"] = {"http_status": error.http_status, "issue_code": issue_code,
                         "diagnostics": None, "request_id": None, "version_id": None}
    return shape
