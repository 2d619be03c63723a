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

from smsp_cli.audit.calls import CallAudit, CallRecorder
from smsp_cli.audit.configured import TrailOptions, open_trail, options_for_profile
from smsp_cli.audit.events import config_change, passphrase_rejected
from smsp_cli.audit.paths import legacy_access_record, trail_dir
from smsp_cli.audit.search import Filters, search
from smsp_cli.audit.trail import DEFAULT_MAX_BYTES, Trail, TrailUnavailable
from smsp_cli.audit.verify import Report, verify

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
