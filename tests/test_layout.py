"""The package's layout rules (issue 15), read from the source: Ray stays in one package, no
import cycles, and a long module says why it is long (test_media checks that the value types
import no I/O library)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "vidcolor"
LONG = 300  # lines; past this a module's docstring says why it is one module


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def top_level_imports(path: Path) -> set[str]:
    """Modules a file imports when it is imported: module level, outside ``TYPE_CHECKING``
    (imports inside functions run later and cannot form an import-time cycle)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def internal_imports() -> dict[str, set[str]]:
    known = modules()
    return {name: top_level_imports(path) & set(known) - {name} for name, path in known.items()}


def imports_ray(source: str) -> bool:
    """Whether any import statement in ``source``, at any depth, imports ray."""
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        if any(n == "ray" or n.startswith("ray.") for n in names):
            return True
    return False


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """An import cycle of ``graph`` (module -> modules it imports at import time), or None.

    A package loads its own submodules first, so a submodule importing its package is no cycle.
    """
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return None
        for child in sorted(graph.get(name, ())):
            if child.startswith(f"{name}.") or name.startswith(f"{child}."):
                continue
            if found := visit(child, [*path, name]):
                return found
        done.add(name)
        return None

    for name in sorted(graph):
        if found := visit(name, []):
            return found
    return None


def test_only_the_distributed_package_imports_ray():
    users = {name for name, path in modules().items() if imports_ray(path.read_text())}
    assert users and all(u.startswith("vidcolor.distributed") for u in users), sorted(users)
    assert imports_ray("def f():\n    from ray import util\n")  # the reader sees deep imports


def test_there_are_no_import_cycles():
    assert find_cycle(internal_imports()) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"p": {"p.x"}, "p.x": {"p"}}) is None  # a package and its submodule


def test_a_module_far_past_the_size_limit_says_why_in_its_docstring():
    unexplained = []
    for name, path in modules().items():
        lines = len(path.read_text().splitlines())
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        if lines > LONG and "one module" not in doc.lower():
            unexplained.append(f"{name} ({lines} lines)")
    assert not unexplained, unexplained
