"""The trace cache's code fingerprint (nmsim.graph.cache) covers the code the tracer runs, found from its imports:
a graph cached by other tracing code is never served."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import nmsim
from nmsim.graph import cache, load_workload
from nmsim.graph import shapes as S

PACKAGE = Path(nmsim.__file__).resolve().parent


def copy_package(tmp_path) -> Path:
    """The package's code and the data the graph code reads (nothing else of nmsim/data)."""
    dst = tmp_path / "nmsim"
    shutil.copytree(PACKAGE, dst, ignore=shutil.ignore_patterns("data", "__pycache__"))
    for root in cache.DATA_ROOTS:
        shutil.copytree(PACKAGE / root, dst / root)
    return dst


def relative(paths, package=PACKAGE) -> set[str]:
    return {p.relative_to(package).as_posix() for p in paths}


def test_code_files_are_the_graph_package_and_the_modules_it_imports():
    names = relative(cache.code_files())
    assert {f"graph/{p.name}" for p in (PACKAGE / "graph").glob("*.py")} <= names
    assert {"errors.py", "io/__init__.py", "io/read.py"} <= names      # graph/config.py, graph/workloads.py
    assert not [n for n in names if n.split("/")[0] in ("cli", "cost", "report", "train", "cluster")]
    assert "__init__.py" not in names                                   # nmsim's version is keyed on its own
    assert cache.versions()["code"] == cache.code_fingerprint()


# every file the tracer runs: the graph package (config.py's properties feed the builder), each family module the
# registry discovers at run time (no import statement names them), and the nmsim modules they import
TRACER_FILES = sorted(relative(cache.code_files()))
UNRELATED = ["cli/price.py", "report/__init__.py", "cost/pricing.py", "hardware/loader.py", "execution/gpu.py",
             "cluster/plan.py", "train/__init__.py", "sparsity/pattern.py", "__init__.py"]


def test_the_tracer_files_include_the_family_registry_and_the_workload_config():
    families = {f"graph/families/{p.name}" for p in (PACKAGE / "graph" / "families").glob("*.py")}
    assert len(families) >= 10 and families <= set(TRACER_FILES)
    assert {"graph/config.py", "graph/builder.py", "graph/families/__init__.py"} <= set(TRACER_FILES)


@pytest.fixture(scope="module")
def shared_copy(tmp_path_factory):
    """One copy of the package for the per-file edits (each edit is undone after its test)."""
    return copy_package(tmp_path_factory.mktemp("pkg"))


@pytest.mark.parametrize("edit", TRACER_FILES)
def test_editing_any_tracing_file_changes_the_fingerprint(shared_copy, edit):
    pkg = shared_copy
    before = cache.code_fingerprint(pkg)
    assert before == cache.code_fingerprint()
    original = (pkg / edit).read_text()
    try:
        (pkg / edit).write_text(original + "\n# edited\n")
        assert cache.code_fingerprint(pkg) != before
    finally:
        (pkg / edit).write_text(original)


def test_every_data_folder_the_graph_code_reads_is_fingerprinted():
    """A data folder the tracing code names (``... / "data" / "templates"``) is part of what it depends on; the
    workloads folder is not: a workload is keyed by its content."""
    named = {m for path in cache.code_files() for m in re.findall(r'"data"\s*/\s*"(\w+)"', path.read_text())}
    assert {"templates", "workloads"} <= named
    assert {f"data/{name}" for name in named - {"workloads"}} <= set(cache.DATA_ROOTS)
    assert len(cache.data_files()) >= 1


def test_editing_or_adding_a_template_changes_the_fingerprint(tmp_path):
    pkg = copy_package(tmp_path)
    before = cache.code_fingerprint(pkg)
    assert before == cache.code_fingerprint()
    template = cache.data_files(pkg)[0]
    template.write_bytes(template.read_bytes() + b"\0")
    edited = cache.code_fingerprint(pkg)
    (pkg / "data" / "templates" / "new.npz").write_bytes(b"x")
    assert len({before, edited, cache.code_fingerprint(pkg)}) == 3
    (pkg / "data" / "prices").mkdir()
    (pkg / "data" / "prices" / "hourly.yaml").write_text("a10g: {}\n")      # data the tracer does not read
    (pkg / "data" / "templates" / "new.npz").unlink()
    assert cache.code_fingerprint(pkg) == edited


def test_a_new_family_module_joins_the_fingerprint(tmp_path):
    """The registry imports its modules by discovery (pkgutil): a new family is tracing code at once."""
    pkg = copy_package(tmp_path)
    before = cache.code_fingerprint(pkg)
    (pkg / "graph" / "families" / "newfam.py").write_text("FAMILY = None\n")
    assert "graph/families/newfam.py" in relative(cache.code_files(pkg), pkg)
    assert cache.code_fingerprint(pkg) != before


def test_relative_and_nested_imports_are_followed(tmp_path):
    pkg = copy_package(tmp_path)
    (pkg / "helper_a.py").write_text("A = 1\n")
    (pkg / "helper_b.py").write_text("B = 1\n")
    (pkg / "graph" / "families" / "mod.py").write_text(
        "def f():\n    from ...helper_a import A\n    from .. import roles\n    return A\n"
        "from nmsim import (\n    helper_b,  # a comment\n)\n")
    names = relative(cache.code_files(pkg), pkg)
    assert {"helper_a.py", "helper_b.py", "graph/families/mod.py"} <= names


def test_a_new_module_the_tracer_imports_joins_the_fingerprint(tmp_path):
    pkg = copy_package(tmp_path)
    before = cache.code_fingerprint(pkg)
    (pkg / "helper.py").write_text("SCALE = 1\n")
    assert cache.code_fingerprint(pkg) == before                        # not imported by the tracer yet
    tracer = pkg / "graph" / "tracer.py"
    tracer.write_text(tracer.read_text().replace("import torch\n", "import torch\n\nfrom nmsim import helper\n", 1))
    assert "helper.py" in relative(cache.code_files(pkg), pkg)
    with_import = cache.code_fingerprint(pkg)
    (pkg / "helper.py").write_text("SCALE = 2\n")
    assert len({before, with_import, cache.code_fingerprint(pkg)}) == 3
    (pkg / "graph" / "extra.py").write_text("X = 1\n")                  # every module of nmsim/graph counts
    assert "graph/extra.py" in relative(cache.code_files(pkg), pkg)


def test_code_the_tracer_does_not_import_leaves_it_alone(tmp_path):
    pkg = copy_package(tmp_path)
    before = cache.code_fingerprint(pkg)
    assert not set(UNRELATED) & set(TRACER_FILES)
    for edit in UNRELATED:
        (pkg / edit).write_text((pkg / edit).read_text() + "\n# edited\n")
    (pkg / "cli" / "new_command.py").write_text("X = 1\n")
    assert cache.code_fingerprint(pkg) == before


def test_a_graph_cached_by_other_tracing_code_is_not_served(tmp_path, monkeypatch):
    monkeypatch.setenv("NMSIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(S, "_MEMORY", {})
    monkeypatch.setattr(cache, "_KEYS", {})
    cfg = load_workload("llama-2-7b").replace(layers=6, d_model=16, heads=2, kv_heads=1, ffn=24, vocab=11)
    built = S.shape_graph(cfg, "forward", {"batch": 1})
    old_key = cache.key(cfg, "forward", {"batch": 1})
    assert cache.load(old_key).n_ops == built.n_ops
    monkeypatch.setattr(cache, "_VERSIONS", [{**cache.versions(), "code": "0" * 16}])   # the tracer changed
    monkeypatch.setattr(cache, "_KEYS", {})
    new_key = cache.key(cfg, "forward", {"batch": 1})
    assert new_key != old_key and cache.load(new_key) is None
    assert S.shape_graph(cfg, "forward", {"batch": 1}, build=False) is None
    assert [e["current"] for e in cache.entries()] == [False]
