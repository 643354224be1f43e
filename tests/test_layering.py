"""The import picture reads as the pipeline: each package imports only packages of lower layers, lazy
(function-level) imports included, so no package cycle can form and none is hidden behind a lazy import."""
import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "nmsim"

# bottom first: a package may import packages of lower layers only (not its own layer's others); top-level
# modules count as packages ("nmsim" is the package's own __init__, which hands out nmsim.facade's functions)
LAYERS = (
    ("errors", "version"),
    ("env", "units", "columns", "frame"),   # columns: the pricing tables' column names (checked before any
                                            # work); frame: the pricing core's numpy tables
    ("keeping",),                     # what answers, tables and parses kept in the cache depend on
    ("io", "progress"),
    ("graph",),                       # workloads -> op graphs
    ("kept_answers",),                # a question asked again: its answer, kept in the cache folder
    ("sparsity",),                    # N:M patterns and plans over the graph's roles
    ("schema",),                      # spec file schemas: the loaders' checks and the published JSON Schemas
    ("recipes", "hardware"),          # schedules of plans; accelerator specs
    ("execution",),                   # how a spec runs a GEMM
    ("memory", "bands"),              # a step's bytes; the error bands' lookup
    ("cost",),                        # the priced step, budgets, comparisons
    ("cluster", "export", "train"),   # many devices; simulator inputs; the reference trainer
    ("curves",),                      # trainer runs -> curves (table, figures)
    ("evidence",),                    # trainer runs -> claims
    ("report",),                      # the trade-off report
    ("api",),                         # each command's work, from its parsed options
    ("cli",),                         # argv -> parsed options -> one api call -> rendering
    ("facade",),                      # keywords -> the commands' parsed options -> the same api call
    ("__main__", "nmsim"),
)
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def unit_of(module: str) -> str:
    """The layering unit of a dotted module name: ``nmsim.cost.pricing`` -> ``cost``, ``nmsim`` -> ``nmsim``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "nmsim"


def _is_unit(name: str) -> bool:
    return (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").exists()


def imports(path: Path, module: str) -> list[tuple[str, int, bool]]:
    """(imported nmsim module, line, lazy) for every import in ``path``; lazy: inside a function."""
    tree = ast.parse(path.read_text(), str(path))
    out = []

    def visit(node, lazy):
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                out.extend((a.name, child.lineno, lazy) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = module.split(".")[: len(module.split(".")) - child.level + (path.name == "__init__.py")]
                    base = ".".join(parts + ([child.module] if child.module else []))
                if base == "nmsim":   # from nmsim import cost -> the cost package; __version__ -> the facade
                    out.extend((f"nmsim.{a.name}" if _is_unit(a.name) else "nmsim", child.lineno, lazy)
                               for a in child.names)
                else:
                    out.append((base, child.lineno, lazy))
            visit(child, inner)

    visit(tree, False)
    return [(m, line, lazy) for m, line, lazy in out if m == "nmsim" or m.startswith("nmsim.")]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def arrows(package: Path = PACKAGE) -> list[tuple[str, str, str, int, bool]]:
    """(from unit, to unit, file, line, lazy) for every import between two units of the package."""
    out = []
    for path in sorted(package.rglob("*.py")):
        module = module_name(path)
        for target, line, lazy in imports(path, module):
            a, b = unit_of(module), unit_of(target)
            if a != b:
                out.append((a, b, str(path.relative_to(ROOT)), line, lazy))
    return out


def against_layering(found, known=frozenset()) -> list[str]:
    """``file:line: a -> b`` for each import that does not go to a lower layer (or names an unlisted unit),
    leaving out the ``known`` (a, b) arrows."""
    return [f"{f}:{line}: {a} -> {b}{' (lazy)' if lazy else ''}" for a, b, f, line, lazy in found
            if (a, b) not in known and (a not in LAYER or b not in LAYER or LAYER[b] >= LAYER[a])]


def package_cycles(found) -> list[set]:
    """The strongly connected groups of units (more than one unit: a cycle), lazy imports counted."""
    graph = nx.DiGraph((a, b) for a, b, *_ in found)
    return [group for group in nx.strongly_connected_components(graph) if len(group) > 1]


# what other changes in flight remove; nothing may be added here
KNOWN: set = set()


def test_every_unit_is_in_a_layer():
    units = {p.stem if p.suffix else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()}
    assert sorted(units | {"nmsim"}) == sorted(LAYER)


def test_no_import_runs_against_the_layering():
    bad = against_layering(arrows(), KNOWN)
    assert bad == [], "imports against the layering (LAYERS):\n" + "\n".join(bad)


def test_no_package_cycle():
    found = [a for a in arrows() if (a[0], a[1]) not in KNOWN]
    assert package_cycles(found) == []


def test_the_check_sees_lazy_and_relative_imports(tmp_path):
    pkg = tmp_path / "nmsim"
    (pkg / "cost").mkdir(parents=True)
    (pkg / "graph").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "graph" / "__init__.py").write_text("def f():\n    from nmsim.cost import pricing\n")
    (pkg / "cost" / "__init__.py").write_text("from ..graph import f\nfrom nmsim import __version__\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        found = arrows(pkg)
    finally:
        ROOT = saved
    assert found == [("cost", "graph", "nmsim/cost/__init__.py", 1, False),
                     ("cost", "nmsim", "nmsim/cost/__init__.py", 2, False),
                     ("graph", "cost", "nmsim/graph/__init__.py", 2, True)]
    assert against_layering(found) == ["nmsim/cost/__init__.py:2: cost -> nmsim",
                                       "nmsim/graph/__init__.py:2: graph -> cost (lazy)"]
    assert package_cycles(found) == [{"cost", "graph"}]
