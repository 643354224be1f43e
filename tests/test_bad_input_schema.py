"""Issue 21 item 3: the bad-input corpus of the file kinds checked by the declarative schemas (``nmsim.schema``):
a gpu and a systolic hardware spec's execution section (the parameters execution models declare there), system
files, losses files and price lists. Same format and checks as ``tests/test_bad_input.py``: exit status 2, exactly
one ``nmsim: error: ...`` line equal to the expected text, no traceback, every file unchanged, nothing added.
API_CASES: the price list and the memory measurements file, which no command reads from a user's file, through
their readers (``read_prices``, ``nmsim.memory.validate.load_runs``)."""
from __future__ import annotations

import pytest
from nmsim.hardware import list_specs
from test_bad_input import check_case, make_files, snapshot, workdir  # noqa: F401
from test_bad_input_cluster import SYS, W

GPU = """name: g
description: a test gpu
kind: gpu
matrix:
  source: ours
  bf16: {dense_tflops: 100, sparse: {"2:4": {tflops: 200}}}
vector_tflops: {fp32: {value: 10, source: ours}}
memory:
  - {name: hbm, capacity_gib: 80, bandwidth_gbps: 2000, source: ours}
sparse_support: {transposed_dgrad: false}
execution:
  model: gpu
  source: ours
  sms: 100
  kernels:
    cublas: {kind: dense, dtypes: [bf16], efficiency: 0.8}
    sparse: {kind: sparse-tensor-core, dtypes: [bf16], patterns: ["2:4"], efficiency: 0.6}
"""
SYSTOLIC = """name: sa
description: a test array
kind: systolic
matrix: {source: ours, int8: {dense_tflops: 1.024}}
vector_tflops: {fp32: {value: 0.1, source: ours}}
memory:
  - {name: dram, capacity_gib: 8, bandwidth_gbps: 100, source: ours}
execution:
  model: systolic
  source: ours
  rows: 32
  cols: 16
  clock_ghz: 1.0
  dataflow: os
"""
PRICES = """h100-sxm5:
  usd_per_hour: 6.88
  offer: one device of an 8-GPU instance
  source: the provider's list
  date: "2025-06"
"""
MEMORY = """workloads:
  tiny: {family: gpt2, vocab: 100, layers: 2, d_model: 64, heads: 4, ffn: 256}
runs:
  - {id: r1, workload: tiny, hardware: a100, batch: 1, seq: 128, dtype: bf16, recompute: none, measure: allocated,
     split: fit, mib: 1000}
"""
MEMORY_KEYS = ("batch, dropout, dtype, flash, gb, hardware, id, measure, mib, precision, recompute, seq, source, "
               "split, workload")
SOURCE = 'missing source: write {value: X, source: "..."} or add source: to the section'
KERNEL_KEYS = ("arch, bandwidth_efficiency, decode_ns_per_nnz, dtypes, efficiency, efficiency_rate, fp8_efficiency, "
               "index_columns, kind, launch_us, max_m, metadata, min_rows, note, occupancy, offered_from_rows, overlap, "
               "patterns, small_m, split_k, tile, tile_overhead_k, transposed, warp_tile, weight_dtypes")
GPU_KEYS = ("arch, board_watts, boost_mhz, host_op_us, kernel_gap_us, kernels, l2_bandwidth_gbps, l2_mib, "
            "older_arch_peak_fraction, sm_limits, sms, sustained_mhz, vector_bandwidth_efficiency, vector_launch_us")


def _edit(base: str, old: str, new: str) -> str:
    assert old in base, old
    return base.replace(old, new)


def _gpu(old: str, new: str) -> dict:
    return {"hw.yaml": _edit(GPU, old, new)}


def _sa(old: str, new: str) -> dict:
    return {"hw.yaml": _edit(SYSTOLIC, old, new)}


VALIDATE = ["hardware", "validate", "hw.yaml"]
DENSE = "    cublas: {kind: dense, dtypes: [bf16], efficiency: 0.8}\n"

HARDWARE = [
    ("gpu-unknown-param", _gpu("  sms: 100\n", "  sms: 100\n  warps: 4\n"), VALIDATE,
     f"hw.yaml: execution.warps: unknown key 'warps' for execution model 'gpu' (allowed: {GPU_KEYS})"),
    ("gpu-missing-sms", _gpu("  sms: 100\n", ""), VALIDATE, "hw.yaml: execution: missing required field 'sms'"),
    ("gpu-sms-fraction", _gpu("sms: 100", "sms: 100.5"), VALIDATE,
     "hw.yaml: execution.sms: expected an integer, got 100.5"),
    ("kernel-unknown-key", _gpu("efficiency: 0.8}", "efficiency: 0.8, warps: 4}"), VALIDATE,
     f"hw.yaml: execution.kernels.cublas.warps: unknown key 'warps' (allowed: {KERNEL_KEYS})"),
    ("kernel-missing-dtypes", _gpu("kind: dense, dtypes: [bf16], ", "kind: dense, "), VALIDATE,
     "hw.yaml: execution.kernels.cublas: missing required field 'dtypes'"),
    ("kernel-empty-dtypes", _gpu("dtypes: [bf16], efficiency: 0.8", "dtypes: [], efficiency: 0.8"), VALIDATE,
     "hw.yaml: execution.kernels.cublas.dtypes: expected a non-empty list of dtypes"),
    ("kernel-bad-dtype", _gpu("dtypes: [bf16], efficiency: 0.8", "dtypes: [bf17], efficiency: 0.8"), VALIDATE,
     "hw.yaml: execution.kernels.cublas.dtypes[0]: unknown dtype 'bf17' (did you mean 'bf16'? known: fp64, fp32, tf32, bf16, fp16, "
     "fp8, int8, int4)"),
    ("kernel-efficiency-over-1", _gpu("efficiency: 0.8", "efficiency: 1.2"), VALIDATE,
     "hw.yaml: execution.kernels.cublas.efficiency: must be <= 1.0, got 1.2"),
    ("kernel-no-source", _gpu("  source: ours\n  sms: 100\n", "  sms: {value: 100, source: ours}\n"), VALIDATE,
     "hw.yaml: execution.kernels.cublas: kernel needs a source: (where its numbers come from)"),
    ("kernel-split-k", _gpu("efficiency: 0.8}", "efficiency: 0.8, split_k: sometimes}"), VALIDATE,
     "hw.yaml: execution.kernels.cublas.split_k: expected true or false, got 'sometimes'"),
    ("kernel-dense-with-patterns", _gpu("kind: dense, dtypes: [bf16]", "kind: dense, patterns: ['2:4'], "
                                        "dtypes: [bf16]"), VALIDATE,
     "hw.yaml: execution.kernels.cublas.patterns: a dense kernel takes no patterns"),
    ("kernel-sparse-no-patterns", _gpu("patterns: [\"2:4\"], ", ""), VALIDATE,
     "hw.yaml: execution.kernels.sparse.patterns: a sparse kernel needs patterns: a list of N:M patterns or any"),
    ("kernel-dense-pattern", _gpu("patterns: [\"2:4\"]", "patterns: [\"4:4\"]"), VALIDATE,
     "hw.yaml: execution.kernels.sparse.patterns[0]: '4:4' is not a sparse N:M pattern"),
    ("kernel-no-dense", _gpu(DENSE, ""), VALIDATE, "hw.yaml: execution.kernels: needs at least one dense kernel"),
    ("kernel-arch-text", _gpu("efficiency: 0.8}", "efficiency: 0.8, arch: ampere}"), VALIDATE,
     "hw.yaml: execution.kernels.cublas.arch: expected a compute capability like sm80 or sm90, got 'ampere'"),
    ("fusion-not-bool", _gpu("  model: gpu\n", "  model: gpu\n  fusion: {attention: yes please}\n"), VALIDATE,
     "hw.yaml: execution.fusion.attention: expected true or false, got 'yes please'"),
    ("model-unknown", _gpu("model: gpu", "model: tpu"), VALIDATE,
     "hw.yaml: execution.model: unknown execution model 'tpu' (known: gpu, roofline, systolic)"),
    ("roofline-takes-none", _gpu("model: gpu", "model: roofline"), VALIDATE,
     "hw.yaml: execution.sms: unknown key 'sms' for execution model 'roofline' (allowed: none)"),
    ("systolic-missing-rows", _sa("  rows: 32\n", ""), VALIDATE,
     "hw.yaml: execution: missing required field 'rows' for the systolic model"),
    ("systolic-dataflow", _sa("dataflow: os", "dataflow: rs"), VALIDATE,
     "hw.yaml: execution.dataflow: unknown dataflow 'rs' (known: ws, os, is)"),
    ("systolic-activation-ws", _sa("dataflow: os", "dataflow: ws\n  activation_nm: '4:8'"), VALIDATE,
     "hw.yaml: execution.activation_nm: activation density-bound blocks need dataflow os (the reduction streams "
     "in time), not ws"),
    ("systolic-sram-key", _sa("dataflow: os", "dataflow: os\n  sram_kib: {weights: 64}"), VALIDATE,
     "hw.yaml: execution.sram_kib.weights: unknown key 'weights' (allowed: filter, ifmap, ofmap)"),
]

SYSTEMS = ["cluster", "systems", "s.yaml"]
SYSTEM = [
    ("unknown-key", {"s.yaml": SYS + "racks: 4\n"}, SYSTEMS,
     "s.yaml: racks: unknown key 'racks' (allowed: aliases, description, device, devices_per_node, inter_node, "
     "intra_node, name, node_power_watts, nodes, notes)"),
    ("top-level-source", {"s.yaml": SYS + "source: ours\n"}, SYSTEMS,
     "s.yaml: source: unknown key 'source' at the top level (put source: on a section or a value)"),
    ("missing-inter-node", {"s.yaml": SYS.split("inter_node:")[0]}, SYSTEMS,
     "s.yaml: missing required field 'inter_node'"),
    ("topology", {"s.yaml": _edit(SYS, "topology: fat-tree", "topology: ring")}, SYSTEMS,
     "s.yaml: inter_node.topology: unknown topology 'ring' (known: fat-tree, rail-optimized, torus-3d, "
     "single-node)"),
    ("intra-topology", {"s.yaml": _edit(SYS, "  fabric: nvlink\n", "  fabric: nvlink\n  topology: fat-tree\n")},
     SYSTEMS, "s.yaml: intra_node.topology: unknown key 'topology' (allowed: bandwidth_gbps, efficiency, fabric, "
     "latency_us)"),
    ("efficiency-over-1", {"s.yaml": SYS + "  efficiency: {value: 1.1, source: ours}\n"}, SYSTEMS,
     "s.yaml: inter_node.efficiency.value: must be <= 1.0, got 1.1"),
    ("fabric-empty", {"s.yaml": _edit(SYS, "fabric: ib", "fabric: ''")}, SYSTEMS,
     "s.yaml: inter_node.fabric: expected a non-empty string"),
    ("devices-fraction", {"s.yaml": _edit(SYS, "value: 8,", "value: 8.5,")}, SYSTEMS,
     "s.yaml: devices_per_node.value: expected an integer, got 8.5"),
    ("aliases-text", {"s.yaml": SYS + "aliases: mine\n"}, SYSTEMS, "s.yaml: aliases: expected a list of names"),
    ("no-source", {"s.yaml": _edit(SYS, "{value: 10200, source: datasheet}", "10200")}, SYSTEMS,
     f"s.yaml: node_power_watts: {SOURCE}"),
]

PLAN = ["cluster", "plan", "w.yaml", "--system", "dgx-h100", "--global-batch", "8", "--losses", "l.yaml"]
LOSSES = [
    ("unknown-key", {"w.yaml": W, "l.yaml": "dp_overlapp: {value: 0.5, source: ours}\n"}, PLAN,
     "l.yaml: dp_overlapp: unknown key 'dp_overlapp' (did you mean 'dp_overlap'? allowed: attention_efficiency, "
     "checkpoint_bytes_per_param, checkpoint_interval_steps, checkpoint_write_gbps_per_node, "
     "collective_half_bytes_inter, collective_half_bytes_intra, compute_efficiency, data_loading_fraction, dp_overlap, goodput, "
     "optimizer_efficiency, vector_efficiency, zero3_overlap)"),
    ("top-level-source", {"w.yaml": W, "l.yaml": "source: ours\ngoodput: 0.9\n"}, PLAN,
     "l.yaml: source: unknown key 'source' at the top level (put source: on a section or a value)"),
    ("goodput-zero", {"w.yaml": W, "l.yaml": "goodput: {value: 0, source: ours}\n"}, PLAN,
     "l.yaml: goodput.value: must be > 0, got 0"),
    ("bytes-negative", {"w.yaml": W, "l.yaml": "checkpoint_bytes_per_param: {value: -1, source: ours}\n"}, PLAN,
     "l.yaml: checkpoint_bytes_per_param.value: must be > 0, got -1"),
    ("compute-efficiency-over-2", {"w.yaml": W, "l.yaml": "compute_efficiency: {source: ours, default: 2.5}\n"},
     PLAN, "l.yaml: compute_efficiency.default: must be <= 2.0, got 2.5"),
    ("compute-efficiency-list", {"w.yaml": W, "l.yaml": "compute_efficiency: [0.5]\n"}, PLAN,
     "l.yaml: compute_efficiency: expected a mapping, got list"),
    ("half-bytes-text", {"w.yaml": W, "l.yaml": "collective_half_bytes_intra: {value: 4e6, source: ours}\n"}, PLAN,
     "l.yaml: collective_half_bytes_intra.value: expected a number, got '4e6' (YAML reads 4e6 as text: write "
     "4.0e+06)"),
    ("document-list", {"w.yaml": W, "l.yaml": "- goodput\n"}, PLAN, "l.yaml: expected a mapping, got list"),
]

CLASSES = {"hardware execution section": HARDWARE, "system file": SYSTEM, "losses file": LOSSES}

# the names the API cases' code uses (bench/bench_bad_input.py runs the same cases in fresh processes)
API_PRELUDE = ("from nmsim.hardware.prices import read_prices\n"
               "from nmsim.memory.validate import load_runs as load_memory_runs\n")
PRICE = "read_prices('p.yaml')"
MEMORY_RUNS = "load_memory_runs('m.yaml')"
API_CASES = {"price list": [
    ("unknown-device", {"p.yaml": PRICES.replace("h100-sxm5:", "h100x:")}, PRICE,
     f"p.yaml: h100x: unknown hardware spec 'h100x' (bundled: {', '.join(list_specs())})"),
    ("missing-date", {"p.yaml": PRICES.replace('  date: "2025-06"\n', "")}, PRICE,
     "p.yaml: h100-sxm5: missing required field 'date'"),
    ("no-source", {"p.yaml": PRICES.replace("  source: the provider's list\n", "")}, PRICE,
     "p.yaml: h100-sxm5: a price needs a source: (where the figure comes from)"),
    ("zero-price", {"p.yaml": PRICES.replace("6.88", "0")}, PRICE,
     "p.yaml: h100-sxm5.usd_per_hour: must be > 0, got 0"),
    ("unknown-key", {"p.yaml": PRICES + "  region: us-east-1\n"}, PRICE,
     "p.yaml: h100-sxm5.region: unknown key 'region' (allowed: date, offer, usd_per_hour)"),
    ("date-unquoted", {"p.yaml": PRICES.replace('"2025-06"', "2025")}, PRICE,
     "p.yaml: h100-sxm5.date: expected a non-empty string"),
], "memory measurements file": [
    ("unknown-key", {"m.yaml": MEMORY.replace("mib: 1000", "mib: 1000, colour: red")}, MEMORY_RUNS,
     f"m.yaml: runs[0].colour: unknown key 'colour' (allowed: {MEMORY_KEYS})"),
    ("workload-typo", {"m.yaml": MEMORY.replace("layers: 2", "layerz: 2")}, MEMORY_RUNS,
     "m.yaml: workloads.tiny.layerz: unknown key 'layerz' (did you mean 'layers'? allowed: batch, bias, causal, "
     "channels, class_token, d_model, "
     "decoder_layers, embed_norm, experts, experts_per_token, family, ffn, ffn_kind, head, head_dim, heads, "
     "image_size, kv_heads, layers, max_positions, name, norm, norm_eps, norm_position, num_classes, "
     "parallel_block, patch_size, pooler, position, relative_buckets, roles, rope_theta, rotary_dim, "
     "routing_skew, seq_len, source, tie_embeddings, type_vocab, vocab)"),
    ("workload-list", {"m.yaml": MEMORY.replace("{family: gpt2, vocab: 100, layers: 2, d_model: 64, heads: 4, "
                                                "ffn: 256}", "[gpt2]")}, MEMORY_RUNS,
     "m.yaml: workloads.tiny: expected a mapping, got list"),
    ("split", {"m.yaml": MEMORY.replace("split: fit", "split: train")}, MEMORY_RUNS,
     "m.yaml: runs[0].split: unknown split 'train' (known: fit, score)"),
    ("no-peak", {"m.yaml": MEMORY.replace(", mib: 1000", "")}, MEMORY_RUNS,
     "m.yaml: runs[0]: give the measured peak as a positive mib: or gb:"),
    ("batch-zero", {"m.yaml": MEMORY.replace("batch: 1,", "batch: 0,")}, MEMORY_RUNS,
     "m.yaml: runs[0].batch: must be > 0, got 0"),
]}


@pytest.mark.parametrize("cid,files,argv,expected", [pytest.param(*c, id=f"{cls}:{c[0]}")
                                                      for cls, cases in CLASSES.items() for c in cases])
def test_bad_schema_file(workdir, capsys, cid, files, argv, expected):
    check_case(workdir, capsys, files, argv, expected)


@pytest.mark.parametrize("cid,files,code,expected", [pytest.param(*c, id=f"{cls}:{c[0]}")
                                                      for cls, cases in API_CASES.items() for c in cases])
def test_bad_file_through_the_api(workdir, cid, files, code, expected):
    from nmsim.errors import UserError
    scope: dict = {}
    exec(API_PRELUDE, scope)
    make_files(workdir, files)
    before = snapshot(workdir)
    with pytest.raises(UserError) as info:
        eval(code, scope)
    assert str(info.value) == expected
    assert snapshot(workdir) == before
