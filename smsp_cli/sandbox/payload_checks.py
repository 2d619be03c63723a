"""The HL7 query payload rules (spec §3), read into the patient index's :class:`Criteria`.

A broken payload rule raises :class:`Invalid`, answered as a business reply ``SMSP-0001`` on
HTTP 200, because payload validation failures are returned as a response code (PROV-COMMON
SMSP-VAL-001). That includes an NHS number that fails modulus 11: SMSP-VAL-002 makes the
provider check it, and SMSP-0001 is the code for input the SMSP itself refuses. DEMOG-0042 comes
from PDS, so the sandbox only answers it for a synthetic patient whose scenario asks for it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from smsp_cli.adapters.smsp import xmlsafe
from smsp_cli.adapters.smsp.xmlsafe import NS
from smsp_cli.domain.errors import ValidationError
from smsp_cli.domain.ids import UPPER_UUID
from smsp_cli.domain.models import (
    NHS_NUMBER_OID,
    SEX_CODE_SYSTEM,
    Gender,
    PartialDate,
    check_name,
    is_valid_nhs_number,
    parse_postcode,
)
from smsp_cli.domain.operations import DETAILS, ITEM_ORDER, DobResolution, Operation
from smsp_cli.sandbox.matching import Criteria
from smsp_cli.sandbox.xmlrules import in_order

if TYPE_CHECKING:
    from lxml import etree

MESSAGE_TYPE_CODE_SYSTEM = "2.16.840.1.113883.2.1.3.2.4.17.284"

_OID = re.compile(r"^[0-2](\.(0|[1-9]\d*))+$")
_HL7_DATE = {
    DobResolution.FULL_ONLY: re.compile(r"^\d{8}$"),
    DobResolution.ANY: re.compile(r"^\d{4}(\d{2}(\d{2})?)?$"),
}
_GENDER_CODES = frozenset(gender.value for gender in Gender)


class Invalid(Exception):
    """A broken payload rule: the reason, for the SMSP-0001 reply."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PayloadReader:
    """Reads the HL7 query payload into :class:`Criteria`, raising :class:`Invalid`."""

    def __init__(self, operation: Operation, today: dt.date) -> None:
        self.operation = operation
        self.today = today
        self.wildcards = operation.wildcards
        self.values: dict[str, str | None] = {}
        self.readers: dict[str, Callable[[etree._Element], None]] = {
            "Person.DateOfBirth": self._date_of_birth,
            "Person.Gender": self._gender,
            "Person.LocalIdentifier": self._local_identifier,
            "Person.NHSNumber": self._nhs_number,
            "Person.Name": self._name,
            "Person.Postcode": self._postcode,
        }

    def read(self, slot: etree._Element) -> Criteria:
        """The match criteria held by the ``itk:payload`` element ``slot``."""
        children = xmlsafe.elements(slot)
        if len(children) != 1:
            raise Invalid(f"itk:payload holds {len(children)} elements, not one HL7 payload")
        root = children[0]
        operation = self.operation
        if root.tag != _hl7(operation.request_root):
            raise Invalid(
                f"payload root is {xmlsafe.local_name(root)}, not {operation.request_root}"
            )
        if root.get("classCode") != "CACT" or root.get("moodCode") != "EVN":
            raise Invalid('payload classCode must be "CACT" and moodCode "EVN"')
        if [child.tag for child in xmlsafe.elements(root)] != [
            _hl7(t) for t in ("id", "code", "queryEvent")
        ]:
            raise Invalid("payload must hold id, code and queryEvent, in that order")
        request_id = root.find("hl7:id", NS)
        assert request_id is not None  # the sequence was just checked
        if not UPPER_UUID.match(request_id.get("root", "")) or "extension" in request_id.attrib:
            raise Invalid("payload id/@root must be an upper-case UUID with no extension")
        code = root.find("hl7:code", NS)
        assert code is not None
        if (code.get("code"), code.get("codeSystem")) != (
            operation.request_code,
            MESSAGE_TYPE_CODE_SYSTEM,
        ):
            raise Invalid(
                f"payload code must be {operation.request_code} in {MESSAGE_TYPE_CODE_SYSTEM}"
            )
        query_event = root.find("hl7:queryEvent", NS)
        assert query_event is not None
        self._items(query_event)
        self._mode_rules()
        return Criteria(**self.values)

    def _items(self, query_event: etree._Element) -> None:
        operation = self.operation
        present = in_order(query_event, ITEM_ORDER, xmlsafe.HL7, _invalid_item_order)
        for name in present:
            if name not in operation.items:
                raise Invalid(f"{name} is not part of {operation.name}")
        missing = sorted(operation.required - set(present))
        if missing:
            raise Invalid(f"{missing[0]} is required for {operation.name}")
        has_number = "Person.NHSNumber" in present
        # Spec §3.3: getPatientDetails with an NHS number is a verification: no wildcards.
        self.wildcards = operation.wildcards and not (operation is DETAILS and has_number)
        for item in xmlsafe.elements(query_event):
            name = xmlsafe.local_name(item)
            self.readers[name](self._value(item, name))

    def _value(self, item: etree._Element, name: str) -> etree._Element:
        children = xmlsafe.elements(item)
        if [child.tag for child in children] != [_hl7("value"), _hl7("semanticsText")]:
            raise Invalid(f"{name} must hold value then semanticsText")
        if (children[1].text or "").strip() != name:
            raise Invalid(f"{name}/semanticsText must be {name}")
        return children[0]

    def _date_of_birth(self, value: etree._Element) -> None:
        text = value.get("value", "")
        resolution = self.operation.dob_resolution
        date = PartialDate.from_hl7(text) if _HL7_DATE[resolution].match(text) else None
        if date is None:
            raise Invalid(
                f"date of birth is not a real date in the form {resolution.value} "
                f"for {self.operation.name}"
            )
        if text > self.today.strftime("%Y%m%d")[: len(text)]:
            raise Invalid("date of birth is in the future")
        self.values["birth_date"] = text

    def _gender(self, value: etree._Element) -> None:
        code = value.get("code", "")
        if code not in _GENDER_CODES:
            raise Invalid("gender code is not 0, 1, 2 or 9")
        if value.get("codeSystem") != SEX_CODE_SYSTEM:
            raise Invalid(f"gender codeSystem must be {SEX_CODE_SYSTEM}")
        self.values["gender"] = code

    def _local_identifier(self, value: etree._Element) -> None:
        root, extension = value.get("root", ""), value.get("extension", "")
        if not _OID.match(root) or not extension.strip():
            raise Invalid("Person.LocalIdentifier needs an OID root and an extension")
        self.values["local_id_root"] = root
        self.values["local_id"] = extension

    def _nhs_number(self, value: etree._Element) -> None:
        number = value.get("extension", "")
        if value.get("root") != NHS_NUMBER_OID:
            raise Invalid(f"Person.NHSNumber root must be {NHS_NUMBER_OID}")
        if not is_valid_nhs_number(number):
            raise Invalid("NHS number is not 10 digits passing modulus 11 (SMSP-VAL-002)")
        self.values["nhs_number"] = number

    def _name(self, value: etree._Element) -> None:
        parts = xmlsafe.elements(value)
        tags = [child.tag for child in parts]
        if tags not in ([], [_hl7("given")], [_hl7("family")], [_hl7("given"), _hl7("family")]):
            raise Invalid("Person.Name/value holds given then family, each at most once")
        if self.operation.name_type3 and "use" in value.attrib:
            raise Invalid("Person.Name must not carry @use for this operation (PersonNameType3)")
        for part in parts:
            label = "given name" if xmlsafe.local_name(part) == "given" else "family name"
            try:
                check_name(label, part.text or "", wildcards=self.wildcards)
            except ValidationError:
                raise Invalid(
                    f"{label} is blank, has a control character, or has a wildcard "
                    "where none is allowed (spec §3.3)"
                ) from None
            self.values[xmlsafe.local_name(part)] = part.text
        if self.operation.name_type3 and self.values.get("family") is None:
            raise Invalid(f"a family name is required for {self.operation.name} (PersonNameType3)")

    def _postcode(self, value: etree._Element) -> None:
        parts = xmlsafe.elements(value)
        if [child.tag for child in parts] != [_hl7("postalCode")]:
            raise Invalid("Person.Postcode/value holds exactly one postalCode")
        sent = parts[0].text or ""
        try:
            # smsp normalises what a user types; on the wire a full postcode must already be
            # in its one form (upper case, one space), as a strict provider demands.
            if parse_postcode(sent, wildcards=self.wildcards) != sent and "*" not in sent:
                raise ValidationError("postcode", "not in its normal form")
        except ValidationError:
            raise Invalid(
                "postcode is not up to 8 letters and digits with one space, or has "
                "a wildcard where none is allowed (spec §3.2-3.3)"
            ) from None
        self.values["postcode"] = parts[0].text

    def _mode_rules(self) -> None:
        # Spec §3.3: getPatientDetails without an NHS number is a search, which needs the
        # family name, the given name and the gender.
        if self.operation is DETAILS and self.values.get("nhs_number") is None:
            for key, label in (
                ("family", "family name"),
                ("given", "given name"),
                ("gender", "gender"),
            ):
                if self.values.get(key) is None:
                    raise Invalid(f"{label} is required by getPatientDetails without an NHS number")


def _invalid_item_order(reason: str) -> Exception:
    return Invalid(f"queryEvent: {reason} (spec §3.1: XSD order)")


def _hl7(name: str) -> str:
    return f"{{{xmlsafe.HL7}}}{name}"
