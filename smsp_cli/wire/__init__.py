"""The wire: envelopes from templates, the mutual-TLS transport, hardened XML, reply parsing,
retries, and the one-call service."""
