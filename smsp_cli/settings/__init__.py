"""Settings: flag > environment > profile > default, the config file, passphrases, client
certificates and the audit identity."""
