"""The boundaries between turnout's packages (DESIGN.md, "Domain types apart").

Read from the source with `ast`, without importing anything: every import counts, at module
level or inside a function, except those under `if TYPE_CHECKING:` (never run). A package is
`turnout.X` for each subpackage or top-level module X.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import turnout

ROOT = Path(turnout.__file__).resolve().parent
# What the store may import: it keeps the domain's values and knows nothing of the features.
STORE_MAY_IMPORT = {"turnout.domain", "turnout.errors", "turnout.settings"}
# What the domain may import besides itself: plain values need nothing else.
DOMAIN_MAY_IMPORT = {"turnout.errors"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    name = test.attr if isinstance(test, ast.Attribute) else getattr(test, "id", None)
    return name == "TYPE_CHECKING"


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of `tree` except the bodies of `if TYPE_CHECKING:` (their `else` runs)."""
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield other
                yield from _runtime_nodes(other)
            continue
        yield child
        yield from _runtime_nodes(child)


def _imported(module: str, path: Path) -> Iterator[str]:
    """The absolute names `module` imports (for `from a import b`: `a.b`, which may be a
    name rather than a module; only its package matters here)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, one level up per extra dot
                parts = package.split(".")
                anchor = parts[: len(parts) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _package(name: str) -> str | None:
    """`turnout.X` for a name in subpackage or top-level module X; None for anything else
    (other distributions, and names of turnout/__init__.py such as `__version__`)."""
    parts = name.split(".")
    if parts[0] != "turnout" or len(parts) < 2:
        return None
    if not (ROOT / parts[1]).is_dir() and not (ROOT / f"{parts[1]}.py").is_file():
        return None
    return f"turnout.{parts[1]}"


@cache
def package_graph() -> dict[str, frozenset[str]]:
    """Each package and the other packages its modules import at run time."""
    graph: dict[str, set[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        module = _module_name(path)
        source = _package(module)
        if source is None:
            continue
        targets = graph.setdefault(source, set())
        for name in _imported(module, path):
            target = _package(name)
            if target is not None and target != source:
                targets.add(target)
    return {package: frozenset(targets) for package, targets in graph.items()}


def _reachable(graph: dict[str, frozenset[str]], start: str) -> set[str]:
    """The packages `start` imports, directly or through others."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_the_packages_import_each_other_without_a_cycle() -> None:
    graph = package_graph()
    cyclic = {package for package in graph if package in _reachable(graph, package)}
    edges = {package: sorted(graph[package] & cyclic) for package in sorted(cyclic)}
    assert not cyclic, f"packages in an import cycle, and their imports among them: {edges}"


def test_the_domain_imports_no_feature_package() -> None:
    assert "turnout.domain" in package_graph(), "turnout/domain/ is missing"
    extra = package_graph()["turnout.domain"] - DOMAIN_MAY_IMPORT
    assert not extra, f"turnout.domain imports {sorted(extra)}"


def test_the_store_imports_only_the_domain_errors_and_settings() -> None:
    extra = package_graph()["turnout.store"] - STORE_MAY_IMPORT
    assert not extra, f"turnout.store imports {sorted(extra)}"


def test_the_graph_sees_imports_inside_functions_but_not_type_checking_ones(
    tmp_path: Path,
) -> None:
    source = tmp_path / "example.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "from turnout.errors import InvalidRequest\n"
        "from . import sibling\n"
        "if TYPE_CHECKING:\n"
        "    from turnout.routing.router import Router\n"
        "else:\n"
        "    import turnout.settings\n"
        "def late():\n"
        "    from turnout.store import Store\n"
    )
    names = set(_imported("turnout.metrics.example", source))
    assert {_package(n) for n in names} == {
        None,
        "turnout.errors",
        "turnout.metrics",
        "turnout.settings",
        "turnout.store",
    }
    assert "turnout.metrics.sibling" in names


def test_starting_a_server_does_not_import_scipy() -> None:
    """scipy (about a second of CPU to import) loads when a report is computed, not with
    `turnout serve` or the instance worker: every start, restart and instance pays for it."""
    probe = (
        "import sys, turnout.server, turnout.instances.worker;"
        "print(sorted(m for m in sys.modules if m == 'scipy' or m.startswith('scipy.')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout.strip()
    assert loaded == "[]", f"importing the server loads {loaded}"
