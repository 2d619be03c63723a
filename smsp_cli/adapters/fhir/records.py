"""A PDS FHIR Patient read into smsp's :class:`results.Patient` (pds-fhir §3).

smsp's own decisions, documented in the README's PDS FHIR table:

* the name shown is the usual one (PDS keeps one), whatever its period;
* addresses, telecoms and the GP are the current ones: no period end, or one not yet passed
  (the period rule); a list that held only ended entries is noted with the last end date;
* gender: male, female; unknown -> not-known; other -> not-specified;
* address use: home -> home, temp -> temporary, billing -> correspondence; work stays work;
* restricted: ``meta.security`` code R (PDS then withholds address, telecom and GP).

Values of unexpected types are read as absent, never trusted as another type.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from smsp_cli.domain import results
from smsp_cli.domain.models import PartialDate
from smsp_cli.domain.verification import HeldName

GENDERS = {"male": "male", "female": "female", "unknown": "not-known", "other": "not-specified"}
ADDRESS_USES = {"home": "home", "temp": "temporary", "billing": "correspondence",
                "work": "work"}


def patient(resource: Mapping[str, Any], *, local_identifier: str | None = None,
            today: dt.date | None = None) -> results.Patient:
    """The record as smsp's results hold it, with the period rule applied."""
    day = today or dt.datetime.now(dt.UTC).date()
    name = usual_name(resource)
    addresses, address_ended = _current(_list(resource, "address"), day)
    telecoms, telecom_ended = _current(_list(resource, "telecom"), day)
    practices, gp_ended = _current(_list(resource, "generalPractitioner"), day,
                                   period=_identifier_period)
    ended = tuple((what, last) for what, last, current in (
        ("address", address_ended, addresses), ("telecom", telecom_ended, telecoms),
        ("gp", gp_ended, practices)) if last is not None and not current)
    prefix = _strings(name, "prefix")
    return results.Patient(
        nhs_number=_string(resource, "id"),
        local_identifier=local_identifier,
        title=prefix[0] if prefix else None,
        given_names=tuple(_strings(name, "given")),
        family_name=_string(name, "family"),
        gender=_gender(_string(resource, "gender")),
        birth_date=_string(resource, "birthDate"),
        death_date=_date_part(_string(resource, "deceasedDateTime")),
        addresses=tuple(_address(item) for item in addresses),
        telecoms=tuple(_telecom(item) for item in telecoms),
        gp_practice=_practice(practices[0]) if practices else None,
        restricted=is_restricted(resource),
        ended_only=ended,
    )


def usual_name(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    """The usual name, else the first; an empty mapping when there is none."""
    names = [item for item in _list(resource, "name") if isinstance(item, dict)]
    for name in names:
        if name.get("use") == "usual":
            return name
    return names[0] if names else {}


def held_names(resource: Mapping[str, Any]) -> list[HeldName]:
    """Every name of the record, usual first, for the verification rule."""
    names = [item for item in _list(resource, "name") if isinstance(item, dict)]
    names.sort(key=lambda name: name.get("use") != "usual")
    return [HeldName(_string(name, "family") or "", tuple(_strings(name, "given")))
            for name in names]


def birth_date(resource: Mapping[str, Any]) -> PartialDate | None:
    """The record's birth date (YYYY, YYYY-MM or YYYY-MM-DD), or None."""
    text = _string(resource, "birthDate") or ""
    if len(text) not in (4, 7, 10):
        return None
    return PartialDate.from_hl7(text.replace("-", ""))


def is_restricted(resource: Mapping[str, Any]) -> bool:
    """``meta.security`` holds the code R (restricted)."""
    meta = resource.get("meta")
    security = meta.get("security") if isinstance(meta, dict) else None
    if not isinstance(security, list):
        return False
    return any(isinstance(item, dict) and item.get("code") == "R" for item in security)


def version_id(resource: Mapping[str, Any]) -> str | None:
    """``meta.versionId``: what the ETag names."""
    meta = resource.get("meta")
    return _string(meta, "versionId") if isinstance(meta, dict) else None


def _current(
    items: Sequence[Any], today: dt.date, period: Any = None
) -> tuple[list[Mapping[str, Any]], str | None]:
    """The entries whose period has no end or one not yet passed, and the last end date."""
    read_period = period or _own_period
    current: list[Mapping[str, Any]] = []
    last: str | None = None
    for item in items:
        if not isinstance(item, dict):
            continue
        end = _string(read_period(item), "end")
        ended = _end_date(end)
        if ended is not None and ended < today:
            last = max(last or "", ended.isoformat())
        else:
            current.append(item)
    return current, last


def _own_period(item: Mapping[str, Any]) -> Mapping[str, Any]:
    found = item.get("period")
    return found if isinstance(found, dict) else {}


def _identifier_period(item: Mapping[str, Any]) -> Mapping[str, Any]:
    identifier = item.get("identifier")
    found = identifier.get("period") if isinstance(identifier, dict) else None
    return found if isinstance(found, dict) else {}


def _end_date(text: str | None) -> dt.date | None:
    if not text or len(text) < 10:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def _address(item: Mapping[str, Any]) -> results.Address:
    use = _string(item, "use")
    lines = tuple(line.strip() for line in _strings(item, "line") if line.strip())
    return results.Address(None if use is None else ADDRESS_USES.get(use, use), lines,
                           _string(item, "postalCode"))


# FHIR ContactPoint.use in the words SMSP's telecoms get (results.TELECOM_USES).
_TELECOM_USES = {"temp": "temporary"}


def _telecom(item: Mapping[str, Any]) -> results.Telecom:
    value = _string(item, "value") or ""
    use = _string(item, "use")
    return results.Telecom(None if use is None else _TELECOM_USES.get(use, use), value)


def _practice(item: Mapping[str, Any]) -> results.GpPractice:
    identifier = item.get("identifier")
    code = _string(identifier, "value") if isinstance(identifier, dict) else None
    # PDS holds the practice's code only: its name, address and phone are the ODS API's.
    return results.GpPractice(code=code, name=None, address=None, telephone=None)


def _gender(value: str | None) -> str | None:
    return None if value is None else GENDERS.get(value, value)


def _date_part(value: str | None) -> str | None:
    return None if value is None else value[:10]


def _list(mapping: Mapping[str, Any], key: str) -> list[Any]:
    found = mapping.get(key)
    return found if isinstance(found, list) else []


def _string(mapping: Mapping[str, Any] | None, key: str) -> str | None:
    if mapping is None:
        return None
    found = mapping.get(key)
    return found if isinstance(found, str) else None


def _strings(mapping: Mapping[str, Any], key: str) -> list[str]:
    return [item for item in _list(mapping, key) if isinstance(item, str)]
