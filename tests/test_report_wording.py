"""Report wording from its inputs: the metric's name, unit and direction (and the tables' column named after it);
images vs token sequences; the priced run length in the workload's units; the findings summary."""
from __future__ import annotations

import io
import json
import re

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmsim.cli import main
from nmsim.errors import UserError
from nmsim.graph import load_workload
from nmsim.report.length import LengthOptions, human, report_length
from nmsim.report.results import load_results
from nmsim.report.wording import Metric, metric_of, sample_noun


@pytest.mark.parametrize("metric, extra, expected", [
    (None, {}, Metric("accuracy", "", True, "accuracy")),
    ("top1_pct", {}, Metric("top-1 accuracy", "%", True, "top1_pct")),
    ("perplexity", {}, Metric("perplexity", "", False, "perplexity")),
    ("val_loss", {"unit": ["nats/token"]}, Metric("val loss", "nats/token", False, "val_loss")),
    ("wer", {}, Metric("wer", "", False, "wer")),
    ("BLEU", {}, Metric("BLEU", "", True, "bleu")),
    ("GLUE score", {}, Metric("GLUE score", "", True, "glue_score")),
    ("score", {"higher_is_better": [False]}, Metric("score", "", False, "score")),
    ("plan", {}, Metric("plan", "", True, "plan_metric")),   # never clobbers another column
])
def test_metric_from_the_source(metric, extra, expected):
    acc = None if metric is None else pd.DataFrame({"plan": ["dense"], "recipe": ["dense"], "value": [1.0],
                                                     "metric": [metric], **extra})
    assert metric_of(acc) == expected


def test_one_metric_per_source():
    acc = pd.DataFrame({"plan": ["dense", "ff=2:4"], "recipe": ["dense", "sr-ste"], "value": [1.0, 2.0],
                        "metric": ["perplexity", "top1_pct"]})
    with pytest.raises(UserError, match=r"^accuracy metric: the rows name 2 metrics \(perplexity, top1_pct\)"):
        metric_of(acc)


def test_sample_noun():
    assert sample_noun(load_workload("vit-base-16")) == "image"
    assert sample_noun(load_workload("gpt2")) == "sequence of 1,024 tokens"


# ---- run length by workload kind and accuracy source ------------------------------------------------------

def test_language_model_default_is_tokens_at_the_workloads_batch():
    cfg = load_workload("gpt2")           # 124,439,808 parameters (tied head), batch 8, 1,024 tokens
    got = report_length(cfg, None, LengthOptions())
    assert got.unit == "tokens" and got.length.batch == 8 and got.length.tokens_per_sample == 1024
    # 20 tokens per parameter (Hoffmann et al. 2022) = 2,488,796,160 tokens; ceil(/ (8 x 1,024)) steps
    assert got.length.steps == 303_809 == -(-20 * 124_439_808 // 8192)
    assert got.describe() == "2.49B tokens = 303,809 steps at batch 8 x 1,024 tokens"
    assert got.origin == ("default for language models: 20 tokens per parameter x 124M parameters, the "
                          "compute-optimal ratio of Hoffmann et al. 2022")
    assert got.in_unit(10) == 10 * 8 * 1024


def test_image_model_default_is_imagenet_epochs():
    got = report_length(load_workload("vit-base-16"), None, LengthOptions())
    n = got.length
    assert (got.unit, n.epochs, n.steps_per_epoch, n.steps, n.batch) == ("epochs", 350, 313, 109_550, 4096)
    assert got.describe() == "350 epochs x 313 steps = 109,550 steps at batch 4,096 images"
    assert got.in_unit(626) == 2


def test_length_stated_by_the_source():
    t5 = report_length(load_workload("t5-base"), load_results("t5-base"), LengthOptions(), "the bundled results")
    assert (t5.unit, t5.length.steps, t5.length.batch) == ("steps", 100_000, 128)     # T5X: 100k steps, batch 128
    assert t5.describe() == "100,000 steps at batch 128 x 512 tokens = 6.55B tokens"
    assert t5.origin == "the run length of the bundled results"
    vit = report_length(load_workload("vit-base-16"), load_results("vit-b"), LengthOptions(), "the paper")
    assert vit.length.steps == 109_550 and vit.origin.startswith("the run length of the paper; an epoch is "
                                                                 "ImageNet-1K's 1,281,167 images")
    csv = pd.DataFrame({"plan": ["dense"], "recipe": ["dense"], "value": [20.0], "tokens": [1e9], "batch": [16]})
    got = report_length(load_workload("gpt2"), csv, LengthOptions())
    assert (got.length.steps, got.length.batch) == (61_036, 16)     # ceil(1e9 / (16 x 1,024))


def test_options_override_and_errors():
    gpt2 = load_workload("gpt2")
    got = report_length(gpt2, None, LengthOptions(tokens=1e12, batch=512))
    assert got.describe() == "1T tokens = 1,907,349 steps at batch 512 x 1,024 tokens" and got.origin == "as given"
    got = report_length(load_workload("vit-base-16"), None, LengthOptions(epochs=90, batch=1024))
    assert (got.length.steps_per_epoch, got.length.steps) == (1252, 112_680)
    with pytest.raises(UserError, match=r"^--steps-per-epoch: steps per epoch depend on the batch: give --batch too"):
        report_length(load_workload("vit-base-16"), None, LengthOptions(steps_per_epoch=100))
    with pytest.raises(UserError, match=r"^--dataset-size: an epoch of a text dataset has no default size"):
        report_length(gpt2, None, LengthOptions(epochs=3))
    with pytest.raises(UserError, match=r"^--tokens: give the run length once: --epochs, --steps, --samples or "
                                        r"--tokens \(got --epochs and --tokens\)"):
        report_length(gpt2, None, LengthOptions(epochs=3, tokens=1e9))
    two = pd.DataFrame({"plan": ["dense", "ff=2:4"], "recipe": ["dense", "sr-ste"], "value": [1, 2],
                        "epochs": [100, 300]})
    with pytest.raises(UserError, match=r"^accuracy epochs: the rows state different run lengths \(epochs 100, 300\)"):
        report_length(load_workload("vit-base-16"), two, LengthOptions())


def test_human():
    assert [human(v) for v in (999, 1500, 2.488796e9, 3e11, 1e12)] == ["999", "1.5K", "2.49B", "300B", "1T"]


# ---- whole reports -----------------------------------------------------------------------------------------

def _report(tmp_path, monkeypatch, workload, csv, patterns, recipes):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "acc.csv").write_text(csv)
    assert main(["report", "--workload", workload, "--accuracy", "acc.csv", "--no-train", "--patterns", patterns,
                 "--recipes", recipes, "--hardware", "a100", "--out", "rep"]) == 0
    return (tmp_path / "rep" / "report.md").read_text(), tmp_path / "rep"


IMAGENET_WORDS = ("top-1", "per image", "ImageNet", "epoch", "class token", "images", "Table 18")


def test_gpt2_report_speaks_perplexity_and_tokens(tmp_path, monkeypatch, capsys):
    md, rep = _report(tmp_path, monkeypatch, "gpt2",
                      "plan,recipe,value,metric\ndense,dense,29.4,perplexity\nff=2:4,sr-ste,31.0,perplexity\n"
                      "ff=2:4,mdgf-exp,29.3,perplexity\n", "dense,ff=2:4", "dense,sr-ste,mdgf-exp")
    lines = md.splitlines()
    assert lines[2] == (
        "Workload `gpt2`, costs per sequence of 1,024 tokens; perplexity (lower is better) from acc.csv; training "
        "priced over 2.49B tokens = 303,809 steps at batch 8 x 1,024 tokens (default for language models: 20 tokens "
        "per parameter x 124M parameters, the compute-optimal ratio of Hoffmann et al. 2022); inference at batch 8; "
        "accelerators priced at bf16 where supported.")
    findings = lines[lines.index("## Findings") + 2]
    speedup = pd.read_csv(rep / "hardware.csv").set_index("plan").loc["ff=2:4", "speedup_vs_dense"]
    assert findings == (
        "Cheapest training: sr-ste at ff=2:4 costs 0.934x the dense training FLOPs. Best perplexity: mdgf-exp at "
        "ff=2:4, 29.3 (lower is better), at 0.951x dense training FLOPs. 1 of 2 sparse recipe x plan rows match or "
        f"beat dense perplexity (29.4) within the dense FLOP budget. Largest inference speedup over dense: "
        f"{speedup:.2f}x (ff=2:4 on a100-sxm4-80gb).")
    assert md.index("## Findings") < md.index("## Headline: perplexity, inference and training cost")
    for title in ("## Perplexity vs training FLOPs", "## Perplexity vs inference FLOPs",
                  "*Perplexity vs priced training FLOPs (dashed: the dense training budget).*"):
        assert title in md
    assert "Dense budget: dense training over 2.49B tokens = 303,809 steps at batch 8 x 1,024 tokens." in md
    assert "One forward pass at batch 8 (sequences of 1,024 tokens)" in md
    assert "| recipe | plan | inference_gflops | train_flops_rel_dense | perplexity | pareto |" in md
    assert "| mdgf-exp | ff=2:4 | 0.951 | 2.62B | 29.300 | -0.100 | yes | 0.951 | 4.9 |" in md
    for word in IMAGENET_WORDS:
        assert word not in md, word
    rest = md
    for allowed in ("accuracy_", "--accuracy", "Fig. 4b plots accuracy", "Reference trainer: accuracy"):
        rest = rest.replace(allowed, "")   # file names, the option, the paper's figure, the trainer's own metric
    assert "accuracy" not in rest.lower()
    assert md.rstrip().endswith("Generated by `nmsim report`.") and "Bambhaniya" not in md
    head = pd.read_csv(rep / "headline.csv").set_index("recipe")
    assert "accuracy" not in head and head.loc["dense", "perplexity"] == 29.4
    # lower perplexity is better: at equal inference FLOPs mdgf-exp (29.3) dominates sr-ste (31.0) and dense
    assert head["pareto"].to_dict() == {"dense": False, "sr-ste": False, "mdgf-exp": True}
    iso = pd.read_csv(rep / "iso_flop.csv").set_index("recipe")
    assert list(iso.columns[:4]) == ["plan", "train_flops_rel_dense", "tokens_at_dense_budget", "perplexity"]
    assert iso.loc["mdgf-exp", "reaches_dense"] and not iso.loc["sr-ste", "reaches_dense"]
    assert iso.loc["sr-ste", "delta_vs_dense_at_equal_flops"] == pytest.approx(1.6)
    # the dense budget affords more tokens to the cheaper recipe, in whole steps of 8 x 1,024 tokens
    assert 303_809 * 8192 < iso.loc["mdgf-exp", "tokens_at_dense_budget"] < iso.loc["sr-ste", "tokens_at_dense_budget"]
    phases = pd.read_csv(rep / "training_phases.csv")
    assert phases.groupby(["recipe", "plan"])["steps"].sum().eq(303_809).all()
    # same question, same number: nmsim budget over the same tokens at the same batch
    capsys.readouterr()
    assert main(["budget", "gpt2", "--sparsity", "ff=2:4", "--recipes", "dense,sr-ste,mdgf-exp", "--tokens",
                 str(20 * 124_439_808), "--format", "json"]) == 0
    budget = pd.read_json(io.StringIO(capsys.readouterr().out)).set_index("recipe")
    for recipe in ("sr-ste", "mdgf-exp"):
        assert head.loc[recipe, "train_flops"] == pytest.approx(budget.loc[recipe, "train_flops"], rel=1e-5)
        assert iso.loc[recipe, "tokens_at_dense_budget"] == pytest.approx(
            budget.loc[recipe, "budget_epochs"] * 8 * 1024, rel=1e-5)     # steps affordable x batch x tokens
    # the interactive page: same column, labels and direction (its fronts minimise perplexity)
    page = (rep / "index.html").read_text()
    blob = json.loads(re.findall(r'<script type="application/json" id="nmsim-data">(.*?)</script>', page, re.S)[0])
    charts = {c["id"]: c for c in blob["charts"]}
    for name in ("chart-accuracy-vs-training-flops", "chart-accuracy-vs-inference-flops",
                 "chart-accuracy-latency-energy"):
        chart = charts[name]
        assert chart["y"] == ["perplexity"] and chart["pareto"][1] == "min"
        assert chart["labels"]["perplexity"] == "perplexity (lower is better)"
        assert chart["title"].startswith("Perplexity vs") and chart["title"].endswith("lower perplexity)")
    assert charts["chart-accuracy-vs-training-flops"]["lines"][1] == {"axis": "y", "value": 29.4,
                                                                      "label": "dense perplexity"}
    assert charts["chart-accuracy-vs-inference-flops"]["labels"]["inference_gflops"] == \
        "inference GFLOPs per sequence of 1,024 tokens"
    text = re.sub(r"<script.*?</script>", "", page, flags=re.S)
    for word in IMAGENET_WORDS:
        assert word not in text, word


def test_bert_glue_like_report(tmp_path, monkeypatch):
    md, rep = _report(tmp_path, monkeypatch, "bert-base",
                      "plan,recipe,value,metric,steps,batch\ndense,dense,82.1,GLUE score,10000,32\n"
                      "ff=1:4,sr-ste,80.5,GLUE score,10000,32\nff=1:4,sdgf-stepwise,81.0,GLUE score,10000,32\n",
                      "dense,ff=1:4", "sr-ste,sdgf-stepwise")
    assert md.splitlines()[2] == (
        "Workload `bert-base`, costs per sequence of 128 tokens; GLUE score (higher is better) from acc.csv; training "
        "priced over 10,000 steps at batch 32 x 128 tokens = 41M tokens (the run length of acc.csv); inference at "
        "batch 32; accelerators priced at bf16 where supported.")
    assert ("Best GLUE score: dense at dense, 82.1 (higher is better), at 1.000x dense training FLOPs. 0 of 2 sparse "
            "recipe x plan rows match or beat dense GLUE score (82.1) within the dense FLOP budget.") in md
    assert "## GLUE score vs training FLOPs" in md and "`steps_at_dense_budget`: how many steps" in md
    for word in IMAGENET_WORDS + ("perplexity", "lower is better"):
        assert word not in md, word
    iso = pd.read_csv(rep / "iso_flop.csv")
    assert "glue_score" in iso and "steps_at_dense_budget" in iso


def test_vit_report_speaks_top1_and_epochs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["report", "--no-train", "--patterns", "dense,ff=1:8", "--recipes", "sr-ste,mdgf-exp", "--hardware",
                 "a100", "--out", "rep"]) == 0
    md = (tmp_path / "rep" / "report.md").read_text()
    assert md.splitlines()[2] == (
        "Workload `vit-base-16`, costs per image; top-1 accuracy (%, higher is better) from bundled paper results "
        "(ViT-B/16, ImageNet-1K, top1_pct); training priced over 350 epochs x 313 steps = 109,550 steps at batch "
        "4,096 images (the run length of the bundled paper results; an epoch is ImageNet-1K's 1,281,167 images); "
        "inference at batch 256; accelerators priced at bf16 where supported.")
    assert "## Top-1 accuracy vs training FLOPs" in md and "`epochs_at_dense_budget`: how many epochs" in md
    assert "Best top-1 accuracy: mdgf-exp at ff=1:8, 78.01% (higher is better)" in md
    assert "tokens" not in md and "perplexity" not in md
    assert md.rstrip().endswith("Generated by `nmsim report`.") and "Accuracy data:" not in md
    assert "Top-1 accuracy data: A. Bambhaniya" in md


def test_report_without_accuracy_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["report", "--workload", "gpt2", "--no-train", "--patterns", "dense,ff=2:4", "--recipes", "sr-ste",
                 "--hardware", "a100", "--out", "rep"]) == 0
    md = (tmp_path / "rep" / "report.md").read_text()
    assert md.splitlines()[2].startswith("Workload `gpt2`, costs per sequence of 1,024 tokens; no accuracy (no bundled "
                                         "paper results for gpt2; give --accuracy a CSV or a runs folder); training "
                                         "priced over 2.49B tokens = 303,809 steps")
    assert "No accuracy for this workload: the tables give cost only." in md


@settings(max_examples=60, deadline=None)
@given(tokens=st.floats(1e3, 1e13), batch=st.integers(1, 4096), epochs=st.floats(1, 1000),
       image_batch=st.integers(1, 65536))
def test_run_length_invariants(tokens, batch, epochs, image_batch):
    gpt2 = _GPT2
    got = report_length(gpt2, None, LengthOptions(tokens=tokens, batch=batch), params=1)
    per_step = batch * 1024
    assert got.length.steps * per_step >= tokens > (got.length.steps - 1) * per_step      # the fewest whole steps
    assert got.in_unit(got.length.steps) == got.length.tokens
    vit = report_length(_VIT, None, LengthOptions(epochs=epochs, batch=image_batch))
    spe = -(-1_281_167 // image_batch)                                              # the last partial batch kept
    assert vit.length.steps_per_epoch == spe and vit.length.steps == round(epochs * spe)
    assert vit.in_unit(vit.length.steps) == pytest.approx(vit.length.epochs)


_GPT2, _VIT = load_workload("gpt2"), load_workload("vit-base-16")
