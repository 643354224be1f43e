"""What a new user sees first: --version, parameter counts, what was priced, padded FLOPs explained, table units."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from nmsim import __version__
from nmsim.bands import BANDS_FILE
from nmsim.cli import main
from nmsim.cli.table import duration, human, render_table


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out == f"nmsim {__version__}\n"


def test_trace_states_parameters(capsys):
    assert main(["trace", "gpt2", "--seq", "64", "--batch", "2"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    # GPT-2 small: 124,439,808 parameters, 39.5M of them in the (tied) token and position embeddings, norms, biases
    assert first == "# gpt2 forward, batch 2 x 64 tokens: 124.4M parameters (39.5M embeddings/norms/biases)"


def test_hf_config_wherever_a_workload_goes(tmp_path, capsys):
    cfg = {"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 256, "num_attention_heads": 4,
           "num_key_value_heads": 2, "intermediate_size": 512, "vocab_size": 1000, "max_position_embeddings": 8192}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    from nmsim.graph import load_workload
    assert load_workload(str(path)).seq_len == 8192  # the model's context, not capped at 4096
    assert main(["price", str(path), "--hardware", "a100", "--seq", "128", "--batch", "1", "--format", "csv"]) == 0
    assert main(["budget", str(path), "--sparsity", "ff=2:4", "--recipes", "sr-ste", "--steps", "10",
                 "--format", "csv"]) == 0


def test_decode_padding_is_explained(capsys):
    assert main(["price", "gpt2", "--hardware", "a100", "--mode", "decode", "--batch", "1", "--context", "128",
                 "--sparsity", "ff=2:4"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# priced: gpt2 decode, batch 1, 1 new token over a 128-token KV cache, on a100-sxm4-80gb")
    assert "x nominal: kernels run whole tiles, so padding counts as executed work" in out
    assert main(["price", "gpt2", "--hardware", "a100", "--batch", "1", "--seq", "64", "--columns",
                 "role,seconds,energy_joules"]) == 0
    table = capsys.readouterr().out.splitlines()
    # every time printed carries its 80 % band: a chosen time brings its band along in a table
    assert [line.split() for line in table if line.strip().startswith("role")] == [
        ["role", "time", "time_80%", "energy"]]
    assert max(map(len, out.splitlines())) <= 100


def test_band_heading_is_a_column_name(capsys):
    """The heading a table shows for a band (``time_80%``) is accepted by ``--columns``: the table shows the figure
    and its band, CSV the band's raw bounds (it was refused: "no column 'time_80%'")."""
    argv = ["price", "gpt2", "--hardware", "a100", "--batch", "1", "--seq", "64", "--columns"]
    assert main([*argv, "role,time_80%"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert [line.split() for line in table if line.strip().startswith("role")] == [["role", "time", "time_80%"]]
    assert main([*argv, "time,time_80%", "--format", "csv"]) == 0
    csv = capsys.readouterr().out.splitlines()
    assert csv[0] == "role,seconds,seconds_lo,seconds_hi,band_level,band_rows"
    role, seconds, lo, hi, level, rows = csv[-1].split(",")
    assert role == "total" and float(lo) < float(seconds) < float(hi) and level == "inference step"
    assert main([*argv, "seconds", "--format", "csv"]) == 0   # CSV keeps exactly the columns asked for
    assert capsys.readouterr().out.splitlines()[0] == "role,seconds"


def test_human_units_and_width():
    df = pd.DataFrame({"recipe": ["a", "b"], "seconds": [0.0123, 279_000.0], "energy_joules": [5.1e-7, 1.2e8],
                       "train_flops": [4.74e19, 3e3], "vs_dense": [1.0, 0.8018], "weight_bytes": [2**31, 10],
                       "phases": ["x " * 80, "short"]})
    shown = human(df)
    assert list(shown.columns) == ["recipe", "time", "energy", "train_flops", "vs_dense", "weight_bytes", "phases"]
    assert shown["time"].tolist() == ["12.3 ms", "77.5 h"]
    assert shown["energy"].tolist() == ["510 nJ", "120 MJ"]
    assert shown["train_flops"].tolist() == ["47.4 EFLOP", "3 kFLOP"]
    assert shown["weight_bytes"].tolist() == ["2 GiB", "10 B"]
    text = render_table(df, index=False)
    assert max(map(len, text.splitlines())) <= 100 and "phases:" in text
    assert duration(3 * 86400 * 10) == "30 d"


def _small_llama(tmp_path):
    cfg = {"model_type": "mistral", "num_hidden_layers": 2, "hidden_size": 256, "num_attention_heads": 4,
           "num_key_value_heads": 2, "intermediate_size": 512, "vocab_size": 1000, "max_position_embeddings": 8192}
    path = tmp_path / "my-model" / "config.json"   # the workload is named after its folder
    path.parent.mkdir()
    path.write_text(json.dumps(cfg))
    return str(path)


def test_hf_config_option_in_every_workload_command(tmp_path, capsys):
    """``--hf-config X`` is the same workload as ``X`` in price, compare, budget, export and report."""
    path = _small_llama(tmp_path)
    for argv in (["price", "--hardware", "a100", "--seq", "64", "--batch", "1", "--format", "csv"],
                 ["compare", "--hardware", "a100", "--patterns", "dense,2:4", "--seq", "64", "--format", "csv"],
                 ["budget", "--sparsity", "ff=2:4", "--recipes", "sr-ste", "--tokens", "1e6", "--batch", "4",
                  "--seq", "64", "--format", "csv"]):
        assert main([argv[0], path, *argv[1:]]) == 0
        positional = capsys.readouterr().out
        assert main([argv[0], "--hf-config", path, *argv[1:]]) == 0
        assert capsys.readouterr().out == positional
    from nmsim.cli import build_parser
    from nmsim.api.options import merge_workload
    for argv, want in ((["report", "--hf-config", path], path), (["report"], "vit-base-16"),
                       (["export", "--hf-config", path, "--format", "scalesim", "--out", "x"], path)):
        args = build_parser().parse_args(argv)
        merge_workload(args)
        assert args.workload == want


def test_budget_seq_sets_tokens_per_step(tmp_path, capsys):
    path = _small_llama(tmp_path)
    assert main(["budget", path, "--sparsity", "ff=2:4", "--recipes", "sr-ste", "--tokens", "1e6", "--batch", "4",
                 "--seq", "64"]) == 0
    out = capsys.readouterr().out.splitlines()
    # 1e6 tokens at 4 x 64 tokens per step: 3,907 steps (the last one partly filled)
    assert out[0].startswith("# priced: my-model training step (adamw), batch 4 x 64 tokens")
    assert out[1].startswith("# run: 3,907 steps")
    assert out[2] == "# attention at full T x T: the causal mask's upper half is counted and timed (as FlopCounterMode)"
    assert out[3].endswith("dense warm-up 0, fine-tune 0; budget=dense over the run")
    assert out[4].split()[:6] == ["recipe", "pattern", "train_flops", "vs_dense", "vs_srste", "budget_steps"]


@pytest.mark.parametrize("argv", [["price", "gpt2", "--hf-config", "x/config.json", "--hardware", "a100"],
                                  ["report", "--workload", "gpt2", "--hf-config", "x/config.json"]])
def test_workload_given_twice_is_an_error(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == "nmsim: error: --hf-config: give the workload once: 'gpt2' or --hf-config 'x/config.json'\n"


def test_mistral_7b_is_bundled_with_its_published_shape():
    from nmsim.graph import load_workload, parameter_counts
    from nmsim.graph.workloads import from_hf_config
    bundled = load_workload("mistral-7b")
    # Jiang et al. 2023 Table 1 / mistralai/Mistral-7B-v0.1: 7,241,732,096 parameters (untied head)
    assert parameter_counts(bundled)["total"] == 7_241_732_096
    example = from_hf_config("examples/mistral-7b/config.json")
    assert parameter_counts(example)["total"] == 7_241_732_096
    assert (bundled.kv_heads, bundled.head_dim, bundled.ffn, bundled.vocab, bundled.seq_len) == (8, 128, 14336,
                                                                                                32000, 4096)
    assert example.replace(seq_len=4096, head_dim=128, name="mistral-7b", source=bundled.source) == bundled


def test_cluster_token_counts_round_before_picking_the_unit():
    from nmsim.cluster.text import _count
    assert [_count(x) for x in (999.99e9, 1.09e12, 999.4e9, 12)] == ["1T", "1.09T", "999B", "12"]


@pytest.mark.parametrize("argv,head", [
    (["gpt2", "--mode", "prefill", "--context", "512"], "# priced: gpt2 prefill, batch 8 x 512 tokens, on a100"),
    (["gpt2", "--mode", "training", "--seq", "256", "--batch", "4"], "# priced: gpt2 training, batch 4 x 256 tokens,"),
    (["gpt2", "--batch", "2"], "# priced: gpt2 inference, batch 2 x 1,024 tokens, on"),
    (["vit-base-16", "--batch", "8"], "# priced: vit-base-16 inference, batch 8 x 197 tokens (224px images), on a100")])
def test_price_says_batch_and_tokens(argv, head, capsys):
    assert main(["price", *argv, "--hardware", "a100", "--columns", "role,seconds"]) == 0
    assert capsys.readouterr().out.startswith(head)


def test_sweep_says_a_fitted_k_once_per_plan(tmp_path, capsys):
    from nmsim.train import loop
    loop._NOTES_SAID.clear()
    assert main(["sweep", "--task", "digits", "--recipes", "sdgf-geometric", "--patterns", "1:16", "--seeds", "2",
                 "--epochs", "1", "--out", str(tmp_path / "runs")]) == 0
    err = capsys.readouterr().err
    assert err.count("nmsim: note: ff=1:16: sdgf-geometric uses k=4: the paper's k=16 does not fit") == 1


def _inference_band() -> dict:
    """The shipped inference-step band (its values are pinned by test_bands against the scored rows)."""
    return yaml.safe_load(BANDS_FILE.read_text())["levels"]["inference step"]


def test_price_sweep_starts_with_what_it_priced(capsys):
    argv = ["price", "gpt2", "--hardware", "a100", "--mode", "decode", "--batch", "1,16", "--context", "256,512"]
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("# priced: gpt2 decode on a100-sxm4-80gb bf16, plan dense: 4 shapes (batch 1..16, context "
                      "256..512)")
    assert out[1].startswith("# device prices: a100-sxm4-80gb $5.12/h (AWS EC2 p4de.24xlarge")
    table = [line for line in out if not line.startswith("#")]
    assert table[0].split()[:2] == ["batch", "context"] and "$/M_tokens" in table[0].split()
    assert main(argv[:4] + ["--batch", "4", "--seq", "64,128", "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("mode,")
    assert [line for line in err.splitlines() if line.startswith("#")][0] == ("# priced: gpt2 inference on a100-sxm4-80gb bf16, plan dense: 2 shapes (batch 4, "
                                   "seq 64..128)")
    assert err.splitlines()[-4].startswith("#   us-east-1")
    assert err.splitlines()[-3].startswith("# attention at full T x T: the causal mask's upper half is counted")
    band = _inference_band()   # the shipped band file's values: pinned there, its format here
    assert err.splitlines()[-2] == ("# 80 % band, measured / predicted (time, energy, $; rates inverse): "
                                    f"x{band['lo']:.2f}-{band['hi']:.2f} (inference step, {band['rows']}")


def test_hardware_names_ignore_case_and_epochs_alone_say_one_step_each(capsys):
    from nmsim.hardware import load
    assert load("A100").name == load("a100").name == "a100-sxm4-80gb" and load("H100-SXM5").name == "h100-sxm5"
    assert main(["budget", "gpt2", "--sparsity", "ff=2:4", "--epochs", "3", "--recipes", "sr-ste"]) == 0
    head = capsys.readouterr().out.split("\n# attention")[0]
    assert " ".join(head.replace("#   ", "").split()).endswith(
        "# run: 3 steps; 24 samples, 24.58k tokens (3 epochs of one step each: give --dataset-size for epochs of data)")


def test_compare_says_batch_and_tokens(capsys):
    assert main(["compare", "gpt2", "--hardware", "a100", "--patterns", "dense,2:4"]) == 0
    assert capsys.readouterr().out.startswith("# priced: gpt2 inference, batch 8 x 1,024 tokens, ff=PATTERN,")


def test_report_with_a_csv_prices_its_plans_and_recipes(tmp_path, capsys):
    csv = tmp_path / "mine.csv"
    csv.write_text('plan,recipe,value,metric\ndense,dense,10.0,perplexity\n"ff=1:8,qkv=1:4",mdgf-exp,10.9,perplexity\n')
    assert main(["report", "--workload", "trainer-gpt2-chars", "--accuracy", str(csv), "--hardware", "a100",
                 "--no-train", "--out", str(tmp_path / "rep")]) == 0
    head = pd.read_csv(tmp_path / "rep" / "headline.csv")
    assert list(zip(head["recipe"], head["plan"])) == [("dense", "dense"), ("mdgf-exp", "ff=1:8,qkv=1:4")]
    assert list(head["perplexity"]) == [10.0, 10.9]
    assert (tmp_path / "rep" / "report.md").read_text().startswith("# nmsim report: rep\n")   # titled after --out


def test_price_memory_starts_with_what_it_priced(capsys):
    assert main(["price", "gpt2", "--hardware", "a100", "--mode", "decode", "--context", "512", "--batch", "2",
                 "--memory"]) == 0
    out = capsys.readouterr().out
    assert " ".join(out.split("\n component")[0].split("component")[0].replace("#   ", "").split()).startswith(
        "# priced: gpt2 decode memory, batch 2, 1 new token over a 512-token KV cache, plan dense, bf16 on "
        "a100-sxm4-80gb: ")
    assert " GiB of 74.5 GiB - fits" in out
