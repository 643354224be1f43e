"""Issue 9: the bad-input corpus. Every case runs ``nmsim.cli.main`` in-process inside a fresh folder holding
the case's files, and checks three things:

1. exit status 2 and exactly one ``nmsim: error: ...`` line, equal to the expected text, no traceback (other
   stderr lines, if any, are ``nmsim:``/``#`` progress notes printed before the error);
2. every file that existed before the command is byte-identical after it, and no file or folder appeared
   (nothing half-written, nothing deleted or hidden);
3. for output-path cases, the same on special file systems (full tmpfs, read-only tmpfs, /dev/full).

Cases are grouped by input class (see ``CLASSES``); ``test_corpus_size`` checks the corpus covers >= 150.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from nmsim.cli import main
from nmsim.graph.config import FAMILIES
from nmsim.graph.families import HF_TYPES

HF = Path(__file__).parent / "data" / "hf"
SPEC = Path(__file__).parent.parent / "nmsim" / "data" / "hardware_specs" / "a100-sxm4-80gb.yaml"
DIR = object()   # a file-table value: make a folder

GPT = "family: gpt2\nvocab: 100\nlayers: 2\nd_model: 64\nheads: 4\nffn: 256\nseq_len: 32\n"
VIT = "family: vit\nimage_size: 32\npatch_size: 8\nlayers: 2\nd_model: 64\nheads: 4\nffn: 128\nhead: none\n"
BOMB = ('a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
        'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n'
        'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n'
        'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n'
        'i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n')
GPT2_JSON = (HF / "gpt2.json").read_text()
BIG = 17 * 2**20


def _hf(**changes) -> str:
    cfg = json.loads(GPT2_JSON)
    cfg.update(changes)
    return json.dumps(cfg)


def _spec_text() -> str:
    return SPEC.read_text()


# ---- the corpus: (id, files, argv, expected text after "nmsim: error: ") ------------------------------

WORKLOAD_YAML = [
    ("binary", {"w.yaml": b"\x00\x01\x02family: gpt2"}, ["trace", "w.yaml"],
     "w.yaml: is a binary file, not a workload file"),
    ("latin-1", {"w.yaml": GPT.encode() + "name: caf\xe9\n".encode("latin-1")}, ["trace", "w.yaml"],
     "w.yaml: is not UTF-8 text (byte 0xe9 on line 8; Latin-1?); save the workload file as UTF-8"),
    ("utf-16", {"w.yaml": GPT.encode("utf-16")}, ["trace", "w.yaml"],
     "w.yaml: is UTF-16 or UTF-32 encoded; save the workload file as UTF-8"),
    ("utf-16-le-no-bom", {"w.yaml": GPT.encode("utf-16-le")}, ["trace", "w.yaml"],
     "w.yaml: is UTF-16 or UTF-32 encoded; save the workload file as UTF-8"),
    ("utf-32", {"w.yaml": GPT.encode("utf-32")}, ["trace", "w.yaml"],
     "w.yaml: is UTF-16 or UTF-32 encoded; save the workload file as UTF-8"),
    ("folder", {"w.yaml": DIR}, ["trace", "w.yaml"], "w.yaml: is a folder, not a workload file"),
    ("parent-is-file", {"f": "x"}, ["trace", "f/w.yaml"],
     "f/w.yaml: workload file not found (a parent in the path is a file)"),
    ("missing", {}, ["trace", "nope.yaml"], "nope.yaml: workload file not found"),
    ("too-big", {"w.yaml": b"#" * BIG}, ["trace", "w.yaml"], "w.yaml: is 17 MiB; a workload file is at most 16 MiB"),
    ("billion-laughs", {"w.yaml": BOMB}, ["trace", "w.yaml"],
     "w.yaml: YAML aliases expand to more than 100,000 values (an alias bomb?); refused"),
    ("bomb-in-field", {"w.yaml": BOMB.replace("i: &i", "layers: &i")}, ["trace", "w.yaml"],
     "w.yaml: YAML aliases expand to more than 100,000 values (an alias bomb?); refused"),
    ("deep", {"w.yaml": "layers: " + "[" * 100 + "]" * 100 + "\n"}, ["trace", "w.yaml"],
     "w.yaml: nested more than 64 levels deep"),
    ("very-deep", {"w.yaml": "layers: " + "[" * 5000 + "]" * 5000 + "\n"}, ["trace", "w.yaml"],
     "w.yaml: nested more than 64 levels deep"),
    ("duplicate-key", {"w.yaml": GPT + "layers: 3\n"}, ["trace", "w.yaml"],
     "w.yaml: duplicate key 'layers' on line 8 (first on line 3)"),
    ("duplicate-key-nested", {"w.yaml": GPT + "roles: {a: ff1, a: ff2}\n"}, ["trace", "w.yaml"],
     "w.yaml: duplicate key 'a' on line 8 (first on line 8)"),
    ("head-dim-negative", {"w.yaml": GPT + "head_dim: -4\n"}, ["trace", "w.yaml"],
     "w.yaml: head_dim: must be > 0, got -4"),
    ("kv-heads-zero", {"w.yaml": GPT + "kv_heads: 0\n"}, ["trace", "w.yaml"],
     "w.yaml: kv_heads: must be > 0, got 0"),
    ("channels-negative", {"w.yaml": VIT + "channels: -1\n"}, ["trace", "w.yaml"],
     "w.yaml: channels: must be > 0, got -1"),
    ("relative-buckets-negative", {"w.yaml": GPT + "relative_buckets: -2\n"}, ["trace", "w.yaml"],
     "w.yaml: relative_buckets: must be > 0, got -2"),
    ("d-model-2-40", {"w.yaml": GPT.replace("d_model: 64", "d_model: 1099511627776")}, ["trace", "w.yaml"],
     "w.yaml: d_model: must be <= 262,144, got 1099511627776"),
    ("ffn-huge", {"w.yaml": GPT.replace("ffn: 256", "ffn: 9999999999")}, ["trace", "w.yaml"],
     "w.yaml: ffn: must be <= 1,048,576, got 9999999999"),
    ("layers-huge", {"w.yaml": GPT.replace("layers: 2", "layers: 100000")}, ["trace", "w.yaml"],
     "w.yaml: layers: must be <= 4,096, got 100000"),
    ("vocab-huge", {"w.yaml": GPT.replace("vocab: 100", "vocab: 100000000000")}, ["trace", "w.yaml"],
     "w.yaml: vocab: must be <= 16,777,216, got 100000000000"),
    ("seq-len-huge", {"w.yaml": GPT.replace("seq_len: 32", "seq_len: 100000000")}, ["trace", "w.yaml"],
     "w.yaml: seq_len: must be <= 16,777,216, got 100000000"),
    ("batch-1e30", {"w.yaml": GPT + "batch: 1e30\n"}, ["trace", "w.yaml"], "w.yaml: batch: expected an integer, got '1e30'"),
    ("batch-1.0e+30", {"w.yaml": GPT + "batch: 1.0e+30\n"}, ["trace", "w.yaml"],
     "w.yaml: batch: expected an integer, got 1e+30"),
    ("batch-huge", {"w.yaml": GPT + "batch: 1000000000\n"}, ["trace", "w.yaml"],
     "w.yaml: batch: must be <= 16,777,216, got 1000000000"),
    ("batch-zero", {"w.yaml": GPT + "batch: 0\n"}, ["trace", "w.yaml"], "w.yaml: batch: must be > 0, got 0"),
    ("layers-zero", {"w.yaml": GPT.replace("layers: 2", "layers: 0")}, ["trace", "w.yaml"],
     "w.yaml: layers: must be > 0, got 0"),
    ("layers-bool", {"w.yaml": GPT.replace("layers: 2", "layers: true")}, ["trace", "w.yaml"],
     "w.yaml: layers: expected an integer, got True"),
    ("layers-float", {"w.yaml": GPT.replace("layers: 2", "layers: 2.5")}, ["trace", "w.yaml"],
     "w.yaml: layers: expected an integer, got 2.5"),
    ("heads-zero", {"w.yaml": GPT.replace("heads: 4", "heads: 0")}, ["trace", "w.yaml"],
     "w.yaml: heads: must be > 0, got 0"),
    ("vocab-negative", {"w.yaml": GPT.replace("vocab: 100", "vocab: -1")}, ["trace", "w.yaml"],
     "w.yaml: vocab: must be >= 0, got -1"),
    ("seq-len-zero", {"w.yaml": GPT.replace("seq_len: 32", "seq_len: 0")}, ["trace", "w.yaml"],
     "w.yaml: seq_len: must be > 0, got 0"),
    ("norm-eps-zero", {"w.yaml": GPT + "norm_eps: 0\n"}, ["trace", "w.yaml"],
     "w.yaml: norm_eps: must be > 0, got 0"),
    ("norm-eps-nan", {"w.yaml": GPT + "norm_eps: .nan\n"}, ["trace", "w.yaml"],
     "w.yaml: norm_eps: must be a finite number, got nan"),
    ("norm-eps-one", {"w.yaml": GPT + "norm_eps: 2\n"}, ["trace", "w.yaml"], "w.yaml: norm_eps: must be below 1, got 2.0"),
    ("rope-theta-inf", {"w.yaml": GPT + "rope_theta: .inf\n"}, ["trace", "w.yaml"],
     "w.yaml: rope_theta: must be a finite number, got inf"),
    ("family-list", {"w.yaml": GPT.replace("family: gpt2", "family: [gpt2]")}, ["trace", "w.yaml"],
     "w.yaml: family: expected a non-empty string"),
    ("long-string-value", {"w.yaml": GPT.replace("family: gpt2", "family: " + "x" * 5000)}, ["trace", "w.yaml"],
     f"w.yaml: family: unknown family 'xxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxx' (known: {', '.join(FAMILIES)})"),
    ("list-document", {"w.yaml": "- 1\n- 2\n"}, ["trace", "w.yaml"], "w.yaml: expected a mapping, got list"),
    ("empty", {"w.yaml": ""}, ["trace", "w.yaml"], "w.yaml: empty file"),
    ("roles-unknown", {"w.yaml": GPT + "roles: {'*.gate': ffx}\n"}, ["trace", "w.yaml"],
     "w.yaml: roles.*.gate: unknown role 'ffx' (did you mean 'ff2'? known: q, k, v, o, qkv, ff1, ff2, ff_gate, "
     "head, pooler, patch_embed, router, logit, attend, attention, embed, norm, softmax, act, other)"),
    ("roles-list", {"w.yaml": GPT + "roles: [ff1]\n"}, ["trace", "w.yaml"],
     "w.yaml: roles: expected a mapping of module-path globs to roles, got ['ff1']"),
    ("max-positions-below-seq", {"w.yaml": GPT + "max_positions: 16\n"}, ["trace", "w.yaml"],
     "w.yaml: max_positions: max_positions (16) < seq_len (32)"),
    ("patch-not-dividing", {"w.yaml": VIT.replace("patch_size: 8", "patch_size: 7")}, ["trace", "w.yaml"],
     "w.yaml: patch_size: patch_size (7) must divide image_size (32)"),
    ("tab-indent", {"w.yaml": "family: gpt2\n\tlayers: 2\n"}, ["trace", "w.yaml"],
     "w.yaml: YAML syntax error at line 2, column 1: found character '\\t' that cannot start any token"),
    ("python-tag", {"w.yaml": "family: !!python/object/apply:os.system ['true']\n"}, ["trace", "w.yaml"],
     "w.yaml: YAML syntax error at line 1, column 9: could not determine a constructor for the tag "
     "'tag:yaml.org,2002:python/object/apply:os.system'"),
    ("budget-workload-binary", {"w.yaml": b"\x00\x00"}, ["budget", "w.yaml", "--sparsity", "ff=2:4", "--epochs", "1"],
     "w.yaml: is a binary file, not a workload file"),
    ("price-workload-bomb", {"w.yaml": BOMB}, ["price", "w.yaml", "--hardware", "a100"],
     "w.yaml: YAML aliases expand to more than 100,000 values (an alias bomb?); refused"),
]

HF_CONFIG = [
    ("binary", {"c.json": b"\x00{}"}, ["trace", "--hf-config", "c.json"], "c.json: is a binary file, not a config file"),
    ("latin-1", {"c.json": '{"model_type": "gpt2", "n\xe4me": 1}'.encode("latin-1")},
     ["trace", "--hf-config", "c.json"],
     "c.json: is not UTF-8 text (byte 0xe4 on line 1; Latin-1?); save the config file as UTF-8"),
    ("utf-16", {"c.json": GPT2_JSON.encode("utf-16")}, ["trace", "--hf-config", "c.json"],
     "c.json: is UTF-16 or UTF-32 encoded; save the config file as UTF-8"),
    ("folder", {"c": DIR}, ["trace", "--hf-config", "c"], "c: is a folder, not a config file"),
    ("missing", {}, ["trace", "--hf-config", "c.json"], "c.json: config file not found"),
    ("too-big", {"c.json": b" " * BIG}, ["trace", "--hf-config", "c.json"],
     "c.json: is 17 MiB; a config file is at most 16 MiB"),
    ("deep-100", {"c.json": "[" * 100 + "]" * 100}, ["trace", "--hf-config", "c.json"],
     "c.json: nested more than 64 levels deep"),
    ("deep-100000", {"c.json": "[" * 100000 + "]" * 100000}, ["trace", "--hf-config", "c.json"],
     "c.json: nested more than 64 levels deep"),
    ("duplicate-key", {"c.json": GPT2_JSON.replace('"n_layer": 12', '"n_layer": 12, "n_layer": 24')},
     ["trace", "--hf-config", "c.json"], "c.json: duplicate key 'n_layer'"),
    ("nan", {"c.json": GPT2_JSON.replace('"layer_norm_epsilon": 1e-05', '"layer_norm_epsilon": NaN')},
     ["trace", "--hf-config", "c.json"], "c.json: invalid JSON: NaN is not a JSON number"),
    ("array", {"c.json": "[]"}, ["trace", "--hf-config", "c.json"], "c.json: expected a JSON object, got an array"),
    ("number", {"c.json": "5"}, ["trace", "--hf-config", "c.json"], "c.json: expected a JSON object, got a number"),
    ("empty", {"c.json": ""}, ["trace", "--hf-config", "c.json"],
     "c.json: invalid JSON at line 1, column 1: Expecting value"),
    ("n-layer-negative", {"c.json": _hf(n_layer=-1)}, ["trace", "--hf-config", "c.json"],
     "c.json: layers: must be > 0, got -1"),
    ("n-embd-2-40", {"c.json": _hf(n_embd=2**40)}, ["trace", "--hf-config", "c.json"],
     "c.json: d_model: must be <= 262,144, got 1099511627776"),
    ("n-head-string", {"c.json": _hf(n_head="12")}, ["trace", "--hf-config", "c.json"],
     "c.json: n_head: must be int, got '12'"),
    ("n-head-float", {"c.json": _hf(n_head=1e30)}, ["trace", "--hf-config", "c.json"],
     "c.json: n_head: must be int, got 1e+30"),
    ("activation", {"c.json": _hf(activation_function="swish2")}, ["trace", "--hf-config", "c.json"],
     "c.json: activation_function: unsupported activation 'swish2'"),
    ("model-type-missing", {"c.json": "{}"}, ["trace", "--hf-config", "c.json"], "c.json: model_type: missing field"),
    ("model-type-list", {"c.json": '{"model_type": ["gpt2"]}'}, ["trace", "--hf-config", "c.json"],
     f"c.json: model_type: unsupported model_type ['gpt2'] ({', '.join(HF_TYPES)})"),
    ("n-positions-zero", {"c.json": _hf(n_positions=0)}, ["trace", "--hf-config", "c.json"],
     "c.json: seq_len: must be > 0, got 0"),
    ("seq-past-positions", {"c/config.json": GPT2_JSON}, ["trace", "--hf-config", "c/config.json", "--seq", "4096"],
     "c: seq: 4,096 tokens exceed the model's 1,024 learned positions (max_positions)"),
    ("vit-channels", {"c.json": json.dumps({**json.loads((HF / "vit-base-patch16-224.json").read_text()),
                                            "num_channels": -3})},
     ["trace", "--hf-config", "c.json"], "c.json: channels: must be > 0, got -3"),
    ("t5-buckets", {"c.json": json.dumps({**json.loads((HF / "t5-base.json").read_text()),
                                          "relative_attention_num_buckets": 0})},
     ["trace", "--hf-config", "c.json"], "c.json: relative_buckets: must be > 0, got 0"),
]

HARDWARE_YAML = [
    ("binary", {"hw.yaml": b"\x00name"}, ["hardware", "validate", "hw.yaml"],
     "hw.yaml: is a binary file, not a hardware spec"),
    ("latin-1", {"hw.yaml": _spec_text().replace("A100", "A100 \xb5").encode("latin-1")},
     ["hardware", "validate", "hw.yaml"],
     "hw.yaml: is not UTF-8 text (byte 0xb5 on line {latin_line}; Latin-1?); save the hardware spec as UTF-8"),
    ("utf-16", {"hw.yaml": _spec_text().encode("utf-16")}, ["hardware", "validate", "hw.yaml"],
     "hw.yaml: is UTF-16 or UTF-32 encoded; save the hardware spec as UTF-8"),
    ("folder", {"hw.yaml": DIR}, ["hardware", "validate", "hw.yaml"], "hw.yaml: is a folder, not a hardware spec"),
    ("bomb", {"hw.yaml": BOMB}, ["hardware", "validate", "hw.yaml"],
     "hw.yaml: YAML aliases expand to more than 100,000 values (an alias bomb?); refused"),
    ("duplicate-name", {"hw.yaml": _spec_text() + "name: other\n"}, ["hardware", "validate", "hw.yaml"],
     "hw.yaml: duplicate key 'name' on line {dup_line} (first on line {first_line})"),
    ("deep", {"hw.yaml": "name: " + "[" * 80 + "]" * 80 + "\n"}, ["hardware", "validate", "hw.yaml"],
     "hw.yaml: nested more than 64 levels deep"),
    ("too-big", {"hw.yaml": b"#" * BIG}, ["hardware", "validate", "hw.yaml"],
     "hw.yaml: is 17 MiB; a hardware spec is at most 16 MiB"),
    ("price-utf-16", {"hw.yaml": _spec_text().encode("utf-16")}, ["price", "vit-tiny", "--hardware", "hw.yaml"],
     "hw.yaml: is UTF-16 or UTF-32 encoded; save the hardware spec as UTF-8"),
    ("compare-binary", {"hw.yaml": b"\x00\x00"}, ["compare", "vit-tiny", "--hardware", "hw.yaml"],
     "hw.yaml: is a binary file, not a hardware spec"),
    # YAML 1.1 reads an exponent without a dot as text: the line says how to write the number
    ("host-op-exponent", {"hw.yaml": _spec_text().replace("host_op_us: {value: 112.3", "host_op_us: {value: 1e2")},
     ["price", "vit-tiny", "--hardware", "hw.yaml", "--no-cuda-graphs"],
     "hw.yaml: execution.host_op_us.value: expected a number, got '1e2' (YAML reads 1e2 as text: write 1.0e+02)"),
    ("host-op-negative", {"hw.yaml": _spec_text().replace("host_op_us: {value: 112.3", "host_op_us: {value: -1")},
     ["compare", "vit-tiny", "--hardware", "hw.yaml"], "hw.yaml: execution.host_op_us.value: must be >= 0, got -1"),
]

PLANS = [
    ("not-nm", {}, ["price", "vit-tiny", "--hardware", "a100", "--sparsity", "ff=2:x"],
     "--sparsity 'ff=2:x': not an N:M pattern: '2:x' (expected e.g. 1:16 or dense)"),
    ("n-over-m", {}, ["price", "vit-tiny", "--hardware", "a100", "--sparsity", "ff=5:4"],
     "--sparsity 'ff=5:4': N > M in pattern '5:4'"),
    ("n-zero", {}, ["price", "vit-tiny", "--hardware", "a100", "--sparsity", "ff=0:4"],
     "--sparsity 'ff=0:4': N must be at least 1 in pattern '0:4'"),
    ("m-26-digits", {}, ["price", "vit-tiny", "--hardware", "a100", "--sparsity", "ff=1:99999999999999999999999999"],
     "--sparsity 'ff=1:99999999999999999999999999': M must be at most 4,096 in pattern "
     "'1:99999999999999999999999999'"),
    ("no-pattern", {}, ["price", "vit-tiny", "--hardware", "a100", "--sparsity", "ff"],
     "--sparsity 'ff': expected SELECTOR[@LAYERS]=PATTERN[/row|/col], e.g. ff=1:16"),
    ("no-selector", {}, ["price", "vit-tiny", "--hardware", "a100", "--sparsity", "=2:4"],
     "--sparsity '=2:4': expected SELECTOR[@LAYERS]=PATTERN[/row|/col], e.g. ff=1:16"),
    ("unknown-selector", {}, ["price", "vit-tiny", "--hardware", "a100", "--sparsity", "zz=2:4"],
     "--sparsity 'zz=2:4': unknown selector 'zz' (known: all, ff, ff1, ff2, ff_gate, q, k, v, o, qk, qkv, attn, "
     "head, or re:REGEX)"),
    ("layer-range", {}, ["price", "vit-tiny", "--hardware", "a100", "--sparsity", "ff@9-3=2:4"],
     "--sparsity 'ff@9-3=2:4': bad layer range '9-3': end 3 is below start 9"),
    ("regex", {}, ["price", "vit-tiny", "--hardware", "a100", "--sparsity", "re:[=2:4"],
     "--sparsity 're:[=2:4': bad regular expression '[': unterminated character set at position 0"),
    ("three-parts", {}, ["price", "vit-tiny", "--hardware", "a100", "--sparsity", "ff=2:4:8"],
     "--sparsity 'ff=2:4:8': not an N:M pattern: '2:4:8' (expected e.g. 1:16 or dense)"),
    ("layer-past-model", {}, ["price", "vit-tiny", "--hardware", "a100", "--sparsity", "ff@50=2:4"],
     "--sparsity 'ff@50=2:4': layer 50 is past the model's 3 layers (0 to 2)"),
    ("compare-empty", {}, ["compare", "vit-tiny", "--patterns", ","],
     "--patterns: no pattern given (e.g. --patterns dense,2:4,1:8)"),
    ("compare-huge-m", {}, ["compare", "vit-tiny", "--patterns", "1:99999999999999999999999999"],
     "--patterns: M must be at most 4,096 in pattern '1:99999999999999999999999999'"),
    ("compare-typo", {}, ["compare", "vit-tiny", "--patterns", "2:4,typo"],
     "--patterns: not an N:M pattern: 'typo' (expected e.g. 1:16 or dense)"),
    ("budget-dense", {}, ["budget", "vit-tiny", "--sparsity", "dense", "--epochs", "1"],
     "--sparsity: give the sparse targets, e.g. --sparsity ff=1:16"),
    ("budget-patterns-dense", {}, ["budget", "vit-tiny", "--sparsity", "ff=2:4", "--epochs", "1", "--patterns",
                                   "2:4,dense"], "--patterns: patterns must be N:M (dense is the dense recipe)"),
    ("train-sparsity", {}, ["train", "--sparsity", "ff=1:0"], "--sparsity 'ff=1:0': N > M in pattern '1:0'"),
    ("train-layers", {}, ["train", "--sparsity", "ff@0-1=1:8"],
     "--sparsity: the trainer takes role selectors without layers (e.g. ff=1:16), got 'ff@0-1=1:8'"),
    ("train-hierarchical", {}, ["train", "--sparsity", "ff=2:4/2:4"],
     "--sparsity: the trainer takes flat N:M patterns, got 'ff=2:4/2:4'"),
    ("sweep-patterns", {}, ["sweep", "--patterns", "1:4,1:x", "--out", "runs"],
     "--patterns: not an N:M pattern: '1:x' (expected e.g. 1:16 or dense)"),
]

RECIPES = [
    ("schedule-typo", {}, ["schedule", "typo", "--steps", "10"],
     "--recipe: unknown recipe 'typo' (valid: dense, static, sr-ste, mdgf-linear, mdgf-exp, sdgf-stepwise, "
     "sdgf-geometric, custom)"),
    ("train-typo", {}, ["train", "--recipe", "typo"],
     "--recipe: unknown recipe 'typo' (valid: dense, static, sr-ste, mdgf-linear, mdgf-exp, sdgf-stepwise, "
     "sdgf-geometric, custom)"),
    ("sweep-typo", {}, ["sweep", "--recipes", "sr-ste,typo", "--out", "runs"],
     "--recipes: unknown recipe 'typo' (valid: dense, static, sr-ste, mdgf-linear, mdgf-exp, sdgf-stepwise, "
     "sdgf-geometric; sets: all, paper, quick)"),
    ("budget-typo", {}, ["budget", "gpt2", "--sparsity", "ff=2:4", "--epochs", "1", "--recipes", "typo"],
     "--recipes: unknown recipe 'typo' (valid: dense, static, sr-ste, mdgf-linear, mdgf-exp, sdgf-stepwise, "
     "sdgf-geometric; sets: all, paper, quick)"),
    ("budget-empty", {}, ["budget", "gpt2", "--sparsity", "ff=2:4", "--epochs", "1", "--recipes", ","],
     "--recipes: give at least one recipe"),
    ("sweep-custom", {}, ["sweep", "--recipes", "sr-ste,custom", "--out", "runs"],
     "--recipes: custom needs --boundaries; price it with nmsim schedule or the API"),
    ("cluster-empty", {}, ["cluster", "budget", "gpt2", "--recipes", ",", "--sparsity", "ff=2:4", "--tokens", "1e9"],
     "--recipes: give at least one recipe"),
    ("report-typo", {}, ["report", "--recipes", "typo", "--no-train", "--out", "rep"],
     "--recipes: unknown recipe 'typo' (valid: dense, static, sr-ste, mdgf-linear, mdgf-exp, sdgf-stepwise, "
     "sdgf-geometric; sets: all, paper, quick)"),
    ("custom-past-run", {}, ["schedule", "custom", "--steps", "100", "--sparsity", "ff=1:8", "--boundaries",
                             "0:ff=2:8;500:ff=1:8"],
     "--boundaries: entry 1: position 500 (step 500) is past the end of the sparse part (steps 0 to 100); nothing "
     "would use it"),
    ("custom-past-run-epochs", {}, ["schedule", "custom", "--epochs", "10", "--steps-per-epoch", "5", "--sparsity",
                                    "ff=1:8", "--boundaries", "0:ff=2:8;12:ff=1:8"],
     "--boundaries: entry 1: position 12 (epoch 12) is past the end of the sparse part (epochs 0 to 10); nothing "
     "would use it"),
    ("custom-fraction", {}, ["schedule", "custom", "--steps", "100", "--boundaries", "0.5:ff=2:8;1.5:ff=1:8"],
     "--boundaries: entry 1: position must be a fraction in [0, 1) or a step >= 0, got 1.5"),
    ("steps-zero", {}, ["schedule", "sr-ste", "--steps", "0", "--sparsity", "ff=1:8"],
     "--steps: total steps must be a positive integer, got 0"),
    ("fractions", {}, ["schedule", "sr-ste", "--steps", "10", "--sparsity", "ff=1:8", "--dense-frac", "2"],
     "--finetune-frac: dense warm-up (2) + fine-tune (0) fractions must be < 1"),
    ("beta-negative", {}, ["schedule", "mdgf-linear", "--steps", "10", "--sparsity", "ff=1:8", "--beta", "-1"],
     "--beta: beta must be > 0, got -1"),
    ("k-zero", {}, ["schedule", "sdgf-geometric", "--steps", "100", "--sparsity", "ff=1:8", "--k", "0"],
     "--k: k must be a power of two >= 2 (paper 16, public code 8), got 0"),
    ("steps-and-epochs", {}, ["schedule", "custom", "--steps", "10", "--epochs", "3"],
     "--epochs: give either --steps or --epochs, not both"),
]

CLI_NUMBERS = [
    ("trace-seq-past-positions", {}, ["trace", "gpt2", "--seq", "4096"],
     "gpt2: seq: 4,096 tokens exceed the model's 1,024 learned positions (max_positions)"),
    ("trace-seq-20-digits", {}, ["trace", "gpt2", "--seq", "100000000000000000000"],
     "gpt2: seq: must be an integer from 1 to 16,777,216, got 100000000000000000000"),
    ("trace-batch-zero", {}, ["trace", "gpt2", "--batch", "0"], "--batch: must be a positive integer, got 0"),
    ("trace-batch-huge", {}, ["trace", "gpt2", "--batch", "1000000000"],
     "gpt2: batch: must be an integer from 1 to 16,777,216, got 1000000000"),
    ("trace-bert-seq", {}, ["trace", "bert-base", "--seq", "1024"],
     "bert-base: seq: 1,024 tokens exceed the model's 512 learned positions (max_positions)"),
    ("price-seq-4096", {}, ["price", "gpt2", "--hardware", "a100", "--seq", "4096"],
     "gpt2: seq: 4,096 tokens exceed the model's 1,024 learned positions (max_positions)"),
    ("price-context-100000", {}, ["price", "gpt2", "--hardware", "a100", "--mode", "decode", "--context", "100000"],
     "gpt2: context: a 100,000-token KV cache exceeds the model's 1,024 learned positions (max_positions)"),
    ("price-batch-huge", {}, ["price", "gpt2", "--hardware", "a100", "--batch", "100000000000"],
     "gpt2: batch: must be an integer from 1 to 16,777,216, got 100000000000"),
    ("price-seq-context-huge", {}, ["price", "llama-2-7b", "--hardware", "a100", "--mode", "decode", "--context",
                                    "100000000"],
     "llama-2-7b: context: must be an integer from 0 to 16,777,216, got 100000000"),
    ("price-dtype", {}, ["price", "vit-tiny", "--hardware", "a100", "--dtype", "int4"],
     "a100-sxm4-80gb: no matrix peak for dtype 'int4' (has: bf16, fp16, tf32, int8, fp32)"),
    ("compare-no-hardware-for-dtype", {}, ["compare", "vit-tiny", "--dtype", "int4"],
     "--dtype: no accelerator has a int4 matrix peak (they have bf16, fp16, fp32, fp8, int8, tf32)"),
    ("budget-epochs-zero", {}, ["budget", "vit-tiny", "--sparsity", "ff=2:4", "--epochs", "0"],
     "--epochs: must be a positive number, got 0"),
    ("budget-budget-inf", {}, ["budget", "vit-tiny", "--sparsity", "ff=2:4", "--epochs", "1", "--budget", "inf"],
     "--budget: must be a positive FLOP count, got 'inf'"),
    ("budget-spe-negative", {}, ["budget", "vit-tiny", "--sparsity", "ff=2:4", "--epochs", "1", "--steps-per-epoch",
                                 "-1"], "--steps-per-epoch: must be a positive integer, got -1"),
    ("budget-hardware-typo", {}, ["budget", "vit-tiny", "--sparsity", "ff=2:4", "--epochs", "1", "--hardware", "nope"],
     "nope: unknown hardware: not a bundled spec (a100-sxm4-80gb, a10g, h100-pcie, h100-sxm5, h200-sxm, highlight, "
     "ideal-nm, l4, l40s, mi300x, rtx-4090, s2ta, tpu-v4, tpu-v5e, v100, vegeta) nor an existing file"),
    ("sweep-seeds-zero", {}, ["sweep", "--seeds", "0", "--out", "runs"], "--seeds: must be from 1 to 1000, got 0"),
    ("sweep-seeds-huge", {}, ["sweep", "--seeds", "1000000000", "--out", "runs"],
     "--seeds: must be from 1 to 1000, got 1000000000"),
    ("sweep-workers-zero", {}, ["sweep", "--workers", "0", "--out", "runs"], "--workers: must be from 1 to 1024, got 0"),
    ("report-steps-per-epoch", {}, ["report", "--no-train", "--steps-per-epoch", "0", "--out", "rep"],
     "--steps-per-epoch: must be a positive integer, got 0"),
]

TRAINER = [(f"train-{name}", {}, ["train", *argv, "--out", "run"], message) for name, argv, message in [
    ("lr-negative", ["--lr", "-1"], "--lr: must be in (0, 10], got -1"),
    ("lr-zero", ["--lr", "0"], "--lr: must be in (0, 10], got 0"),
    ("lr-nan", ["--lr", "nan"], "--lr: must be a finite number, got nan"),
    ("lr-inf", ["--lr", "inf"], "--lr: must be a finite number, got inf"),
    ("lr-huge", ["--lr", "1e6"], "--lr: must be in (0, 10], got 1e+06"),
    ("threads-zero", ["--threads", "0"], "--threads: must be in [1, 1,024], got 0"),
    ("seed-negative", ["--seed", "-1"], "--seed: must be in [0, 4,294,967,295], got -1"),
    ("seed-huge", ["--seed", "99999999999"], "--seed: must be in [0, 4,294,967,295], got 99,999,999,999"),
    ("weight-decay-negative", ["--weight-decay", "-1"], "--weight-decay: must be in [0, 10], got -1"),
    ("weight-decay-nan", ["--weight-decay", "nan"], "--weight-decay: must be a finite number, got nan"),
    ("eval-every-negative", ["--eval-every", "-1"], "--eval-every: must be in [0, 1,099,511,627,776], got -1"),
    ("checkpoint-every-negative", ["--checkpoint-every", "-3"],
     "--checkpoint-every: must be in [0, 1,099,511,627,776], got -3"),
    ("warmup-frac-2", ["--warmup-frac", "2"], "--warmup-frac: must be in [0, 1), got 2"),
    ("warmup-frac-1", ["--warmup-frac", "1"], "--warmup-frac: must be in [0, 1), got 1"),
    ("warmup-frac-negative", ["--warmup-frac", "-0.1"], "--warmup-frac: must be in [0, 1), got -0.1"),
    ("dense-frac-negative", ["--dense-frac", "-0.5"], "--dense-frac: must be in [0, 1), got -0.5"),
    ("fractions-sum", ["--dense-frac", "0.6", "--finetune-frac", "0.5"],
     "--finetune-frac: dense (0.6) + fine-tune (0.5) fractions leave no sparse training"),
    ("epochs-zero", ["--epochs", "0"], "--epochs: must be in [1, 100,000], got 0"),
    ("batch-zero", ["--batch", "0"], "--batch: must be in [1, 1,048,576], got 0"),
    ("batch-too-big", ["--batch", "100000"], "--batch: batch 100000 is larger than the 1437 training examples"),
    ("image-on-text-task", ["--task", "stdlib-chars", "--workload", "trainer-vit-digits"],
     "--workload trainer-vit-digits: does not fit task 'stdlib-chars', whose inputs are 64 token sequences (Input "
     "type (long int) and bias type (float) should be the same)"),
    ("text-on-image-task", ["--workload", "trainer-gpt2-chars"],
     "--workload trainer-gpt2-chars: does not fit task 'digits', whose inputs are 1x8x8 images (Expected tensor for "
     "argument #1 'indices' to have one of the ...)"),
    ("wrong-channels", ["--workload", "vit-tiny"],
     "--workload vit-tiny: does not fit task 'digits', whose inputs are 1x8x8 images (Invalid channel dimensions)"),
    ("task-typo", ["--task", "digitz"], None),
    ("param-typo", ["--recipe", "mdgf-linear", "--param", "betta=1"], None),
]]

OUTPUT_PATHS = [
    ("trace-out-folder", {"o": DIR}, ["trace", "vit-tiny", "--out", "o"],
     "o: is a folder; give a file name for the output file"),
    ("trace-out-slash", {}, ["trace", "vit-tiny", "--out", "o/"],
     "o/: is a folder; give a file name for the output file"),
    ("trace-parent-file", {"f": "user data"}, ["trace", "vit-tiny", "--out", "f/t.csv"],
     "f/t.csv: cannot write: f is a file, not a folder"),
    ("trace-grandparent-file", {"f": "user data"}, ["trace", "vit-tiny", "--out", "f/a/b/t.csv"],
     "f/a/b/t.csv: cannot write: f is a file, not a folder"),
    ("trace-dev-full", {}, ["trace", "vit-tiny", "--out", "/dev/full"],
     "/dev/full: cannot write: no space left on device"),
    ("price-out-folder", {"o": DIR}, ["price", "vit-tiny", "--hardware", "a100", "--out", "o"],
     "o: is a folder; give a file name for the output file"),
    ("price-dev-full", {}, ["price", "vit-tiny", "--hardware", "a100", "--out", "/dev/full"],
     "/dev/full: cannot write: no space left on device"),
    ("compare-parent-file", {"f": "x"}, ["compare", "vit-tiny", "--out", "f/c.csv"],
     "f/c.csv: cannot write: f is a file, not a folder"),
    ("compare-dev-full", {}, ["compare", "vit-tiny", "--patterns", "dense,2:4", "--out", "/dev/full"],
     "/dev/full: cannot write: no space left on device"),
    ("budget-out-folder", {"o": DIR}, ["budget", "vit-tiny", "--sparsity", "ff=2:4", "--epochs", "1", "--out", "o"],
     "o: is a folder; give a file name for the output file"),
    ("budget-dev-full", {}, ["budget", "vit-tiny", "--sparsity", "ff=2:4", "--epochs", "1", "--recipes", "sr-ste",
                             "--out", "/dev/full"], "/dev/full: cannot write: no space left on device"),
    ("report-user-folder", {"thesis/ch1.tex": "my thesis", "thesis/figs/a.png": b"\x89PNG"},
     ["report", "--no-train", "--out", "thesis"],
     "thesis: exists and is not an nmsim report (no .nmsim-report file); give a new folder name, nothing was changed"),
    ("report-user-file", {"thesis": "my thesis"}, ["report", "--no-train", "--out", "thesis"],
     "thesis: exists and is not a folder; give a new folder name for the report"),
    ("report-parent-file", {"f": "x"}, ["report", "--no-train", "--out", "f/rep"],
     "f/rep: cannot write: f is a file, not a folder"),
    ("report-lookalike", {"r/index.html": "<html>", "r/report.md": "# mine", "r/notes.txt": "keep"},
     ["report", "--no-train", "--out", "r"],
     "r: exists and is not an nmsim report (no .nmsim-report file); give a new folder name, nothing was changed"),
    ("cluster-out-folder", {"o": DIR}, ["cluster", "plan", "llama-2-7b", "--out", "o"],
     "o: is a folder; give a file name for the output file"),
    ("cluster-dev-full", {}, ["cluster", "plan", "llama-2-7b", "--out", "/dev/full"],
     "/dev/full: cannot write: no space left on device"),
    ("cluster-parent-file", {"f": "x"}, ["cluster", "plan", "llama-2-7b", "--out", "f/x.csv"],
     "f/x.csv: cannot write: f is a file, not a folder"),
    ("validate-parent-file", {"f": "x"}, ["validate", "--out", "f/x.csv"],
     "f/x.csv: cannot write: f is a file, not a folder"),
    ("validate-out-folder", {"o": DIR}, ["validate", "--out", "o"],
     "o: is a folder; give a file name for the output file"),
    ("export-user-file", {"f": "user data"}, ["export", "vit-tiny", "--format", "scalesim", "--out", "f"],
     "f: exists and is not a folder; give a new folder name for the export"),
    ("export-parent-file", {"f": "user data"}, ["export", "vit-tiny", "--format", "scalesim", "--out", "f/x"],
     "f/x: cannot write: f is a file, not a folder"),
    ("plot-out-folder", {"o": DIR, "runs/a/config.json": "{}", "runs/a/metrics.jsonl": "{}"},
     ["plot", "runs", "--out", "o"], "o: is a folder; give a file name for the output file"),
    ("plot-parent-file", {"f": "x"}, ["plot", "runs", "--out", "f/p.png"],
     "f/p.png: cannot write: f is a file, not a folder"),
    ("hardware-show-folder", {"o": DIR}, ["hardware", "show", "o"], "o: is a folder, not a hardware spec"),
    ("train-out-file", {"run": "user data"}, ["train", "--out", "run"], "run: exists and is not a folder"),
    ("train-out-user-folder", {"run/notes.txt": "keep"}, ["train", "--out", "run"],
     "run: exists and is not a run folder (no config.json); give a new --out, nothing was changed"),
    ("sweep-out-file", {"runs": "user data"}, ["sweep", "--recipes", "dense", "--seeds", "1", "--out", "runs"],
     "runs: exists and is not a folder; give a runs folder for --out"),
]

ACCURACY_CSV = [(f"csv-{name}", {"a.csv": content}, ["report", "--no-train", "--accuracy", "a.csv", "--out", "rep"], msg)
                for name, content, msg in [
    ("inf", "plan,recipe,value\nff=1:8,sr-ste,inf\n", "a.csv: row 2: value must be a finite number, got inf"),
    ("minus-inf", "plan,recipe,value\nff=1:8,sr-ste,-inf\n", "a.csv: row 2: value must be a finite number, got -inf"),
    ("nan", "plan,recipe,value\nff=1:8,sr-ste,nan\n", "a.csv: row 2: value must be a finite number, got nan"),
    ("text", "plan,recipe,value\nff=1:8,sr-ste,78.1\nff=1:4,sr-ste,high\n",
     "a.csv: row 3: value must be a finite number, got 'high'"),
    ("missing-column", "plan,recipe\nff=1:8,sr-ste\n",
     "a.csv: missing column(s) value (need plan, recipe, value; has plan, recipe)"),
    ("empty", "", "a.csv: empty accuracy CSV"),
    ("binary", b"\x00\x01plan", "a.csv: is a binary file, not a accuracy CSV"),
    ("latin-1", "plan,recipe,value\nff=1:8,sr-st\xe9,1\n".encode("latin-1"),
     "a.csv: is not UTF-8 text (byte 0xe9 on line 2; Latin-1?); save the accuracy CSV as UTF-8"),
    ("utf-16", "plan,recipe,value\nff=1:8,sr-ste,1\n".encode("utf-16"),
     "a.csv: is UTF-16 or UTF-32 encoded; save the accuracy CSV as UTF-8"),
    ("folder", DIR, "a.csv: holds no runs (no */config.json with metrics.jsonl)"),
]]


def _run_config() -> dict:
    from nmsim.train.loop import RunConfig, check_config
    return check_config(RunConfig(recipe="dense", epochs=1)).to_dict()


def _run_folder_cases() -> list:
    cfg = json.dumps(_run_config())
    other = json.dumps({**json.loads(cfg), "epochs": 2})
    rows = '{"step": 5, "accuracy": 0.5}\n{"step": 10, "accuracy": 0.6}\n'
    argv = ["train", "--recipe", "dense", "--epochs", "1", "--out", "run"]
    return [
        ("config-array", {"run/config.json": "[]"}, argv, "run/config.json: expected a JSON object, got an array"),
        ("config-number", {"run/config.json": "5"}, argv, "run/config.json: expected a JSON object, got a number"),
        ("config-broken", {"run/config.json": '{"task": '}, argv,
         "run/config.json: invalid JSON at line 1, column 10: Expecting value"),
        ("config-foreign", {"run/config.json": '{"foo": 1}'}, argv,
         "run/config.json: not an nmsim run config (unknown field 'foo')"),
        ("config-other-run", {"run/config.json": other}, argv,
         "run/config.json: holds a run with a different config (epochs: 2 vs 1); use another --out"),
        ("config-binary", {"run/config.json": b"\x00\x00"}, argv, "run/config.json: is a binary file, not a run config"),
        ("done-empty-object", {"run/config.json": cfg, "run/done.json": "{}", "run/metrics.jsonl": rows}, argv,
         "run/done.json: not an nmsim done marker (needs a 'final' object)"),
        ("done-array", {"run/config.json": cfg, "run/done.json": "[]"}, argv,
         "run/done.json: expected a JSON object, got an array"),
        ("metrics-number", {"run/config.json": cfg, "run/metrics.jsonl": "5\n" + rows}, argv + ["--resume"],
         "run/metrics.jsonl: line 1: not a metrics row (needs an object with an integer step)"),
        ("metrics-middle-cut", {"run/config.json": cfg, "run/metrics.jsonl": '{"step": 5, "acc\n' + rows},
         argv + ["--resume"], "run/metrics.jsonl: line 1: not valid JSON"),
        ("metrics-step-string", {"run/config.json": cfg, "run/metrics.jsonl": '{"step": "5"}\n'}, argv + ["--resume"],
         "run/metrics.jsonl: line 1: not a metrics row (needs an object with an integer step)"),
        ("unfinished-no-resume", {"run/config.json": cfg, "run/metrics.jsonl": rows}, argv,
         "run: holds an unfinished run of this config; pass --resume to continue it"),
        ("run-files-no-config", {"run/metrics.jsonl": rows}, argv,
         "run: holds run files but no config.json; refusing to overwrite"),
        ("report-runs-config-array", {"runs/a/config.json": "[]", "runs/a/metrics.jsonl": rows},
         ["report", "--no-train", "--accuracy", "runs", "--out", "rep"],
         "runs/a/config.json: expected a JSON object, got an array"),
        ("report-runs-metrics-number", {"runs/a/config.json": cfg, "runs/a/metrics.jsonl": "5\n" + rows},
         ["report", "--no-train", "--accuracy", "runs", "--out", "rep"],
         "runs/a/metrics.jsonl: line 1: not a metrics row (needs an object with an integer step)"),
        ("report-runs-accuracy-inf", {"runs/a/config.json": cfg,
                                      "runs/a/metrics.jsonl": '{"step": 5, "accuracy": Infinity}\n'},
         ["report", "--no-train", "--accuracy", "runs", "--out", "rep"],
         "runs/a/metrics.jsonl: row 1: accuracy must be a number from 0 to 1, got inf"),
    ]


CLASSES = {"workload YAML": WORKLOAD_YAML, "hf-config": HF_CONFIG, "hardware YAML": HARDWARE_YAML,
           "plans": PLANS, "recipes": RECIPES, "CLI numbers": CLI_NUMBERS, "trainer arguments": TRAINER,
           "output paths": OUTPUT_PATHS, "accuracy CSVs": ACCURACY_CSV}
CASES = [pytest.param(files, argv, msg, id=f"{cls}:{cid}") for cls, cases in CLASSES.items()
         for cid, files, argv, msg in cases]


# ---- helpers --------------------------------------------------------------------------------------

def make_files(root: Path, files: dict) -> None:
    for name, content in files.items():
        path = root / name
        if content is DIR:
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())


def snapshot(root: Path) -> dict:
    """Every path under ``root`` with the SHA-256 of its bytes (folders as 'dir')."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), root)] = "dir"
        for f in filenames:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    return code, capsys.readouterr().err


def assert_one_error(code: int, err: str, expected: str | None) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("nmsim: error: ")]
    assert len(errors) == 1, err
    assert err.endswith(errors[0] + "\n")      # the error is the last line
    others = [line for line in err.splitlines() if not line.startswith("nmsim: error: ")]
    assert all(line.startswith(("nmsim: ", "# ")) for line in others), err
    if expected is not None:
        assert errors[0] == "nmsim: error: " + expected


def check_case(folder, capsys, files: dict, argv: list, expected: str | None) -> None:
    """One corpus case in ``folder``: exit 2, the one expected error line, every file byte-identical."""
    make_files(folder, files)
    before = snapshot(folder)
    code, err = run_cli(argv, capsys)
    assert_one_error(code, err, expected)
    assert snapshot(folder) == before, "a failed command changed, added or removed files"


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ---- tests ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("files,argv,expected", CASES)
def test_bad_input(workdir, capsys, files, argv, expected):
    make_files(workdir, files)
    if expected and "{latin_line}" in expected:
        line = next(i for i, text in enumerate(_spec_text().splitlines(), 1) if "A100" in text)
        expected = expected.format(latin_line=line)
    if expected and "{dup_line}" in expected:
        lines = _spec_text().splitlines()
        first = next(i for i, line in enumerate(lines, 1) if line.startswith("name:"))
        expected = expected.format(dup_line=len(lines) + 1, first_line=first)
    before = snapshot(workdir)
    code, err = run_cli(argv, capsys)
    assert_one_error(code, err, expected)
    assert snapshot(workdir) == before, "a failed command changed, added or removed files"


@pytest.mark.parametrize("cid,files,argv,expected", [pytest.param(*c, id=c[0]) for c in _run_folder_cases()])
def test_bad_run_folder(workdir, capsys, cid, files, argv, expected):
    check_case(workdir, capsys, files, argv, expected)


def test_task_and_param_typos_name_the_flag(workdir, capsys):
    code, err = run_cli(["train", "--task", "digitz", "--out", "run"], capsys)
    assert_one_error(code, err, None)
    assert err.startswith("nmsim: error: --task: ") and "digitz" in err
    code, err = run_cli(["train", "--recipe", "mdgf-linear", "--param", "betta=1", "--out", "run"], capsys)
    assert_one_error(code, err, None)
    assert "betta" in err
    assert snapshot(workdir) == {}


def test_corpus_size():
    counts = {cls: len(cases) for cls, cases in CLASSES.items()}
    counts["run folders"] = len(_run_folder_cases())
    assert sum(counts.values()) >= 150, counts
    assert all(n >= 8 for n in counts.values()), counts


def test_whole_corpus_size():
    """Issue 20: the corpus across every ``tests/test_bad_input*.py`` (their ``CLASSES`` and ``API_CASES``, the
    tables ``bench/bench_bad_input.py`` runs): well-formed cases, unique ids per class, and at least 150 cases
    on the newer surfaces (every module but this one and the bugs-on-the-way one)."""
    import importlib

    counts = {}
    for path in sorted(Path(__file__).parent.glob("test_bad_input*.py")):
        module = importlib.import_module(path.stem)
        tables = {**getattr(module, "CLASSES", {}),
                  **{f"API: {cls}": cases for cls, cases in getattr(module, "API_CASES", {}).items()}}
        ids = [(cls, case[0]) for cls, cases in tables.items() for case in cases]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate case ids in a class"
        for cls, cases in tables.items():
            assert cases and all(len(c) == 4 and isinstance(c[1], dict) for c in cases), (path.name, cls)
            counts[(path.stem, cls)] = len(cases)
    older = {"test_bad_input", "test_bad_input_bugs"}
    newer = sum(n for (name, _), n in counts.items() if name not in older)
    assert sum(n for (name, _), n in counts.items() if name == "test_bad_input") == sum(map(len, CLASSES.values()))
    assert newer >= 150, counts
