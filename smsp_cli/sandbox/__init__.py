"""The embedded sandbox provider: a real HTTPS SMSP server answering from synthetic patients.

``patients`` holds the synthetic records (built in, or loaded from an Opentest-format CSV) and
``matching`` decides, per spec §3.3, which record and response code answer a request.
"""
