"""What the person at the terminal should know that does not stop the run, as events.

Code below the command line never writes to a stream: a loose key file, a passphrase asked for
because the keyring has none, trouble with the audit trail are *reported* here, and the command
line (:func:`smsp_cli.cli.main.build_app` installs :func:`smsp_cli.output.notices.show`) renders
each as one ``smsp: ...`` line on stderr. Used as a library, nothing is shown until a listener is
installed; :func:`collected` gathers the notices of a block (tests, or a caller that shows them
its own way).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator


class Notice:
    """One line for the person at the terminal (never patient data, never a secret).

    A plain class, not a dataclass: every command loads this module, and making a dataclass
    costs about a millisecond of start-up.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text  # as shown after ``smsp: ``

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Notice) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"Notice({self.text!r})"


Listener = Callable[[Notice], None]

_listener: Listener | None = None


def report(notice: Notice) -> None:
    """Hand ``notice`` to the listener the command line installed (none: it goes nowhere)."""
    listener = _listener
    if listener is not None:
        listener(notice)


def listen(listener: Listener | None) -> Listener | None:
    """Send every notice from now on to ``listener``; returns the one it replaces."""
    global _listener
    previous, _listener = _listener, listener
    return previous


@contextlib.contextmanager
def collected() -> Iterator[list[Notice]]:
    """The notices reported inside the block, in order, instead of being shown."""
    found: list[Notice] = []
    previous = listen(found.append)
    try:
        yield found
    finally:
        listen(previous)
