"""What a buyer asks (issue 22): tokens/s, $ per million tokens from hourly prices, J per token, --rank-by."""
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_bad_input import assert_one_error, run_cli

from nmsim.cli import main
from nmsim.cost import compare
from nmsim.cost.economics import add_columns, bundled_prices, hourly_price, items_per_step, parse_overrides
from nmsim.errors import UserError
from nmsim.graph import load_workload
from nmsim.hardware import list_specs, load

GPT = dict(workload="gpt2", hardware="a100,tpu-v5e", patterns="dense,2:4", mode="decode", batch=4, context=256)


def test_bundled_prices_name_specs_with_source_and_date():
    prices = bundled_prices()
    assert set(prices) <= set(list_specs())
    assert {"a10g", "l4", "l40s", "a100-sxm4-80gb", "h100-sxm5", "h100-pcie", "mi300x", "tpu-v5e"} <= set(prices)
    for name, entry in prices.items():
        assert entry["usd_per_hour"] > 0 and entry["source"] and entry["date"] and entry["offer"], name
    assert hourly_price("a100-sxm4-80gb") == 5.12 and hourly_price("l4") == 0.8048
    assert math.isnan(hourly_price("rtx-4090"))          # no bundled price: NaN, never 0


def test_overrides_take_aliases():
    assert parse_overrides("a100=1.5, rtx4090=0.4") == {"a100-sxm4-80gb": 1.5, "rtx-4090": 0.4}
    assert parse_overrides(["l4=0.7", "h100=2"]) == {"l4": 0.7, "h100-sxm5": 2.0}
    assert hourly_price("a100-sxm4-80gb", {"a100-sxm4-80gb": 1.5}) == 1.5


@pytest.mark.parametrize("text, message", [
    ("a100", "--price-per-hour: expected DEVICE=USD (e.g. a100=2.5), got 'a100'"),
    ("a100=", "--price-per-hour: expected DEVICE=USD (e.g. a100=2.5), got 'a100='"),
    ("a100=two", "--price-per-hour: a100: not a number of dollars per hour: 'two'"),
    ("a100=-1", "--price-per-hour: a100: dollars per hour must be a finite number >= 0, got -1"),
    ("a100=inf", "--price-per-hour: a100: dollars per hour must be a finite number >= 0, got inf"),
    ("a100=1,a100-sxm4-80gb=2", "--price-per-hour: a100-sxm4-80gb: a100-sxm4-80gb priced twice ($1/h and $2/h)"),
])
def test_bad_override_is_one_line(text, message, capsys):
    with pytest.raises(UserError) as exc:
        parse_overrides(text)
    assert str(exc.value) == message
    code, err = run_cli(["compare", "gpt2", "--hardware", "a100", "--price-per-hour", text], capsys)
    assert_one_error(code, err, message)


def test_unknown_device_names_the_flag(capsys):
    code, err = run_cli(["compare", "gpt2", "--hardware", "a100", "--price-per-hour", "a1000=2"], capsys)
    assert_one_error(code, err, None)
    assert err.splitlines()[-1].startswith("nmsim: error: --price-per-hour: a1000: unknown hardware")


def test_items_per_step():
    gpt, vit = load_workload("gpt2"), load_workload("vit-base-16")
    assert items_per_step(gpt, "decode", 64) == 64                 # one new token per sequence
    assert items_per_step(gpt, "prefill", 8, 512) == 8 * 512
    assert items_per_step(gpt, "training", 8) == 8 * gpt.tokens
    assert items_per_step(vit, "inference", 256) == 256            # images, not patches


def test_compare_rows_carry_the_buyer_columns():
    df = compare(**GPT)
    a100 = df[(df["hardware"] == "a100-sxm4-80gb") & (df["pattern"] == "dense")].iloc[0]
    assert a100["tokens_per_second"] == pytest.approx(4 / a100["seconds"], rel=1e-12)
    assert a100["usd_per_million_tokens"] == pytest.approx(5.12 / 3600 * a100["seconds"] / 4 * 1e6, rel=1e-12)
    assert a100["joules_per_token"] == pytest.approx(a100["joules"] / 4, rel=1e-12)
    tpu = df[df["hardware"] == "tpu-v5e"]
    assert tpu["joules"].isna().all() and tpu["joules_per_token"].isna().all()   # no energy figures
    assert (tpu["usd_per_million_tokens"] > 0).all()


def test_rank_by_cost_and_energy():
    df = compare(**{**GPT, "hardware": "a100,h100,l4,rtx-4090"}, rank_by="cost")
    usd = df["usd_per_million_tokens"]
    assert usd.iloc[:6].is_monotonic_increasing and usd.iloc[6:].isna().all()   # rtx-4090: no price, last
    df = compare(**{**GPT, "hardware": "a100,h100,l4"}, rank_by="energy",
                 price_per_hour={"l4": 0.1})
    assert df["joules_per_token"].is_monotonic_increasing


def test_table_says_not_given(capsys):
    assert main(["compare", "gpt2", "--hardware", "rtx-4090,tpu-v5e", "--patterns", "dense", "--mode", "decode",
                 "--batch", "2", "--context", "128", "--columns", "hardware,$/M_tokens,J/token,energy"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split(None, 1)[1] for line in out.splitlines()
            if line.strip().startswith(("rtx", "tpu"))}
    assert rows["rtx-4090"].split()[0] == "not" and "$" not in rows["rtx-4090"]          # no price
    assert rows["tpu-v5e"].startswith("$") and rows["tpu-v5e"].endswith("not given not given")   # no energy
    assert "rtx-4090 not given (--price-per-hour rtx-4090=USD)" in out.replace("\n#   ", " ")
    assert " 0 J" not in out


@settings(max_examples=50, deadline=None)
@given(st.floats(1e-6, 10), st.floats(1e-3, 1e3), st.integers(1, 10**6), st.one_of(st.just(0.0), st.floats(1e-3, 100)))
def test_columns_are_consistent(seconds, joules, items, usd):
    import pandas as pd
    row = add_columns(pd.DataFrame(index=[0]), [seconds], [joules], items, [usd]).iloc[0]
    assert row["tokens_per_second"] * seconds == pytest.approx(items, rel=1e-9)
    assert row["usd_per_million_tokens"] == pytest.approx(usd * seconds / 3600 / items * 1e6, rel=1e-9)
    doubled = add_columns(pd.DataFrame(index=[0]), [seconds], [joules], items, [2 * usd]).iloc[0]
    assert doubled["usd_per_million_tokens"] == pytest.approx(2 * row["usd_per_million_tokens"], rel=1e-9, abs=0)


def test_every_priced_spec_loads():
    for name in bundled_prices():
        assert load(name).name == name


def test_flops_per_token_and_the_causal_choice():
    from nmsim.cost.per_token import flops_per_token, masked_share
    from nmsim.graph import parameter_counts, trace_workload
    cfg = load_workload("gpt2")
    g = trace_workload(cfg, batch=2, seq=256)
    T, L, d = 256, cfg.layers, cfg.d_model
    f = flops_per_token(g, 2 * T, T, causal=True)
    assert f["six_n"] == 6 * parameter_counts(cfg)["total"] and f["two_n"] == f["six_n"] / 3
    attention = 4 * L * T * d          # logit + attend at full T x T, per token: 2 GEMMs x 2 T d per layer
    assert f["forward"] - f["forward_causal"] == pytest.approx(attention * (T - 1) / (2 * T), rel=1e-12)
    assert masked_share(True, 1) == 0 and masked_share(False, 4096) == 0 and masked_share(True, 2) == 0.25
    assert flops_per_token(g, 2 * T, T, causal=False)["forward_causal"] == f["forward"]   # encoders mask nothing


def test_trace_and_price_say_flops_per_token(capsys):
    assert main(["trace", "gpt2", "--seq", "256", "--batch", "2"]) == 0
    head = capsys.readouterr().out.replace("\n#   ", " ").splitlines()
    line = next(x for x in head if x.startswith("# per token:"))
    assert "(6N = 747 MFLOP)" in line and "attention at full T x T (masked half counted)" in line
    assert main(["price", "gpt2", "--hardware", "a100", "--mode", "decode", "--batch", "4", "--context", "256"]) == 0
    head = capsys.readouterr().out.replace("\n#   ", " ").splitlines()
    assert any(x.startswith("# throughput: ") and "tokens/s; $" in x and "per million tokens at $5.12/h" in x
               for x in head)
    assert any(x.startswith("# per token: forward") and "attention: nothing masked" in x for x in head)


def test_budget_prices_the_whole_run():
    import nmsim
    run = nmsim.budget("vit-tiny", "ff=2:4", recipes="sr-ste", steps=1000, batch=64, hardware="h100")
    row = run.iloc[0]
    assert row["hours"] == pytest.approx(row["seconds"] / 3600, rel=1e-12)
    assert row["usd"] == pytest.approx(row["hours"] * 6.88, rel=1e-12)
    own = nmsim.budget("vit-tiny", "ff=2:4", recipes="sr-ste", steps=1000, batch=64, hardware="h100",
                       price_per_hour="h100=2")
    assert own.iloc[0]["usd"] == pytest.approx(row["hours"] * 2, rel=1e-12)
    free = nmsim.budget("vit-tiny", "ff=2:4", recipes="sr-ste", steps=1000, batch=64, hardware="rtx-4090")
    assert math.isnan(free.iloc[0]["usd"])



def test_no_energy_figures_read_not_given_in_price_and_budget(capsys):
    """tpu-v5e gives no energy figures: the price total, its roles and budget's run are NaN / "not given", as
    compare's rows are (budget and the price total summed them as 0 J)."""
    import nmsim
    one = nmsim.price("gpt2", "tpu-v5e", mode="decode", batch=2, context=128)
    assert one["energy_joules"].isna().all() and list(one["role"])[-1] == "total"
    run = nmsim.budget("gpt2", "ff=2:4", recipes="dense,sr-ste", steps=10, batch=2, seq=128, hardware="tpu-v5e")
    assert run["joules"].isna().all() and (run["usd"] > 0).all()
    assert main(["price", "gpt2", "--hardware", "tpu-v5e", "--mode", "decode", "--batch", "2", "--context", "128",
                 "--columns", "energy"]) == 0
    out = capsys.readouterr().out
    # the energy figure and its band (none on a device without a validated level)
    assert out.splitlines()[-1].split() == ["total", "not", "given", "not", "validated"] and " 0 J" not in out
    assert main(["budget", "gpt2", "--sparsity", "ff=2:4", "--recipes", "dense", "--steps", "10", "--batch", "2",
                 "--seq", "128", "--hardware", "tpu-v5e", "--columns", "recipe,energy"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split() == ["dense", "not", "given"]


def test_report_device_families_open_readable():
    import pandas as pd

    from nmsim.report.study import READABLE_DEVICES, device_family, opening_families
    assert [device_family(load(n)) for n in ("a100", "h100-pcie", "l4", "rtx-4090", "mi300x", "tpu-v5e", "vegeta",
                                              "ideal-nm")] == [
        "NVIDIA HBM GPUs", "NVIDIA HBM GPUs", "NVIDIA GDDR GPUs", "NVIDIA GDDR GPUs", "AMD GPUs", "TPUs",
        "research engines", "ideal"]
    names = list_specs()
    many = pd.DataFrame({"hardware": names, "family": [device_family(load(n)) for n in names]})
    assert len(names) > READABLE_DEVICES and opening_families(many) == {"family": ["NVIDIA HBM GPUs"]}
    assert opening_families(many.head(READABLE_DEVICES)) == {}


def test_report_cells_say_not_given():
    import pandas as pd

    from nmsim.report.writer import Table, display_rows
    frame = pd.DataFrame({"hardware": ["tpu-v5e"], "latency_ms": [float("nan")], "energy_j": [float("nan")],
                          "usd": [float("nan")]})
    cols, rows = display_rows(Table("t", frame, "", formats={"energy_j": "{:.4g}", "latency_ms": "{:.3f}"}))
    assert rows == [["tpu-v5e", "–", "not given", "not given"]]


def test_api_frames_carry_the_buyer_columns():
    import nmsim
    grid = nmsim.compare("gpt2", hardware="a100,tpu-v5e", patterns="dense", mode="decode", batch=2, context=128,
                         rank_by="cost", price_per_hour={"tpu-v5e": 0.5})   # a dict, as the cost API takes
    assert {"tokens_per_second", "usd_per_million_tokens", "joules_per_token"} <= set(grid.columns)
    tpu = grid[grid["hardware"] == "tpu-v5e"].iloc[0]
    assert tpu["usd_per_million_tokens"] == pytest.approx(0.5 / 3600 * tpu["seconds"] / 2 * 1e6, rel=1e-9)
    assert math.isnan(tpu["joules_per_token"])               # raw SI, NaN (null in JSON) where not given
    sweep = nmsim.price("vit-tiny", "a100", batch="1,8")
    assert sweep["images_per_second"].to_list() == pytest.approx((sweep["batch"] / sweep["seconds"]).to_list(),
                                                                  rel=1e-12)


def test_all_leaves_out_devices_without_the_kernel(capsys):
    argv = ["compare", "gpt2", "--hardware", "all", "--patterns", "2:4", "--weight-dtype", "int4", "--mode",
            "decode", "--batch", "1", "--context", "64", "--format", "csv"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "mi300x" not in out and "a100-sxm4-80gb" in out
    assert "# skipped mi300x (mi300x has no kernel for bf16 GEMMs with int4 weights" in err
    code, err = run_cli([*argv[:3], "mi300x,a100", *argv[4:]], capsys)     # named: refused, as before
    assert_one_error(code, err, None)
    assert err.splitlines()[-1].startswith("nmsim: error: --dtype/--weight-dtype: mi300x has no kernel for bf16")


def test_no_sparse_kernel_no_sparsified_share():
    grid = compare("vit-tiny", hardware="tpu-v5e,tpu-v4,v100,a100", patterns="dense,2:4,1:8")
    tpu = grid[grid["hardware"].str.startswith("tpu")]
    assert (tpu["sparsified_share"] == 0).all() and (tpu["ceiling"] == 1).all() and (tpu["kernel"] == "dense").all()
    gpus = grid[~grid["hardware"].str.startswith("tpu") & (grid["pattern"] != "dense")]
    assert (gpus["sparsified_share"] > 0).all()      # v100's software N:M kernel and a100's sparse tensor cores
