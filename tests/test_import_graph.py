"""The package layering holds: no import cycle anywhere in depthlab, and no box of docs/architecture.md's
diagram imports a box above it.

The graph is read from the source (``ast``), so it sees every import a module can run: top-level ones and
the lazy ones inside functions (a cycle dodged by importing inside a function is still a cycle). Imports
under ``if TYPE_CHECKING:`` never run and are left out of the layering, but not out of the cycle check: a
circle kept only for type hints still ties two modules together.
"""

import ast
from pathlib import Path

import depthlab

SOURCE = Path(depthlab.__file__).parent
ARCHITECTURE = Path(__file__).parents[1] / "docs" / "architecture.md"


def module_name(path: Path) -> str:
    parts = ("depthlab", *path.relative_to(SOURCE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in SOURCE.rglob("*.py")}


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _import_nodes(node: ast.AST, type_hints: bool = False):
    for child in ast.iter_child_nodes(node):
        if _is_type_checking(child) and not type_hints:
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        yield from _import_nodes(child, type_hints)


def imports_of(name: str, type_hints: bool = False) -> set[str]:
    """The depthlab modules ``name`` imports (``from P import m`` is module P.m when that is a module); those
    under ``if TYPE_CHECKING:`` too when ``type_hints``."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in _import_nodes(ast.parse(path.read_text()), type_hints):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
            continue
        base = node.module or ""
        if node.level:  # relative: from .x import y
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:
            found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or None (depth-first search with colours)."""
    state: dict[str, str] = {}  # "open" while on the stack, "done" after

    def visit(node: str, stack: list[str]) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt, stack)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [])):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_lazy_imports_and_skips_type_checking_ones():
    assert "depthlab.deploy" in GRAPH["depthlab.cli.parnet"]  # the CLI imports its library inside commands
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import a\ndef f():\n    import b\n"

    def names(type_hints):
        return [
            getattr(n, "module", None) or n.names[0].name
            for n in _import_nodes(ast.parse(source), type_hints)
        ]

    assert names(False) == ["typing", "b"] and names(True) == ["typing", "a", "b"]


def test_no_import_cycle():
    assert find_cycle(GRAPH) is None


def test_no_import_cycle_even_through_type_hints():
    # the blocks fuse themselves with reparam's kernel helpers; reparam names no block, not even for hints
    assert "depthlab.models.reparam" in GRAPH["depthlab.models.parnet_blocks"]
    assert find_cycle({name: imports_of(name, type_hints=True) for name in MODULES}) is None


def documented_layers(text: str) -> list[str]:
    """The boxes of the architecture diagram (the document's first code block), top to bottom: the first word
    of each line that starts in the first column (``cli/`` -> ``cli``)."""
    diagram = text.split("```")[1]
    return [line.split()[0].rstrip("/") for line in diagram.splitlines()[1:] if line[:1].strip()]


LAYERS = documented_layers(ARCHITECTURE.read_text())


def layer_of(module: str) -> str:
    """The box a module belongs to: its package or module under depthlab/, or ``base`` for the top-level
    modules the diagram groups there (errors, config, atomic, ...) and the package's own ``__init__``."""
    top = module.split(".")[1] if "." in module else ""
    return top if top in LAYERS else "base"


def upward_imports(graph: dict[str, set[str]], layers: list[str]) -> set[tuple[str, str]]:
    """Every (importer, imported) pair where the imported module's box is above the importer's."""
    rank = {layer: i for i, layer in enumerate(layers)}
    return {
        (name, imported)
        for name, imported_set in graph.items()
        for imported in imported_set
        if rank[layer_of(imported)] < rank[layer_of(name)]
    }


def test_the_diagram_is_read_top_to_bottom_and_places_every_package():
    assert LAYERS[0] == "cli" and LAYERS[-1] == "base"
    assert LAYERS.index("train") < LAYERS.index("models") < LAYERS.index("data")
    packages = {p.name for p in SOURCE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(LAYERS), f"packages missing from the diagram: {packages - set(LAYERS)}"
    assert layer_of("depthlab.train.checkpoint") == "train" and layer_of("depthlab.deploy") == "deploy"
    assert layer_of("depthlab.errors") == layer_of("depthlab") == "base"


def test_the_layer_check_finds_an_import_reaching_up():
    graph = {"depthlab.models.mlp": {"depthlab.train.engine", "depthlab.errors"}, "depthlab.cli.app": set()}
    assert upward_imports(graph, LAYERS) == {("depthlab.models.mlp", "depthlab.train.engine")}


def test_no_box_imports_a_box_above_it():
    assert upward_imports(GRAPH, LAYERS) == set()
