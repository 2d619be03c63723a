"""Shell completion for values: profile names and gender words.

The scripts in ``completions/`` ask smsp itself what to offer (Typer's dynamic completion),
so these functions answer at the moment of pressing Tab. They import nothing heavy until
called, and never fail: a config file that cannot be read offers just ``sandbox``.
"""

from __future__ import annotations


def profile_names(incomplete: str) -> list[str]:
    """The profiles in the config file, and the built-in ``sandbox``, starting ``incomplete``."""
    from smsp_cli.domain.errors import SmspError
    from smsp_cli.settings import config
    from smsp_cli.settings.connection import SANDBOX_PROFILE

    try:
        names = sorted(config.load().profiles)
    except (SmspError, OSError, ValueError):
        names = []
    return [name for name in [*names, SANDBOX_PROFILE] if name.startswith(incomplete)]


def gender_words(incomplete: str) -> list[str]:
    """The words ``--gender`` accepts (male, female, not-known, not-specified)."""
    from smsp_cli.domain.models import GENDER_WORDS

    words = [word for word in GENDER_WORDS if len(word) > 1]  # not the m and f shorthands
    return [word for word in words if word.startswith(incomplete.lower())]
