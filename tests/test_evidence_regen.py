"""`nmsim evidence check`: a protocol's runs retrained under other ATen CPU capabilities, compared in seed sd."""
import json
import math

import pandas as pd
import pytest
import torch

from nmsim.cli import main as cli_main
from nmsim.errors import UserError
from nmsim.evidence.protocol import Protocol, run_protocol
from nmsim.evidence.regen import compare, parse_capabilities, parse_seeds

TINY = dict(task="digits", recipes=("dense", "sr-ste"), patterns=("ff=1:16",), seeds=2, epochs=1, eval_every=11)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("regen") / "ev"
    run_protocol(Protocol(**TINY), out, workers=1, command="test", echo=lambda *_: None)
    return out


def test_retrained_under_no_vectorisation_compared_in_seed_sd(folder, monkeypatch):
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    said = []
    got = compare(folder, ["native", "default"], ["sr-ste"], [1], echo=said.append)
    rows = got["rows"].set_index("metric")
    assert said == ["regeneration: sr-ste ff=1:16 seed 1 under native",
                    "regeneration: sr-ste ff=1:16 seed 1 under default"]
    assert list(rows.index) == ["loss", "accuracy"] and set(rows["seeds"]) == {2}
    native = torch.backends.cpu.get_cpu_capability()
    assert set(rows["base_kernels"]) == {native} and set(rows["other_kernels"]) == {"DEFAULT"}
    assert got["environments"]["default"]["aten_cpu_capability_env"] == "default"
    assert (rows["committed_minus_base"] == 0).all()     # same machine, same kernels: the committed run exactly
    finals = pd.read_csv(folder / "finals.csv").set_index("recipe")
    for m, r in rows.iterrows():
        assert r["seed_sd"] == pytest.approx(finals.loc["sr-ste", f"{m}_std"], rel=1e-12)
        assert r["delta"] == r["other_value"] - r["base_value"]
        assert r["delta_in_sd"] == abs(r["delta"]) / r["seed_sd"]
        assert r["tolerance_in_sd"] == 1 / math.sqrt(2) and r["within"] == (r["delta_in_sd"] <= 1 / math.sqrt(2))
    saved = json.loads((folder / "regeneration.json").read_text())
    assert saved["capabilities"] == ["native", "default"] and len(saved["rows"]) == 2
    assert saved["exceeded"] == got["exceeded"] == int((~rows["within"]).sum())
    assert (folder / "regeneration" / "default" / "digits" / "sr-ste" / "ff1_16" / "seed1" / "done.json").exists()


def test_cli_check_prints_the_table_and_reuses_retrained_runs(folder, capsys):
    rc = cli_main(["evidence", "check", str(folder), "--capabilities", "native,default", "--recipes", "sr-ste",
                   "--seeds", "1"])
    out, err = capsys.readouterr()
    exceeded = json.loads((folder / "regeneration.json").read_text())["exceeded"]
    assert rc == (1 if exceeded else 0)
    assert "tolerance_sd" in out and f"regeneration: {exceeded} of 2 differences exceed" in out
    assert max(map(len, out.splitlines())) <= 100


@pytest.mark.parametrize("call, message", [
    (lambda: parse_capabilities("native,avx9"), "--capabilities: unknown capability 'avx9' (one of native, default, "
                                                "avx2, avx512)"),
    (lambda: parse_capabilities("avx2"), "--capabilities: needs two or more different capabilities, got 'avx2'"),
    (lambda: parse_capabilities("avx2,avx2"), "--capabilities: needs two or more different capabilities"),
    (lambda: parse_seeds("0,5", 5), "--seeds: seeds must be in 0..4, got '0,5'"),
    (lambda: parse_seeds("x", 5), "--seeds: must be a comma list of seeds, got 'x'"),
])
def test_argument_errors(call, message):
    with pytest.raises(UserError) as exc:
        call()
    assert str(exc.value).startswith(message)


def test_cli_errors_are_one_line(folder, tmp_path, capsys):
    assert cli_main(["evidence", "check", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"nmsim: error: {tmp_path}: is not an evidence folder (no protocol.json)\n"
    assert cli_main(["evidence", "check", str(folder), "--recipes", "mdgf-exp"]) == 2
    err = capsys.readouterr().err
    assert err == (f"nmsim: error: --recipes: no finished runs of recipe 'mdgf-exp' in {folder} (it holds dense, "
                   "sr-ste)\n")
