"""report --accuracy runs/: runs of different lengths, tasks or setups are never one point, each sparse run is set
against the dense runs of the same task, run length and setup, and runs without one are listed, not compared."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from nmsim.curves.runs import baselines, load_curves, seed_bands, unmatched
from nmsim.report.trainer_section import sweep_table


def _run(root, sweep, task, recipe, plan, seed, epochs, curve, lr=0.003):
    """A fabricated run folder: config.json as the trainer writes it, one metrics row per (flops, accuracy)."""
    folder = root / sweep / task / recipe / plan.replace(":", "_").replace("=", "") / f"seed{seed}"
    folder.mkdir(parents=True)
    config = {"task": task, "recipe": recipe, "sparsity": {} if recipe == "dense" else {"ff": plan.split("=")[1]},
              "seed": seed, "epochs": epochs, "batch": 32, "lr": lr, "weight_decay": 0.05, "warmup_frac": 0.05,
              "min_lr_frac": 0.0, "dense_frac": 0.0, "finetune_frac": 0.0, "direction": "row", "recipe_params": {},
              "workload": f"trainer-{task}", "threads": 1, "eval_every": 0, "checkpoint_every": 0}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "metrics.jsonl").write_text("".join(
        json.dumps({"step": 10 * (i + 1), "epoch": (i + 1) * epochs / len(curve), "train_flops": f,
                    "accuracy": a, "loss": 1 - a}) + "\n" for i, (f, a) in enumerate(curve)))


@pytest.fixture
def runs(tmp_path):
    root = tmp_path / "runs"
    for seed in (0, 1):
        bump = 0.01 * seed
        # a short and a long sweep of the same task: dense spends 100 and 200 FLOPs
        _run(root, "short", "digits", "dense", "dense", seed, 2, [(50, .60 + bump), (100, .80 + bump)])
        _run(root, "short", "digits", "sr-ste", "ff=1:8", seed, 2, [(40, .70 + bump), (80, .78 + bump)])
        _run(root, "long", "digits", "dense", "dense", seed, 4, [(100, .80 + bump), (200, .90 + bump)])
        _run(root, "long", "digits", "sr-ste", "ff=1:8", seed, 4, [(75, .85 + bump), (150, .92 + bump)])
    # no dense run of this task, nor of this setup (another learning rate): listed, not compared
    _run(root, "other", "chars", "sr-ste", "ff=1:8", 0, 2, [(40, .30), (80, .40)])
    _run(root, "lr", "digits", "sr-ste", "ff=1:8", 0, 2, [(40, .50), (80, .70)], lr=0.01)
    return root


def test_lengths_tasks_and_setups_are_separate_points(runs):
    curves = load_curves(runs)
    assert set(curves["length"]) == {"2 epochs at batch 32", "4 epochs at batch 32"}
    # only a key that differs between runs of one task is named (chars has one setup)
    assert set(zip(curves["task"], curves["setup"])) == {("digits", "lr=0.003"), ("digits", "lr=0.01"), ("chars", "")}
    assert set(curves["variant"]) == {""}
    points = baselines(curves)
    assert len(points) == 6 and points["seeds"].tolist().count(2) == 4
    alone = unmatched(curves)
    assert sorted(zip(alone["task"], alone["length"], alone["setup"])) == [
        ("chars", "2 epochs at batch 32", ""), ("digits", "2 epochs at batch 32", "lr=0.01")]
    bands = seed_bands(curves)
    assert len(bands) == 6 * 2 and bands["seeds"].max() == 2


def test_each_sparse_point_against_the_dense_runs_of_its_own_length(runs):
    st = sweep_table(load_curves(runs)).set_index(["task", "length", "setup", "recipe"])
    short = st.loc[("digits", "2 epochs at batch 32", "lr=0.003", "sr-ste")]
    long = st.loc[("digits", "4 epochs at batch 32", "lr=0.003", "sr-ste")]
    assert short["runs"] == 2 and long["runs"] == 2                   # two seeds each, never four
    assert short["accuracy_pct"] == pytest.approx(78.5) and long["accuracy_pct"] == pytest.approx(92.5)
    assert short["train_flops_rel_dense"] == pytest.approx(80 / 100)     # against the 2-epoch dense run
    assert long["train_flops_rel_dense"] == pytest.approx(150 / 200)     # against the 4-epoch dense run
    # the long sr-ste runs pass the long dense final accuracy (0.90 / 0.91) between 75 and 150 FLOPs;
    # the short ones never reach theirs (0.80 / 0.81)
    assert 75 / 200 < long["flops_to_dense_accuracy_rel"] < 150 / 200
    assert np.isnan(short["flops_to_dense_accuracy_rel"])
    for key in (("chars", "2 epochs at batch 32", "", "sr-ste"),
                ("digits", "2 epochs at batch 32", "lr=0.01", "sr-ste")):
        assert np.isnan(st.loc[key, "train_flops_rel_dense"]) and not st.loc[key, "dense_baseline"]
    assert st["dense_baseline"].sum() == 4


def test_report_with_runs_folder(runs, tmp_path):
    from nmsim.report.study import StudyOptions, run_study

    out = run_study(StudyOptions(patterns="1:8", recipes="sr-ste", hardware="ideal-nm", accuracy=str(runs)),
                    tmp_path / "rep", echo=lambda *_: None)
    md = (out / "report.md").read_text()
    assert "2 sparse point(s) have no dense run of the same task, run length and setup" in md
    findings = md.split("## Findings")[1].split("##")[0]
    # each seed's difference to dense is the same (-2 and +2 points): intervals of zero width
    assert ("Reference trainer (digits, 2 epochs at batch 32, lr=0.003): the sparse point with the highest mean "
            "accuracy is sr-ste at ff=1:8, 78.50% over 2 seeds with 0.800x the dense runs' training FLOPs (dense "
            "80.50%; against dense, paired by seed, -2.00 points, 95% interval [-2.00, -2.00]).") in findings
    assert ("Reference trainer (digits, 4 epochs at batch 32, lr=0.003): the sparse point with the highest mean "
            "accuracy is sr-ste at ff=1:8, 92.50% over 2 seeds with 0.750x the dense runs' training FLOPs (dense "
            "90.50%; against dense, paired by seed, +2.00 points, 95% interval [+2.00, +2.00]).") in findings
    assert "2 trainer point(s) have no dense run of the same task and run length: listed, not compared." in findings
    alone = pd.read_csv(out / "trainer_unmatched.csv")
    assert sorted(alone["task"]) == ["chars", "digits"] and (alone["recipe"] == "sr-ste").all()
    summary = pd.read_csv(out / "trainer_sweep.csv")
    assert len(summary) == 6 and summary["runs"].tolist().count(2) == 4
    # the iso-FLOP tables compare within a task x length x setup only: chars and lr=0.01 have no dense run
    equal = pd.read_csv(out / "isoflop_equal_flops.csv")
    assert set(equal["length"]) == {"2 epochs at batch 32", "4 epochs at batch 32"}
    assert set(equal["setup"]) == {"lr=0.003"}
    reach = pd.read_csv(out / "isoflop_reach.csv")
    assert "chars" not in set(reach.get("task", []))


def test_sweep_run_tables_keep_lengths_apart(tmp_path):
    from nmsim.report.study import load_sweep_runs, sweep_runs_table

    rows = "task,recipe,pattern,seed,accuracy,train_flops,steps\n"
    for steps, scale in ((100, 1), (200, 2)):
        for seed in (0, 1):
            rows += (f"digits,dense,dense,{seed},{.80 + .05 * scale + .01 * seed},{100 * scale},{steps}\n"
                     f"digits,sr-ste,ff=1:8,{seed},{.78 + .05 * scale},{80 * scale - 10 * (scale - 1)},{steps}\n")
    rows += "chars,sr-ste,ff=1:8,0,0.4,80,100\n"
    (tmp_path / "a-runs.csv").write_text(rows)
    t = sweep_runs_table(load_sweep_runs(str(tmp_path))).set_index(["task", "steps", "recipe"])
    assert t.loc[("digits", 100, "sr-ste"), "seeds"] == 2 and t.loc[("digits", 200, "sr-ste"), "seeds"] == 2
    assert t.loc[("digits", 100, "sr-ste"), "train_flops_rel_dense"] == pytest.approx(80 / 100)
    assert t.loc[("digits", 200, "sr-ste"), "train_flops_rel_dense"] == pytest.approx(150 / 200)
    assert t.loc[("digits", 200, "dense"), "accuracy_pct"] == pytest.approx(90.5)
    assert np.isnan(t.loc[("chars", 100, "sr-ste"), "train_flops_rel_dense"])


def test_recipe_settings_split_points_only_within_a_recipe(tmp_path):
    root = tmp_path / "runs"
    _run(root, "a", "digits", "dense", "dense", 0, 2, [(50, .6), (100, .8)])
    _run(root, "a", "digits", "sr-ste", "ff=1:8", 0, 2, [(40, .7), (80, .78)])
    _run(root, "b", "digits", "sr-ste", "ff=1:8", 1, 2, [(40, .7), (80, .79)])
    cfg = root / "b" / "digits" / "sr-ste" / "ff1_8" / "seed1" / "config.json"
    cfg.write_text(cfg.read_text().replace('"dense_frac": 0.0', '"dense_frac": 0.1'))
    _run(root, "a", "digits", "mdgf-exp", "ff=1:8", 0, 2, [(45, .7), (90, .8)])
    cfg = root / "a" / "digits" / "mdgf-exp" / "ff1_8" / "seed0" / "config.json"
    cfg.write_text(cfg.read_text().replace('"recipe_params": {}', '"recipe_params": {"beta": 0.05}'))
    curves = load_curves(root)
    by_recipe = curves.groupby("recipe")["variant"].agg(lambda v: sorted(set(v))).to_dict()
    # MDGF's beta is its own setting (one value): not named; two SR-STE dense fractions: two points
    assert by_recipe == {"dense": [""], "mdgf-exp": [""], "sr-ste": ["dense_frac=0.0", "dense_frac=0.1"]}
    st = sweep_table(curves)
    assert (st["recipe"] == "sr-ste").sum() == 2 and st.loc[st["recipe"] == "sr-ste", "runs"].tolist() == [1, 1]


def test_sweep_run_tables_without_steps_compare_within_the_task(tmp_path):
    from nmsim.report.study import load_sweep_runs, sweep_runs_table

    (tmp_path / "runs.csv").write_text("task,recipe,pattern,seed,accuracy,train_flops\ndigits,dense,dense,0,.9,100\n"
                                       "digits,sr-ste,ff=1:8,0,.9,80\nhard,dense,dense,0,.5,200\n"
                                       "hard,sr-ste,ff=1:8,0,.4,160\n")
    t = sweep_runs_table(load_sweep_runs(str(tmp_path / "runs.csv")))
    assert "steps" not in t and t["train_flops_rel_dense"].tolist() == pytest.approx([1, .8, 1, .8])


def test_two_run_folders_read_as_one(tmp_path):
    _run(tmp_path / "a", "s", "digits", "dense", "dense", 0, 2, [(50, .6), (100, .8)])
    _run(tmp_path / "b", "s", "digits", "dense", "dense", 0, 2, [(50, .6), (100, .8)], lr=0.01)
    curves = load_curves([tmp_path / "a", tmp_path / "b", tmp_path / "a"])     # a listed twice: read once
    assert curves["folder"].nunique() == 2
    assert sorted(set(curves["setup"])) == ["lr=0.003", "lr=0.01"]    # named across the folders, not per folder
    with pytest.raises(Exception, match="no such runs folder"):
        load_curves([tmp_path / "a", tmp_path / "nope"])


def test_points_carry_seed_std_and_the_paired_interval_against_dense(tmp_path):
    from scipy.stats import t

    from nmsim.report.trainer_section import findings

    root = tmp_path / "runs"
    for seed, (dense, sparse) in enumerate([(.90, .91), (.92, .95), (.91, .93)]):
        _run(root, "s", "digits", "dense", "dense", seed, 2, [(50, .5), (100, dense)])
        _run(root, "s", "digits", "sr-ste", "ff=1:8", seed, 2, [(40, .5), (80, sparse)])
    st = sweep_table(load_curves(root)).set_index("recipe")
    sr = st.loc["sr-ste"]
    half = t.ppf(0.975, 2) / 3 ** 0.5          # paired differences 1, 3, 2 points: mean 2, sd 1
    assert sr["accuracy_pct"] == pytest.approx(93) and sr["accuracy_pct_std"] == pytest.approx(2)
    assert (sr["vs_dense_pct"], sr["vs_dense_low"], sr["vs_dense_high"]) == pytest.approx((2, 2 - half, 2 + half))
    assert np.isnan(st.loc["dense", "vs_dense_pct"]) and st.loc["dense", "accuracy_pct_std"] == pytest.approx(1)
    assert findings(load_curves(root)) == [
        "Reference trainer (digits, 2 epochs at batch 32): the sparse point with the highest mean accuracy is sr-ste "
        "at ff=1:8, 93.00% over 3 seeds with 0.800x the dense runs' training FLOPs (dense 91.00%; against dense, "
        f"paired by seed, +2.00 points, 95% interval [{2 - half:+.2f}, {2 + half:+.2f}])."]
