"""Data flows one way: no import runs back up a layer, and the packages form no circle.

Every ``import`` in smsp_cli counts, also those inside functions and under ``TYPE_CHECKING``:
a lazy import is still a dependency. The graph is between the packages (and top-level modules)
of smsp_cli; inside a package, modules may import each other freely.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "smsp_cli"

# Top to bottom. A unit may import units of the layers below its own, never above nor beside.
# The command line's face (cli/) runs the commands but imports none: its registry names each
# one as "module:attribute", imported when it runs. The commands build on the face's parts
# (options declared once, the Typer classes, the error boundary), so in the import graph
# commands/ sits above cli/, as pip's commands sit on its cli/ package.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__main__",),  # python -m smsp_cli
    ("commands",),  # thin: parse, call, render
    ("cli",),  # the face: entry, registry, Typer group, help, options, the error boundary
    ("batch", "diagnose"),  # many calls, and doctor's climb
    ("orchestrator",),  # service.py: one call end to end, whichever adapter answers
    ("sandbox",),  # the embedded provider
    ("audit",),  # the trail
    ("output",),  # renderers: tables, JSON, traces, banner
    ("adapters",),  # the API adapters (adapters/smsp, adapters/fhir) and their interface
    ("transport",),  # what the adapters share: TLS, deadline, decoding, retry, trace
    ("settings",),  # flag > env > profile > default; credentials; client certificates
    ("domain", "untrusted", "system", "root"),  # the domain's words, the gate, files/streams
    ("fastclasses",),  # dataclass, with frozen classes made cheaply: what every layer's types use
)
# Top-level modules that belong to a unit of another name.
UNIT_OF = {"service": "orchestrator", "__init__": "root"}
LAYER_OF = {unit: depth for depth, units in enumerate(LAYERS) for unit in units}


def unit_of(module: str) -> str:
    """``smsp_cli.a.b`` -> the unit of ``a`` (``smsp_cli`` itself is ``root``)."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    return UNIT_OF.get(top, top)


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(path: Path) -> Iterator[tuple[str, int]]:
    """Every smsp_cli module ``path`` imports, anywhere in the file, with its line."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target == "smsp_cli":
                # `from smsp_cli import service`: the module; `import __version__`: the root.
                for alias in node.names:
                    child = PACKAGE / alias.name
                    is_module = child.is_dir() or child.with_suffix(".py").is_file()
                    yield (f"smsp_cli.{alias.name}" if is_module else "smsp_cli"), node.lineno
            else:
                yield target, node.lineno


@functools.cache
def edges() -> dict[tuple[str, str], list[str]]:
    """(importing unit, imported unit) -> where, for every import between two units."""
    found: dict[tuple[str, str], list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        source = unit_of(module_name(path))
        for target, line in imported(path):
            if target != "smsp_cli" and not target.startswith("smsp_cli."):
                continue
            unit = unit_of(target)
            if unit != source:
                where = f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}"
                found.setdefault((source, unit), []).append(where)
    return found


def test_every_package_and_top_level_module_has_a_layer() -> None:
    units = {unit_of(module_name(path)) for path in PACKAGE.rglob("*.py")}
    assert sorted(units - LAYER_OF.keys()) == []


def test_no_import_runs_up_a_layer_or_beside_it() -> None:
    wrong = [
        where
        for (source, target), places in edges().items()
        if LAYER_OF[target] <= LAYER_OF[source]
        for where in places
    ]
    assert wrong == []


def test_the_packages_import_each_other_in_no_circle() -> None:
    graph: dict[str, set[str]] = {}
    for source, target in edges():
        graph.setdefault(source, set()).add(target)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for following in graph.get(start, ()):
            if following == goal or (
                following not in seen and reaches(following, goal, seen | {following})
            ):
                return True
        return False

    assert sorted(unit for unit in graph if reaches(unit, unit, {unit})) == []


def test_the_checker_sees_lazy_and_type_checking_imports() -> None:
    sample = PACKAGE / "output" / "tracefile.py"  # imports the trace only under TYPE_CHECKING
    targets = {target for target, _ in imported(sample)}
    assert "smsp_cli.transport.trace" in targets
    assert ("output", "transport") in edges()


def test_commands_hold_no_error_reporting_of_their_own() -> None:
    # The one error boundary (cli/reporting, around every command) turns errors into lines.
    blocks = [
        f"{path.name}:{number}"
        for path in sorted((PACKAGE / "commands").glob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "reported_errors" in line or "reporting import" in line
    ]
    assert blocks == []
