"""The SMSP adapter (spec §3, §5): envelope and templates, reply parsing, hardened XML.

:data:`smsp_cli.adapters.smsp.adapter.SMSP` is the :class:`smsp_cli.adapters.Adapter` the
orchestrator drives.
"""
