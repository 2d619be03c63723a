"""Audit identities for the Distribution Envelope's itk:auditIdentity (spec §7.1).

SMSP rejects a message whose DE carries no audit identity (SMSP-AUDIT-005), so one is always
configured. It is written in one of two ways:

* bare ids separated by commas or spaces: an ASID (all digits; mandatory for the NHS Digital
  SMSP) or an ITK identity URN (``urn:nhs-uk:identity:...``; third-party providers), e.g.
  ``868000003114`` or ``urn:nhs-uk:identity:ods:R59:oncology:ooh:DrJNS``;
* ``key=value`` pairs, for the smartcard access methods, e.g.
  ``urp=555021935107,user=555021936108,role=R8000,org=urn:nhs-uk:identity:ods:RHM``.
  Keys: ``urp`` (SDS user role profile id), ``user`` (SDS user id), ``role`` (job role code,
  optional), ``sso`` (SSO token, access method 4), ``org`` (the organisation's ITK identity)
  and ``asid``. A smartcard set needs urp, user and org; an SSO token needs org.
"""

from __future__ import annotations

import functools
import re

from smsp_cli.domain.errors import ValidationError
from smsp_cli.fastclasses import dataclass

# itk:id/@type OIDs (spec §4 and §7.1, AUDIT-GUIDE).
ASID_TYPE = "1.2.826.0.1285.0.2.0.107"  # Accredited System ID (access method 5)
SDS_USER_ROLE_PROFILE_TYPE = "1.2.826.0.1285.0.2.0.67"  # URP id (access method 3)
SDS_USER_ID_TYPE = "1.2.826.0.1285.0.2.0.65"  # SDS user id (access method 3)
SDS_ROLE_ID_TYPE = "1.2.826.0.1285.0.2.1.104"  # job role code, optional (access method 3)
SSO_TOKEN_TYPE = "2.16.840.1.113883.2.1.3.2.4.18.47"  # SMSC SSO token (access method 4)
ITK_IDENTITY_TYPE = "2.16.840.1.113883.2.1.3.2.4.18.27"  # ITK identity; the XSD default type

ITK_IDENTITY_PREFIX = "urn:nhs-uk:identity:"

# distributionEnvelope-v2-0.xsd: auditIdentityType holds 1 to 4 itk:id elements.
MAX_AUDIT_IDS = 4

_FIELD = "audit id"
# ASCII whitespace only: a non-ASCII space inside an id must be refused, not split on.
_SEPARATORS = re.compile(r"[,\s]+", re.ASCII)
# COR-DEH-04 and §9: ids are anyURIs of printable ASCII; space is excluded because no URI has one
# and the separators above have already split on it.
_PRINTABLE_ASCII = re.compile(r"^[\x21-\x7e]+$")


@dataclass(frozen=True)
class AuditId:
    """One itk:auditIdentity/itk:id: its uri and its type OID (None: the XSD default type)."""

    uri: str
    type: str | None


@functools.lru_cache(maxsize=16)  # every call of a batch reads the same setting (twice)
def parse_audit_identity(text: str) -> tuple[AuditId, ...]:
    """Read one or more audit ids separated by commas or spaces: ASIDs or ITK identity URNs,
    or the ``key=value`` form of a smartcard access method."""
    tokens = [token for token in _SEPARATORS.split(text.strip()) if token]
    if any("=" in token for token in tokens):
        return _parse_pairs(tokens)
    if not tokens:
        raise ValidationError(
            _FIELD, f"is required: an ASID (digits) or an ITK identity ({ITK_IDENTITY_PREFIX}...)"
        )
    if len(tokens) > MAX_AUDIT_IDS:
        raise ValidationError(
            _FIELD,
            f"{len(tokens)} ids given; the Distribution Envelope holds at most {MAX_AUDIT_IDS}",
        )
    return tuple(_parse_one(token) for token in tokens)


def _parse_one(token: str) -> AuditId:
    if not _PRINTABLE_ASCII.match(token):
        raise ValidationError(_FIELD, f"{token!r} must be printable ASCII (COR-DEH-04)")
    if token.isdigit():
        return AuditId(uri=token, type=ASID_TYPE)
    if token.lower().startswith(ITK_IDENTITY_PREFIX):
        _check_itk_identity(token)
        # The type is sent explicitly although it is the XSD default (spec §7.1 allows omitting
        # it): a receiver that parses without the schema never sees a default, and an explicit
        # type makes the audit record self-describing.
        return AuditId(uri=token, type=ITK_IDENTITY_TYPE)
    raise ValidationError(
        _FIELD,
        f"{token!r} is neither an ASID (all digits) nor an ITK identity ({ITK_IDENTITY_PREFIX}...)",
    )


def _check_itk_identity(token: str) -> None:
    # COR-DEH-04: a naming authority, then an organisation code, then optional local tokens,
    # all colon-separated; an empty token would make the identity ambiguous.
    tokens = token[len(ITK_IDENTITY_PREFIX) :].split(":")
    if len(tokens) < 2 or not all(tokens):
        raise ValidationError(
            _FIELD,
            f"{token!r} must be {ITK_IDENTITY_PREFIX}<authority>:<organisation>[:<local>...] "
            "with no empty parts (e.g. urn:nhs-uk:identity:ods:R59)",
        )


# key=value form: the key, its itk:id type OID, in the order the ids are sent (spec §7.1
# lists URP, user id, role id, then the organisation; the ASID is sent in addition).
_PAIR_TYPES: dict[str, str] = {
    "urp": SDS_USER_ROLE_PROFILE_TYPE,
    "user": SDS_USER_ID_TYPE,
    "role": SDS_ROLE_ID_TYPE,
    "sso": SSO_TOKEN_TYPE,
    "org": ITK_IDENTITY_TYPE,
    "asid": ASID_TYPE,
}
_SMARTCARD_KEYS = frozenset({"urp", "user", "role"})


def _parse_pairs(tokens: list[str]) -> tuple[AuditId, ...]:
    pairs: dict[str, str] = {}
    for token in tokens:
        key, equals, value = token.partition("=")
        key = key.strip().lower()
        if not equals or key not in _PAIR_TYPES:
            raise ValidationError(
                _FIELD,
                f"{token!r}: use key=value pairs with keys " + ", ".join(_PAIR_TYPES)
                + " (bare ids and key=value pairs cannot be mixed)",
            )
        if key in pairs:
            raise ValidationError(_FIELD, f"{key}= is given twice")
        if not value or not _PRINTABLE_ASCII.match(value):
            raise ValidationError(_FIELD, f"{key}= needs a printable ASCII value (COR-DEH-04)")
        pairs[key] = value
    _check_access_method(pairs)
    ids = tuple(AuditId(pairs[key], type_) for key, type_ in _PAIR_TYPES.items() if key in pairs)
    if len(ids) > MAX_AUDIT_IDS:
        raise ValidationError(
            _FIELD, f"{len(ids)} ids given; the Distribution Envelope holds at most {MAX_AUDIT_IDS}"
        )
    return ids


def _check_access_method(pairs: dict[str, str]) -> None:
    if "asid" in pairs and not pairs["asid"].isdigit():
        raise ValidationError(_FIELD, "asid= must be all digits")
    if "org" in pairs:
        if not pairs["org"].lower().startswith(ITK_IDENTITY_PREFIX):
            raise ValidationError(
                _FIELD, f"org= must be the organisation's ITK identity ({ITK_IDENTITY_PREFIX}...)"
            )
        _check_itk_identity(pairs["org"])
    smartcard = _SMARTCARD_KEYS & pairs.keys()
    if smartcard and "sso" in pairs:
        raise ValidationError(_FIELD, "sso= is its own access method: do not mix it with urp=, "
                              "user= or role=")
    if smartcard:
        # AUDIT-GUIDE access method 3: URP, user id and the org's ITK id; the role is optional.
        missing = [key for key in ("urp", "user", "org") if key not in pairs]
        if missing:
            raise ValidationError(
                _FIELD,
                "a smartcard identity needs urp=, user= and org= (role= is optional); missing "
                + ", ".join(f"{key}=" for key in missing),
            )
    if "sso" in pairs and "org" not in pairs:
        # Access method 4: the SSO token plus the org's ITK id.
        raise ValidationError(_FIELD, "an sso= token needs org= too")
