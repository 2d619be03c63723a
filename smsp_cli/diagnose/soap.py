"""Layers 6 and 7, judged from one real call: an HTTP answer, then an SMSP reply or fault."""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsp_cli.diagnose.report import Check, Layer, Status, fail
from smsp_cli.domain.errors import UsageError
from smsp_cli.untrusted.sanitize import provider_text

if TYPE_CHECKING:
    from smsp_cli.domain.errors import SmspError
    from smsp_cli.domain.models import Query
    from smsp_cli.domain.results import Outcome
    from smsp_cli.transport.trace import Trace

# The probe for layer 7: a built-in sandbox patient, and for other providers a syntactically
# valid number from the 999 test range that belongs to no real patient. Any well-formed answer,
# "no match" included, proves the SOAP layer works.
PROBE_NHS_NUMBER = "9991000003"
PROBE_DOB = "1984-03-14"


def probe_query(nhs_number: str | None = None, dob: str | None = None) -> Query:
    """The verifyNHSNumber request layer 7 sends: the given patient, or the built-in probe."""
    from smsp_cli.domain import operations
    from smsp_cli.domain.models import build_query

    if (nhs_number is None) != (dob is None):
        raise UsageError(
            "--nhs-number and --dob go together", hint="give both, or neither for the default"
        )
    return build_query(
        operations.VERIFY, nhs_number=nhs_number or PROBE_NHS_NUMBER, dob=dob or PROBE_DOB
    )


# --- 6. HTTP -----------------------------------------------------------------------------


_HTTP_ADVICE: dict[int, tuple[str, str]] = {
    401: ("the server wants credentials SMSP does not use", "check the endpoint URL"),
    403: (
        "the server refused access: this client or address is not allowed",
        "ask the provider to register your certificate, ASID and source address",
    ),
    404: ("there is no SMSP service at this path", "check the path in --endpoint (e.g. /smsp/pds)"),
    405: (
        "this path does not take POST: it is not the SMSP service",
        "check the path in --endpoint (e.g. /smsp/pds)",
    ),
    502: ("a gateway in front of the provider got no good answer", "try later; tell the provider"),
    503: ("the provider is unavailable or busy", "try later; tell the provider if it persists"),
    504: ("a gateway in front of the provider timed out", "try later; tell the provider"),
}


def check_http(trace: Trace, error: SmspError | None) -> Check:
    """Did the POST get an HTTP answer, on a status the SOAP binding uses?"""
    if trace.status is None:
        message = error.message if error is not None else "no HTTP answer"
        return fail(
            Layer.HTTP,
            message,
            "the connection worked, but the HTTP exchange did not",
            (error.hint if error is not None else None)
            or "run a lookup with -v and send it to the provider",
        )
    headers = {name.lower(): value for name, value in trace.response_headers}
    # Every header and the reason phrase are the provider's words: masked, made visible.
    reason = provider_text(trace.reason or "")
    facts = (
        ("status", f"{trace.status} {reason}".strip()),
        ("server", provider_text(headers.get("server", "(not named)"))),
        ("content type", provider_text(headers.get("content-type", "(none)"))),
    )
    summary = f"HTTP {trace.status} {reason}".strip()
    if trace.status in (200, 500):  # 200 for replies, 500 for SOAP faults (spec §5.6, §5.7)
        return Check(Layer.HTTP, Status.PASS, f"{summary} from {facts[1][1]}", facts)
    status = trace.status
    if 300 <= status < 400:
        # A redirect's Location may carry the query's NHS number and date of birth.
        location = provider_text(headers.get("location", "(no location)"))
        cause = f"the server redirects to {location}"
        step = "SMSP does not follow redirects: put the right URL in --endpoint"
    else:
        cause, step = _HTTP_ADVICE.get(
            status,
            (
                f"the server answered HTTP {status}, a status SOAP replies do not use",
                "check the endpoint URL; send smsp -v output to the provider",
            ),
        )
    return fail(Layer.HTTP, summary, cause, step, facts)


# --- 7. SMSP -----------------------------------------------------------------------------


_FAULT_ADVICE = {
    "1000": "the envelope was refused: check the clock (layer 8), the username (layer 2) and "
    "the audit identity",
    "2100": "the provider had a temporary problem: try again later",
    "2200": "the provider failed: tell the provider",
    "3000": "access denied: check that your ASID and certificate are registered for this service",
}


# What batch treats as a failure every row shares fails this layer too (exit 16).
_REFUSED_ALL = {
    "SMSP-0005": (
        "the provider rejected the audit identity or credentials (SMSP-0005 Author Credentials "
        "Error): no lookup can pass",
        "check the audit identity (--audit-id: your ASID and organisation) with the provider",
    ),
    "3000": (
        "the provider denied access (SOAP fault 3000): no lookup can pass",
        "check that your ASID and client certificate are registered for this service, and the "
        "username (layer 2)",
    ),
}


def check_smsp(trace: Trace, outcome: Outcome | None, error: SmspError | None) -> Check:
    """A business reply or a SOAP fault proves the SOAP layer works; anything else does not.

    SMSP-0005 and fault 3000 fail it: the SOAP layer answers, but refuses every lookup.
    """
    if outcome is not None and outcome.reply.response_code in _REFUSED_ALL:
        cause, step = _REFUSED_ALL[outcome.reply.response_code]
        reply = outcome.reply
        return fail(Layer.SMSP, f"{outcome.operation.name} answered {reply.response_code} "
                    f"({outcome.response_text})", cause, step,
                    (("reply", f"{reply.response_code} {outcome.response_text}"),))
    if error is not None and error.fault is not None and error.fault.error_code in _REFUSED_ALL:
        fault = error.fault
        cause, step = _REFUSED_ALL[fault.error_code or ""]
        text = provider_text(fault.error_text or fault.faultstring)
        facts: tuple[tuple[str, str], ...] = (
            ("fault", provider_text(f"{fault.faultcode} {fault.error_code}")),
        )
        if fault.diagnostic:
            facts += (("diagnostic", provider_text(fault.diagnostic)),)
        return fail(Layer.SMSP, f"SOAP fault {provider_text(fault.error_code or '')}: {text}",
                    cause, step, facts)
    if outcome is not None:
        reply = outcome.reply
        return Check(
            Layer.SMSP,
            Status.PASS,
            f"{outcome.operation.name} answered {reply.response_code} ({outcome.response_text})",
            (("reply", f"{reply.response_code} {outcome.response_text}"),),
        )
    if error is not None and error.fault is not None:
        fault = error.fault
        code = fault.error_code or fault.faultcode
        # A fault's text may echo a patient: NHS numbers and dates masked (provider_text).
        text = provider_text(fault.error_text or fault.faultstring)
        return Check(
            Layer.SMSP,
            Status.WARN,
            f"SOAP fault {provider_text(code)}: {text}",
            (("fault", provider_text(f"{fault.faultcode} {code}")),)
            + ((("diagnostic", provider_text(fault.diagnostic)),) if fault.diagnostic else ()),
            cause="the SOAP layer works, but the provider refused this request",
            next_step=_FAULT_ADVICE.get(
                fault.error_code or "", "send smsp -v output (redacted) to the provider"
            ),
        )
    text = error.message if error is not None else "no reply"
    return fail(
        Layer.SMSP,
        f"not a usable SMSP reply: {text}",
        "the server answered HTTP, but not with an SMSP SOAP reply: it may not be an SMSP "
        "PDS service",
        "check the endpoint URL; run a lookup with -v to see the reply",
    )
