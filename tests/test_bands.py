"""80 % bands: the bundled file is what the scored rows give, coverage per level, and where a band applies."""
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from nmsim.bands import NOT_VALIDATED, attach, band, column_kind, table
from nmsim.bands.build import _interval, cluster_residuals, coverage, levels


def test_cluster_level_rows_are_the_scored_runs():
    """Adding or re-splitting runs without `nmsim validate --write-bands` fails here (cheap); the full check of the
    cluster band, which prices every run, is `nmsim cluster validate --check-bands` in `make validate`; the GPU
    levels are checked in test_execution (same fit)."""
    from nmsim.cluster.validation import load_runs
    assert table()["cluster run"]["rows"] == sum(r.get("split", "score") != "fit" for r in load_runs())


def test_check_bands_names_a_stale_file(monkeypatch):
    from nmsim.bands import build
    from nmsim.errors import UserError
    frame = pd.DataFrame({"split": ["score"] * 3, "group": ["h100-sxm5 bf16"] * 3, "id": ["a", "b", "c"],
                          "measured_seconds": [1.0, 2.0, 3.0], "predicted_seconds": [1.0, 1.0, 1.0]})
    with pytest.raises(UserError, match="bands.yaml is stale for the cluster-run level: run `nmsim validate "
                                        "--write-bands`"):
        build.check_current(frame)
    monkeypatch.setattr(build, "levels", lambda res: {"cluster run": table()["cluster run"]})
    build.check_current(frame)   # current: no error


def test_levels_and_coverage_in_goal():
    t = table()
    assert list(t) == ["kernel", "inference step", "training step", "cluster run"]
    assert [t[k]["rows"] for k in t] == [267, 78, 12, 32]
    for entry in t.values():   # goal: 75-85 % of the scored rows inside the band of the others
        assert 0.75 <= entry["coverage"] <= 0.85
        assert entry["lo"] < entry["hi"]


def test_interval_is_conformal_order_statistics():
    # m = 7 values: their range (k = 1), a new value inside with probability 6/8
    assert _interval([5, 1, 3, 2, 7, 6, 4]) == (1, 7)
    # m = 19: k = 2 -> 2nd smallest and 2nd largest
    assert _interval(range(19)) == (1, 17)
    # leave-one-out coverage of n distinct values with the range rule: (n - 2) / n
    assert coverage(range(8))[0] == pytest.approx(6 / 8)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-3, 3, allow_nan=False), min_size=3, max_size=60))
def test_band_holds_its_rows(values):
    lo, hi = _interval(values)
    inside = sum(lo <= v <= hi for v in values)
    assert lo <= hi and inside >= 0.6 * len(values)


def test_band_only_on_bundled_measured_devices(tmp_path):
    from nmsim.hardware import load
    b = band("inference step", load("a100"))
    assert b.rows == 78 and b.level == "inference step"
    assert band("inference step", load("v100")) is None            # no inference row on a V100
    assert band("training step", load("v100")).rows == 12
    assert band("inference step", load("vegeta")) is None          # a systolic research engine
    src = load("a100").path
    mine = tmp_path / "a100-sxm4-80gb.yaml"                          # a user's copy of a bundled spec
    mine.write_text(open(src).read())
    assert band("inference step", load(str(mine))) is None


def test_attach_scales_times_and_inverts_rates():
    b = band("training step", device="a100-sxm4-80gb")
    df = pd.DataFrame({"hardware": ["x", "y"], "seconds": [2.0, 2.0], "tokens_per_second": [10.0, 10.0],
                       "seconds_vs_dense": [1.0, 1.0], "usd_per_hour": [2.0, 2.0]})
    out = attach(df, [b, None])
    assert list(out.columns) == ["hardware", "seconds", "seconds_lo", "seconds_hi", "tokens_per_second",
                                 "tokens_per_second_lo", "tokens_per_second_hi", "seconds_vs_dense",
                                 "usd_per_hour", "band_level", "band_rows"]
    assert out.loc[0, "seconds_lo"] == pytest.approx(2 * b.lo) and out.loc[0, "seconds_hi"] == pytest.approx(2 * b.hi)
    assert out.loc[0, "tokens_per_second_lo"] == pytest.approx(10 / b.hi)
    assert math.isnan(out.loc[1, "seconds_lo"]) and out.loc[1, "band_level"] == NOT_VALIDATED
    assert list(out["band_rows"]) == [12, 0]


def test_attach_keeps_band_level_categorical():
    """One band for 10⁶ rows (a big shape sweep), or one per row: band_level holds the distinct level names."""
    b, c = band("training step", device="a100-sxm4-80gb"), band("inference step", device="a100-sxm4-80gb")
    big = attach(pd.DataFrame({"seconds": np.ones(10 ** 6)}), b)
    assert isinstance(big["band_level"].dtype, pd.CategoricalDtype)
    assert list(big["band_level"].cat.categories) == ["training step"] and big["band_rows"].dtype == np.int64
    assert big["seconds_hi"].iloc[-1] == b.hi and (big["band_level"] == "training step").all()
    rows = attach(pd.DataFrame({"seconds": [1.0, 2.0, 3.0, 4.0]}), [c, None, b, c])
    assert list(rows["band_level"]) == ["inference step", NOT_VALIDATED, "training step", "inference step"]
    assert list(rows["band_level"].cat.categories) == sorted(["inference step", NOT_VALIDATED, "training step"])
    assert list(rows["band_rows"]) == [c.rows, 0, b.rows, c.rows]
    assert list(rows["seconds_lo"].iloc[[0, 2, 3]]) == [c.lo, 3 * b.lo, 4 * c.lo]


def test_column_kinds():
    assert [column_kind(c) for c in ("seconds", "step_seconds", "days", "device_hours", "energy_joules",
                                     "usd_per_million_tokens", "joules_per_token", "tokens_per_second", "mfu",
                                     "seconds_vs_dense", "mem_total", "weights_gib", "usd_per_hour")] == \
        ["time"] * 7 + ["rate"] * 2 + [None] * 4


def test_api_frames_carry_bands():
    import nmsim
    b = band("training step", device="a100-sxm4-80gb")
    df = nmsim.compare("gpt2", hardware="a100,vegeta", patterns="dense", mode="training", batch=1)
    a100 = df.set_index("hardware").loc["a100-sxm4-80gb"]
    assert a100["seconds_lo"] == pytest.approx(a100["seconds"] * b.lo)
    assert a100["tokens_per_second_hi"] == pytest.approx(a100["tokens_per_second"] / b.lo)
    assert (a100["band_level"], a100["band_rows"]) == ("training step", 12)
    vegeta = df.set_index("hardware").loc["vegeta"]
    assert vegeta["band_level"] == NOT_VALIDATED and math.isnan(vegeta["seconds_hi"])
    run = nmsim.budget("gpt2", "ff=2:4", recipes="sr-ste", steps=10, batch=8, hardware="h100")
    assert run["hours_hi"].item() == pytest.approx(run["hours"].item() * b.hi)


def test_cluster_budget_band_and_table_text(capsys):
    from nmsim.cli import main
    from nmsim.cluster.plan import run_budget
    from nmsim.graph import load_workload
    b = band("cluster run", device="h100-sxm5")
    df = run_budget(load_workload("gpt2"), "dgx-h100", 64, 1024, 1e9, {"dense": None})
    assert df["days_lo"].item() == pytest.approx(df["days"].item() * b.lo)
    assert df["mfu_lo"].item() == pytest.approx(df["mfu"].item() / b.hi)
    assert main(["price", "gpt2", "--hardware", "a100", "--batch", "1"]) == 0
    head = [line for line in capsys.readouterr().out.splitlines() if line.startswith("#")]
    assert head[-2].startswith("# 80 % band: ") and "measured / predicted" in head[-2]


def test_report_tables_fold_bands_into_one_column_per_figure():
    from nmsim.report.writer import Table, display_rows
    b = band("inference step", device="h100-sxm5")
    df = attach(pd.DataFrame({"hardware": ["h100-sxm5", "vegeta"], "latency_ms": [2.0, 3.0]}), [b, None])
    cols, rows = display_rows(Table("t", df, formats={"latency_ms": "{:.2f}"}))
    assert cols == ["hardware", "latency_ms", "latency_ms 80%", "band_level"]
    assert rows == [["h100-sxm5", "2.00", f"{2 * b.lo:.2f}-{2 * b.hi:.2f}", "inference step"],
                    ["vegeta", "3.00", NOT_VALIDATED, NOT_VALIDATED]]


def test_check_bands_refuses_other_runs_before_pricing(capsys):
    from test_bad_input import assert_one_error, run_cli
    code, err = run_cli(["cluster", "validate", "--check-bands", "--only", "megatron-1.7b"], capsys)
    assert_one_error(code, err, "--check-bands: checks the bundled runs with the default losses: leave out --runs, "
                                "--only and --losses")


@settings(max_examples=200, deadline=None)
@given(st.floats(1e-9, 1e9), st.floats(1e-3, 1e6), st.floats(0.1, 1.0), st.floats(1.0, 10.0))
def test_rate_band_is_the_time_band_inverted(seconds, items, lo, hi):
    """tokens/s = items / seconds: its bounds are items over the time's bounds, whatever the band."""
    from nmsim.bands import Band
    b = Band("training step", 8, lo, hi, 0.75)
    out = attach(pd.DataFrame({"seconds": [seconds], "tokens_per_second": [items / seconds]}), b)
    assert out["seconds_lo"].item() == pytest.approx(seconds * lo) and out["seconds_lo"].item() <= out["seconds_hi"].item()
    assert out["tokens_per_second_lo"].item() == pytest.approx(items / out["seconds_hi"].item(), rel=1e-9)
    assert out["tokens_per_second_hi"].item() == pytest.approx(items / out["seconds_lo"].item(), rel=1e-9)


def test_readme_band_table_is_the_bands_file():
    from pathlib import Path
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for level, entry in table().items():
        row = f"| {level} | {entry['rows']} | {entry['lo']:.2f}-{entry['hi']:.2f} | {100 * entry['coverage']:.1f} % |"
        assert row in readme, row
