"""The trace cache's code fingerprint (nmsim.graph.cache) covers the code the tracer runs, found from its imports:
a graph cached by other tracing code is never served."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import nmsim
from nmsim.graph import cache, load_workload
from nmsim.graph import shapes as S

PACKAGE = Path(nmsim.__file__).resolve().parent


def copy_package(tmp_path) -> Path:
    dst = tmp_path / "nmsim"
    shutil.copytree(PACKAGE, dst, ignore=shutil.ignore_patterns("data", "__pycache__"))
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


@pytest.mark.parametrize("edit", ["graph/builder.py", "graph/tracer.py", "graph/replicate.py", "graph/formulas.py",
                                  "errors.py", "io/read.py"])
def test_editing_the_tracing_code_changes_the_fingerprint(tmp_path, edit):
    pkg = copy_package(tmp_path)
    before = cache.code_fingerprint(pkg)
    assert before == cache.code_fingerprint()
    (pkg / edit).write_text((pkg / edit).read_text() + "\n# edited\n")
    assert cache.code_fingerprint(pkg) != before


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
    for edit in ("cli/price.py", "report/__init__.py", "cost/pricing.py"):
        (pkg / edit).write_text((pkg / edit).read_text() + "\n# edited\n")
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
