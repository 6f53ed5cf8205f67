"""The engine's layers, enforced on its import graph.

Every ``.py`` under plugins/module_utils and plugins/modules, and the scripts
in bin/, is parsed with ``ast``; every import counts, wherever it is written:
at the top, inside a function (a lazy import hides a dependency, it does not
remove it), under ``if TYPE_CHECKING`` (an annotation naming a higher layer's
class is still an upward dependency) or in a ``try``. Relative imports are
resolved, and ``ansible_collections.berth.engine.plugins.module_utils.X`` and
``ansible.module_utils.X`` name the same module X.

The intended layers, lowest first (``LAYERS``)::

    base        plugins/module_utils/*.py: errors, strict, fsutil, layout,
                metadata, content, snapshots, saferoot, syscalls, plan,
                lifecycle, engine, ... (any top-level module not named below)
    stores      registry, cgroups, volumes, network: each builds on base alone
    drivers     image (on registry), runtime (on cgroups)
    core        containers: a container ties an image, a runtime, volumes,
                networks and cgroups together
    builder     build: Dockerfile builds and commit (a RUN step is a container)
    projects    compose: Compose projects (a service is a ContainerSpec, build: a build)
    surfaces    ansible/: what an Ansible module needs (glue, pydantic models,
                argspecs, the plans a task makes: check mode prints them,
                apply executes them); cli/: bin/berth (its fast lane
                included). Both read and drive the domain; the domain knows
                neither.
    entries     plugins/modules/*, bin/*

An arrow may only point down: a module imports modules of its own layer or
of lower ones. Inside base and inside surfaces, modules import each other
freely (only cycles are refused); the packages of a domain layer (stores,
drivers) are independent of each other. There must be no cycle, neither
between modules nor between the layers' units (a domain package counts as
one unit: cgroups -> runtime -> cgroups through two different files is a
cycle of packages).

Today's violations are listed in ``KNOWN_VIOLATIONS`` (importer, imported,
why it is wrong, who fixes it); the checks skip them, and a test fails when
an entry no longer exists, so the list only shrinks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULE_UTILS = REPO / "plugins" / "module_utils"
OUR_PREFIXES = ("ansible_collections.berth.engine.plugins.module_utils", "ansible.module_utils")
MODULES_UNIT = "plugins.modules"  # plugins/modules/x.py is node "plugins.modules.x"
BIN_UNIT = "bin"                  # bin/berth is node "bin.berth"


@dataclass(frozen=True)
class Layer:
    name: str
    units: frozenset[str]
    units_import_each_other: bool  # False: the layer's packages are independent


BASE = "base"  # the layer of every top-level module of module_utils not placed elsewhere
LAYERS: tuple[Layer, ...] = (
    Layer(BASE, frozenset(), True),
    Layer("stores", frozenset({"registry", "cgroups", "volumes", "network"}), False),
    Layer("drivers", frozenset({"image", "runtime"}), False),
    Layer("core", frozenset({"containers"}), False),
    Layer("builder", frozenset({"build"}), False),
    Layer("projects", frozenset({"compose"}), False),
    Layer("surfaces", frozenset({"ansible", "cli"}), True),
    Layer("entries", frozenset({MODULES_UNIT, BIN_UNIT}), True),
)


@dataclass(frozen=True)
class Known:
    """An import that breaks the layers today, skipped until its fix lands."""

    importer: str
    imported: str
    why: str
    fixer: str


KNOWN_VIOLATIONS: tuple[Known, ...] = (
)


# -- the graph ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    node: str
    path: Path
    package: tuple[str, ...]  # what a level-1 relative import is relative to


def _sources() -> list[Source]:
    found = []
    for path in sorted(MODULE_UTILS.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = path.relative_to(MODULE_UTILS).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
            found.append(Source(".".join(parts) or "__init__", path, parts))
        else:
            found.append(Source(".".join(parts), path, parts[:-1]))
    for path in sorted((REPO / "plugins" / "modules").glob("*.py")):
        found.append(Source(f"{MODULES_UNIT}.{path.stem}", path, ()))
    for path in sorted((REPO / "bin").iterdir()):
        if path.is_file() and path.read_bytes()[:40].startswith(b"#!") and b"python" in path.read_bytes()[:40]:
            found.append(Source(f"{BIN_UNIT}.{path.name}", path, ()))
    return found


def _ours(dotted: str) -> str | None:
    """The module-utils name an absolute import names, or None (not ours)."""
    for prefix in OUR_PREFIXES:
        if dotted == prefix:
            return "__init__"
        if dotted.startswith(prefix + "."):
            return dotted[len(prefix) + 1:]
    return None


def _targets(node: ast.Import | ast.ImportFrom, source: Source, known: frozenset[str]) -> Iterable[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            name = _ours(alias.name)
            if name in known:
                yield name
        return
    if node.level:
        if node.level - 1 > len(source.package):
            return
        base_parts = source.package[:len(source.package) - (node.level - 1)]
        base = ".".join([*base_parts, *(node.module.split(".") if node.module else [])])
    else:
        base = _ours(node.module or "")
        if base is None:
            return
    base = base or "__init__"
    for alias in node.names:
        submodule = f"{base}.{alias.name}" if base != "__init__" else alias.name
        if submodule in known:
            yield submodule          # `from . import x`: the module x
        elif base in known:
            yield base               # `from .x import name`: the module x


def _statements(body: list[ast.stmt]) -> Iterable[ast.AST]:
    """Every statement, nested ones included (function and class bodies,
    branches, handlers, cases): an import is always a statement, and not
    visiting expressions keeps the walk fast."""
    for statement in body:
        yield statement
        for name in ("body", "orelse", "finalbody", "handlers"):
            yield from _statements(getattr(statement, name, None) or [])
        for case in getattr(statement, "cases", None) or []:
            yield from _statements(case.body)


@cache
def graph() -> dict[str, frozenset[str]]:
    """node -> the nodes it imports (anywhere in the file)."""
    sources = _sources()
    known = frozenset(s.node for s in sources if not s.node.startswith((MODULES_UNIT + ".", BIN_UNIT + ".")))
    edges: dict[str, frozenset[str]] = {}
    for source in sources:
        tree = ast.parse(source.path.read_bytes(), str(source.path))
        found = set()
        for node in _statements(tree.body):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.update(_targets(node, source, known))
        found.discard(source.node)
        edges[source.node] = frozenset(found)
    return edges


def unit(node: str) -> str:
    """The unit a node belongs to: its domain or surface package, or the module itself."""
    for prefix in (MODULES_UNIT, BIN_UNIT):
        if node.startswith(prefix + "."):
            return prefix
    top = node.split(".")[0]
    return top if (MODULE_UTILS / top).is_dir() else node


def layer_of(unit_name: str) -> int:
    for rank, layer in enumerate(LAYERS):
        if unit_name in layer.units:
            return rank
    if (MODULE_UTILS / unit_name).is_dir():
        raise AssertionError(f"package {unit_name}/ is in no layer: place it in LAYERS in {__file__}")
    return 0  # a top-level module: base


def wrong_direction(importer: str, imported: str) -> str | None:
    """Why this arrow breaks the layers, or None."""
    source, target = unit(importer), unit(imported)
    if source == target:
        return None
    low, high = layer_of(source), layer_of(target)
    if low < high:
        return f"upward: {LAYERS[low].name} -> {LAYERS[high].name}"
    if low == high and not LAYERS[low].units_import_each_other:
        return f"between the independent {LAYERS[low].name} packages {source} and {target}"
    return None


KNOWN_EDGES = frozenset((k.importer, k.imported) for k in KNOWN_VIOLATIONS)


def _checked_edges() -> dict[str, set[str]]:
    return {a: {b for b in bs if (a, b) not in KNOWN_EDGES} for a, bs in graph().items()}


def _unit_graph(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    units: dict[str, set[str]] = {}
    for a, bs in edges.items():
        units.setdefault(unit(a), set()).update(unit(b) for b in bs if unit(b) != unit(a))
    return units


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path a -> ... -> a) per strongly connected component."""
    return [_path_through(sorted(c)[0], c, edges) for c in _components(edges)]


def _components(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one node (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)
    return components


def _path_through(start: str, component: set[str], edges: dict[str, set[str]]) -> list[str]:
    """The shortest cycle from ``start`` back to itself inside ``component`` (BFS)."""
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(edges.get(node, ())):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, node, start]
                if child in component and child not in parents:
                    parents[child] = node
                    following.append(child)
        frontier = following
    return [start]


def _show(cycle: list[str]) -> str:
    return " -> ".join(cycle)


# -- the checks ---------------------------------------------------------------------------------------------
def test_the_graph_is_read_whole() -> None:
    edges = graph()
    assert "errors" in edges and "runtime.init" in edges and f"{MODULES_UNIT}.container" in edges
    assert f"{BIN_UNIT}.berth-runtime" in edges
    # a function-level import is an arrow (engine.py imports recovery inside a method)
    assert "recovery" in edges["engine"]
    # relative (`from .. import x`) and absolute (ansible_collections...) forms resolve to the same node
    assert "syscalls" in edges["runtime.init"]
    assert any(target.startswith("cli.") for target in edges[f"{BIN_UNIT}.berth"])


def test_every_package_has_a_layer() -> None:
    for node in graph():
        layer_of(unit(node))


def test_no_arrow_points_up() -> None:
    wrong = sorted(f"{a} -> {b} ({why})" for a, bs in _checked_edges().items() for b in bs
                   if (why := wrong_direction(a, b)))
    assert not wrong, "imports against the layers (see the docstring; fix the import, do not extend " \
                      "KNOWN_VIOLATIONS):\n  " + "\n  ".join(wrong)


def test_no_cycle_between_modules() -> None:
    cycles = _cycles(_checked_edges())
    assert not cycles, "import cycles (function-level imports included):\n  " + \
        "\n  ".join(_show(c) for c in cycles)


def test_no_cycle_between_packages() -> None:
    cycles = _cycles(_unit_graph(_checked_edges()))
    assert not cycles, "cycles between packages/modules:\n  " + "\n  ".join(_show(c) for c in cycles)


def test_known_violations_still_exist_so_the_list_only_shrinks() -> None:
    edges = graph()
    components = _components({k: set(v) for k, v in edges.items()})
    units = _components(_unit_graph({k: set(v) for k, v in edges.items()}))

    def in_a_cycle(a: str, b: str) -> bool:
        return any({a, b} <= c for c in components) or any({unit(a), unit(b)} <= c for c in units)
    gone = [k for k in KNOWN_VIOLATIONS if k.imported not in edges.get(k.importer, frozenset())]
    names = ", ".join(f"{k.importer} -> {k.imported}" for k in gone)
    assert not gone, "fixed, remove from KNOWN_VIOLATIONS: " + names
    legal = [k for k in KNOWN_VIOLATIONS
             if not wrong_direction(k.importer, k.imported) and not in_a_cycle(k.importer, k.imported)]
    assert not legal, "no longer a violation, remove from KNOWN_VIOLATIONS: " + \
        ", ".join(f"{k.importer} -> {k.imported}" for k in legal)


def test_known_violations_say_why_and_who() -> None:
    assert len(KNOWN_EDGES) == len(KNOWN_VIOLATIONS), "an entry is listed twice"
    for known in KNOWN_VIOLATIONS:
        assert known.why.strip() and known.fixer.strip(), known


def test_the_checker_catches_what_it_is_for() -> None:
    """The rules on made-up arrows: up, sideways, and a cycle with its path."""
    assert wrong_direction("errors", "containers.service") == "upward: base -> core"
    assert wrong_direction("runtime.init", "cli") == "upward: drivers -> surfaces"
    assert wrong_direction("image.store", "runtime.state") == "between the independent drivers packages " \
                                                              "image and runtime"
    assert wrong_direction("containers.service", "image.store") is None
    assert wrong_direction("errors", "fsutil") is None and wrong_direction("cli", "models") is None
    assert wrong_direction(f"{BIN_UNIT}.berth", "cli") is None
    assert wrong_direction("cli", f"{MODULES_UNIT}.container") == "upward: surfaces -> entries"
    cycle = _cycles({"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()})
    assert cycle == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
