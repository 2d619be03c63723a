"""The audit trail (spec §7.2, MSCA-AUD-01..07): who looked up which patient, when, with which
message, and what came back; every configuration change and rejected passphrase too.

* :mod:`.trail` appends records: hash-chained, locked across processes and threads, rotated,
  checkpointed, a torn line set aside; :mod:`.configured` opens the trail the settings name;
* :mod:`.records` holds their shapes; :mod:`.calls` is the hook ``service.call`` writes through;
  :mod:`.events` records config changes and rejected passphrases;
* :mod:`.search` and :mod:`.verify` read the trail back; :mod:`.forward` copies each record to
  syslog.

Import each name from the module that defines it: the package itself imports nothing, so a
lookup loads the writing side alone and only the audit commands load the reading side.
Everything here is standard library only, so recording a lookup costs no heavy import.
"""
