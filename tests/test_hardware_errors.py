"""Malformed accelerator YAML: one exact line naming file and field, exit status 2 (``nmsim hardware validate``)."""
import copy

import pytest
import yaml

from nmsim.cli import main
from nmsim.hardware import SPEC_DIR

BASE = yaml.safe_load((SPEC_DIR / "a100-sxm4-80gb.yaml").read_text())
TOP = ("aliases, derivation, description, efficiency, energy, execution, kind, matrix, memory, name, notes, padding, "
       "sparse_support, vector_tflops")
DTYPES = "fp64, fp32, tf32, bf16, fp16, fp8, int8, int4"
SRC_HINT = 'missing source: write {value: X, source: "..."} or add source: to the section'


def set_at(path, value):
    """A mutation of a parsed document: the value at ``path`` (keys and indexes) set to ``value``."""
    def mutate(doc):
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return mutate


def _del(path):
    def mutate(doc):
        node = doc
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return mutate


def _sparse_patterns(mapping):
    def mutate(doc):
        doc["matrix"]["bf16"]["sparse"] = mapping
    return mutate


CASES = [  # id, mutation, expected message after "nmsim: error: bad.yaml: "
    ("unknown-top", set_at(["colour"], "red"), f"colour: unknown key 'colour' (allowed: {TOP})"),
    ("unknown-nested", set_at(["matrix", "bf16", "peak"], 1), "matrix.bf16.peak: unknown key 'peak' (allowed: dense_tflops, sparse)"),
    ("unknown-memory", set_at(["memory", 0, "latency_ns"], 5),
     "memory[0].latency_ns: unknown key 'latency_ns' (allowed: bandwidth_gbps, capacity_gib, name)"),
    ("unknown-sparse-item", _sparse_patterns({"2:4": {"tflops": 624, "speedup": 2}}),
     "matrix.bf16.sparse.2:4.speedup: unknown key 'speedup' (allowed: tflops)"),
    ("unknown-value-pair", set_at(["vector_tflops", "fp32"], {"value": 19.5, "source": "x", "unit": "T"}),
     "vector_tflops.fp32.unit: unknown key 'unit' (allowed: source, value)"),
    ("missing-name", _del(["name"]), "missing required field 'name'"),
    ("missing-dense", _del(["matrix", "bf16", "dense_tflops"]), "matrix.bf16: missing required field 'dense_tflops'"),
    ("missing-bandwidth", _del(["memory", 0, "bandwidth_gbps"]), "memory[0]: missing required field 'bandwidth_gbps'"),
    ("missing-dgrad-flag", _del(["sparse_support", "transposed_dgrad"]),
     "sparse_support: missing required field 'transposed_dgrad'"),
    ("missing-vector", _del(["vector_tflops"]), "missing required field 'vector_tflops'"),
    ("type-string-peak", set_at(["matrix", "bf16", "dense_tflops"], "fast"),
     "matrix.bf16.dense_tflops: expected a number, got 'fast'"),
    ("type-bool-peak", set_at(["matrix", "bf16", "dense_tflops"], True),
     "matrix.bf16.dense_tflops: expected a number, got True"),
    ("type-bool-flag", set_at(["sparse_support", "transposed_dgrad"], "no"),
     "sparse_support.transposed_dgrad: expected true or false, got 'no'"),
    ("type-memory-list", set_at(["memory"], {"name": "hbm"}), "memory: expected a non-empty list of memory levels"),
    ("type-matrix-mapping", set_at(["matrix"], [312]), "matrix: expected a mapping, got list"),
    ("type-padding-int", set_at(["padding", "sparse", "m"], 2.5), "padding.sparse.m: expected an integer, got 2.5"),
    ("type-aliases", set_at(["aliases"], "a100"), "aliases: expected a list of names"),
    ("negative-peak", set_at(["matrix", "bf16", "dense_tflops"], -312), "matrix.bf16.dense_tflops: must be > 0, got -312"),
    ("zero-bandwidth", set_at(["memory", 0, "bandwidth_gbps"], 0), "memory[0].bandwidth_gbps: must be > 0, got 0"),
    ("negative-capacity", set_at(["memory", 0, "capacity_gib"], -1), "memory[0].capacity_gib: must be > 0, got -1"),
    ("zero-sparse-peak", _sparse_patterns({"2:4": {"tflops": 0}}), "matrix.bf16.sparse.2:4.tflops: must be > 0, got 0"),
    ("negative-energy", set_at(["energy", "pj_per_byte", "hbm2e"], {"value": -3, "source": "x"}),
     "energy.pj_per_byte.hbm2e.value: must be > 0, got -3"),
    ("sparse-above-bound", _sparse_patterns({"2:4": {"tflops": 700}}),
     "matrix.bf16.sparse.2:4.tflops: sparse peak 700 TFLOPS is above dense x M/N = 312 x 4/2 = 624 "
     "(a 2:4 'sparse' figure entered as dense?)"),
    ("sparse-above-bound-1-8", _sparse_patterns({"1:8": {"tflops": 2500}}),
     "matrix.bf16.sparse.1:8.tflops: sparse peak 2500 TFLOPS is above dense x M/N = 312 x 8/1 = 2496 "
     "(a 2:4 'sparse' figure entered as dense?)"),
    ("pattern-syntax", _sparse_patterns({"2-4": {"tflops": 600}}),
     "matrix.bf16.sparse.2-4: not an N:M pattern: '2-4' (expected e.g. 1:16 or dense)"),
    ("pattern-n-gt-m", _sparse_patterns({"5:4": {"tflops": 600}}), "matrix.bf16.sparse.5:4: N > M in pattern '5:4'"),
    ("pattern-dense", _sparse_patterns({"4:4": {"tflops": 312}}),
     "matrix.bf16.sparse.4:4: '4:4' is not a sparse N:M pattern (need N < M)"),
    ("pattern-hier-bad", _sparse_patterns({"2:4/x": {"tflops": 600}}),
     "matrix.bf16.sparse.2:4/x: not an N:M pattern: 'x' (expected e.g. 1:16 or dense)"),
    ("dtype-matrix", lambda d: d["matrix"].__setitem__("bf17", d["matrix"].pop("bf16")),
     f"matrix.bf17: unknown dtype 'bf17' (did you mean 'bf16'? known: {DTYPES})"),
    ("dtype-vector", set_at(["vector_tflops", "float32"], {"value": 1, "source": "x"}),
     f"vector_tflops.float32: unknown dtype 'float32' (known: {DTYPES})"),
    ("dtype-energy", set_at(["energy", "pj_per_flop", "e4m3"], {"dense": 1}),
     f"energy.pj_per_flop.e4m3: unknown dtype 'e4m3' (known: {DTYPES})"),
    ("dtype-padding", set_at(["padding", "sparse_by_dtype", "i8"], {"k": 128}),
     f"padding.sparse_by_dtype.i8: unknown dtype 'i8' (did you mean 'int8'? known: {DTYPES})"),
    ("missing-source-section", _del(["matrix", "source"]), f"matrix.bf16.dense_tflops: {SRC_HINT}"),
    ("missing-source-pair", set_at(["vector_tflops", "fp32"], {"value": 19.5}),
     "vector_tflops.fp32: missing required field 'source'"),
    ("missing-source-memory", _del(["memory", 0, "source"]), f"memory[0].capacity_gib: {SRC_HINT}"),
    ("empty-source", set_at(["matrix", "source"], ""), "matrix.source: expected a non-empty string"),
    ("top-level-source", set_at(["source"], "datasheet"),
     "source: unknown key 'source' at the top level (put source: on a section or a value)"),
    ("unknown-kind", set_at(["kind"], "fpga"),
     "kind: unknown kind 'fpga' (known: gpu, tpu, systolic, matrix-engine, hierarchical-engine, ideal)"),
    ("unknown-encoding", set_at(["sparse_support", "metadata_encoding"], "huffman"),
     "sparse_support.metadata_encoding: unknown metadata encoding 'huffman' "
     "(known: index, bitmask, combinatorial, hierarchical)"),
    ("unknown-operand", set_at(["sparse_support", "operand"], "input"),
     "sparse_support.operand: expected weight, activation or both, got 'input'"),
    ("no-sparse-support", _del(["sparse_support"]),
     "sparse_support: sparse peaks are listed but the sparse_support section is missing"),
    ("energy-unknown-level", set_at(["energy", "pj_per_byte", "l2"], {"value": 5, "source": "x"}),
     "energy.pj_per_byte.l2: unknown memory level 'l2' (levels: hbm2e)"),
    ("duplicate-level", lambda d: d["memory"].append(dict(d["memory"][0])), "memory[1].name: duplicate memory level 'hbm2e'"),
    ("efficiency-above-1", set_at(["efficiency"], {"value": 1.5, "source": "x"}), "efficiency.value: must be <= 1, got 1.5"),
    ("efficiency-both", set_at(["efficiency", "value"], 0.5),
     "efficiency: give exactly one of value (a scalar) or curve (a list of [gemm_flops, efficiency])"),
    ("efficiency-order", set_at(["efficiency", "curve"], [[1.0e9, 0.5], [1.0e6, 0.1]]),
     "efficiency.curve[1][0]: gemm_flops must increase along the curve"),
    ("efficiency-pair", set_at(["efficiency", "curve"], [[1.0e9, 0.5, 3]]),
     "efficiency.curve[0]: expected a [gemm_flops, efficiency] pair, got [1000000000.0, 0.5, 3]"),
    ("padding-zero", set_at(["padding", "sparse", "k"], 0), "padding.sparse.k: must be > 0, got 0"),
    ("any-nm-type", set_at(["sparse_support", "any_nm"], "yes"), "sparse_support.any_nm: expected true or false, got 'yes'"),
    ("energy-missing-dense", set_at(["energy", "pj_per_flop", "bf16"], {"sparse": 0.5}),
     "energy.pj_per_flop.bf16: missing required field 'dense'"),
    ("document-list", lambda d: None, None),  # replaced below by raw text cases
]
CASES = CASES[:-1]

RAW_CASES = [
    ("yaml-syntax", "name: [a100\nkind: gpu\n", "YAML syntax error at line 2, column 5: expected ',' or ']', but got ':'"),
    ("yaml-tab", "name: a\n\tkind: gpu\n", "YAML syntax error at line 2, column 1: found character '\\t' that cannot start any token"),
    ("empty", "", "empty file"),
    ("list-document", "- a100\n", "expected a mapping, got list"),
]


def _run(path, capsys, command="validate"):
    status = main(["hardware", command, str(path)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("case,mutate,message", CASES, ids=[c[0] for c in CASES])
def test_malformed_spec(tmp_path, capsys, case, mutate, message):
    doc = copy.deepcopy(BASE)
    mutate(doc)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    status, out, err = _run(path, capsys)
    assert (status, out) == (2, "")
    assert err == f"nmsim: error: bad.yaml: {message}\n"


@pytest.mark.parametrize("case,text,message", RAW_CASES, ids=[c[0] for c in RAW_CASES])
def test_malformed_yaml(tmp_path, capsys, case, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    status, out, err = _run(path, capsys)
    assert (status, err) == (2, f"nmsim: error: bad.yaml: {message}\n")


def test_missing_file(tmp_path, capsys):
    path = tmp_path / "nope.yaml"
    assert _run(path, capsys) == (2, "", f"nmsim: error: {path}: no such file\n")


def test_unknown_name(capsys):
    status, out, err = _run("a1000", capsys, command="show")
    assert status == 2 and err.startswith("nmsim: error: a1000: unknown hardware: not a bundled spec (a100-sxm4-80gb, ")
    assert err.endswith(") nor an existing file\n") and err.count("\n") == 1


def test_valid_copy_passes(tmp_path, capsys):
    path = tmp_path / "good.yaml"
    path.write_text(yaml.safe_dump(BASE, sort_keys=False))
    assert _run(path, capsys) == (0, f"ok: {path}\n", "")


def test_debug_shows_traceback(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("")
    from nmsim.errors import UserError
    with pytest.raises(UserError):
        main(["--debug", "hardware", "validate", str(path)])
