"""Bundled accelerator specs: load, match the vendors' datasheets, and answer pricing's queries."""
import json
import math

import jsonschema
import pytest
import yaml

from nmsim.cli import main
from nmsim.errors import UserError
from nmsim.hardware import SPEC_DIR, HardwareSpec, list_specs, load
from nmsim.sparsity import NMPattern, parse_any

P = NMPattern
BUNDLED = ["v100", "a100-sxm4-80gb", "h100-sxm5", "h200-sxm", "rtx-4090", "tpu-v4", "vegeta", "s2ta", "highlight",
           "ideal-nm", "a10g", "l4", "l40s", "h100-pcie", "mi300x", "tpu-v5e"]


def test_list_specs():
    assert set(BUNDLED) <= set(list_specs())


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_loads_with_sources(name):
    spec = load(name)
    assert isinstance(spec, HardwareSpec) and spec.name == name
    assert spec.main_memory.bandwidth_gbps > 0 and spec.main_memory.capacity_gib > 0
    # every numeric leaf has a recorded source
    doc = yaml.safe_load((SPEC_DIR / f"{name}.yaml").read_text())

    def leaves(node, path):
        if isinstance(node, dict):
            if set(node) == {"value", "source"}:
                yield path
                return
            for k, v in node.items():
                yield from leaves(v, path + [k])
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from leaves(v, path + [i])
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            yield path

    for path in leaves(doc, []):
        key = "".join(f"[{p}]" if isinstance(p, int) else (("." if i else "") + p) for i, p in enumerate(path))
        assert spec.source(key) or spec.source(key + ".value"), key


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_match_json_schema(name):
    schema = json.loads((SPEC_DIR / "schema.json").read_text())
    jsonschema.validate(yaml.safe_load((SPEC_DIR / f"{name}.yaml").read_text()), schema)


# datasheets: dense -> 2:4 sparse, memory (GB), bandwidth (GB/s)
FACTS = [
    ("a100", "bf16", 312, 624), ("a100", "fp16", 312, 624), ("a100", "int8", 624, 1248),
    ("h100", "bf16", 989.4, 1978.9), ("h100", "fp8", 1978.9, 3957.8), ("h100", "int8", 1978.9, 3957.8),
    ("h200", "bf16", 989.4, 1978.9), ("h200", "fp8", 1978.9, 3957.8),
]


@pytest.mark.parametrize("name,dtype,dense,sparse", FACTS)
def test_peaks_match_facts(name, dtype, dense, sparse):
    spec = load(name)
    assert spec.dense_tflops(dtype) == dense
    assert spec.sparse_options(dtype) == [(P(2, 4), sparse)]


def test_other_facts():
    a100, h100, h200 = load("a100"), load("h100"), load("h200")
    assert a100.dense_tflops("tf32") == 156 and a100.sparse_options("tf32") == [(P(1, 2), 312)]
    assert h100.dense_tflops("tf32") == 494.7 and h100.sparse_options("tf32") == [(P(1, 2), 989.4)]
    assert (a100.main_memory.bandwidth_gbps, h100.main_memory.bandwidth_gbps, h200.main_memory.bandwidth_gbps) == \
        (2039, 3350, 4800)
    assert a100.main_memory.capacity_gib == pytest.approx(80e9 / 2**30, abs=0.05)
    assert h200.main_memory.capacity_gib == pytest.approx(141e9 / 2**30, abs=0.05)
    v100 = load("v100")
    assert v100.dense_tflops("fp16") == 125 and v100.sparse is None and v100.main_memory.bandwidth_gbps == 900
    tpu = load("tpu-v4")
    assert tpu.dense_tflops("bf16") == 275 and tpu.sparse_options("bf16") == []
    assert (tpu.main_memory.capacity_gib, tpu.main_memory.bandwidth_gbps) == (32, 1200)
    assert tpu.best_sparse(P(1, 16), "bf16") == (None, 275, 1.0)
    with pytest.raises(UserError, match="no matrix peak for dtype 'bf16'"):
        v100.dense_tflops("bf16")


@pytest.mark.parametrize("name,pattern,hw,speedup", [
    ("a100", "1:16", "2:4", 2.0), ("a100", "1:8", "2:4", 2.0), ("a100", "2:8", "2:4", 2.0),
    ("a100", "1:2", "2:4", 2.0), ("a100", "2:4T", "2:4", 2.0), ("a100", "4:8", None, 1.0),
    ("a100", "8:64", None, 1.0), ("a100", "dense", None, 1.0), ("a100", "2:4/2:4", "2:4", 2.0),
    ("ideal-nm", "1:16", "1:16", 16.0), ("ideal-nm", "8:64", "8:64", 8.0), ("ideal-nm", "1:512", None, 1.0),
    ("vegeta", "1:8", "1:4", 4.0), ("vegeta", "2:4", "2:4", 2.0), ("vegeta", "3:4", None, 1.0),
    ("highlight", "1:8", "2:4/2:4", 4.0), ("highlight", "2:4/1:4", "2:4/1:4", 8.0),
    ("highlight", "1:16", "2:4/1:4", 8.0), ("highlight", "4:8", None, 1.0),
])
def test_best_sparse(name, pattern, hw, speedup):
    spec = load(name)
    got_hw, tflops, got_speedup = spec.best_sparse(parse_any(pattern), "bf16")
    assert (str(got_hw) if got_hw is not None else None) == (hw if hw is None else str(parse_any(hw)).rstrip("T"))
    assert got_speedup == pytest.approx(speedup)
    assert tflops == pytest.approx(spec.dense_tflops("bf16") * speedup)
    assert spec.best_sparse(parse_any(pattern), "bf16") is spec.best_sparse(parse_any(pattern), "bf16")  # cached


def test_ideal_nm_one_sixteenth():
    spec = load("ideal-nm")
    hw, tflops, speedup = spec.best_sparse(P(1, 16), "bf16")
    assert hw == P(1, 16) and speedup == 16 and tflops == 989.4 * 16
    assert spec.accepts_transposed_dgrad and not load("a100").accepts_transposed_dgrad


def test_s2ta_int8_only():
    spec = load("s2ta")
    assert spec.best_sparse(P(2, 8), "int8")[2] == 2.0
    with pytest.raises(UserError, match=r"s2ta: no matrix peak for dtype 'bf16' \(has: int8\)"):
        spec.best_sparse(P(2, 8), "bf16")
    assert spec.metadata_encoding == "bitmask"


def test_vegeta_derivation_documented():
    spec = load("vegeta")
    assert "1.09" in spec.derivation and "2.20" in spec.derivation and "3.74" in spec.derivation
    # 512 MACs x 2 FLOP x 2 GHz; sparse peaks at the array bound (the reported speedups are validation rows)
    assert spec.dense_tflops("bf16") == pytest.approx(2 * 512 * 2e9 / 1e12)
    assert dict((str(p), t) for p, t in spec.sparse_options("bf16"))["1:4"] == pytest.approx(4 * 2.048)
    assert spec.execution["model"] == "systolic" and (spec.execution["rows"], spec.execution["cols"]) == (32, 16)


def test_padding():
    a100 = load("a100")
    assert a100.pad_m(1, sparse=True) == 32 and a100.pad_m(33, sparse=True) == 64 and a100.pad_m(1, sparse=False) == 1
    assert a100.pad_k(100, sparse=True) == 128 and a100.pad_k(100, sparse=True, dtype="int8") == 128
    assert a100.pad_k(130, sparse=True, dtype="bf16") == 192 and a100.pad_k(130, sparse=True, dtype="int8") == 256
    assert a100.pad_n(1000, sparse=True) == 1024 and a100.pad_n(1000, sparse=False) == 1000
    assert load("ideal-nm").pad_m(1, sparse=True) == 1


def test_efficiency_curve():
    a100 = load("a100")
    pts = a100.efficiency_points
    assert a100.efficiency(pts[0][0]) == pts[0][1] and a100.efficiency(1.0) == pts[0][1]
    assert a100.efficiency(1e20) == pts[-1][1]
    # log-space interpolation: halfway in log between 1e9 and 1e10
    mid = a100.efficiency(math.sqrt(1e9 * 1e10))
    assert mid == pytest.approx((0.493 + 0.753) / 2)
    values = [a100.efficiency(10 ** (x / 4)) for x in range(16, 60)]
    assert all(0 < v <= 1 for v in values) and values == sorted(values)
    assert load("vegeta").efficiency(123.0) == 1.0


def test_energy_and_metadata():
    a100 = load("a100")
    assert a100.energy_pj_per_flop("bf16") == 0.75 and a100.energy_pj_per_flop("bf16", sparse=True) == 0.75
    assert a100.energy_pj_per_byte() == 31.2 and a100.energy_pj_per_byte("hbm2e") == 31.2
    assert a100.metadata_encoding == "index" and a100.metadata_bandwidth_gbps is None
    assert load("highlight").metadata_encoding == "hierarchical"
    assert a100.vector_tflops("fp32") == 19.5 and a100.vector_tflops("bf16") == 19.5
    with pytest.raises(UserError):
        a100.energy_pj_per_byte("l2")


def test_aliases_and_paths():
    assert load("a100") is load("a100-sxm4-80gb")
    assert load(str(SPEC_DIR / "h100-sxm5.yaml")).name == "h100-sxm5"


def test_cli_list(capsys):
    assert main(["hardware", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["name", "kind"]
    rows = {line.split()[0]: line.split() for line in out[1:]}
    assert set(BUNDLED) <= set(rows)
    assert rows["a100-sxm4-80gb"][1:5] == ["gpu", "312", "TFLOP/s", "2:4,1:2"]
    assert rows["h100-sxm5"][-2:] == ["3.35", "TB/s"] and rows["tpu-v4"][4] == "-"
    assert max(map(len, out)) <= 100
    assert main(["hardware", "list", "--format", "csv"]) == 0   # raw SI
    csv = capsys.readouterr().out.splitlines()
    assert csv[0] == "name,kind,bf16_peak_flops_per_second,sparse_patterns,memory_bytes,bandwidth_bytes_per_second"
    assert csv[1].startswith("a100-sxm4-80gb,gpu,312000000000000.0,")
    assert main(["hardware", "list", "--columns", "name,bandwidth"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split() == ["a100-sxm4-80gb", "2.04", "TB/s"]


def test_cli_show(capsys):
    assert main(["hardware", "show", "h100"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("h100-sxm5 (gpu):")
    assert "bf16  dense 989.4; sparse 2:4 1978.9 (2.00x)" in out
    assert "transposed_dgrad=false" in out and "sources (" in out
    assert main(["hardware", "show", str(SPEC_DIR / "vegeta.yaml")]) == 0
    assert "derivation:" in capsys.readouterr().out


def test_cli_validate_bundled(capsys):
    files = [str(SPEC_DIR / f"{n}.yaml") for n in BUNDLED]
    assert main(["hardware", "validate", *files]) == 0
    assert capsys.readouterr().out == "".join(f"ok: {f}\n" for f in files)
