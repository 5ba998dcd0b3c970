"""The package's layers only look down: every import between subpackages is an allowed edge.

Every module of ``mlkit`` is parsed with :mod:`ast` (imports inside functions and
``TYPE_CHECKING`` blocks count too) and mapped to its subpackage. The test fails on an
import that is not in :data:`ALLOWED` -- an import pointing up the flow -- and on any
cycle between subpackages, naming the file, line and imported module.

Run it as a script to print the subpackage dependency list::

    python -m tests.test_architecture [PACKAGE_DIR]
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "mlkit"

#: subpackage -> the subpackages it may import. This table *is* the architecture:
#: structures -> features -> models -> (explain, tracking) -> workflows -> cli, and
#: potentials -> md / phonons -> analysis -> labels. ``mlkit`` is the root
#: ``__init__`` (version, default mobile ion); ``errors`` and ``utils`` are the floor.
#: ``api`` (the public functions, one per CLI verb) sits on top next to ``cli``; the root
#: re-exports it lazily (see :data:`LAZY`).
ALLOWED: dict[str, frozenset[str]] = {
    name: frozenset(deps)
    for name, deps in {
        "mlkit": ("api",),
        "errors": (),
        "utils": (),
        "structures": ("mlkit", "errors", "utils"),
        # features may use phonons/potentials for the opt-in phonon group (never labels)
        "features": ("mlkit", "errors", "utils", "structures", "potentials", "phonons"),
        # models holds estimators and the search only: no featurization, no mlflow,
        # no figures of explain; it may use the fixed category list of structures
        "models": ("mlkit", "errors", "utils", "structures"),
        "explain": ("mlkit", "errors", "utils", "models"),
        "tracking": ("mlkit", "errors", "utils", "models"),
        "workflows": (
            "mlkit", "errors", "utils", "structures", "features", "models", "explain",
            "tracking",
        ),
        "potentials": ("mlkit", "errors", "utils"),
        "md": ("mlkit", "errors", "utils", "structures", "potentials"),
        "phonons": ("mlkit", "errors", "utils", "structures", "potentials"),
        # analysis: pure kernels; structures only for the framework chemistry
        "analysis": ("mlkit", "errors", "utils", "structures"),
        "labels": (
            "mlkit", "errors", "utils", "structures", "potentials", "md", "phonons", "analysis",
        ),
        "cli": (
            "mlkit", "errors", "utils", "structures", "features", "models", "explain",
            "tracking", "workflows", "potentials", "md", "phonons", "analysis", "labels",
        ),
        "api": (
            "mlkit", "errors", "utils", "structures", "features", "models", "explain",
            "tracking", "workflows", "potentials", "md", "phonons", "analysis", "labels",
            "cli",
        ),
        "__main__": ("cli",),
    }.items()
}

#: edges that may only be imports inside a function body (run after the package is
#: imported, on first attribute access), so they are no import-time cycle: the root
#: ``mlkit.__getattr__`` resolving ``mlkit.featurize`` etc. from ``mlkit.api``
LAZY: frozenset[tuple[str, str]] = frozenset({("mlkit", "api")})


#: upward imports in files another branch owns, each with its fix; remove the entry
#: with the fix (``test_pending_entries_still_exist`` fails once the import is gone)
PENDING: dict[tuple[str, str], str] = {}


def subpackage_of(module: str) -> str:
    """``mlkit.features.base`` -> ``features``; ``mlkit`` -> ``mlkit``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def module_name(path: Path, package_dir: Path) -> str:
    rel = path.relative_to(package_dir.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path, package_dir: Path) -> list[tuple[int, str]]:
    """``(line, imported mlkit module)`` for every import in the file, at any depth."""
    tree = ast.parse(path.read_text(), filename=str(path))
    this = module_name(path, package_dir)
    is_pkg = path.name == "__init__.py"
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "mlkit"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against this module
                base = this.split(".")
                base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "mlkit":
                continue
            if target == "mlkit":  # ``from mlkit import features`` imports a subpackage
                for a in node.names:
                    sub = f"mlkit.{a.name}"
                    known = (package_dir / a.name).is_dir() or (
                        package_dir / f"{a.name}.py"
                    ).exists()
                    found.append((node.lineno, sub if known else "mlkit"))
            else:
                found.append((node.lineno, target))
    return found


def dependency_edges(
    package_dir: Path = PACKAGE_DIR, *, skip: frozenset[tuple[str, str]] = frozenset()
) -> dict[tuple[str, str], list[str]]:
    """``(from subpackage, to subpackage) -> ["file:line imports module", ...]``.

    ``skip`` holds ``(file, imported subpackage module)`` pairs to leave out.
    """
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(package_dir.rglob("*.py")):
        src = subpackage_of(module_name(path, package_dir))
        rel = path.relative_to(package_dir.parent).as_posix()
        for line, target in imports_of(path, package_dir):
            dst = subpackage_of(target)
            if dst != src and (rel, f"mlkit.{dst}") not in skip:
                edges[(src, dst)].append(f"{rel}:{line} imports {target}")
    return dict(edges)


def find_cycles(edges: dict[tuple[str, str], list[str]]) -> list[list[str]]:
    """Strongly connected components with more than one subpackage (Tarjan)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
        graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def dependency_list(package_dir: Path = PACKAGE_DIR) -> str:
    """One line per subpackage: ``name -> dep, dep, ...`` (sorted)."""
    deps: dict[str, set[str]] = defaultdict(set)
    for path in package_dir.rglob("*.py"):
        deps[subpackage_of(module_name(path, package_dir))]
    for a, b in dependency_edges(package_dir):
        deps[a].add(b)
    return "\n".join(
        f"{a} -> {', '.join(sorted(d)) or '(nothing)'}" for a, d in sorted(deps.items())
    )


# -- tests --------------------------------------------------------------------------------
def test_every_subpackage_is_in_the_table():
    names = {subpackage_of(module_name(p, PACKAGE_DIR)) for p in PACKAGE_DIR.rglob("*.py")}
    unknown = sorted(names - set(ALLOWED))
    assert not unknown, f"add these subpackages to ALLOWED with their layer: {unknown}"


def test_imports_only_point_down_the_flow():
    bad = [
        f"{where} ({src} -> {dst} is not allowed; {src} may import {sorted(ALLOWED[src])})"
        for (src, dst), wheres in sorted(dependency_edges(skip=frozenset(PENDING)).items())
        if dst not in ALLOWED.get(src, frozenset())
        for where in wheres
    ]
    assert not bad, "imports pointing up the flow:\n" + "\n".join(bad)


def pending_import_found(edges: dict[tuple[str, str], list[str]], file: str, module: str) -> bool:
    """Whether ``file`` (``mlkit/...py``) still imports subpackage module ``module``."""
    src = subpackage_of(module_name(PACKAGE_DIR.parent / file, PACKAGE_DIR))
    return any(w.startswith(f"{file}:") for w in edges.get((src, subpackage_of(module)), []))


def test_pending_entries_still_exist():
    edges = dependency_edges()
    # the lookup and the skip work on a real import (PENDING itself is often empty)
    real = ("mlkit/workflows/predict.py", "mlkit.features")
    assert pending_import_found(edges, *real)
    assert not pending_import_found(edges, "mlkit/workflows/predict.py", "mlkit.md")
    assert not pending_import_found(dependency_edges(skip=frozenset({real})), *real)
    for (file, module), fix in PENDING.items():
        assert pending_import_found(edges, file, module), (
            f"{file} no longer imports {module}: remove it from PENDING ({fix})")


def module_level_imports(path: Path, package_dir: Path) -> list[tuple[int, str]]:
    """The imports of :func:`imports_of` that are not inside a function body."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nested = {id(n) for f in ast.walk(tree)
              if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
              for n in ast.walk(f) if isinstance(n, ast.Import | ast.ImportFrom)}
    lines = {n.lineno for n in ast.walk(tree)
             if isinstance(n, ast.Import | ast.ImportFrom) and id(n) not in nested}
    return [(line, mod) for line, mod in imports_of(path, package_dir) if line in lines]


def test_lazy_edges_are_imported_inside_functions_only():
    bad = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        src = subpackage_of(module_name(path, PACKAGE_DIR))
        for line, target in module_level_imports(path, PACKAGE_DIR):
            if (src, subpackage_of(target)) in LAZY:
                bad.append(f"{path.relative_to(PACKAGE_DIR.parent)}:{line} imports {target}")
    assert not bad, "lazy edges imported at module level:\n" + "\n".join(bad)


def test_no_cycle_between_subpackages():
    edges = {k: v for k, v in dependency_edges().items() if k not in LAZY}
    cycles = find_cycles(edges)
    detail = [
        f"{' <-> '.join(c)}: " + "; ".join(w for (a, b), ws in edges.items()
                                          if a in c and b in c for w in ws)
        for c in cycles
    ]
    assert not cycles, "import cycles between subpackages:\n" + "\n".join(detail)


def test_the_walker_sees_imports_inside_functions(tmp_path):
    """The checker itself: a function-level upward import and a cycle are caught."""
    pkg = tmp_path / "mlkit"
    for sub in ("models", "tracking"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "models" / "train.py").write_text("def f():\n    from mlkit.tracking import x\n")
    (pkg / "tracking" / "log.py").write_text("from ..models import train\n")
    edges = dependency_edges(pkg)
    assert edges[("models", "tracking")] == ["mlkit/models/train.py:2 imports mlkit.tracking"]
    assert edges[("tracking", "models")] == ["mlkit/tracking/log.py:1 imports mlkit.models"]
    assert find_cycles(edges) == [["models", "tracking"]]
    assert "tracking" not in ALLOWED["models"]


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else PACKAGE_DIR
    print(dependency_list(root))
    for cycle in find_cycles(dependency_edges(root)):
        print("cycle:", " <-> ".join(cycle))
