"""Same question, same number: ``nmsim budget``, ``nmsim.budget`` and the report's training and iso-FLOP tables
price a recipe x plan x run through one function (``nmsim.cost.budget.recipe_plan_table``); one priced step
(decode, training) gives the same time, tokens/s, $/M tokens, J/token, mem_gib, fits and band in compare, a price
sweep, a single price and budget."""
from __future__ import annotations

import io

import pandas as pd
import pytest

import nmsim
from nmsim.cli import main

RECIPES = ["sr-ste", "mdgf-exp", "sdgf-stepwise", "sdgf-geometric"]
PLANS = ["ff=1:8", "ff=1:16"]
# the report's default run for an image model: 350 epochs of ImageNet-1K (1,281,167 images) at batch 4096
RUN = dict(epochs=350, dataset_size=1_281_167, batch=4096)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("same") / "rep"
    assert main(["report", "--no-train", "--hardware", "ideal-nm", "--patterns", ",".join(PLANS),
                 "--recipes", ",".join(RECIPES), "--out", str(out)]) == 0
    head = pd.read_csv(out / "headline.csv")
    iso = pd.read_csv(out / "iso_flop.csv")
    return head.merge(iso[["recipe", "plan", "epochs_at_dense_budget"]], on=["recipe", "plan"], how="left")


def _budget_cli(capsys) -> pd.DataFrame:
    argv = ["budget", "vit-base-16", "--sparsity", PLANS[0], "--patterns", ",".join(PLANS),
            "--recipes", ",".join(["dense", *RECIPES]), "--format", "json"]
    for key, value in RUN.items():
        argv += ["--" + key.replace("_", "-"), str(value)]
    capsys.readouterr()
    assert main(argv) == 0
    return pd.read_json(io.StringIO(capsys.readouterr().out)).rename(columns={"pattern": "plan"})


def test_budget_command_and_report_tables_agree(report, capsys):
    budget = _budget_cli(capsys)
    assert sorted(zip(budget["recipe"], budget["plan"])) == sorted(zip(report["recipe"], report["plan"]))
    joined = report.merge(budget, on=["recipe", "plan"], suffixes=("_report", "_budget"))
    assert len(joined) == 1 + len(RECIPES) * len(PLANS)
    # the report's CSVs keep 6 significant digits
    for report_col, budget_col in (("train_flops_report", "train_flops_budget"),
                                   ("train_flops_rel_dense", "vs_dense"),
                                   ("epochs_at_dense_budget", "budget_epochs")):
        rows = joined[joined["recipe"] != "dense"] if report_col == "epochs_at_dense_budget" else joined
        for got, want in zip(rows[report_col], rows[budget_col]):
            assert got == pytest.approx(want, rel=5e-6), (report_col, got, want)
    srste = joined.set_index(["recipe", "plan"])
    assert srste.loc[("sr-ste", "ff=1:16"), "budget_epochs"] > 350 > srste.loc[("sr-ste", "ff=1:16"), "vs_dense"]


def test_python_api_and_report_frames_agree_exactly():
    from nmsim.cost.run_length import run_length
    from nmsim.graph import load_workload
    from nmsim.report.study import training_tables

    cfg = load_workload("vit-base-16")
    length = run_length(batch=RUN["batch"], tokens_per_sample=cfg.tokens, epochs=RUN["epochs"],
                        dataset_size=RUN["dataset_size"])
    totals, phases = training_tables(cfg, ["dense", *PLANS], RECIPES, length)
    api = nmsim.budget("vit-base-16", PLANS[0], patterns=PLANS, recipes=["dense", *RECIPES], **RUN)
    joined = totals.merge(api.rename(columns={"pattern": "plan"}), on=["recipe", "plan"])
    assert len(joined) == len(totals) == len(api)
    assert list(joined["train_flops_x"]) == list(joined["train_flops_y"])
    assert list(joined["train_flops_rel_dense"]) == list(joined["vs_dense"])
    assert list(joined["affordable_epochs"]) == list(joined["budget_epochs"])
    # per-phase FLOPs sum to the totals (the phases the report draws are the ones the budget prices)
    sums = phases.groupby(["recipe", "plan"])["phase_flops"].sum()
    for r in totals.itertuples():
        assert sums[(r.recipe, r.plan)] == pytest.approx(r.train_flops, rel=1e-12)


def test_budget_seq_same_in_the_cli_and_the_api(capsys):
    """``--seq`` is part of the question everywhere: the API takes ``seq=`` and prices what the CLI prices."""
    argv = ["budget", "gpt2", "--sparsity", "ff=2:4", "--recipes", "dense,sr-ste", "--tokens", "1e9", "--seq", "256",
            "--format", "json"]
    capsys.readouterr()
    assert main(argv) == 0
    cli = pd.read_json(io.StringIO(capsys.readouterr().out))
    api = nmsim.budget("gpt2", "ff=2:4", recipes="dense,sr-ste", tokens=1e9, seq=256)
    assert list(api["train_flops"]) == pytest.approx(list(cli["train_flops"]), rel=1e-9)
    full = nmsim.budget("gpt2", "ff=2:4", recipes="dense", tokens=1e9)   # 1,024 tokens per sequence
    # the same tokens in shorter sequences: less attention work per token, so fewer FLOPs
    assert api.loc[0, "train_flops"] < full.loc[0, "train_flops"]


# Same question, same number across the buyer, memory and band columns: compare, a price sweep (price_many), one
# priced shape (its total row) and budget give identical time, rates, $, J, mem_gib, fits and band for one step.
SAME = ("seconds", "seconds_lo", "seconds_hi", "joules", "joules_lo", "joules_hi", "mem_gib", "fits", "band_level",
        "band_rows")


def _same(got, want, where):
    if isinstance(want, (str, bool)) or getattr(want, "dtype", None) == bool:
        assert got == want, where
    else:
        assert got == pytest.approx(want, rel=1e-12, nan_ok=True), where


@pytest.mark.parametrize("weight_dtype", [None, "int4"])
def test_decode_step_same_in_compare_sweep_and_price(weight_dtype):
    """llama-3-8b decoding 64 sequences over a 4,096-token cache: a100 (banded) and l4 (not validated, no fit)."""
    kw = dict(mode="decode", context=4096, weight_dtype=weight_dtype)
    grid = nmsim.compare("llama-3-8b", hardware="a100,l4", patterns="dense,2:4", batch=64, **kw)
    assert list(grid["fits"]) == [True, True, False, False]          # 52.5 / 47.5 GiB (bf16) vs the L4's 22.4
    assert list(grid["band_level"]) == ["inference step"] * 2 + ["not validated"] * 2
    for row in grid.itertuples():
        sparsity = None if row.pattern == "dense" else "ff=2:4"
        sweep = nmsim.price("llama-3-8b", row.hardware, sparsity=sparsity, batch="32,64", **kw)
        shape = sweep[sweep["batch"] == 64].iloc[0]
        one = nmsim.price("llama-3-8b", row.hardware, sparsity=sparsity, batch=64, **kw)
        total = one[one["role"] == "total"].iloc[0].rename({"energy_joules": "joules", "energy_joules_lo": "joules_lo",
                                                             "energy_joules_hi": "joules_hi"})
        rates = ("tokens_per_second", "usd_per_million_tokens", "joules_per_token")
        for col in SAME + tuple(f"{r}{b}" for r in rates for b in ("", "_lo", "_hi")):
            _same(shape[col], getattr(row, col), (row.hardware, row.pattern, "sweep", col))
            if col in total:
                _same(total[col], getattr(row, col), (row.hardware, row.pattern, "price", col))
        # the rates are the step's: 64 new tokens per step, $ from the bundled hourly price
        assert row.tokens_per_second == pytest.approx(64 / row.seconds, rel=1e-12)
        usd_h = {"a100-sxm4-80gb": 5.12, "l4": 0.8048}[row.hardware]   # hourly.yaml
        assert row.usd_per_million_tokens == pytest.approx(usd_h / 3600 * row.seconds / 64 * 1e6, rel=1e-12)


def test_training_step_same_in_compare_price_and_budget():
    """A ViT-B/16 training step at batch 256 on the A100: compare and price give the step, budget 1,000 of them."""
    grid = nmsim.compare("vit-base-16", hardware="a100", patterns="dense", mode="training", batch=256)
    row = grid.iloc[0]
    one = nmsim.price("vit-base-16", "a100", mode="training", batch=256)
    total = one[one["role"] == "total"].iloc[0]
    for col in ("seconds", "seconds_lo", "seconds_hi", "mem_gib", "fits", "band_level", "band_rows"):
        _same(total[col], row[col], ("price", col))
    _same(total["energy_joules"], row["joules"], ("price", "joules"))
    run = nmsim.budget("vit-base-16", "ff=2:4", recipes="dense", steps=1000, batch=256, hardware="a100").iloc[0]
    for col in ("seconds", "seconds_lo", "seconds_hi", "joules", "joules_lo", "joules_hi"):
        assert run[col] == pytest.approx(1000 * row[col], rel=1e-12), col
    for col in ("mem_gib", "fits", "band_level", "band_rows"):
        _same(run[col], row[col], ("budget", col))
    # $ of the run = 256,000 images at the step's $ per million images
    assert run["usd"] == pytest.approx(row["usd_per_million_images"] * 0.256, rel=1e-12)
    assert run["usd_hi"] == pytest.approx(row["usd_per_million_images_hi"] * 0.256, rel=1e-12)


def test_recomputed_training_step_same_everywhere_and_on_the_planners_one_device(tmp_path):
    """Selective recompute (the attention core's forward again in backward) on the trainer's 2-layer GPT, batch
    1 x 64 tokens, a100: price, a price sweep, compare and budget price the same step, and the cluster planner's
    TP1 PP1 DP1 layout on a one-device system gives the same time and memory (optimizer step included, no
    losses); other micro-batches: tests/test_cluster.py."""
    from pathlib import Path

    system = Path(nmsim.__file__).parent / "data" / "systems" / "dgx-a100.yaml"
    one = tmp_path / "one-a100.yaml"
    one.write_text(system.read_text().replace("name: dgx-a100", "name: one-a100").replace("value: 8, source",
                                                                                       "value: 1, source"))
    kw = dict(mode="training", seq=64, recompute="selective")
    price = nmsim.price("trainer-gpt2-chars", "a100", batch=1, **kw)
    total = price[price["role"] == "total"].iloc[0]
    plain = nmsim.price("trainer-gpt2-chars", "a100", batch=1, mode="training", seq=64)
    assert total["seconds"] > plain[plain["role"] == "total"].iloc[0]["seconds"]   # the core's forward, again
    sweep = nmsim.price("trainer-gpt2-chars", "a100", batch="1,2", **kw)
    row = nmsim.compare("trainer-gpt2-chars", hardware="a100", patterns="dense", batch=1, **kw).iloc[0]
    run = nmsim.budget("trainer-gpt2-chars", "ff=2:4", recipes="dense", steps=1000, batch=1, hardware="a100",
                       seq=64, recompute="selective").iloc[0]
    plan = nmsim.cluster_plan("trainer-gpt2-chars", system=str(one), global_batch=1, mb=1, seq=64, losses="none",
                              recompute="selective", top=1).iloc[0]
    for col in ("seconds", "mem_gib", "fits", "band_level"):
        _same(sweep[sweep["batch"] == 1].iloc[0][col], total[col], ("sweep", col))
        _same(row[col], total[col], ("compare", col))
        _same(run[col] / 1000 if col == "seconds" else run[col], total[col], ("budget", col))
    assert plan["recompute"] == "selective" and (plan["tp"], plan["pp"], plan["dp"]) == (1, 1, 1)
    assert plan["step_seconds"] == pytest.approx(total["seconds"], rel=1e-9)
    assert plan["mem_total_bytes"] / 2 ** 30 == pytest.approx(total["mem_gib"], rel=1e-9)
