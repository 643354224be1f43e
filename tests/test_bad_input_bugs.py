"""Issue 20, bugs on the way: ``compare`` with a user's spec file, ``compare --kernel``, ``--columns`` in every
format, and errors that reach the user before any tracing (no "tracing ..." line before the one error line).

``CLASSES`` holds the bad-input cases of these bugs in the corpus form of ``tests/test_bad_input.py``
(id, files, argv, expected text); ``test_bad_input_bugs`` runs them like that corpus and, besides, on a cold
trace cache that builds (so a check that ran after tracing would show the progress line first): stderr must be
the one error line and nothing else.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from nmsim.bands import BANDS_FILE
from test_bad_input import GPT, SPEC, VIT, assert_one_error, make_files, run_cli, snapshot

ROOT = Path(__file__).parent.parent
MY_SPEC = (ROOT / "examples" / "my-accelerator.yaml").read_text()
KERNELS = ("cublas, marlin-int4, cusparselt, cusparselt-tf32, compressed-nm, cublas-sgemm, nm-spmm, nmsparse, "
           "tinygemm-int4, sparse-marlin")
A100_KERNELS = ("cublas: bf16,fp16,tf32,int8; marlin-int4: fp16,bf16 x int4 weights; cusparselt: bf16,fp16,int8 "
                "2:4; cusparselt-tf32: tf32 1:2; compressed-nm: fp16,bf16 any N:M; cublas-sgemm: fp32; nm-spmm: fp32 any "
                "N:M; nmsparse: fp32 any N:M; tinygemm-int4: bf16 x int4 weights; sparse-marlin: fp16,bf16 x int4 "
                "weights 2:4")
PRICE_COLS = ("nominal_flops, executed_flops, vector_flops, bytes, metadata_bytes, time, energy, bound, mem_gib, "
              "fits")
COMPARE_COLS = ("hardware, dtype, pattern, kernel, hw_pattern, executed_flops, time, speedup, tokens/s, $/M_tokens, "
                "J/token, mem_gib, fits, sparsified_share, ceiling, energy, weights_gib, metadata_bytes, bound")
TRACE_COLS = "fwd_flops, dgrad_flops, wgrad_flops, vector_flops, bwd_vector_flops, training_matrix_flops"
BUDGET_COLS = ("recipe, pattern, train_flops, vs_dense, vs_srste, matrix_vs_dense, matrix_vs_srste, budget_epochs, "
               "phases")
W = {"w.yaml": GPT}


def _renamed_a100(name: str = "my-a100") -> str:
    return SPEC.read_text().replace("name: a100-sxm4-80gb", f"name: {name}", 1)


# ---- the corpus: (id, files, argv, expected text after "nmsim: error: ") ------------------------------

SPEC_FILES = [
    ("same-name-two-specs", {"w.yaml": GPT, "a.yaml": _renamed_a100("a100-sxm4-80gb").replace("sms: 108", "sms: 54")},
     ["compare", "w.yaml", "--hardware", "a.yaml,a100"],
     "--hardware: a.yaml and a100 are different specs with the same name 'a100-sxm4-80gb' (the table tells specs "
     "apart by name); change the name: field of one"),
    ("same-name-two-files", {"w.yaml": GPT, "a.yaml": _renamed_a100("x"),
                             "b.yaml": _renamed_a100("x").replace("sms: 108", "sms: 54")},
     ["compare", "w.yaml", "--hardware", "a.yaml,b.yaml"],
     "--hardware: a.yaml and b.yaml are different specs with the same name 'x' (the table tells specs apart by "
     "name); change the name: field of one"),
]

KERNEL_PINS = [
    ("compare-unknown-kernel", W, ["compare", "w.yaml", "--hardware", "a100", "--kernel", "nope"],
     f"--kernel: a100-sxm4-80gb has no kernel 'nope' (kernels: {KERNELS})"),
    ("price-unknown-kernel", W, ["price", "w.yaml", "--hardware", "a100", "--sparsity", "ff=2:4", "--kernel", "nope"],
     f"--kernel: a100-sxm4-80gb has no kernel 'nope' (kernels: {KERNELS})"),
    ("budget-unknown-kernel", W, ["budget", "w.yaml", "--sparsity", "ff=2:4", "--steps", "10", "--hardware", "a100",
                                  "--kernel", "nope"],
     f"--kernel: a100-sxm4-80gb has no kernel 'nope' (kernels: {KERNELS})"),
    ("price-sweep-unknown-kernel", W, ["price", "w.yaml", "--hardware", "a100", "--batch", "1,2", "--kernel", "nope"],
     f"--kernel: a100-sxm4-80gb has no kernel 'nope' (kernels: {KERNELS})"),
    ("price-kernel-on-roofline", W, ["price", "w.yaml", "--hardware", "tpu-v4", "--sparsity", "ff=2:4",
                                     "--kernel", "cusparselt"],
     "--kernel: tpu-v4 has no kernels to pin (its execution model is roofline; --kernel is for gpu specs)"),
    ("compare-kernel-dense-only", W, ["compare", "w.yaml", "--hardware", "a100", "--patterns", "dense",
                                      "--kernel", "cusparselt"],
     f"--kernel: kernel 'cusparselt' runs no GEMM of this plan at bf16 with bf16 weights ({A100_KERNELS})"),
    ("price-kernel-dense-plan", W, ["price", "w.yaml", "--hardware", "a100", "--kernel", "cusparselt"],
     f"--kernel: kernel 'cusparselt' runs no GEMM of this plan at bf16 with bf16 weights ({A100_KERNELS})"),
    ("price-kernel-wrong-pattern", W, ["price", "w.yaml", "--hardware", "a100", "--sparsity", "ff=4:8",
                                       "--kernel", "cusparselt"],
     f"--kernel: kernel 'cusparselt' runs no GEMM of this plan at bf16 with bf16 weights ({A100_KERNELS})"),
    ("price-kernel-wrong-dtype", W, ["price", "w.yaml", "--hardware", "a100", "--sparsity", "ff=2:4",
                                     "--kernel", "compressed-nm", "--dtype", "int8"],
     f"--kernel: kernel 'compressed-nm' runs no GEMM of this plan at int8 with int8 weights ({A100_KERNELS})"),
    ("price-no-kernel-for-dtypes", W, ["price", "w.yaml", "--hardware", "a100", "--weight-dtype", "int4",
                                       "--dtype", "tf32"],
     f"--dtype/--weight-dtype: a100-sxm4-80gb has no kernel for tf32 GEMMs with int4 weights (kernels: "
     f"{A100_KERNELS})"),
    ("compare-no-kernel-for-dtypes", W, ["compare", "w.yaml", "--hardware", "a100", "--weight-dtype", "int4",
                                         "--dtype", "tf32"],
     f"--dtype/--weight-dtype: a100-sxm4-80gb has no kernel for tf32 GEMMs with int4 weights (kernels: "
     f"{A100_KERNELS})"),
    ("price-unknown-weight-dtype", W, ["price", "w.yaml", "--hardware", "a100", "--weight-dtype", "nope"],
     "--weight-dtype: unknown dtype 'nope' (known: fp64, fp32, tf32, bf16, fp16, fp8, int8, int4)"),
]

COLUMNS = [
    (f"{cmd}-{fmt}", W, [cmd, "w.yaml", *extra, "--format", fmt, "--columns", "nope"],
     f"--columns: no column 'nope' (columns: {cols})")
    for cmd, extra, cols in (("price", ["--hardware", "a100"], PRICE_COLS),
                             ("compare", ["--hardware", "a100"], COMPARE_COLS),
                             ("trace", [], TRACE_COLS),
                             ("budget", ["--sparsity", "ff=2:4", "--steps", "10"], BUDGET_COLS))
    for fmt in ("table", "csv", "json")
] + [
    ("price-memory", W, ["price", "w.yaml", "--hardware", "a100", "--memory", "--columns", "nope"],
     "--columns: no column 'nope' (columns: bytes, gib)"),
    ("trace-paper-csv", {"v.yaml": VIT}, ["trace", "v.yaml", "--paper", "--format", "csv", "--columns", "nope"], None),
    ("schedule-csv", {}, ["schedule", "sr-ste", "--sparsity", "ff=2:4", "--steps", "10", "--format", "csv",
                          "--columns", "step"],
     "--columns: no column 'step' (columns: start_step, stop_step, steps, label, phase, ff, ff_cost, D_start, D_end, "
     "rule, srste_lambda)"),
    ("cluster-budget-json", W, ["cluster", "budget", "w.yaml", "--system", "dgx-a100", "--nodes", "1", "--tokens",
                                "1e9", "--format", "json", "--columns", "nope"],
     "--columns: no column 'nope' (columns: recipe, layout, steps, tokens, step_time, days, device_hours, usd, mfu, goodput, "
     "energy, device_energy, executed_flops, mem_gib, iso_time_tokens, iso_flop_tokens)"),
    ("cluster-plan-csv", W, ["cluster", "plan", "w.yaml", "--system", "dgx-a100", "--nodes", "1", "--format", "csv",
                             "--columns", "nope"], None),
    ("hardware-list-json", {}, ["hardware", "list", "--format", "json", "--columns", "nope"],
     "--columns: no column 'nope' (columns: name, kind, bf16_peak, sparse_patterns, memory_bytes, bandwidth)"),
]

NOT_M7 = "M=7 does not divide the reduction dimension gemm_k=64 of blocks.0.ff.ff1 (4 op(s) affected)"
NO_MATCH = "selector 're:nomatch' matches no sparsifiable (linear/conv) op"
BEFORE_TRACING = [   # the plan against the graph's structure: checked on a fit's first trace, before its progress
    ("price-plan-divisibility", W, ["price", "w.yaml", "--hardware", "a100", "--sparsity", "ff=1:7"],
     f"--sparsity 'ff=1:7': {NOT_M7}"),
    ("price-regex-selects-nothing", W, ["price", "w.yaml", "--hardware", "a100", "--sparsity", "re:nomatch=2:4"],
     f"--sparsity 're:nomatch=2:4': {NO_MATCH}"),
    ("price-layer-past-depth", W, ["price", "w.yaml", "--hardware", "a100", "--sparsity", "ff=2:4,qkv@12=1:8"],
     "--sparsity 'qkv@12=1:8': layer 12 is past the model's 2 layers (0 to 1)"),
    ("price-sweep-regex", W, ["price", "w.yaml", "--hardware", "a100", "--sparsity", "re:nomatch=2:4", "--batch",
                              "1,2"], f"--sparsity 're:nomatch=2:4': {NO_MATCH}"),
    ("compare-regex-selects-nothing", W, ["compare", "w.yaml", "--hardware", "a100", "--selector", "re:nomatch"],
     f"--selector/--patterns 're:nomatch=2:4': {NO_MATCH}"),
    ("compare-divisibility", W, ["compare", "w.yaml", "--hardware", "a100", "--patterns", "dense,1:7"],
     f"--selector/--patterns 'ff=1:7': {NOT_M7}"),
    ("budget-divisibility", W, ["budget", "w.yaml", "--sparsity", "ff=2:4", "--steps", "10", "--patterns", "1:7"],
     f"--sparsity 'ff=1:7': {NOT_M7}"),
    ("budget-regex-selects-nothing", W, ["budget", "w.yaml", "--sparsity", "re:nomatch=2:4", "--steps", "10"],
     f"--sparsity 're:nomatch=2:4': {NO_MATCH}"),
    ("budget-optimizer", W, ["budget", "w.yaml", "--sparsity", "ff=2:4", "--steps", "10", "--optimizer", "nope"],
     "--optimizer: unknown optimizer 'nope' (known: adamw, adam, sgd-momentum, sgd)"),
    ("budget-budget", W, ["budget", "w.yaml", "--sparsity", "ff=2:4", "--steps", "10", "--budget", "nope"],
     "--budget: expected 'dense' or a FLOP count like 3.5e21, got 'nope'"),
]

# the buyer and memory flags: refused before tracing, nothing written to --out; --recompute and --precision
# outside training were silently ignored before
PPH = "--price-per-hour"
BUYER_MEMORY_FLAGS = [
    ("pph-price-typo", W, ["price", "w.yaml", "--hardware", "a100", PPH, "a10O=1", "--out", "o.csv"],
     "--price-per-hour: a10O: unknown hardware: not a bundled spec (a100-sxm4-80gb, a10g, h100-pcie, h100-sxm5, "
     "h200-sxm, highlight, ideal-nm, l4, l40s, mi300x, rtx-4090, s2ta, tpu-v4, tpu-v5e, v100, vegeta) nor an "
     "existing file"),
    ("pph-sweep-negative", W, ["price", "w.yaml", "--hardware", "a100", "--batch", "1,2", PPH, "a100=-1"],
     "--price-per-hour: a100: dollars per hour must be a finite number >= 0, got -1"),
    ("pph-compare-nan", W, ["compare", "w.yaml", "--hardware", "a100,l4", PPH, "l4=nan", "--out", "o.json"],
     "--price-per-hour: l4: dollars per hour must be a finite number >= 0, got nan"),
    ("pph-compare-twice", W, ["compare", "w.yaml", "--hardware", "a100", PPH, "a100=1", PPH, "a100=2"],
     "--price-per-hour: a100: a100-sxm4-80gb priced twice ($1/h and $2/h)"),
    ("pph-budget-no-usd", W, ["budget", "w.yaml", "--sparsity", "ff=2:4", "--steps", "10", "--hardware", "a100",
                              PPH, "a100=", "--out", "b.csv"],
     "--price-per-hour: expected DEVICE=USD (e.g. a100=2.5), got 'a100='"),
    ("pph-cluster-text", W, ["cluster", "budget", "w.yaml", "--system", "dgx-a100", "--global-batch", "8",
                             "--tokens", "1e6", PPH, "a100=cheap"],
     "--price-per-hour: a100: not a number of dollars per hour: 'cheap'"),
    ("pph-device-not-priced", W, ["price", "w.yaml", "--hardware", "h100-pcie", PPH, "h100=2"],
     "--price-per-hour: h100: h100-sxm5 is not priced here (priced: h100-pcie)"),
    ("pph-compare-not-priced", W, ["compare", "w.yaml", "--hardware", "a100,l4", PPH, "l40s=1"],
     "--price-per-hour: l40s: l40s is not priced here (priced: a100-sxm4-80gb, l4)"),
    ("pph-budget-flops-only", W, ["budget", "w.yaml", "--sparsity", "ff=2:4", "--steps", "10", PPH, "a100=1"],
     "--price-per-hour: a100: a100-sxm4-80gb is not priced here (priced: none: give --hardware)"),
    ("pph-cluster-other-device", W, ["cluster", "plan", "w.yaml", "--system", "dgx-a100", "--global-batch", "8",
                                     PPH, "h100=2"],
     "--price-per-hour: h100: h100-sxm5 is not priced here (priced: a100-sxm4-80gb)"),
    ("rank-by", W, ["compare", "w.yaml", "--hardware", "a100", "--rank-by", "price"],
     "nmsim compare: argument --rank-by: invalid choice: 'price' (choose from 'time', 'cost', 'energy')"),
    ("recompute-decode", W, ["price", "w.yaml", "--hardware", "a100", "--mode", "decode", "--recompute", "full",
                             "--out", "o.csv"],
     "--recompute: applies to --mode training only (this run prices --mode decode)"),
    ("recompute-compare-inference", W, ["compare", "w.yaml", "--hardware", "a100", "--recompute", "selective"],
     "--recompute: applies to --mode training only (this run prices --mode inference)"),
    ("precision-sweep-prefill", W, ["price", "w.yaml", "--hardware", "a100", "--mode", "prefill", "--seq", "8,16",
                                    "--precision", "amp"],
     "--precision: applies to --mode training only (this run prices --mode prefill)"),
    ("dropout-inference", W, ["price", "w.yaml", "--hardware", "a100", "--dropout"],
     "--dropout: applies to --mode training only (this run prices --mode inference)"),
    ("dropout-sweep", W, ["price", "w.yaml", "--hardware", "a100", "--mode", "training", "--batch", "1,2",
                          "--dropout"],
     "--dropout: dropout is priced one shape at a time, not over a shape sweep"),
]

CLASSES = {"compare spec files": SPEC_FILES, "kernel pins": KERNEL_PINS, "--columns in every format": COLUMNS,
           "checked before tracing": BEFORE_TRACING, "buyer and memory flags": BUYER_MEMORY_FLAGS}
CASES = [pytest.param(files, argv, msg, id=f"{cls}:{cid}") for cls, cases in CLASSES.items()
         for cid, files, argv, msg in cases]


@pytest.fixture
def cold(tmp_path, monkeypatch):
    """A fresh folder and a cold trace cache that builds: tracing would print its progress line."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("NMSIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NMSIM_CACHE", "build")
    monkeypatch.setattr("nmsim.graph.shapes._MEMORY", {})   # no graph fitted by an earlier test of the session
    monkeypatch.setattr("nmsim.graph.shapes._AT", {})
    return work


@pytest.mark.parametrize("files,argv,expected", CASES)
def test_bad_input_bugs(cold, capsys, files, argv, expected):
    make_files(cold, files)
    before = snapshot(cold)
    code, err = run_cli(argv, capsys)
    assert_one_error(code, err, expected)
    assert err.count("\n") == 1, err          # nothing before the error: it came before any tracing
    assert snapshot(cold) == before


# ---- compare with a user's spec file: the header describes the specs priced ---------------------------

def _compare(argv, capsys) -> tuple[str, str]:
    from nmsim.cli import main
    code = main(["compare", *argv])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out, out.err


def test_compare_user_spec_file_and_bundled(workdir_files, capsys):
    out, _ = _compare(["w.yaml", "--hardware", "my-accelerator.yaml,a100", "--patterns", "dense,2:4",
                       "--columns", "hardware,pattern"], capsys)
    assert out.splitlines()[2:4] == ["# times are absolute: each device at its own dense peak (my-accelerator "
                                     "bf16 989, a100-sxm4-80gb", "#   bf16 312 TFLOPS)"]
    assert [line.split() for line in out.splitlines() if not line.startswith("#")][1:] == [
        ["my-accelerator", "dense"], ["my-accelerator", "2:4"], ["a100-sxm4-80gb", "dense"], ["a100-sxm4-80gb", "2:4"]]
    # a user's spec file has no measured rows: its band is not a number
    note = " ".join(line.lstrip("#").strip() for line in out.splitlines() if line.startswith("#"))
    band = yaml.safe_load(BANDS_FILE.read_text())["levels"]["inference step"]   # values pinned by test_bands
    assert note.endswith(f"my-accelerator: not validated; a100-sxm4-80gb: x{band['lo']:.2f}-{band['hi']:.2f} "
                         f"(inference step, {band['rows']} scored rows, {band['coverage'] * 100:.0f} % inside)")


def test_compare_renamed_copy_of_a_bundled_spec_is_priced_as_the_file(workdir_files, capsys):
    """A copy of a100 under another file and name, with a changed peak: its own numbers, not the bundled ones."""
    out, _ = _compare(["w.yaml", "--hardware", "half.yaml,a100", "--patterns", "dense", "--format", "csv",
                       "--columns", "hardware,seconds"], capsys)
    df = pd.read_csv(io.StringIO(out)).set_index("hardware")
    assert list(df.index) == ["half-a100", "a100-sxm4-80gb"]
    assert df.loc["half-a100", "seconds"] > df.loc["a100-sxm4-80gb", "seconds"]
    out, _ = _compare(["w.yaml", "--hardware", "half.yaml,a100", "--patterns", "dense"], capsys)
    assert "(half-a100 bf16 156, a100-sxm4-80gb bf16 312 TFLOPS)" in out.replace("\n#  ", "")
    # the same file twice (two paths, one spec) is one spec
    out, _ = _compare(["w.yaml", "--hardware", "same.yaml,a100", "--patterns", "dense", "--format", "csv"], capsys)
    assert pd.read_csv(io.StringIO(out))["hardware"].tolist() == ["a100-sxm4-80gb"]


@pytest.fixture
def workdir_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    half = _renamed_a100("half-a100")
    half = half.replace('dense_tflops: 312\n    sparse: {"2:4": {tflops: 624}}',   # halve the 16-bit peaks
                        'dense_tflops: 156\n    sparse: {"2:4": {tflops: 312}}')
    make_files(tmp_path, {"w.yaml": GPT, "my-accelerator.yaml": MY_SPEC, "half.yaml": half,
                          "same.yaml": SPEC.read_text()})
    assert half.count("dense_tflops: 156") == 3   # bf16, fp16 and the spec's own tf32
    return tmp_path


# ---- compare --kernel: every pattern list, the numbers of price --kernel ------------------------------

@pytest.mark.parametrize("patterns", ["2:4", "dense,2:4", "dense,2:4,1:8,1:16", "1:8", "2:4/2:4,1:8"])
def test_compare_pinned_kernel_matches_price(patterns):
    from nmsim.cost import compare, price, trace_for_mode
    from nmsim.graph import load_workload

    cfg = load_workload(_write_tmp_workload())
    df = compare(cfg, "a100", patterns, batch=8, kernel="compressed-nm")   # 256 rows: compressed-nm runs from 128
    graph = trace_for_mode(cfg, "inference", batch=8)
    for row in df.itertuples():
        plan = None if row.pattern == "dense" else f"ff={row.pattern}"
        if row.pattern == "2:4/2:4":
            assert row.kernel == "cublas"     # a hierarchical pattern: compressed-nm cannot, the dense kernel runs it
        else:
            assert row.kernel == ("cublas" if plan is None else "compressed-nm")
        if plan is None or row.pattern == "2:4/2:4":
            continue
        single = price(graph, plan, "a100", kernel="compressed-nm")
        assert row.seconds == pytest.approx(single.totals["seconds"], rel=1e-12)


_TMP: dict = {}


def _write_tmp_workload() -> str:
    import tempfile
    if "w" not in _TMP:
        path = Path(tempfile.mkdtemp(prefix="nmsim-bugs-")) / "w.yaml"
        path.write_text(GPT)
        _TMP["w"] = str(path)
    return _TMP["w"]


# ---- --columns in every format ------------------------------------------------------------------------

FORMAT_COMMANDS = [
    (["price", "W", "--hardware", "a100"], "seconds,bound", ["role", "seconds", "bound"]),
    (["price", "W", "--hardware", "a100", "--by", "op"], "module,seconds", ["module", "seconds"]),
    (["price", "W", "--hardware", "a100", "--memory"], "gib", ["component", "gib"]),
    (["price", "W", "--hardware", "a100", "--batch", "1,2"], "batch,time", ["batch", "seconds"]),
    (["compare", "W", "--hardware", "a100", "--patterns", "dense,2:4"], "pattern,time,hardware",
     ["pattern", "seconds", "hardware"]),
    (["trace", "W"], "fwd_flops", ["role", "fwd_flops"]),
    (["budget", "W", "--sparsity", "ff=2:4", "--recipes", "sr-ste", "--steps", "10"], "train_flops,recipe",
     ["train_flops", "recipe"]),
    (["schedule", "sr-ste", "--sparsity", "ff=2:4", "--steps", "10"], "phase,steps", ["phase", "steps"]),
    (["hardware", "list"], "kind,name", ["kind", "name"]),
    (["cluster", "budget", "W", "--system", "dgx-a100", "--nodes", "1", "--tokens", "1e9"], "days,step_time,recipe",
     ["days", "step_seconds", "recipe"]),
]


@pytest.mark.parametrize("fmt", ["csv", "json"])
@pytest.mark.parametrize("argv,columns,expected", FORMAT_COMMANDS, ids=[" ".join(c[0][:2]) + f"-{i}"
                                                                        for i, c in enumerate(FORMAT_COMMANDS)])
def test_columns_in_every_format(tmp_path, monkeypatch, capsys, fmt, argv, columns, expected):
    from nmsim.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "w.yaml").write_text(GPT)
    argv = [a if a != "W" else "w.yaml" for a in argv]
    assert main([*argv, "--format", fmt, "--columns", columns]) == 0
    out = capsys.readouterr().out
    if fmt == "csv":
        got = pd.read_csv(io.StringIO(out))
        assert list(got.columns) == expected
    else:
        rows = json.loads(out)
        assert rows and all(list(r) == expected for r in rows)
    # the same columns' values as the whole CSV
    assert main([*argv, "--format", "csv"]) == 0
    whole = pd.read_csv(io.StringIO(capsys.readouterr().out))
    picked = got if fmt == "csv" else pd.DataFrame(rows)
    for col in expected:   # JSON numbers carry 10 decimal places (pandas' to_json)
        if pd.api.types.is_numeric_dtype(whole[col]):
            assert picked[col].tolist() == pytest.approx(whole[col].tolist(), rel=1e-9, abs=1e-10), col
        else:
            assert picked[col].astype(str).tolist() == whole[col].astype(str).tolist(), col
