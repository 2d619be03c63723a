"""The audit trail (spec §7.2, MSCA-AUD-01..07): who looked up which patient, when, with which
message, and what came back; every configuration change and rejected passphrase too.

* :mod:`.trail` appends records: hash-chained, locked across processes and threads, rotated,
  checkpointed, a torn line set aside;
* :mod:`.records` holds their shapes; :mod:`.calls` is the hook ``service.call`` writes through;
  :mod:`.events` records config changes and rejected passphrases;
* :mod:`.search` and :mod:`.verify` read the trail back (import their functions from those
  modules); :mod:`.forward` copies each record to syslog.

Everything here is standard library only, so recording a lookup costs no heavy import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsp_cli.system.lazyexports import lazy_exports

if TYPE_CHECKING:
    from smsp_cli.audit.calls import CallAudit, CallRecorder
    from smsp_cli.audit.configured import TrailOptions, open_trail, options_for_profile
    from smsp_cli.audit.events import config_change, passphrase_rejected
    from smsp_cli.audit.paths import legacy_access_record, trail_dir
    from smsp_cli.audit.trail import DEFAULT_MAX_BYTES, Trail, TrailUnavailable

# Every lookup records its calls: each name is imported from its module on first use, so a
# lookup loads the writing side alone.
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
    "DEFAULT_MAX_BYTES": "trail",
    "Trail": "trail",
    "TrailUnavailable": "trail",
}

__getattr__ = lazy_exports(__name__, _HOMES)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "CallAudit",
    "CallRecorder",
    "Trail",
    "TrailOptions",
    "TrailUnavailable",
    "config_change",
    "legacy_access_record",
    "open_trail",
    "options_for_profile",
    "passphrase_rejected",
    "trail_dir",
]
