"""Output for people and scripts: tables, the JSON shape, redaction, banner and labels."""
