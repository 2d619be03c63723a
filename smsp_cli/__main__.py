"""Allow ``python -m smsp_cli``."""

from smsp_cli.cli.main import main

main()
