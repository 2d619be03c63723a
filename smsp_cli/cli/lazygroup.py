"""The root group, whose commands' modules are imported only when those commands run.

``smsp get`` must not pay for the doctor, the sandbox, the keyring or batch. The group knows
every command by name from :data:`smsp_cli.cli.registry.COMMANDS` and keeps the real commands in a
mapping that builds each one on first lookup, so everything Typer does with ``commands``
(resolving, "did you mean", adding) works unchanged. Listing commands for help or shell
completion needs only names and one line of help each, so while listing, the group hands out
light stand-ins instead of importing every module. It is an :class:`~smsp_cli.cli.usage.SmspGroup`:
usage errors are one line, help is plain.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperCommand, TyperGroup

from smsp_cli.cli.usage import SmspGroup, SmspTyper

if TYPE_CHECKING:
    # Typer vendors Click; these are its types, for annotations only.
    from typer._click import Command, Context
    from typer._click.shell_completion import CompletionItem

    from smsp_cli.cli.registry import CommandEntry


def lazy_group(entries: Iterable[CommandEntry]) -> type[TyperGroup]:
    """A group class whose commands are ``entries``, each imported when first used."""
    known = {entry.name: entry for entry in entries}

    class RootGroup(LazyGroup):
        __doc__ = LazyGroup.__doc__
        entries = known

    return RootGroup


class LazyGroup(SmspGroup):
    """An SmspGroup whose commands come from ``entries`` and are built when first used."""

    entries: Mapping[str, CommandEntry] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands(self.entries, self.commands)
        self._listing = False

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        """The command named ``cmd_name``; a stand-in while only listing commands."""
        commands = self.commands
        if self._listing and isinstance(commands, LazyCommands):
            stand_in = commands.stand_in(cmd_name)
            if stand_in is not None:
                return stand_in
        return super().get_command(ctx, cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """The plain help page, listing commands without importing them."""
        with self._only_listing():
            super().format_help(ctx, formatter)

    def shell_complete(self, ctx: Context, incomplete: str) -> list[CompletionItem]:
        """Complete command names and options without importing the commands."""
        with self._only_listing():
            return super().shell_complete(ctx, incomplete)

    @contextlib.contextmanager
    def _only_listing(self) -> Iterator[None]:
        self._listing = True
        try:
            yield
        finally:
            self._listing = False


class LazyCommands(MutableMapping[str, "Command"]):
    """Command name -> command, each lazy entry built on first lookup."""

    def __init__(self, entries: Mapping[str, CommandEntry], eager: Mapping[str, Command]) -> None:
        self._entries = dict(entries)
        self._built: dict[str, Command] = dict(eager)

    def __getitem__(self, name: str) -> Command:
        if name not in self._built:
            self._built[name] = build_command(self._entries[name])
        return self._built[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self._entries and name not in self._built:
            raise KeyError(name)
        self._entries.pop(name, None)
        self._built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        yield from self._entries
        yield from (name for name in self._built if name not in self._entries)

    def __len__(self) -> int:
        return len(self._entries.keys() | self._built.keys())

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._built

    def stand_in(self, name: str) -> Command | None:
        """A light command carrying only the name and line of help, if not yet built."""
        entry = self._entries.get(name)
        if entry is None or name in self._built:
            return None
        return TyperCommand(name=name, help=entry.help)


def build_command(entry: CommandEntry) -> Command:
    """Import ``entry``'s module and build its command as the root app would."""
    module_name, _, attribute = entry.target.partition(":")
    target = getattr(importlib.import_module(module_name), attribute)
    # An app with a callback is always a group, so the command comes out of it built exactly
    # as `add_typer` / `command` on the root app would build it.
    holder = SmspTyper(add_completion=False)
    holder.callback()(_nothing)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=entry.name)
    else:
        holder.command(name=entry.name)(target)
    group = typer.main.get_command(holder)
    assert isinstance(group, TyperGroup)
    return group.commands[entry.name]


def _nothing() -> None:
    """The holder app's callback (never run)."""
