"""Bundled paper results: values, tidiness, plans in nmsim syntax, recipe names."""
import pandas as pd
import pytest

from nmsim.errors import UserError
from nmsim.recipes import RECIPE_NAMES
from nmsim.report.results import COLUMNS, load_results
from nmsim.sparsity import SparsityPlan


def _value(df, plan, recipe):
    sel = df[(df["plan"] == plan) & (df["recipe"] == recipe)]
    assert len(sel) == 1, (plan, recipe)
    return float(sel["value"].iloc[0])


def test_vit_values():
    vit = load_results("vit-b")
    assert len(vit) == 10 * 5 + 1
    assert _value(vit, "dense", "dense") == pytest.approx(76.389)
    assert _value(vit, "ff=1:16", "mdgf-exp") == pytest.approx(77.325)
    assert _value(vit, "ff=2:4", "sr-ste") == pytest.approx(77.761)
    assert _value(vit, "ff=1:128", "sdgf-geometric") == pytest.approx(69.801)
    assert _value(vit, "ff=1:8,qkv=1:4", "mdgf-linear") == pytest.approx(78.319)
    assert _value(vit, "ff=1:8,qk=1:4", "sdgf-stepwise") == pytest.approx(77.163)
    assert (vit["epochs"] == 350).all()


def test_other_models():
    assert _value(load_results("swinv2-b"), "ff=1:32", "sdgf-stepwise") == pytest.approx(76.480)
    assert _value(load_results("swinv2-b"), "dense", "dense") == pytest.approx(83.45)
    t5 = load_results("t5x-glue")
    assert _value(t5, "ff=1:8,qkv=1:8", "sdgf-stepwise") == pytest.approx(79.5)
    assert _value(t5, "dense", "dense") == pytest.approx(86.2)
    wmt = load_results("wmt")
    assert _value(wmt, "ff=1:64", "mdgf-exp") == pytest.approx(0.711)
    assert _value(wmt, "dense", "dense") == pytest.approx(0.747)


def test_tidy_all():
    df = load_results()
    assert list(df.columns) == COLUMNS
    assert set(df["model"]) == {"ViT-B/16", "SwinV2-B", "T5X-Base", "Enc-Dec (WMT)"}
    assert df["value"].notna().all()
    assert not df.duplicated(["model", "plan", "recipe"]).any()
    assert set(df["recipe"]) <= set(RECIPE_NAMES)
    assert df["source"].str.contains("2402.04744").all()
    assert "Progressive Gradient Flow" in df.attrs["citation"]
    for plan in set(df["plan"]):
        parsed = SparsityPlan.parse(plan)
        assert str(parsed) == plan
    # each model has exactly one dense row
    assert (df[df["recipe"] == "dense"].groupby("model").size() == 1).all()


def test_alias_and_unknown():
    pd.testing.assert_frame_equal(load_results("vit-base-16"), load_results("vit-b"))
    with pytest.raises(UserError):
        load_results("resnet")
