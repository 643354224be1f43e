"""Report figures: point labels never overlap (checked on the Agg renderer), categorical palettes, legends only
for what is drawn, plain log ticks, plans in their text form."""
from __future__ import annotations

import itertools

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Annotation, Text

from nmsim.report import figures as F
from nmsim.report.labels import place_labels

matplotlib.use("Agg")


def _boxes(fig):
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    # the text's own box (an Annotation's window extent also covers its leader line)
    return [(a.get_text(), Text.get_window_extent(a, r)) for ax in fig.axes for a in ax.texts
            if isinstance(a, Annotation)]


def _no_overlap(boxes):
    for (ta, a), (tb, b) in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), f"labels {ta!r} and {tb!r} overlap"


def _head_from_paper():
    """The bundled ViT-B/16 results with synthetic but clustered training-FLOP ratios (50 labelled points)."""
    from nmsim.report.results import load_results

    df = load_results("vit-b")
    rng = np.random.default_rng(0)
    rel = {"dense": 1.0, "sr-ste": .80, "mdgf-linear": .82, "mdgf-exp": .93, "sdgf-stepwise": .87,
           "sdgf-geometric": .80}
    return pd.DataFrame({"recipe": df["recipe"], "plan": df["plan"], "top1_pct": df["value"],
                         "train_flops_rel_dense": [rel[r] + rng.normal(0, .01) * (r != "dense") for r in df["recipe"]],
                         "inference_gflops": 12.5 + 22.2 * rng.random(len(df)), "pareto": rng.random(len(df)) < .3})


def test_accuracy_vs_training_labels_do_not_overlap():
    head = _head_from_paper()
    fig = F.accuracy_vs_training(head, "top-1 accuracy (%, higher is better)", "top1_pct")
    boxes = _boxes(fig)
    assert len(boxes) == len(head)             # every point labelled, dense included
    assert sorted(t for t, _ in boxes) == sorted(head["plan"])
    _no_overlap(boxes)
    r = fig.canvas.get_renderer()
    frame = fig.axes[0].get_window_extent(r)
    legend = fig.axes[0].get_legend().get_window_extent(r)
    for text, box in boxes:
        assert frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1), text
        assert not box.overlaps(legend), text
    # the same at another dpi (offsets are in points)
    fig.set_dpi(150)
    _no_overlap(_boxes(fig))


def test_accuracy_vs_inference_front_labels_do_not_overlap():
    head = _head_from_paper()
    fig = F.accuracy_vs_inference(head, "top-1 accuracy (%, higher is better)", "image", "top1_pct")
    boxes = _boxes(fig)
    assert len(boxes) == int(head["pareto"].sum())
    _no_overlap(boxes)


def test_place_labels_on_a_pile_of_points():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    xs, ys = np.repeat([1.0, 1.01, 1.02], 6), np.tile(np.linspace(0, .05, 6), 3)   # 18 points in a small pile
    ax.scatter(xs, ys)
    ax.set_xlim(0.5, 1.5)
    ax.set_ylim(-1, 1)
    out = place_labels(ax, xs, ys, [f"ff=1:{2 ** k}" for k in range(18)])
    assert len(out) == 18
    _no_overlap(_boxes(fig))
    assert any(a.arrow_patch is not None for a in out)    # the far ones point back to their points
    assert place_labels(ax, [np.nan], [1.0], ["x"]) == []


def test_training_phases_legend_only_for_drawn_bars():
    phases = pd.DataFrame({"recipe": ["sr-ste", "sr-ste", "dense"], "plan": ["ff=1:8", "ff=1:8", "ff=1:8"],
                           "phase": ["sparse", "finetune", "dense"], "flops_rel_dense": [.7, .1, 1.0]})
    fig = F.training_phases(phases)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert sorted(labels) == ["dense", "finetune", "sparse"]           # no "decay": no bar has it
    assert fig.axes[0].get_title() == "ff=1:8"


def test_latency_energy_qualitative_palette_and_plain_ticks():
    plans = ["dense", "ff=2:4", "ff=1:4", "ff=1:8", "ff=1:16", "ff=1:32", "ff=1:128", "ff=1:4,qk=1:4",
             "ff=1:8,qk=1:8", "ff=1:8,qk=1:4", "ff=1:8,qkv=1:4"]
    hw = pd.DataFrame([{"hardware": h, "plan": p, "latency_ms": 6.0 * (i + 1), "energy_j": 2.0 + i}
                       for h in ("a100", "h100") for i, p in enumerate(plans)])
    fig = F.latency_energy(hw)
    colors = {tuple(np.round(p.get_facecolor(), 3)) for p in fig.axes[0].patches}
    assert len(colors) == 11                                         # 11 distinguishable categories
    assert [t.get_text() for t in fig.legends[0].get_texts()] == plans
    fig.canvas.draw()
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels(minor=False) + fig.axes[0].get_yticklabels(minor=True)
             if t.get_text()]
    assert ticks and not any("10^" in t or "times" in t for t in ticks)


@pytest.mark.parametrize("pattern", ["ff=1:16", "ff=1:8,qk=1:4"])
def test_sweep_curves_plan_labels(pattern):
    curves = pd.DataFrame({"task": "digits", "recipe": ["dense", "dense", "sr-ste", "sr-ste"],
                           "pattern": ["dense", "dense", pattern, pattern], "seed": 0, "step": [1, 2, 1, 2],
                           "train_flops": [1.0, 2.0, .8, 1.6], "accuracy": [.5, .7, .5, .6],
                           "folder": ["a", "a", "b", "b"]})
    fig = F.sweep_curves(curves, 2.0)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[:2] == ["dense", f"sr-ste {pattern}"]


def test_short_log_axis_still_has_labels():
    hw = pd.DataFrame([{"hardware": "a100", "plan": p, "latency_ms": v, "energy_j": v / 2}
                       for p, v in (("dense", 50.0), ("ff=2:4", 31.0), ("ff=1:8", 26.0))])
    fig = F.latency_energy(hw)
    fig.canvas.draw()
    ax = fig.axes[0]
    ticks = [t.get_text() for t in ax.get_yticklabels(minor=False) + ax.get_yticklabels(minor=True) if t.get_text()]
    assert {"30", "40", "50"} <= set(ticks) and not any("10^" in t or "times" in t for t in ticks)
