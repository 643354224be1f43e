"""House rules that keep the package readable: no module imports another module's private names, and no
docstring or comment cites a file that is not in the repository."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "nmsim"


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_imports(path: Path) -> list[str]:
    """``from nmsim.x import _y`` and ``nmsim_module._y`` in one file (``file:line: what``)."""
    tree = ast.parse(path.read_text(), str(path))
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    found, modules = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("nmsim"):
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"{where}:{node.lineno}: from {node.module} import {alias.name}")
                elif _is_module(f"{node.module}.{alias.name}"):
                    modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("nmsim") and alias.asname:
                    modules[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and _private(node.attr) and isinstance(node.value, ast.Name)
                and node.value.id in modules):
            found.append(f"{where}:{node.lineno}: {modules[node.value.id]}.{node.attr}")
    return found


def test_no_module_imports_private_names_of_another():
    found = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in private_imports(path)]
    assert found == [], "make these public or move them:\n" + "\n".join(found)


def test_the_check_finds_private_imports(tmp_path):
    bad = tmp_path / "probe.py"
    bad.write_text("from nmsim.cost.pricing import _totals, price\nfrom nmsim.cost import pricing as P\n"
                   "import nmsim.cost.gemm as G\nP._totals, P.price, G._x\n")
    assert private_imports(bad) == ["probe.py:1: from nmsim.cost.pricing import _totals",
                                    "probe.py:4: nmsim.cost.pricing._totals", "probe.py:4: nmsim.cost.gemm._x"]


# a path with a folder and a file suffix, e.g. nmsim/data/measurements/gpu.yaml or docs/workloads.md
_PATH = re.compile(r"(?<![\w{$/.])((?:[\w.-]+/)+[\w.-]+\.(?:md|py|yaml|yml|csv|json|txt|toml))\b")
EXTERNAL = ("torch/",)  # files of the libraries nmsim builds on, cited as sources
NOT_IN_REPO = ("../shared", "shared/reference", "DESIGN.md", "paper-facts", "hardware-facts", "peer-pitfalls")


def test_no_docstring_cites_a_file_outside_the_repo():
    missing = []
    texts = [*PACKAGE.rglob("*.py"), *PACKAGE.rglob("*.md"), *ROOT.glob("docs/*.md"), ROOT / "README.md"]
    for path in texts:
        text = path.read_text()
        missing += [f"{path.relative_to(ROOT)}: {word}" for word in NOT_IN_REPO if word in text]
        for ref in _PATH.findall(text):
            here = (ROOT / ref, path.parent / ref, PACKAGE / ref, PACKAGE / "data" / ref)
            if not ref.startswith(EXTERNAL) and not any(p.exists() for p in here):
                missing.append(f"{path.relative_to(ROOT)}: {ref}")
    assert missing == []
