"""Allow ``python -m smsp_cli``."""

from smsp_cli.cli import main

main()
