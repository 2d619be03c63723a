"""Stable codes for the warnings a result carries (the JSON's ``warning_codes``).

A warning's text may be reworded; its code is a public contract scripts branch on.
"""

from __future__ import annotations

RESTRICTED = "restricted"  # PDS marks the record restricted: address, telecom and GP withheld
REDUCED_RECORD = "reduced-record"  # a search's reduced record: the full read found nothing
NO_CURRENT_ADDRESS = "no-current-address"  # every address held has ended
NO_CURRENT_TELECOM = "no-current-telecom"  # every telecom held has ended
NO_CURRENT_GP = "no-current-gp"  # every GP registration held has ended

# What an ended-only list is called in warnings and tables, by its code.
NO_CURRENT: dict[str, str] = {
    "address": NO_CURRENT_ADDRESS,
    "telecom": NO_CURRENT_TELECOM,
    "gp": NO_CURRENT_GP,
}
