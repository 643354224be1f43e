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
    rc, out, _ = run("price", "vit-tiny", "--hardware", "a100", "--sparsity", "ff=2:4", "--phase", "training",
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


@pytest.mark.parametrize("argv,needle", [
    (("price", "vit-tiny", "--hardware", "nope"), "unknown hardware"),
    (("price", "vit-tiny", "--hardware", "a100", "--dtype", "fp99"), "fp99"),
    (("price", "vit-tiny", "--hardware", "tpu-v4", "--dtype", "fp8"), "tpu-v4"),
    (("compare", "vit-tiny", "--hardware", "tpu-v4", "--dtype", "fp8"), "tpu-v4"),
    (("price", "vit-tiny", "--hardware", "a100", "--phase", "decode"), "decoder-only"),
    (("price", "bert-base", "--hardware", "a100", "--phase", "prefill"), "decoder-only"),
    (("price", "gpt2", "--hardware", "a100", "--phase", "decode", "--seq", "8"), "--seq"),
    (("price", "vit-tiny", "--hardware", "a100", "--sparsity", "zz=2:4"), "selector"),
    (("price", "vit-tiny", "--hardware", "a100", "--phase", "bogus"), "phase"),
    (("price", "vit-tiny", "--hardware", "a100", "--batch", "0"), "batch"),
])
def test_errors_one_line_exit_2(argv, needle):
    rc, out, err = run(*argv)
    assert rc == 2, err
    assert err.count("\n") == 1 and err.startswith("nmsim: error:") and needle in err
