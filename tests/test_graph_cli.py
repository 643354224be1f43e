"""Issue 2: the trace CLI, HF config import, and one-line input errors (exit 2, no traceback)."""
import json
from pathlib import Path

import pytest

from nmsim.cli import main
from nmsim.graph import from_hf_config, parameter_counts
from nmsim.graph.config import FAMILIES
from nmsim.graph.families import HF_TYPES

HF = Path(__file__).parent / "data" / "hf"


@pytest.mark.parametrize("name,total", [
    ("llama-2-7b.json", 6_738_415_616), ("llama-3-8b.json", 8_030_261_248), ("gpt2.json", 124_439_808),
    ("bert-base-uncased.json", 109_482_240), ("t5-base.json", 222_903_552), ("vit-base-patch16-224.json", 86_567_656),
    ("qwen2-0.5b.json", 494_032_768), ("qwen2-1.5b.json", 1_543_714_304), ("phi-2.json", 2_779_683_840),
    ("mixtral-8x7b.json", 46_702_792_704)])
def test_hf_config_parameter_counts(name, total):
    assert parameter_counts(from_hf_config(HF / name))["total"] == total


def test_trace_paper_view_csv(capsys):
    assert main(["trace", "vit-base-16", "--paper", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "op,gflops"
    assert lines[1].startswith("Q,2.774532096")
    assert lines[-1].startswith("total,34.71055")


def test_trace_by_role_json_matches_api(capsys):
    assert main(["trace", "gpt2", "--seq", "64", "--batch", "2", "--format", "json"]) == 0
    rows = {r["role"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["ff1"]["fwd_flops"] == 2 * 2 * 64 * 768 * 3072 * 12
    assert rows["logit"]["fwd_flops"] == 2 * 2 * 12 * 64 * 64 * 64 * 12
    assert rows["head"]["wgrad_flops"] == 2 * 2 * 64 * 768 * 50257


def test_trace_hf_config_by_layer(capsys):
    assert main(["trace", "--hf-config", str(HF / "llama-3-8b.json"), "--seq", "16", "--by", "layer"]) == 0
    out = capsys.readouterr().out
    assert "31 " in out and "total" in out


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


CASES = [
    # (file name, content, argv builder, expected message after "nmsim: error: ")
    (None, None, lambda p: ["trace", "nope"], "workload: unknown workload 'nope' (bundled: "),
    ("w.yaml", "family: vit\nlayerz: 3\n", None, "{p}: layerz: unknown key 'layerz' (did you mean 'layers'? allowed: batch, bias,"),
    ("w.yaml", "family: gpt2\nlayers: three\nvocab: 10\n", None, "{p}: layers: expected an integer, got 'three'"),
    ("w.yaml", "family: gpt2\nd_model: 100\nheads: 3\nvocab: 10\n", None,
     "{p}: heads: heads (3) must divide d_model (100)"),
    ("w.yaml", "family: llama\nheads: 12\nkv_heads: 5\nvocab: 10\n", None,
     "{p}: kv_heads: kv_heads (5) must divide heads (12)"),
    ("w.yaml", "family: gpt2\nlayers: [1\n", None, "{p}: YAML syntax error at line 3, column 1: expected ',' or ']'"),
    ("w.yaml", "family: gpt3\nvocab: 10\n", None,
     "{p}: family: unknown family 'gpt3' (did you mean 'gpt2'? known: " + ", ".join(FAMILIES) + ")"),
    ("w.yaml", "family: vit\nimage_size: 224\npatch_size: 15\n", None,
     "{p}: patch_size: patch_size (15) must divide image_size (224)"),
    ("w.yaml", "family: gpt2\nvocab: 10\nbias: 1\n", None, "{p}: bias: expected true or false, got 1"),
    ("w.yaml", "- 1\n- 2\n", None, "{p}: expected a mapping, got list"),
    ("w.yaml", "family: t5\nvocab: 10\n", None, "{p}: decoder_layers: family t5 needs decoder_layers >= 1"),
    (None, None, lambda p: ["trace", "/nonexistent/w.yaml"], "/nonexistent/w.yaml: workload file not found"),
    ("c.json", '{"model_type": "llama"', "hf", "{p}: invalid JSON at line 1, column 23: Expecting ',' delimiter"),
    ("c.json", '{"model_type": "mamba"}', "hf",
     "{p}: model_type: unsupported model_type 'mamba' (" + ", ".join(HF_TYPES) + ")"),
    ("c.json", '{"model_type": "gpt2", "n_embd": "768"}', "hf", "{p}: n_embd: must be int, got '768'"),
    ("c.json", '{"model_type": "llama", "hidden_size": 64}', "hf", "{p}: num_hidden_layers: missing field"),
    ("c.json", "[1, 2]", "hf", "{p}: expected a JSON object"),
    (None, None, lambda p: ["trace", "--hf-config", "/nonexistent/config.json"],
     "/nonexistent/config.json: config file not found"),
    (None, None, lambda p: ["trace", "gpt2", "--batch", "0"], "--batch: must be a positive integer, got 0"),
    (None, None, lambda p: ["trace"], "workload: give a workload name or path, or --hf-config"),
]


@pytest.mark.parametrize("fname,content,argv,expected", CASES)
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, fname, content, argv, expected):
    path = _write(tmp_path, fname, content) if fname else ""
    if argv is None:
        args = ["trace", path]
    elif argv == "hf":
        args = ["trace", "--hf-config", path]
    else:
        args = argv(path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("nmsim: error: " + expected.format(p=path))


def test_argparse_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["trace", "gpt2", "--by", "foo"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err == ("nmsim: error: nmsim trace: argument --by: invalid choice: 'foo' "
                   "(choose from 'op', 'role', 'layer', 'module', 'kind')\n")
