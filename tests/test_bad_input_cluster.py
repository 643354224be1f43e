"""Issue 20: the bad-input corpus of the cluster surfaces — ``nmsim cluster plan|budget|validate|systems``
arguments, system YAML files and runs files (``cluster validate --runs``: reader-level damage and every field),
counts too large to search, and Hugging Face configs with mixture-of-experts fields. Same format and checks as
``tests/test_bad_input.py`` (its helpers are reused): exit status 2, exactly one ``nmsim: error: ...`` line equal
to the expected text, no traceback, and every file byte-identical after the command, nothing added.

Every case fails before a model is traced: layout restrictions and runs-file fields are checked first.
"""
from __future__ import annotations

import json

import pytest
from nmsim.hardware import list_specs
from nmsim.graph.families import HF_TYPES
from test_bad_input import BIG, BOMB, DIR, HF, check_case, workdir  # noqa: F401

# a small decoder (4 heads of 16, 2 layers) and one with 12 heads and 4 KV heads, as workload files
W = "family: gpt2\nvocab: 100\nlayers: 2\nd_model: 64\nheads: 4\nffn: 256\nseq_len: 32\n"
W12 = "family: llama\nvocab: 100\nlayers: 4\nd_model: 96\nheads: 12\nkv_heads: 4\nffn: 384\nseq_len: 32\n"
SYS = """name: my-cluster
description: a test system
device: h100
devices_per_node: {value: 8, source: datasheet}
nodes: {value: 2, source: default}
node_power_watts: {value: 10200, source: datasheet}
intra_node:
  fabric: nvlink
  bandwidth_gbps: {value: 450, source: datasheet}
  latency_us: {value: 2.0, source: assumed}
inter_node:
  fabric: ib
  topology: fat-tree
  bandwidth_gbps: {value: 50, source: datasheet}
  latency_us: {value: 5.0, source: assumed}
"""
LIMIT = "a sanity limit: 64 x the 16,384 GPUs of the largest published training run, Llama 3 405B"
SOURCE = 'missing source: write {value: X, source: "..."} or add source: to the section'


def _sys(old: str, new: str) -> str:
    assert old in SYS, old
    return SYS.replace(old, new)


def _hf(base: str, **changes) -> str:
    cfg = json.loads((HF / base).read_text())
    cfg.update(changes)
    return json.dumps(cfg)


def _plan(*args: str) -> list[str]:
    return ["cluster", "plan", "w.yaml", *args]


# ---- the corpus: (id, files, argv, expected text after "nmsim: error: ") ------------------------------

SYSTEM_YAML = [(cid, {"s.yaml": text}, ["cluster", "systems", "s.yaml"], msg) for cid, text, msg in [
    ("binary", b"\x00\x01name: x", "s.yaml: is a binary file, not a system file"),
    ("latin-1", SYS.encode() + "notes: caf\xe9\n".encode("latin-1"),
     "s.yaml: is not UTF-8 text (byte 0xe9 on line 16; Latin-1?); save the system file as UTF-8"),
    ("utf-16", SYS.encode("utf-16"), "s.yaml: is UTF-16 or UTF-32 encoded; save the system file as UTF-8"),
    ("too-big", b"#" * BIG, "s.yaml: is 17 MiB; a system file is at most 16 MiB"),
    ("billion-laughs", BOMB, "s.yaml: YAML aliases expand to more than 100,000 values (an alias bomb?); refused"),
    ("bomb-in-field", SYS + BOMB.replace("i: &i", "notes: &i"),
     "s.yaml: YAML aliases expand to more than 100,000 values (an alias bomb?); refused"),
    ("deep", "notes: " + "[" * 100 + "]" * 100 + "\n", "s.yaml: nested more than 64 levels deep"),
    ("very-deep", "notes: " + "[" * 5000 + "]" * 5000 + "\n", "s.yaml: nested more than 64 levels deep"),
    ("duplicate-key", SYS + "nodes: {value: 1000, source: x}\n",
     "s.yaml: duplicate key 'nodes' on line 16 (first on line 5)"),
    ("duplicate-key-nested", _sys("  latency_us: {value: 2.0, source: assumed}\n",
                                  "  latency_us: {value: 2.0, source: assumed}\n  latency_us: 9\n"),
     "s.yaml: duplicate key 'latency_us' on line 11 (first on line 10)"),
    ("duplicate-key-in-value", _sys("{value: 8, source: datasheet}", "{value: 8, value: 1e30, source: x}"),
     "s.yaml: duplicate key 'value' on line 4 (first on line 4)"),
    ("syntax", SYS + "nodes: [\n", "s.yaml: YAML syntax error at line 17, column 1: expected the node content, "
     "but found '<stream end>'"),
    ("empty", "", "s.yaml: empty file"),
    ("list", "- name: x\n", "s.yaml: expected a mapping, got list"),
    ("scalar", "dgx\n", "s.yaml: expected a mapping, got str"),
    ("non-string-key", SYS + "1: x\n", "s.yaml: keys must be strings, got 1"),
    ("unknown-key", SYS + "gpus: 8\n",
     "s.yaml: gpus: unknown key 'gpus' (allowed: aliases, description, device, devices_per_node, "
     "inter_node, intra_node, name, node_power_watts, nodes, notes)"),
    ("key-with-newline", SYS + '"a\\nb": 1\n', "s.yaml: a\\nb: unknown key 'a\\nb' (allowed: aliases, description, "
     "device, devices_per_node, inter_node, intra_node, name, node_power_watts, nodes, notes)"),
    ("top-level-source", SYS + "source: me\n",
     "s.yaml: source: unknown key 'source' at the top level (put source: on a section or a value)"),
    ("name-missing", _sys("name: my-cluster\n", ""), "s.yaml: missing required field 'name'"),
    ("name-empty", _sys("name: my-cluster", "name: '  '"), "s.yaml: name: expected a non-empty string"),
    ("name-number", _sys("name: my-cluster", "name: 7"), "s.yaml: name: expected a non-empty string"),
    ("description-list", _sys("description: a test system", "description: [a]"),
     "s.yaml: description: expected a non-empty string"),
    ("aliases-string", SYS + "aliases: mine\n", "s.yaml: aliases: expected a list of names"),
    ("aliases-number", SYS + "aliases: [1]\n", "s.yaml: aliases: expected a list of names"),
    ("notes-number", SYS + "notes: 5\n", "s.yaml: notes: expected a non-empty string"),
    ("device-unknown", _sys("device: h100", "device: h200x"),
     f"s.yaml: device: unknown device 'h200x' (unknown hardware: not a bundled spec ({', '.join(list_specs())}) "
     "nor an existing file)"),
    ("device-missing-file", _sys("device: h100", "device: my-gpu.yaml"),
     "s.yaml: device: unknown device 'my-gpu.yaml' (no such file)"),
    ("devices-per-node-bare", _sys("{value: 8, source: datasheet}", "8"), "s.yaml: devices_per_node: " + SOURCE),
    ("devices-per-node-no-source", _sys("{value: 8, source: datasheet}", "{value: 8}"),
     "s.yaml: devices_per_node: missing required field 'source'"),
    ("devices-per-node-empty-source", _sys("{value: 8, source: datasheet}", "{value: 8, source: ''}"),
     "s.yaml: devices_per_node.source: expected a non-empty string"),
    ("devices-per-node-unit", _sys("{value: 8, source: datasheet}", "{value: 8, source: x, unit: gpu}"),
     "s.yaml: devices_per_node.unit: unknown key 'unit' (allowed: source, value)"),
    ("devices-per-node-1e30", _sys("{value: 8, source: datasheet}", "{value: 1.0e+30, source: x}"),
     "s.yaml: devices_per_node.value: expected an integer, got 1e+30"),
    ("devices-per-node-1e30-text", _sys("{value: 8, source: datasheet}", "{value: 1e30, source: x}"),
     "s.yaml: devices_per_node.value: expected an integer, got '1e30'"),
    ("devices-per-node-10-30", _sys("{value: 8, source: datasheet}", "{value: " + "1" + "0" * 30 + ", source: x}"),
     f"s.yaml: devices_per_node.value: must be at most 1,048,576 ({LIMIT}), got 1{',000' * 10}"),
    ("devices-per-node-zero", _sys("{value: 8, source: datasheet}", "{value: 0, source: x}"),
     "s.yaml: devices_per_node.value: must be > 0, got 0"),
    ("devices-per-node-negative", _sys("{value: 8, source: datasheet}", "{value: -8, source: x}"),
     "s.yaml: devices_per_node.value: must be > 0, got -8"),
    ("devices-per-node-float", _sys("{value: 8, source: datasheet}", "{value: 7.5, source: x}"),
     "s.yaml: devices_per_node.value: expected an integer, got 7.5"),
    ("devices-per-node-bool", _sys("{value: 8, source: datasheet}", "{value: true, source: x}"),
     "s.yaml: devices_per_node.value: expected an integer, got True"),
    ("nodes-huge", _sys("{value: 2, source: default}", "{value: 1000000000, source: x}"),
     f"s.yaml: nodes.value: must be at most 1,048,576 ({LIMIT}), got 1,000,000,000"),
    ("nodes-product", _sys("{value: 2, source: default}", "{value: 131073, source: x}"),
     f"s.yaml: nodes.value: 131,073 nodes x 8 devices = 1,048,584 devices; at most 1,048,576 ({LIMIT})"),
    ("nodes-string", _sys("{value: 2, source: default}", "{value: two, source: x}"),
     "s.yaml: nodes.value: expected an integer, got 'two'"),
    ("power-nan", _sys("{value: 10200, source: datasheet}", "{value: .nan, source: x}"),
     "s.yaml: node_power_watts.value: must be a finite number, got nan"),
    ("power-negative", _sys("{value: 10200, source: datasheet}", "{value: -1, source: x}"),
     "s.yaml: node_power_watts.value: must be > 0, got -1"),
    ("intra-not-mapping", _sys("intra_node:\n  fabric: nvlink\n  bandwidth_gbps: {value: 450, source: datasheet}\n"
                               "  latency_us: {value: 2.0, source: assumed}\n", "intra_node: nvlink\n"),
     "s.yaml: intra_node: expected a mapping, got str"),
    ("intra-missing-bandwidth", _sys("  bandwidth_gbps: {value: 450, source: datasheet}\n", ""),
     "s.yaml: intra_node: missing required field 'bandwidth_gbps'"),
    ("intra-bandwidth-inf", _sys("{value: 450, source: datasheet}", "{value: .inf, source: x}"),
     "s.yaml: intra_node.bandwidth_gbps.value: must be a finite number, got inf"),
    ("intra-latency-zero", _sys("{value: 2.0, source: assumed}", "{value: 0, source: x}"),
     "s.yaml: intra_node.latency_us.value: must be > 0, got 0"),
    ("intra-efficiency-over-1", _sys("  latency_us: {value: 2.0, source: assumed}\n",
                                     "  latency_us: {value: 2.0, source: assumed}\n"
                                     "  efficiency: {value: 1.5, source: x}\n"),
     "s.yaml: intra_node.efficiency.value: must be <= 1.0, got 1.5"),
    ("intra-fabric-empty", _sys("fabric: nvlink", "fabric: ''"), "s.yaml: intra_node.fabric: expected a non-empty string"),
    ("intra-unknown-key", _sys("  fabric: nvlink\n", "  fabric: nvlink\n  lanes: 18\n"),
     "s.yaml: intra_node.lanes: unknown key 'lanes' (allowed: bandwidth_gbps, efficiency, fabric, latency_us)"),
    ("inter-topology-unknown", _sys("topology: fat-tree", "topology: ring"),
     "s.yaml: inter_node.topology: unknown topology 'ring' (known: fat-tree, rail-optimized, torus-3d, single-node)"),
    ("inter-topology-missing", _sys("  topology: fat-tree\n", ""),
     "s.yaml: inter_node: missing required field 'topology'"),
    ("inter-bandwidth-string", _sys("{value: 50, source: datasheet}", "{value: 400Gb/s, source: x}"),
     "s.yaml: inter_node.bandwidth_gbps.value: expected a number, got '400Gb/s'"),
]] + [
    ("missing", {}, ["cluster", "systems", "s.yaml"], "s.yaml: no such file"),
    ("folder", {"s.yaml": DIR}, ["cluster", "systems", "s.yaml"], "s.yaml: is a folder, not a system file"),
    ("plan-system-duplicate", {"w.yaml": W, "s.yaml": SYS + "devices_per_node: {value: 1000000, source: x}\n"},
     _plan("--system", "s.yaml"), "s.yaml: duplicate key 'devices_per_node' on line 16 (first on line 4)"),
    ("budget-system-huge", {"w.yaml": W, "s.yaml": _sys("{value: 8, source: datasheet}", "{value: 1000000000000, "
                                                                                        "source: x}")},
     ["cluster", "budget", "w.yaml", "--system", "s.yaml", "--tokens", "1e9"],
     f"s.yaml: devices_per_node.value: must be at most 1,048,576 ({LIMIT}), got 1,000,000,000,000"),
]

HUGE_COUNTS = [
    ("nodes-1e9", {"w.yaml": W}, _plan("--nodes", "1000000000"),
     f"--nodes: 1,000,000,000 nodes x 8 devices = 8,000,000,000 devices; at most 1,048,576 ({LIMIT})"),
    ("nodes-10-30", {"w.yaml": W}, _plan("--nodes", "1" + "0" * 30),
     f"--nodes: 1{',000' * 10} nodes x 8 devices = 8{',000' * 10} devices; at most 1,048,576 ({LIMIT})"),
    ("nodes-just-over", {"w.yaml": W}, _plan("--nodes", "131073"),
     f"--nodes: 131,073 nodes x 8 devices = 1,048,584 devices; at most 1,048,576 ({LIMIT})"),
    ("nodes-tpu", {"w.yaml": W}, _plan("--system", "tpu-v4-slice", "--nodes", "300000"),
     f"--nodes: 300,000 nodes x 4 devices = 1,200,000 devices; at most 1,048,576 ({LIMIT})"),
    ("budget-nodes-1e9", {"w.yaml": W}, ["cluster", "budget", "w.yaml", "--nodes", "1000000000", "--tokens", "1e9"],
     f"--nodes: 1,000,000,000 nodes x 8 devices = 8,000,000,000 devices; at most 1,048,576 ({LIMIT})"),
    ("replicas-exceed-batch", {"w.yaml": W}, _plan("--nodes", "20000", "--global-batch", "64"),
     "layout: no valid layout of 160,000 devices for w at global batch 64 (every layout has at least 20,000 "
     "data-parallel replicas, more than the 64 sequences of a step; raise --global-batch or use fewer nodes)"),
    ("global-batch-1e8", {"w.yaml": W}, _plan("--global-batch", "100000000"),
     "--global-batch: must be at most 16,777,216 sequences (a sanity limit), got 100,000,000"),
    ("global-batch-10-30", {"w.yaml": W}, _plan("--global-batch", "1" + "0" * 30),
     f"--global-batch: must be at most 16,777,216 sequences (a sanity limit), got 1{',000' * 10}"),
    ("tp-10-30", {"w.yaml": W}, _plan("--tp", "1" + "0" * 30),
     f"--tp: 1{'0' * 30} does not divide the 4 attention heads of w"),
    ("pp-10-30", {"w.yaml": W}, _plan("--pp", "1" + "0" * 30),
     f"--pp: 1{'0' * 30} pipeline stages for the 2 layers of w (a stage holds at least one layer)"),
    ("mb-10-30", {"w.yaml": W}, _plan("--mb", "1" + "0" * 30),
     f"--mb: a micro-batch of 1{',000' * 10} sequences is larger than the global batch (131,072)"),
    ("tokens-1e30-budget", {"w.yaml": W}, ["cluster", "budget", "w.yaml", "--tokens", "1e30"],
     "--tokens: must be at most 1e+15 tokens (a sanity limit: 64 x the 15.6 T tokens Llama 3 was trained on), "
     "got 1e+30"),
    ("tokens-1e30-plan", {"w.yaml": W}, _plan("--tokens", "1e30"),
     "--tokens: must be at most 1e+15 tokens (a sanity limit: 64 x the 15.6 T tokens Llama 3 was trained on), "
     "got 1e+30"),
    ("dataset-tokens-x-epochs", {"w.yaml": W},
     ["cluster", "budget", "w.yaml", "--dataset-tokens", "1e14", "--epochs", "100"],
     "--dataset-tokens x --epochs: must be at most 1e+15 tokens (a sanity limit: 64 x the 15.6 T tokens Llama 3 "
     "was trained on), got 1e+16"),
    ("steps-2-40", {"w.yaml": W}, ["cluster", "budget", "w.yaml", "--tokens", "1e15", "--global-batch", "1",
                                   "--seq", "8"],
     "--tokens: 1e+15 tokens at 8 tokens per step is 1.25e+14 steps; at most 2^40 = 1.1e+12 (raise --global-batch)"),
    ("report-cluster-nodes", {}, ["report", "--no-train", "--cluster", "llama-2-7b@dgx-h100:1000000000", "--out",
                                  "rep"],
     f"--cluster: 1,000,000,000 nodes x 8 devices = 8,000,000,000 devices; at most 1,048,576 ({LIMIT})"),
    ("report-cluster-tokens", {}, ["report", "--no-train", "--cluster", "llama-2-7b@dgx-h100:2", "--cluster-tokens",
                                   "1e30", "--out", "rep"],
     "--cluster-tokens: must be at most 1e+15 tokens (a sanity limit: 64 x the 15.6 T tokens Llama 3 was trained "
     "on), got 1e+30"),
    ("seq-1e9", {"w.yaml": W}, _plan("--seq", "1000000000"),
     "w: seq: must be an integer from 1 to 16,777,216, got 1000000000"),
]

CLUSTER_ARGS = [
    ("losses-unknown", {"w.yaml": W}, _plan("--losses", "nosuch"),
     "--losses: unknown losses 'nosuch': a preset (calibrated, sourced, none) or a YAML file"),
    ("losses-goodput-over-1", {"w.yaml": W, "l.yaml": "goodput: {value: 1.5, source: ours}\n"},
     _plan("--losses", "l.yaml"), "l.yaml: goodput.value: must be <= 1.0, got 1.5"),
    ("losses-no-source", {"w.yaml": W, "l.yaml": "dp_overlap: 0.5\n"}, _plan("--losses", "l.yaml"),
     'l.yaml: dp_overlap: missing source: write {value: X, source: "..."} or add source: to the section'),
    ("losses-data-loading-1", {"w.yaml": W, "l.yaml": "data_loading_fraction: {value: 1, source: ours}\n"},
     _plan("--losses", "l.yaml"), "l.yaml: data_loading_fraction.value: must be below 1, got 1"),
    ("validate-losses-missing-file", {}, ["cluster", "validate", "--losses", "mine.yaml"], "mine.yaml: no such file"),
    ("losses-unknown-device", {"w.yaml": W, "l.yaml": "compute_efficiency: {h100x: {value: 0.5, source: ours}}\n"},
     _plan("--losses", "l.yaml"),
     "l.yaml: compute_efficiency.h100x: unknown device 'h100x' (a hardware spec name or alias, or default)"),
    ("validate-fit-without-fit-runs", {}, ["cluster", "validate", "--only", "opt-175b", "--fit"],
     "--fit: no run has split: fit (mark the runs to fit on)"),
    ("global-batch-zero", {"w.yaml": W}, _plan("--global-batch", "0"),
     "--global-batch: must be a positive integer, got 0"),
    ("global-batch-negative", {"w.yaml": W}, _plan("--global-batch", "-4"),
     "--global-batch: must be a positive integer, got -4"),
    ("budget-global-batch-zero", {"w.yaml": W}, ["cluster", "budget", "w.yaml", "--global-batch", "0", "--tokens",
                                                 "1e9"], "--global-batch: must be a positive integer, got 0"),
    ("tp-zero", {"w.yaml": W}, _plan("--tp", "0"), "--tp: must be a positive integer, got 0"),
    ("tp-3-heads", {"w.yaml": W}, _plan("--tp", "3"), "--tp: 3 does not divide the 4 attention heads of w"),
    ("tp-kv-heads", {"w.yaml": W12}, _plan("--tp", "6"),
     "--tp: 6 is neither a divisor nor a multiple of the 4 KV heads of w"),
    ("tp-ffn", {"w.yaml": W.replace("ffn: 256", "ffn: 250")}, _plan("--tp", "4"),
     "--tp: 4 does not divide the FFN width 250 of w"),
    ("tp-devices", {"w.yaml": W12}, _plan("--tp", "12"), "--tp: 12 does not divide the 8 devices"),
    ("tp-straddles-nodes", {"w.yaml": W12}, _plan("--tp", "12", "--nodes", "3"),
     "--tp: a TP group of 12 would straddle the 8-device nodes (give at most 8 or a multiple of 8)"),
    ("pp-zero", {"w.yaml": W}, _plan("--pp", "0"), "--pp: must be a positive integer, got 0"),
    ("pp-1000", {"w.yaml": W}, _plan("--pp", "1000"),
     "--pp: 1000 pipeline stages for the 2 layers of w (a stage holds at least one layer)"),
    ("pp-devices", {"w.yaml": W12}, _plan("--pp", "3"), "--pp: 3 does not divide the 8 devices"),
    ("pp-after-tp", {"w.yaml": W}, _plan("--tp", "4", "--pp", "2", "--nodes", "1", "--system", "tpu-v4-slice"),
     "--pp: 2 does not divide the 1 device left by --tp 4"),
    ("mb-zero", {"w.yaml": W}, _plan("--mb", "0"), "--mb: must be a positive integer, got 0"),
    ("mb-over-batch", {"w.yaml": W}, _plan("--mb", "65", "--global-batch", "64"),
     "--mb: a micro-batch of 65 sequences is larger than the global batch (64)"),
    ("mb-over-share", {"w.yaml": W}, _plan("--mb", "600", "--tp", "1", "--pp", "1", "--global-batch", "1024"),
     "--mb: a micro-batch of 600 sequences is larger than a replica's share of the global batch (128 of 1,024 at "
     "most)"),
    ("zero3-with-pp", {"w.yaml": W}, _plan("--zero", "3", "--pp", "2"),
     "--zero: ZeRO-3 is not combined with pipeline parallelism (--pp 2), as in DeepSpeed"),
    ("zero1-one-replica", {"w.yaml": W}, _plan("--zero", "1", "--tp", "4", "--pp", "2"),
     "--zero: ZeRO-1 shards over data-parallel replicas, and --tp 4 x --pp 2 uses all 8 devices (one replica)"),
    ("nodes-zero", {"w.yaml": W}, _plan("--nodes", "0"), "--nodes: must be a positive integer, got 0"),
    ("nodes-negative", {"w.yaml": W}, _plan("--nodes", "-3"), "--nodes: must be a positive integer, got -3"),
    ("seq-zero", {"w.yaml": W}, _plan("--seq", "0"), "--seq: must be a positive integer, got 0"),
    ("tokens-nan", {"w.yaml": W}, ["cluster", "budget", "w.yaml", "--tokens", "nan"],
     "--tokens: must be a positive number, got nan"),
    ("tokens-inf", {"w.yaml": W}, ["cluster", "budget", "w.yaml", "--tokens", "inf"],
     "--tokens: must be a positive number, got inf"),
    ("tokens-zero", {"w.yaml": W}, ["cluster", "budget", "w.yaml", "--tokens", "0"],
     "--tokens: must be a positive number, got 0.0"),
    ("tokens-missing", {"w.yaml": W}, ["cluster", "budget", "w.yaml"],
     "--tokens: give --tokens (e.g. 1e12) or --dataset-tokens with --epochs"),
    ("tokens-and-dataset", {"w.yaml": W}, ["cluster", "budget", "w.yaml", "--tokens", "1e9", "--dataset-tokens",
                                           "1e9", "--epochs", "1"],
     "--tokens: give --tokens or --dataset-tokens with --epochs, not both"),
    ("epochs-alone", {"w.yaml": W}, ["cluster", "budget", "w.yaml", "--epochs", "2"],
     "--epochs: --dataset-tokens and --epochs go together"),
    ("epochs-nan", {"w.yaml": W}, ["cluster", "budget", "w.yaml", "--dataset-tokens", "1e9", "--epochs", "nan"],
     "--epochs: must be a positive number, got nan"),
    ("dataset-tokens-negative", {"w.yaml": W},
     ["cluster", "budget", "w.yaml", "--dataset-tokens=-1e9", "--epochs", "1"],
     "--dataset-tokens: must be a positive number, got -1000000000.0"),
    ("grad-bytes-inf", {"w.yaml": W}, _plan("--grad-bytes", "inf"),
     "--grad-bytes: must be in (0, 8] bytes per gradient element (fp64 is 8), got inf"),
    ("compute-efficiency-nan", {"w.yaml": W}, _plan("--compute-efficiency", "nan"),
     "--compute-efficiency: must be in (0, 2], got nan"),
    ("top-zero", {"w.yaml": W}, _plan("--top", "0"), "--top: must be a positive integer, got 0"),
    ("no-workload", {}, ["cluster", "plan"], "workload: give a workload name or path, or --hf-config"),
    ("image-model", {"v.yaml": "family: vit\nimage_size: 32\npatch_size: 8\nlayers: 2\nd_model: 64\nheads: 4\n"
                                "ffn: 128\nhead: none\n"}, ["cluster", "plan", "v.yaml"],
     "workload: v is an image model; cluster plans take token sequences"),
    ("validate-only-unknown", {}, ["cluster", "validate", "--only", "gpt-5"], "--only: unknown run 'gpt-5'"),
    ("validate-only-empty", {}, ["cluster", "validate", "--only", ","], "--only: unknown run ''"),
    ("systems-unknown", {}, ["cluster", "systems", "dgx-b300"],
     "dgx-b300: unknown system: not a bundled one (dgx-a100, dgx-h100, mi300x-platform, tpu-v4-slice) nor an existing file"),
]

MOE = ("a mixture-of-experts field ({}) nmsim does not model (a dense model_type would price one dense FFN; MoE "
       "model_type: mixtral)")
NOT_IMPORTED = "{!r} is a mixture-of-experts model nmsim does not import (model_type " + ", ".join(HF_TYPES) + ")"
HF_MOE = [
    ("llama-num-local-experts", _hf("llama-2-7b.json", num_local_experts=8, num_experts_per_tok=2),
     "num_local_experts", MOE.format(8)),
    ("llama-num-experts", _hf("llama-2-7b.json", num_experts=60, moe_intermediate_size=1408),
     "num_experts", MOE.format(60)),
    ("llama-n-routed-experts", _hf("llama-3-8b.json", n_routed_experts=256, n_shared_experts=1),
     "n_routed_experts", MOE.format(256)),
    ("llama-experts-per-tok-only", _hf("llama-3-8b.json", num_experts_per_tok=2), "num_experts_per_tok",
     MOE.format(2)),
    ("llama-moe-intermediate-size", _hf("llama-2-7b.json", moe_intermediate_size=1408), "moe_intermediate_size",
     MOE.format(1408)),
    ("mistral-shared-expert", _hf("llama-2-7b.json", model_type="mistral", shared_expert_intermediate_size=5632),
     "shared_expert_intermediate_size", MOE.format(5632)),
    ("gpt2-num-experts", _hf("gpt2.json", num_experts=8), "num_experts", MOE.format(8)),
    ("bert-expert-capacity", _hf("bert-base-uncased.json", expert_capacity=64), "expert_capacity", MOE.format(64)),
    ("dbrx-nested", _hf("llama-2-7b.json", ffn_config={"moe_num_experts": 16, "moe_top_k": 4}),
     "ffn_config.moe_num_experts", MOE.format(16)),
    ("mixtral-shared-experts", _hf("llama-2-7b.json", model_type="mixtral", num_local_experts=8, n_shared_experts=2),
     "n_shared_experts", "a mixture-of-experts field (2) nmsim does not model (the mixtral importer reads only "
     "num_local_experts, num_experts_per_tok)"),
    ("mixtral-no-experts", _hf("llama-2-7b.json", model_type="mixtral"), "num_local_experts", "missing field"),
    ("qwen2-moe", _hf("llama-2-7b.json", model_type="qwen2_moe"), "model_type", NOT_IMPORTED.format("qwen2_moe")),
    ("deepseek-v3", _hf("llama-2-7b.json", model_type="deepseek_v3"), "model_type",
     NOT_IMPORTED.format("deepseek_v3")),
]
HF_MOE = [(cid, {"c.json": text}, [*cmd, "--hf-config", "c.json"], f"c.json: {field}: {msg}")
          for i, (cid, text, field, msg) in enumerate(HF_MOE)
          for cmd in [["trace"] if i % 2 else ["cluster", "plan"]]]

RUNS = """defaults: {seq: 1024, vocab: 50257, system: dgx-h100, flash: true, dropout: false}
runs:
  - {id: my-gpt, model: {layers: 12, d_model: 768, heads: 12}, devices: 8, tp: 1, pp: 1, global_batch: 64,
     measured_tflops: 300, convention: graph-mfu, source: our cluster}
"""
RUN_KEYS = ("assumed, convention, device_hours, devices, dropout, dtype, flash, global_batch, id, mb, measured_tflops, "
            "model, org, pp, recompute, seq, source, sp, split, system, tokens, tokens_per_device_second, tp, v, vocab, "
            "zero")
MEASURE = "give one of measured_tflops (with convention), tokens_per_device_second, device_hours (with tokens)"


def _runs(old: str, new: str) -> str:
    assert old in RUNS, old
    return RUNS.replace(old, new)


RUNS_FILES = [(cid, {"r.yaml": text}, ["cluster", "validate", "--runs", "r.yaml"], msg) for cid, text, msg in [
    ("binary", b"\x00runs: []", "r.yaml: is a binary file, not a runs file"),
    ("billion-laughs", BOMB, "r.yaml: YAML aliases expand to more than 100,000 values (an alias bomb?); refused"),
    ("duplicate-key", _runs("devices: 8,", "devices: 8, devices: 8000,"),
     "r.yaml: duplicate key 'devices' on line 3 (first on line 3)"),
    ("list", "- id: x\n", "r.yaml: expected a mapping, got list"),
    ("runs-empty", "runs: []\n", "r.yaml: runs: expected a non-empty list of runs"),
    ("defaults-list", _runs("defaults: {", "defaults: [").replace("false}", "false]"),
     "r.yaml: defaults: expected a mapping, got list"),
    ("run-scalar", "runs: [5]\n", "r.yaml: runs[0]: expected a mapping, got int"),
    ("unknown-key", _runs("tp: 1,", "tp: 1, gpus: 8,"), f"r.yaml: runs[0].gpus: unknown key 'gpus' (allowed: {RUN_KEYS})"),
    ("missing-measured", _runs("measured_tflops: 300, ", ""), f"r.yaml: runs[0]: missing a measured figure: {MEASURE}"),
    ("two-measures", _runs("measured_tflops: 300, ", "measured_tflops: 300, tokens_per_device_second: 9000, "),
     f"r.yaml: runs[0]: measured_tflops and tokens_per_device_second given: {MEASURE}"),
    ("no-convention", _runs("convention: graph-mfu, ", ""),
     "r.yaml: runs[0]: missing required field 'convention' (measured_tflops is in a FLOP convention)"),
    ("hours-no-tokens", _runs("measured_tflops: 300, convention: graph-mfu", "device_hours: 1000"),
     "r.yaml: runs[0]: missing required field 'tokens' (device_hours are for a token count)"),
    ("hours-tokens-zero", _runs("measured_tflops: 300, convention: graph-mfu", "device_hours: 1000, tokens: 0"),
     "r.yaml: runs[0].tokens: must be > 0, got 0"),
    ("tokens-per-second-text", _runs("measured_tflops: 300, convention: graph-mfu", "tokens_per_device_second: fast"),
     "r.yaml: runs[0].tokens_per_device_second: expected a number, got 'fast'"),
    ("split", _runs("tp: 1,", "tp: 1, split: train,"), "r.yaml: runs[0].split: unknown split 'train' (known: fit, score)"),
    ("org-empty", _runs("tp: 1,", "tp: 1, org: '',"), "r.yaml: runs[0].org: expected a non-empty string"),
    ("duplicate-id", RUNS + RUNS.split("runs:\n")[1], "r.yaml: runs[1].id: duplicate id 'my-gpt' (also runs[0])"),
    ("devices-zero", _runs("devices: 8,", "devices: 0,"),
     "r.yaml: runs[0].devices: must be > 0, got 0"),
    ("devices-1e9", _runs("devices: 8,", "devices: 1000000000,"),
     "r.yaml: runs[0].devices: must be <= 1,048,576, got 1000000000"),
    ("devices-not-whole-nodes", _runs("devices: 8,", "devices: 12,"),
     "r.yaml: runs[0].devices: 12 devices are not whole dgx-h100 nodes of 8"),
    ("global-batch-zero", _runs("global_batch: 64", "global_batch: 0"),
     "r.yaml: runs[0].global_batch: must be > 0, got 0"),
    ("tp-heads", _runs("tp: 1,", "tp: 5,"), "r.yaml: runs[0].tp: 5 does not divide the 12 attention heads of my-gpt"),
    ("pp-layers", _runs("pp: 1,", "pp: 16,"),
     "r.yaml: runs[0].pp: 16 pipeline stages for the 12 layers of my-gpt (a stage holds at least one layer)"),
    ("zero-5", _runs("tp: 1,", "tp: 1, zero: 5,"), "r.yaml: runs[0].zero: unknown ZeRO stage 5 (known: 0, 1, 2, 3)"),
    ("sp-text", _runs("tp: 1,", "tp: 1, sp: yes please,"), "r.yaml: runs[0].sp: expected true or false, got "
     "'yes please'"),
    ("measured-negative", _runs("measured_tflops: 300", "measured_tflops: -300"),
     "r.yaml: runs[0].measured_tflops: must be > 0, got -300"),
    ("measured-1e30", _runs("measured_tflops: 300", "measured_tflops: 1.0e+30"),
     "r.yaml: runs[0].measured_tflops: must be <= 100,000, got 1e+30"),
    ("convention", _runs("convention: graph-mfu", "convention: hfu"),
     "r.yaml: runs[0].convention: unknown convention 'hfu' (known: megatron-hfu, megatron-mfu, graph-mfu)"),
    ("model-scalar", _runs("model: {layers: 12, d_model: 768, heads: 12}", "model: gpt2"),
     "r.yaml: runs[0].model: expected a mapping, got str"),
    ("model-no-d-model", _runs("d_model: 768, ", ""), "r.yaml: runs[0].model: missing required field 'd_model'"),
    ("model-d-model-float", _runs("d_model: 768", "d_model: 7.5"),
     "r.yaml: runs[0].model.d_model: expected an integer, got 7.5"),
    ("system-unknown", _runs("system: dgx-h100", "system: dgx-b300"),
     "r.yaml: runs[0].system: dgx-b300: unknown system: not a bundled one (dgx-a100, dgx-h100, mi300x-platform, tpu-v4-slice) nor "
     "an existing file"),
    ("dtype-unknown", _runs("tp: 1,", "tp: 1, dtype: fp7,"),
     "r.yaml: runs[0].dtype: no matrix peak for dtype 'fp7' (has: bf16, fp16, tf32, fp8, int8)"),
    ("source-empty", _runs("source: our cluster", "source: ''"),
     "r.yaml: runs[0].source: expected a non-empty string"),
]] + [("missing", {}, ["cluster", "validate", "--runs", "r.yaml"], "r.yaml: no such file")]

CLASSES = {"system YAML": SYSTEM_YAML, "huge counts": HUGE_COUNTS, "cluster arguments": CLUSTER_ARGS,
           "hf-config MoE": HF_MOE, "runs files": RUNS_FILES}
CASES = [pytest.param(files, argv, msg, id=f"{cls}:{cid}") for cls, cases in CLASSES.items()
         for cid, files, argv, msg in cases]


@pytest.mark.parametrize("files,argv,expected", CASES)
def test_bad_cluster_input(workdir, capsys, files, argv, expected):  # noqa: F811 (workdir: the shared fixture)
    check_case(workdir, capsys, files, argv, expected)


def test_corpus_size():
    counts = {cls: len(cases) for cls, cases in CLASSES.items()}
    assert sum(counts.values()) >= 100 and all(n >= 10 for n in counts.values()), counts
