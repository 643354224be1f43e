"""nmsim export: SCALE-Sim topologies and Timeloop problems from the per-pass GEMM table."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from nmsim.cli import main
from nmsim.export.scalesim import read_topology


def _export(tmp_path, *extra, name="out"):
    out = tmp_path / name
    rc = main(["export", "vit-tiny", "--batch", "2", "--out", str(out), *extra])
    return rc, out


def _graph():
    from nmsim.cost.pricing import trace_for_mode
    return trace_for_mode("vit-tiny", "training", 2)


def test_scalesim_export_matches_the_gemm_table(tmp_path, capsys):
    rc, out = _export(tmp_path, "--sparsity", "ff=1:4", "--format", "scalesim")
    assert rc == 0 and "wrote" in capsys.readouterr().out
    assert {p.name for p in out.iterdir()} >= {"fwd.csv", "dgrad.csv", "wgrad.csv", "gemms.csv", "scalesim.cfg",
                                               "layout.csv"}
    assert (out / "fwd.csv").read_text().startswith("Layer, M, N, K, Sparsity,\n")
    assert all(line.endswith(",") for line in (out / "fwd.csv").read_text().splitlines())
    graph = _graph()
    mops = graph.ops[graph.ops["kind"].isin(["linear", "matmul", "conv"])]
    n_ff = int(mops["role"].isin(["ff1", "ff2"]).sum())
    for pass_, col in (("fwd", "fwd_flops"), ("dgrad", "dgrad_flops"), ("wgrad", "wgrad_flops")):
        topo = read_topology(out / f"{pass_}.csv")
        # exact FLOPs: every GEMM of the pass is in the file once, repeats in the *b suffix
        flops = float((2.0 * topo["b"] * topo["m"] * topo["k"] * topo["n"]).sum())
        assert flops == pytest.approx(float(mops[col].sum()), rel=1e-12)
        sparse = topo[topo["sparsity"] != "1:1"]
        assert len(sparse) == (n_ff if pass_ == "fwd" else 0)  # dgrad: mask not transposable; wgrad: no weight
        assert set(sparse["sparsity"]) <= {"1:4"}
    dgrad = read_topology(out / "dgrad.csv")
    da = dgrad[dgrad["layer"].str.endswith("logit.dA")].iloc[0]
    db = dgrad[dgrad["layer"].str.endswith("logit.dB")].iloc[0]
    assert (da["m"], da["k"], da["n"]) == (db["k"], db["n"], db["m"]) and da["b"] == db["b"]
    cfg = (out / "scalesim.cfg").read_text()
    assert "ArrayHeight : 128" in cfg and "Dataflow : ws" in cfg and "OptimizedMapping : false" in cfg
    index = pd.read_csv(out / "gemms.csv")
    assert set(index["file"]) == {"fwd.csv", "dgrad.csv", "wgrad.csv"}
    assert np.allclose(index.loc[index["sparsity"] == "1:4", "density"], 0.25)


def test_timeloop_export_structured_densities(tmp_path):
    rc, out = _export(tmp_path, "--sparsity", "ff=1:4T", "--format", "timeloop")
    assert rc == 0
    index = pd.read_csv(out / "gemms.csv")
    assert {"fwd", "dgrad", "wgrad"} == set(index["pass"])
    sparse = index[index["density"] < 1]
    # a transposable mask makes dgrad sparse too; wgrad never
    assert set(sparse["pass"]) == {"fwd", "dgrad"}
    row = sparse.iloc[0]
    doc = yaml.safe_load((out / row["file"]).read_text())["problem"]
    assert doc["shape"]["dimensions"] == ["M", "N", "K"]
    assert (doc["instance"]["M"], doc["instance"]["K"], doc["instance"]["N"]) == (row["m"], row["k"], row["n"])
    assert doc["instance"]["densities"] == {"Weights": {"distribution": "fixed-structured", "density": 0.25}}
    dense = yaml.safe_load((out / index[index["density"] == 1].iloc[0]["file"]).read_text())["problem"]
    assert "densities" not in dense["instance"]
    assert [d["name"] for d in doc["shape"]["data_spaces"]] == ["Inputs", "Weights", "Outputs"]


def test_hardware_labels_the_executed_pattern_and_geometry(tmp_path):
    rc, out = _export(tmp_path, "--sparsity", "ff=1:8", "--format", "scalesim", "--hardware", "vegeta")
    assert rc == 0
    topo = read_topology(out / "fwd.csv")
    assert set(topo["sparsity"]) == {"1:1", "1:4"}  # 1:8 runs on VEGETA's 1:4 mode
    cfg = (out / "scalesim.cfg").read_text()
    assert "ArrayHeight : 32" in cfg and "ArrayWidth : 16" in cfg
    rc, out = _export(tmp_path, "--sparsity", "ff=4:8", "--format", "scalesim", "--hardware", "a100", name="a100")
    assert set(read_topology(out / "fwd.csv")["sparsity"]) == {"1:1"}  # 4:8 does not fit NVIDIA 2:4: dense


def test_export_never_overwrites_foreign_folders(tmp_path, capsys):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    rc = main(["export", "vit-tiny", "--format", "scalesim", "--out", str(foreign)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "is not an nmsim export" in err
    assert (foreign / "notes.txt").read_text() == "keep me" and len(list(foreign.iterdir())) == 1
    rc, out = _export(tmp_path, "--format", "timeloop")
    assert rc == 0
    rc, out = _export(tmp_path, "--format", "scalesim")  # an nmsim folder is replaced whole
    assert rc == 0 and not (out / "fwd").exists() and (out / "fwd.csv").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders left


def test_exported_cycles_equal_the_systolic_model(tmp_path):
    """The files say the same as pricing: Σ b x cycles over the exported GEMMs = the systolic model's cycles."""
    from nmsim.execution import ExecContext, model_for
    from nmsim.execution.table import gemm_table
    from nmsim.export.scalesim import nmsim_cycles
    from nmsim.hardware import load
    from nmsim.sparsity.plan import SparsityPlan

    spec = tmp_path / "sa.yaml"
    spec.write_text("""name: sa128
description: 128x128 weight-stationary test array
kind: systolic
execution: {model: systolic, source: "test", rows: 128, cols: 128, dataflow: ws, clock_ghz: 1.0}
matrix:
  bf16: {dense_tflops: {value: 32.768, source: "2 x 128 x 128 x 1 GHz"},
         sparse: {"1:4": {tflops: {value: 131.072, source: "array bound"}}}}
vector_tflops: {fp32: {value: 1, source: "test"}}
memory: [{name: dram, capacity_gib: 8, bandwidth_gbps: 100000, source: "test"}]
sparse_support: {transposed_dgrad: false, source: "test"}
""")
    hw = load(spec)
    rc, out = _export(tmp_path, "--sparsity", "ff=1:4", "--format", "scalesim")
    assert rc == 0
    total = 0.0
    for pass_ in ("fwd", "dgrad", "wgrad"):
        topo = read_topology(out / f"{pass_}.csv")
        total += float((nmsim_cycles(topo, 128, 128, "ws") * topo["b"]).sum())
    graph = _graph()
    table = gemm_table(graph, SparsityPlan.parse("ff=1:4").resolve(graph.ops), "training")
    priced = model_for(hw).price(table, ExecContext(hw, "bf16"))
    assert float(np.sum(priced.extra["cycles"])) == total
