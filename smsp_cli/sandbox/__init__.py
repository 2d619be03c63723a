"""The embedded sandbox provider: a real HTTPS SMSP server answering from synthetic patients.

``patients`` defines a synthetic record and its scenario; the records are ``builtin`` or loaded
from an Opentest-format CSV by ``opentest``. ``checks`` judges each request (with
``envelope_checks`` and ``payload_checks``), ``matching`` decides, per spec §3.3, which record and
response code answer it, and ``responses`` builds the reply that ``server`` sends.
"""
