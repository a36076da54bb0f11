"""The house: the import graph of ``src/rekindle`` has no circle and never runs up a floor.

Every module of the package is parsed with :mod:`ast` (nothing is imported), and
every ``import``/``from ... import`` at any depth counts: module level, inside
functions, and under ``if TYPE_CHECKING:`` (a type-only import still couples the
two modules: a reader of one must know the other, and a later runtime use turns it
into a real circle without a warning, so it obeys the same rules).

``from rekindle.pkg import name`` is an edge to the module ``rekindle.pkg.name``
when that module exists, else to the package ``rekindle.pkg`` itself.

The floors (lowest first; a module may import its own floor or lower floors only)
are written out in :data:`FLOORS`, and the same list is in the docstring of
:mod:`rekindle`.  The two generators (``gan`` and ``flow``) share a floor but never
import each other: what both need lives lower down (``features``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "rekindle"

#: Floors, lowest first: (floor name, module-name prefixes).  A prefix names a
#: module or a package (and then everything below it).  The longest prefix wins.
FLOORS: list[tuple[str, tuple[str, ...]]] = [
    (
        "foundation",
        (
            "rekindle",  # the root package: __version__ and the docstring only
            "rekindle.errors",
            "rekindle.config",
            "rekindle.progress",
            "rekindle.reference_values",
            "rekindle.validation",
            "rekindle.io.atomic",
            "rekindle.io._hdf5",
            "rekindle.io._journal",
            "rekindle.scale",
        ),
    ),
    ("kinetics", ("rekindle.kinetics",)),
    ("io, data, integrate", ("rekindle.io", "rekindle.data", "rekindle.integrate")),
    ("sampling", ("rekindle.sampling",)),
    ("features", ("rekindle.features",)),
    ("generators", ("rekindle.gan", "rekindle.flow")),
    ("generation", ("rekindle.generation", "rekindle.upgrade")),
    ("analysis", ("rekindle.analysis",)),
    ("classes", ("rekindle.classes",)),
    ("plots", ("rekindle.plots",)),
    ("report", ("rekindle.report",)),
    ("stages", ("rekindle.stages",)),
    ("pipeline", ("rekindle.pipeline",)),
    ("cli", ("rekindle.cli",)),
]

#: Packages on one floor that must not import each other.
SIBLINGS: tuple[tuple[str, str], ...] = (("rekindle.gan", "rekindle.flow"),)


def _modules() -> dict[str, Path]:
    """Every module of the package: dotted name -> file."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[tuple[str, int]]:
    """The rekindle modules ``name`` imports, with the line of each import."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    edges: set[tuple[str, int]] = set()

    def resolve(dotted: str) -> str:
        while dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted

    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[: -(node.level - 1)]
                base_name = ".".join(base) + (f".{node.module}" if node.module else "")
            else:
                base_name = node.module or ""
            if base_name.split(".")[0] != "rekindle":
                continue
            targets = [
                f"{base_name}.{alias.name}" if f"{base_name}.{alias.name}" in modules else base_name
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            if target.split(".")[0] != "rekindle":
                continue
            target = resolve(target)
            if target != name:
                edges.add((target, node.lineno))
    return edges


def _graph() -> dict[str, set[tuple[str, int]]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _floor(module: str) -> int:
    best, best_len = None, -1
    for index, (_, prefixes) in enumerate(FLOORS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    assert best is not None, f"{module} has no floor: add it to FLOORS"
    return best


def _cycles(graph: dict[str, set[tuple[str, int]]]) -> list[list[str]]:
    """One circle per strongly connected component of more than one module (Tarjan)."""
    edges = {name: sorted({target for target, _ in targets}) for name, targets in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)

    circles = []
    for component in components:
        # one concrete circle through the component's first module (breadth-first)
        members = set(component)
        start = component[0]
        parent: dict[str, str] = {}
        frontier = [start]
        found = None
        while frontier and found is None:
            following = []
            for node in frontier:
                for target in edges[node]:
                    if target == start:
                        found = node
                        break
                    if target in members and target not in parent:
                        parent[target] = node
                        following.append(target)
                if found is not None:
                    break
            frontier = following
        path = [found]
        while path[-1] != start:
            path.append(parent[path[-1]])
        circles.append([*reversed(path), start])
    return circles


def upward_imports(graph: dict[str, set[tuple[str, int]]]) -> list[str]:
    """Every import from a lower floor to a higher one, and between siblings."""
    found = []
    for name, targets in sorted(graph.items()):
        for target, line in sorted(targets):
            if _floor(target) > _floor(name):
                found.append(
                    f"{name}:{line} imports {target} "
                    f"({FLOORS[_floor(name)][0]} -> {FLOORS[_floor(target)][0]})"
                )
            for first, second in SIBLINGS:
                for a, b in ((first, second), (second, first)):
                    inside = name == a or name.startswith(a + ".")
                    if inside and (target == b or target.startswith(b + ".")):
                        found.append(f"{name}:{line} imports its sibling {target}")
    return found


def test_every_module_has_a_floor() -> None:
    for name in _modules():
        _floor(name)


def test_the_graph_sees_function_local_and_type_checking_imports() -> None:
    graph = _graph()
    targets = {target for target, _ in graph["rekindle.cli.run"]}
    assert "rekindle.pipeline" in targets  # imported inside a function
    # an edge the parser must see in a package's own module (relative import)
    assert any(target == "rekindle.flow.config" for target, _ in graph["rekindle.flow.training"])


def test_no_import_circle() -> None:
    circles = _cycles(_graph())
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)


def test_no_import_runs_up_a_floor() -> None:
    found = upward_imports(_graph())
    assert not found, "imports that run up a floor:\n" + "\n".join(found)


def test_the_cycle_finder_finds_a_circle() -> None:
    graph = {
        "a": {("b", 1)},
        "b": {("c", 1)},
        "c": {("a", 1), ("d", 1)},
        "d": set(),
    }
    assert _cycles(graph) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {("b", 1)}, "b": set()}) == []


@pytest.mark.parametrize(
    ("module", "floor"),
    [("rekindle.io.atomic", "foundation"), ("rekindle.io.dataset", "io, data, integrate")],
)
def test_longest_prefix_decides_the_floor(module: str, floor: str) -> None:
    assert FLOORS[_floor(module)][0] == floor
