"""The audit trail (spec §7.2, MSCA-AUD-01..07): who looked up which patient, when, with which
message, and what came back; every configuration change and rejected passphrase too.

* :mod:`.trail` appends records: hash-chained, locked across processes and threads, rotated,
  checkpointed, a torn line set aside;
* :mod:`.records` holds their shapes; :mod:`.calls` is the hook ``service.call`` writes through;
  :mod:`.events` records config changes and rejected passphrases;
* :mod:`.search` and :mod:`.verify` read the trail back; :mod:`.forward` copies each record to
  syslog.

Everything here is standard library only, so recording a lookup costs no heavy import.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smsp_cli.audit.calls import CallAudit, CallRecorder
    from smsp_cli.audit.configured import TrailOptions, open_trail, options_for_profile
    from smsp_cli.audit.events import config_change, passphrase_rejected
    from smsp_cli.audit.paths import legacy_access_record, trail_dir
    from smsp_cli.audit.search import Filters, search
    from smsp_cli.audit.trail import DEFAULT_MAX_BYTES, Trail, TrailUnavailable
    from smsp_cli.audit.verify import Report, verify

# Every lookup records its calls, few search or verify the trail: each name is imported from
# its module on first use, so a lookup loads the writing side alone.
_HOMES = {
    "CallAudit": "calls",
    "CallRecorder": "calls",
    "TrailOptions": "configured",
    "open_trail": "configured",
    "options_for_profile": "configured",
    "config_change": "events",
    "passphrase_rejected": "events",
    "legacy_access_record": "paths",
    "trail_dir": "paths",
    "Filters": "search",
    "search": "search",
    "DEFAULT_MAX_BYTES": "trail",
    "Trail": "trail",
    "TrailUnavailable": "trail",
    "Report": "verify",
    "verify": "verify",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    """This package, whose functions ``search`` and ``verify`` share their modules' names."""

    def __setattr__(self, name: str, value: Any) -> None:
        # Importing a submodule sets it as an attribute of its package; for .search and .verify
        # that would hide the function of the same name, which is what the package offers.
        if isinstance(value, types.ModuleType) and _HOMES.get(name) == name:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = [
    "DEFAULT_MAX_BYTES",
    "CallAudit",
    "CallRecorder",
    "Filters",
    "Report",
    "Trail",
    "TrailOptions",
    "TrailUnavailable",
    "config_change",
    "legacy_access_record",
    "open_trail",
    "options_for_profile",
    "passphrase_rejected",
    "search",
    "trail_dir",
    "verify",
]
