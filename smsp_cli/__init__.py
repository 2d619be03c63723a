"""smsp: a command-line client for the NHS Spine Mini Services Provider (SMSP) PDS interface."""

__version__ = "0.1.0"
