"""nmsim price / nmsim compare: outputs and one-line errors (exit 2)."""
import io
import json
from contextlib import redirect_stderr, redirect_stdout

import pandas as pd
import pytest

from nmsim.cli import main


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            rc = main(list(argv))
        except SystemExit as exc:  # argparse usage errors
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


def test_price_by_pass_json():
    rc, out, _ = run("price", "vit-tiny", "--hardware", "a100", "--sparsity", "ff=2:4", "--mode", "training",
                     "--batch", "2", "--by", "pass", "--format", "json")
    assert rc == 0
    rows = json.loads(out)
    text = json.dumps(rows)
    assert "dgrad" in text and "wgrad" in text


def test_compare_csv_out(tmp_path):
    path = tmp_path / "c.csv"
    rc, _, err = run("compare", "vit-tiny", "--hardware", "a100,ideal-nm", "--patterns", "dense,2:4,1:16",
                     "--batch", "2", "--format", "csv", "--out", str(path))
    assert rc == 0
    df = pd.read_csv(path)
    assert len(df) == 6 and {"speedup", "weights_gib", "metadata_bytes", "bound"} <= set(df.columns)
    assert (df.loc[df["pattern"] == "dense", "speedup"] == 1).all()
    row = df.loc[(df["hardware"] == "a100-sxm4-80gb") & (df["pattern"] == "1:16")].iloc[0]
    assert (row["kernel"], row["hw_pattern"]) in {("cusparselt", "2:4"), ("compressed-nm", "1:16"), ("cublas", "dense")}


def test_cli_modes_are_the_pricing_modes():
    from nmsim.cli.axes import MODES
    from nmsim.execution.table import MODES as PRICING_MODES
    assert MODES == PRICING_MODES == ("inference", "prefill", "decode", "training")


def test_deprecated_phase_is_mode():
    """``--phase`` (the flag's old name) still works, says once that it is ``--mode`` now, and prices the same."""
    old = run("price", "gpt2", "--hardware", "a100", "--phase", "decode", "--context", "128", "--format", "csv")
    new = run("price", "gpt2", "--hardware", "a100", "--mode", "decode", "--context", "128", "--format", "csv")
    assert old[0] == new[0] == 0 and old[1] == new[1]
    assert old[2] == "nmsim: note: --phase is now --mode (a recipe has phases; pricing has modes)\n" + new[2]
    assert "# priced: gpt2 decode, batch 8" in new[2] and "phase" not in new[2]
    assert "--phase" not in run("price", "--help")[1]


@pytest.mark.parametrize("argv,needle", [
    (("price", "vit-tiny", "--hardware", "nope"), "unknown hardware"),
    (("price", "vit-tiny", "--hardware", "a100", "--dtype", "fp99"), "fp99"),
    (("price", "vit-tiny", "--hardware", "tpu-v4", "--dtype", "fp8"), "tpu-v4"),
    (("compare", "vit-tiny", "--hardware", "tpu-v4", "--dtype", "fp8"), "tpu-v4"),
    (("price", "vit-tiny", "--hardware", "a100", "--mode", "decode"), "decoder-only"),
    (("price", "bert-base", "--hardware", "a100", "--mode", "prefill"), "decoder-only"),
    (("price", "gpt2", "--hardware", "a100", "--mode", "decode", "--seq", "8"), "--seq"),
    (("price", "vit-tiny", "--hardware", "a100", "--sparsity", "zz=2:4"), "selector"),
    (("price", "vit-tiny", "--hardware", "a100", "--mode", "bogus"), "argument --mode: invalid choice: 'bogus'"),
    (("price", "vit-tiny", "--hardware", "a100", "--phase", "bogus"), "argument --phase: invalid choice: 'bogus'"),
    (("price", "vit-tiny", "--hardware", "a100", "--batch", "0"), "batch"),
])
def test_errors_one_line_exit_2(argv, needle):
    rc, out, err = run(*argv)
    assert rc == 2, err
    assert err.count("\n") == 1 and err.startswith("nmsim: error:") and needle in err


def test_json_keeps_every_digit_of_csv():
    """JSON carries the same raw SI floats as CSV, digit for digit (ns-scale times used to round to 1.2e-09)."""
    args = ("price", "vit-tiny", "--hardware", "a100", "--mode", "inference", "--batch", "1", "--by", "op")
    rc_j, out_j, _ = run(*args, "--format", "json")
    rc_c, out_c, _ = run(*args, "--format", "csv")
    assert rc_j == rc_c == 0
    rows = json.loads(out_j)
    csv = pd.read_csv(io.StringIO(out_c))
    tiny = [c for c in csv.columns if csv[c].dtype == float and 0 < csv[c].abs().min() < 1e-7]
    assert tiny, "expected ns-scale columns in a per-op table"
    for c in tiny:
        assert [r[c] for r in rows] == [None if v != v else v for v in csv[c]]   # NaN (no band): null
