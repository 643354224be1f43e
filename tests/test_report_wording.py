"""Report wording from its inputs: the metric's name, unit and direction; images vs token sequences; findings."""
from __future__ import annotations

import pandas as pd
import pytest

from nmsim.cli import main
from nmsim.graph import load_workload
from nmsim.report.wording import Metric, metric_of, sample_noun


@pytest.mark.parametrize("metric, extra, expected", [
    (None, {}, Metric("top-1 accuracy", "%", True)),
    ("top1_pct", {}, Metric("top-1 accuracy", "%", True)),
    ("perplexity", {}, Metric("perplexity", "", False)),
    ("val_loss", {"unit": ["nats/token"]}, Metric("val loss", "nats/token", False)),
    ("wer", {}, Metric("wer", "", False)),
    ("bleu", {}, Metric("bleu", "", True)),
    ("score", {"higher_is_better": [False]}, Metric("score", "", False)),
])
def test_metric_from_the_source(metric, extra, expected):
    acc = None if metric is None else pd.DataFrame({"plan": ["dense"], "recipe": ["dense"], "value": [1.0],
                                                     "metric": [metric], **extra})
    assert metric_of(acc) == expected


def test_sample_noun():
    assert sample_noun(load_workload("vit-base-16")) == "image"
    assert sample_noun(load_workload("gpt2")) == "sequence of 1,024 tokens"


def test_gpt2_report_speaks_perplexity(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ppl.csv").write_text("plan,recipe,value,metric\ndense,dense,29.4,perplexity\n"
                                      "ff=2:4,sr-ste,31.0,perplexity\nff=2:4,mdgf-exp,29.3,perplexity\n")
    assert main(["report", "--workload", "gpt2", "--accuracy", "ppl.csv", "--no-train", "--patterns",
                 "dense,ff=2:4", "--recipes", "dense,sr-ste,mdgf-exp", "--hardware", "a100", "--out", "rep"]) == 0
    md = (tmp_path / "rep" / "report.md").read_text()
    assert ("Workload `gpt2`, costs per sequence of 1,024 tokens; perplexity (lower is better) from ppl.csv; "
            "training priced over") in md
    assert md.index("## Findings") < md.index("## Headline")
    assert "Best perplexity: mdgf-exp at ff=2:4, 29.3 (lower is better)" in md
    assert "1 of 2 sparse recipe x plan rows match dense perplexity (29.4) within the dense FLOP budget" in md
    assert "top-1" not in md and "per image" not in md
    head = pd.read_csv(tmp_path / "rep" / "headline.csv").set_index("recipe")
    # lower perplexity is better: at equal inference FLOPs mdgf-exp (29.3) dominates sr-ste (31.0) and dense
    assert head["pareto"].to_dict() == {"dense": False, "sr-ste": False, "mdgf-exp": True}
