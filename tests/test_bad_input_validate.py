"""Issue 20: the bad-input corpus of ``nmsim validate --measurements FILE`` (the measurements reader,
:mod:`nmsim.cost.measurements`), in the format of ``test_bad_input.py``: exit 2, exactly one ``nmsim: error:`` line
naming the file, row and field, no traceback, every file byte-identical. ``test_reader_property`` mutates a valid
file at random: every mutation loads or is a UserError.
"""
from __future__ import annotations

import copy
import math

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nmsim.cost.measurements import load
from nmsim.errors import UserError
from nmsim.graph import list_workloads
from nmsim.hardware.loader import list_specs
from test_measurements_file import DOC as BASE
from test_bad_input import BIG, BOMB, DIR, check_case, workdir  # noqa: F401

DOC = {**copy.deepcopy(BASE), "rows": [
    copy.deepcopy(BASE["rows"][0]),
    {"id": "k2", "group": "g", "level": "kernel", "source": "s1", "hardware": "a100", "dtype": "fp16",
     "metric": "speedup", "value": 1.2, "gemm": {"m": 512, "k": 512, "n": 512}, "plan": "2:4",
     "kernel": "cusparselt", "baseline": {"plan": "dense", "kernel": None}},
    {"id": "e1", "group": "g", "level": "end-to-end", "source": "s2", "hardware": "a100", "dtype": "bf16",
     "metric": "seconds", "value": 0.01, "workload": "gpt2", "mode": "decode", "batch": 1, "context": 128},
]}
TEXT = yaml.safe_dump(DOC, sort_keys=False)
ARGV = ["validate", "--measurements", "m.yaml"]


def _edit(fn) -> str:
    doc = copy.deepcopy(DOC)
    fn(doc)
    return yaml.safe_dump(doc, sort_keys=False)


def _row(i: int, **changes):
    return _edit(lambda d: d["rows"][i].update(changes))


def _gemm(**changes):
    return _edit(lambda d: d["rows"][0]["gemm"].update(changes))


def _fit(**changes):
    return _edit(lambda d: d["fits"][0].update(changes))


def _drop(i: int, key: str, inner: str | None = None):
    return _edit(lambda d: (d["rows"][i][inner] if inner else d["rows"][i]).pop(key))


def _add_fit(**fit):
    return _edit(lambda d: d["fits"].append({**DOC["fits"][0], **fit}))


_R0, _R1, _R2 = "m.yaml: rows[0]", "m.yaml: rows[1]", "m.yaml: rows[2]"
UNKNOWN_HW = f"unknown hardware 'a1000': not a bundled spec ({', '.join(list_specs())}) nor an existing file"
WORKLOADS = ", ".join(list_workloads())
ROW_KEYS = ("baseline, batch, context, copies, cuda_graphs, dropout, dtype, fit, fusion, gemm, group, hardware, id, "
            "kernel, level, metric, mode, note, output, plan, seq, source, value, weight_dtype, workload")
A100_KERNELS = ("cublas, marlin-int4, cusparselt, cusparselt-tf32, compressed-nm, cublas-sgemm, nm-spmm, "
                "nmsparse, tinygemm-int4, sparse-marlin")

_LINES = TEXT.splitlines()
_ROWS_LINE = _LINES.index("rows:") + 1
_M_LINE = next(i for i, line in enumerate(_LINES, 1) if line.strip() == "m: 64")

READER = [
    ("binary", b"\x00\x01rows: []", "m.yaml: is a binary file, not a measurements file"),
    ("latin-1", TEXT.replace("a paper", "caf\xe9").encode("latin-1"),
     "m.yaml: is not UTF-8 text (byte 0xe9 on line 2; Latin-1?); save the measurements file as UTF-8"),
    ("utf-16", TEXT.encode("utf-16"), "m.yaml: is UTF-16 or UTF-32 encoded; save the measurements file as UTF-8"),
    ("folder", DIR, "m.yaml: is a folder, not a measurements file"),
    ("too-big", b"#" * BIG, "m.yaml: is 17 MiB; a measurements file is at most 16 MiB"),
    ("alias-bomb", BOMB, "m.yaml: YAML aliases expand to more than 100,000 values (an alias bomb?); refused"),
    ("bomb-in-rows", BOMB.replace("i: &i", "rows: &i"),
     "m.yaml: YAML aliases expand to more than 100,000 values (an alias bomb?); refused"),
    ("deep", "rows: " + "[" * 100 + "]" * 100 + "\n", "m.yaml: nested more than 64 levels deep"),
    ("duplicate-top-key", TEXT + "rows: []\n",
     f"m.yaml: duplicate key 'rows' on line {len(_LINES) + 1} (first on line {_ROWS_LINE})"),
    ("duplicate-row-key", TEXT.replace("  gemm:\n    m: 64", "  gemm:\n    m: 64\n    m: 65", 1),
     f"m.yaml: duplicate key 'm' on line {_M_LINE + 1} (first on line {_M_LINE})"),
    ("tab", "rows:\n\t- id: 1\n",
     "m.yaml: YAML syntax error at line 2, column 1: found character '\\t' that cannot start any token"),
    ("python-tag", "rows: !!python/object/apply:os.system ['true']\n",
     "m.yaml: YAML syntax error at line 1, column 7: could not determine a constructor for the tag "
     "'tag:yaml.org,2002:python/object/apply:os.system'"),
    ("empty", "", "m.yaml: empty file"),
    ("list-document", "- 1\n- 2\n", "m.yaml: expected a mapping, got list"),
]

SECTIONS = [
    ("unknown-top-key", TEXT + "row: []\n", "m.yaml: row: unknown key 'row' (did you mean 'rows'? allowed: fits, rows, sources)"),
    ("rows-empty", _edit(lambda d: d.update(rows=[])), "m.yaml: rows: expected a non-empty list"),
    ("rows-mapping", _edit(lambda d: d.update(rows={"a": 1})), "m.yaml: rows: expected a non-empty list"),
    ("fits-mapping", _edit(lambda d: d.update(fits={"f1": 1})), "m.yaml: fits: expected a list of fits"),
    ("sources-list", _edit(lambda d: d.update(sources=["s1"])),
     "m.yaml: sources: expected a mapping, got list"),
    ("source-citation-empty", _edit(lambda d: d["sources"].update(s2="")),
     "m.yaml: sources.s2: expected a non-empty string"),
]

FITS = [
    ("bounds-1e9", _fit(bounds=[0.1, 1e9]),
     "m.yaml: fits[0].bounds: bounds [0.1, 1000000000.0] leave (0, 1], the range a hardware spec accepts for "
     "efficiency"),
    ("bounds-from-zero", _fit(bounds=[0, 1]),
     "m.yaml: fits[0].bounds: bounds [0, 1] leave (0, 1], the range a hardware spec accepts for efficiency"),
    ("bounds-overlap-above-1", _fit(field="overlap", bounds=[0, 2]),
     "m.yaml: fits[0].bounds: bounds [0, 2] leave [0, 1], the range a hardware spec accepts for overlap"),
    ("bounds-tile-overhead-negative", _fit(field="tile_overhead_k", bounds=[-5, 100]),
     "m.yaml: fits[0].bounds: bounds [-5, 100] leave [0, inf), the range a hardware spec accepts for "
     "tile_overhead_k"),
    ("bounds-nan", _fit(bounds=[0.1, float("nan")]),
     "m.yaml: fits[0].bounds: expected [low, high] with low < high (finite numbers), got [0.1, nan]"),
    ("bounds-three", _fit(bounds=[0.1, 0.5, 1.0]),
     "m.yaml: fits[0].bounds: expected [low, high] with low < high (finite numbers), got [0.1, 0.5, 1.0]"),
    ("bounds-text", _fit(bounds="0.1-1"),
     "m.yaml: fits[0].bounds: expected [low, high] with low < high (finite numbers), got '0.1-1'"),
    ("field-unknown", _fit(field="tile_m"),
     "m.yaml: fits[0].field: unknown field 'tile_m' (kernel fields: efficiency, fp8_efficiency, "
     "bandwidth_efficiency, overlap, small_m.efficiency, tile_overhead_k, occupancy.latency_warps; GPU-level: "
     "host_op_us, kernel_gap_us)"),
    ("field-typo", _fit(field="efficency"),
     "m.yaml: fits[0].field: unknown field 'efficency' (kernel fields: efficiency, fp8_efficiency, "
     "bandwidth_efficiency, overlap, small_m.efficiency, tile_overhead_k, occupancy.latency_warps; GPU-level: "
     "host_op_us, kernel_gap_us)"),
    ("gpu-field-with-kernel", _fit(field="host_op_us", bounds=[0, 100]),
     "m.yaml: fits[0].kernel: host_op_us is a GPU-level field: a fit of it names no kernel"),
    ("unknown-key", _fit(bound=[0.1, 1]),
     "m.yaml: fits[0].bound: unknown key 'bound' (did you mean 'bounds'? allowed: bounds, field, hardware, kernel, name)"),
    ("kernel-unknown", _fit(kernel="cublass"),
     f"m.yaml: fits[0].kernel: a100-sxm4-80gb has no kernel 'cublass' (kernels: {A100_KERNELS})"),
    ("hardware-unknown", _fit(hardware="a1000"), f"m.yaml: fits[0].hardware: {UNKNOWN_HW}"),
    ("name-missing", _edit(lambda d: d["fits"][0].pop("name")), "m.yaml: fits[0]: missing required field 'name'"),
    ("joint-two-specs", _add_fit(hardware="h100", field="bandwidth_efficiency"),
     "m.yaml: fits[1].hardware: joint fit 'f1' calibrates a100 in fits[0]; one joint fit is on one hardware spec"),
    ("joint-same-field", _add_fit(bounds=[0.3, 0.9]),
     "m.yaml: fits[1].field: cublas.efficiency is already in joint fit 'f1'"),
]

ROWS = [
    ("gemm-m-zero", _gemm(m=0), f"{_R0}.gemm.m: must be > 0, got 0"),
    ("gemm-m-negative", _gemm(m=-64), f"{_R0}.gemm.m: must be > 0, got -64"),
    ("gemm-m-1e20", _gemm(m=1e20), f"{_R0}.gemm.m: expected an integer, got 1e+20"),
    ("gemm-m-2-40", _gemm(m=2**40),
     f"{_R0}.gemm.m: must be <= 16,777,216, got 1099511627776"),
    ("gemm-k-missing", _drop(0, "k", "gemm"), f"{_R0}.gemm: missing required field 'k'"),
    ("gemm-k-float", _gemm(k=64.5), f"{_R0}.gemm.k: expected an integer, got 64.5"),
    ("gemm-n-bool", _gemm(n=True), f"{_R0}.gemm.n: expected an integer, got True"),
    ("gemm-n-text", _gemm(n="4096"), f"{_R0}.gemm.n: expected an integer, got '4096'"),
    ("gemm-extra-dim", _gemm(b=2), f"{_R0}.gemm.b: unknown key 'b' (allowed: k, m, n)"),
    ("gemm-list", _row(0, gemm=[64, 64, 64]), f"{_R0}.gemm: expected a mapping, got list"),
    ("value-inf", _row(0, value=float("inf")), f"{_R0}.value: must be a finite number, got inf"),
    ("value-nan", _row(0, value=float("nan")), f"{_R0}.value: must be a finite number, got nan"),
    ("value-negative", _row(0, value=-1e-3), f"{_R0}.value: must be > 0, got -0.001"),
    ("value-text", _row(0, value="1 ms"), f"{_R0}.value: expected a number, got '1 ms'"),
    ("level", _row(0, level="op"), f"{_R0}.level: unknown level 'op' (known: kernel, end-to-end)"),
    ("metric", _row(0, metric="ms"), f"{_R0}.metric: unknown metric 'ms' (known: seconds, speedup)"),
    ("source-unknown", _row(0, source="s9"), f"{_R0}.source: unknown source 's9' (sources: s1, s2)"),
    ("source-list", _row(0, source=["s1"]), f"{_R0}.source: expected a name, got ['s1']"),
    ("id-duplicate", _row(2, id="k1"), f"{_R2}.id: duplicate id 'k1' (first in rows[0])"),
    ("id-list", _row(0, id=[1]), f"{_R0}.id: expected a name, got [1]"),
    ("group-missing", _drop(1, "group"), f"{_R1}: missing required field 'group'"),
    ("group-number", _row(1, group=3), f"{_R1}.group: expected a non-empty string"),
    ("unknown-key", _row(0, seconds=1), f"{_R0}.seconds: unknown key 'seconds' (allowed: {ROW_KEYS})"),
    ("note-list", _row(0, note=["x"]), f"{_R0}.note: expected a string, got ['x']"),
    ("hardware-unknown", _row(0, hardware="a1000"), f"{_R0}.hardware: {UNKNOWN_HW}"),
    ("hardware-list", _row(0, hardware=["a100"]),
     f"{_R0}.hardware: expected a non-empty string"),
    ("dtype-unknown", _row(0, dtype="fp17"),
     f"{_R0}.dtype: unknown dtype 'fp17' (did you mean 'fp16'? known: fp64, fp32, tf32, bf16, fp16, fp8, int8, int4)"),
    ("dtype-not-on-hardware", _row(0, dtype="fp8"),
     f"{_R0}.dtype: a100-sxm4-80gb has no fp8 matrix peak (dtypes: bf16, fp16, tf32, int8, fp32)"),
    ("weight-dtype-unknown", _row(0, weight_dtype="int3"),
     f"{_R0}.weight_dtype: unknown dtype 'int3' (did you mean 'int8'? known: fp64, fp32, tf32, bf16, fp16, fp8, int8, int4)"),
    ("kernel-unknown", _row(1, kernel="cusparse"),
     f"{_R1}.kernel: a100-sxm4-80gb has no kernel 'cusparse' (kernels: {A100_KERNELS})"),
    ("plan-bad", _row(1, plan="4:2"), f"{_R1}.plan: N > M in pattern '4:2'"),
    ("plan-number", _row(1, plan=0.5), f"{_R1}.plan: expected a non-empty string"),
    ("baseline-on-seconds-row", _row(0, baseline={"plan": "dense"}),
     f"{_R0}.baseline: only a speedup row has a baseline (this row's metric is seconds)"),
    ("baseline-missing", _drop(1, "baseline"),
     f"{_R1}.baseline: a speedup row needs a baseline mapping (the keys that differ in the baseline)"),
    ("baseline-unknown-key", _row(1, baseline={"plan": "dense", "value": 2}),
     f"{_R1}.baseline.value: unknown key 'value' (allowed: batch, context, copies, cuda_graphs, dropout, dtype, "
     "fusion, gemm, kernel, mode, output, plan, seq, weight_dtype, workload)"),
    ("baseline-gemm-zero", _row(1, baseline={"gemm": {"m": 0, "k": 512, "n": 512}}),
     f"{_R1}.baseline.gemm.m: must be > 0, got 0"),
    ("baseline-kernel-unknown", _row(1, baseline={"kernel": "cublass"}),
     f"{_R1}.baseline.kernel: a100-sxm4-80gb has no kernel 'cublass' (kernels: {A100_KERNELS})"),
    ("fit-unknown", _row(0, fit="f9"), f"{_R0}.fit: unknown fit 'f9'"),
    ("cuda-graphs-text", _row(2, cuda_graphs="no"), f"{_R2}.cuda_graphs: expected true or false, got 'no'"),
    ("fusion-text", _row(2, fusion="off"), f"{_R2}.fusion: expected true or false, got 'off'"),
    ("dropout-number", _row(2, dropout=0.1), f"{_R2}.dropout: expected true or false, got 0.1"),
    ("dropout-decode", _row(2, dropout=True), f"{_R2}.dropout: dropout applies to training rows only, not decode"),
    ("dropout-on-gemm", _row(0, dropout=True),
     f"{_R0}.dropout: dropout applies to workload rows only (this row is one gemm)"),
    ("fit-other-hardware", _row(0, hardware="h100"),
     f"{_R0}.fit: fit 'f1' calibrates a100, but this row was measured on h100"),
    ("gemm-and-workload", _row(0, workload="gpt2"), f"{_R0}: give exactly one of gemm or workload"),
    ("gemm-with-batch", _row(0, batch=8), f"{_R0}.batch: batch applies to workload rows only (this row is one gemm)"),
    ("workload-unknown", _row(2, workload="gpt9"),
     f"{_R2}.workload: unknown workload 'gpt9' (bundled: {WORKLOADS}; or give a workload .yaml or a config.json path)"),
    ("mode-unknown", _row(2, mode="serve"),
     f"{_R2}.mode: unknown mode 'serve' (known: inference, prefill, decode, training)"),
    ("decode-encoder", _row(2, workload="bert-base"),
     f"{_R2}.mode: decode needs a decoder-only (causal) model; bert-base is encoder-only (use --mode inference or "
     "training)"),
    ("batch-zero", _row(2, batch=0), f"{_R2}.batch: must be > 0, got 0"),
    ("batch-1e30", _row(2, batch=1e30), f"{_R2}.batch: expected an integer, got 1e+30"),
    ("context-negative", _row(2, context=-1), f"{_R2}.context: must be >= 0, got -1"),
    ("seq-on-decode", _row(2, seq=16),
     f"{_R2}.seq: decode prices one new token per sequence; give the cache length as context"),
    ("output-zero", _row(2, mode="prefill", context=None, output=0),
     f"{_R2}.output: must be > 0, got 0"),
    ("output-on-decode", _row(2, output=128),
     f"{_R2}.output: output (tokens generated after the prompt) applies to prefill rows only, not decode"),
    ("output-on-gemm", _row(0, output=2), f"{_R0}.output: output applies to workload rows only (this row is one gemm)"),
    ("context-on-training", _row(2, mode="training"),
     f"{_R2}.context: context applies to decode and prefill rows only, not training"),
    ("workload-plan-bad", _row(2, plan="zz=2:4"),
     f"{_R2}.plan: unknown selector 'zz' (known: all, ff, ff1, ff2, ff_gate, q, k, v, o, qk, qkv, attn, head, or "
     "re:REGEX)"),
    ("plan-does-not-fit", _row(2, plan="ff=1:7"),   # found by pricing the row, before any fit
     f"{_R2}.plan: M=7 does not divide the reduction dimension gemm_k=768 of blocks.0.ff.ff1 (24 op(s) affected)"),
]

CLASSES = {f"measurements {name}": [(f"m-{cid}", {"m.yaml": content}, ARGV, msg) for cid, content, msg in cases]
           for name, cases in (("reader", READER), ("sections", SECTIONS), ("fits", FITS), ("rows", ROWS))}
CLASSES["measurements reader"].append(("m-missing", {}, ARGV, "m.yaml: no such file"))
CLASSES["measurements reader"].append(("m-parent-is-file", {"f": "x"}, ["validate", "--measurements", "f/m.yaml"],
                                       "f/m.yaml: no such file"))
CASES = [pytest.param(files, argv, msg, id=f"{cls}:{cid}") for cls, cases in CLASSES.items()
         for cid, files, argv, msg in cases]


@pytest.mark.parametrize("files,argv,expected", CASES)
def test_bad_measurements(workdir, capsys, files, argv, expected):
    check_case(workdir, capsys, files, argv, expected)


# ---- property: random structured mutations of a valid file load or are one UserError --------------------------

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=12),
                    st.sampled_from(["dense", "2:4", "ff=1:8", "a100", "h100", "gpt2", "fp16", "cublas", "s1", "f1",
                                     "kernel", "speedup", "decode", "efficiency", "small_m.efficiency"]))
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(st.text(max_size=6), SCALARS, max_size=3))


def _paths(node, prefix=()):
    """Every place in a parsed document (a tuple of keys and indices)."""
    yield prefix
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        yield from _paths(child, prefix + (key,))


@st.composite
def mutated(draw, doc, max_edits: int = 3, values=VALUES):
    """``doc`` after 1..max_edits edits, each at a random place: the value replaced, the key or item deleted, or a
    key added (names drawn from the keys the document already uses, so unknown and known keys both occur)."""
    doc = copy.deepcopy(doc)
    keys = sorted({str(p[-1]) for p in _paths(doc) if p and isinstance(p[-1], str)})
    for _ in range(draw(st.integers(1, max_edits))):
        path = draw(st.sampled_from(list(_paths(doc))))
        if not path:
            doc = draw(values) if draw(st.booleans()) else doc
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        op = draw(st.sampled_from(("replace", "delete", "add")))
        if op == "replace":
            parent[path[-1]] = draw(values)
        elif op == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.one_of(st.sampled_from(keys), st.text(max_size=6)))] = draw(values)
        else:
            parent.insert(path[-1], draw(values))
    return doc


def _write(folder, doc):
    path = folder / "m.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _assert_one_line(exc: UserError) -> None:
    assert str(exc).startswith("m.yaml: ") and "\n" not in str(exc), str(exc)


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(doc=mutated(DOC))
def test_reader_property(tmp_path, doc):
    """400 mutated files: each loads or raises UserError, never another exception (no deadline: CI's
    timeout bounds a runaway)."""
    try:
        load(_write(tmp_path, doc))
    except UserError as exc:
        _assert_one_line(exc)


SMALL = copy.deepcopy(DOC)
SMALL["rows"][2].update(workload="trainer-gpt2-chars", context=32)   # a model that traces in milliseconds


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    """The valid file validated once (traces and specs cached), so the examples time the checks, not start-up."""
    from nmsim.cost.validate import validate
    return validate(_write(tmp_path_factory.mktemp("warm"), SMALL))


def test_warm_file_validates(warm):
    assert list(warm.rows["id"]) == ["k1", "k2", "e1"] and list(warm.rows["use"]) == ["fitted", "scored", "scored"]
    assert warm.fits["fitted_value"].between(0.2, 1.0).all()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(doc=mutated(SMALL, max_edits=2))
def test_validate_property(tmp_path, warm, doc):
    """60 mutated files through prediction and MAPE (every row priced): a result with finite positive predictions,
    or UserError. Without the refit: one fit prices its rows ~25 times, far slower on a loaded
    machine; the fits' fields and bounds are the reader's (``test_reader_property``), ``warm`` fits once."""
    from nmsim.cost.validate import validate
    try:
        v = validate(_write(tmp_path, doc), refit=False)
    except UserError as exc:
        _assert_one_line(exc)
        return
    assert (v.rows["predicted"] > 0).all() and v.rows["predicted"].map(math.isfinite).all(), v.rows


def test_corpus_size():
    counts = {cls: len(cases) for cls, cases in CLASSES.items()}
    assert sum(counts.values()) >= 80 and min(counts.values()) >= 6, counts
