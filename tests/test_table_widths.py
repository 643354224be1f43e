"""Every command's output for people fits 100 columns and shows no raw ``e+``/``e-`` float; ``--columns`` works the
same on every table command. The cases are ``bench/bench_table_widths.py``'s (cheaper variants where marked)."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from nmsim.cli import main

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("bench_table_widths", ROOT / "bench" / "bench_table_widths.py")
W = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(W)
BY_NAME = {c.name: c for c in W.CASES}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("widths")


@pytest.mark.parametrize("case", W.CASES, ids=[c.name for c in W.CASES])
def test_fits_100_columns_in_human_units(case, scratch):
    for name in case.needs:          # e.g. plot reads the sweep's runs
        if not (scratch / "runs").exists():
            assert W.measure(BY_NAME[name], scratch, tiny=True)["rc"] == 0
    r = W.measure(case, scratch, tiny=True)
    assert r["rc"] == 0, r["stderr"][-800:]
    assert r["stdout"].strip(), "no output"
    assert r["stdout_width"] <= W.LIMIT, f"{r['stdout_width']} columns: {r['widest']!r}"
    assert not r["raw_floats"], f"raw floats {r['raw_floats']} in:\n{r['stdout']}"


def test_raw_float_pattern():
    assert W.RAW_FLOAT.findall("hours 7.422e-05, energy_joules 5.1e-07, 1E+12") == ["7.422e-05", "5.1e-07", "1E+12"]
    assert not W.RAW_FLOAT.findall("ff=1:16 nmsim 0.1.0 80e9 B 2.04 TB/s 0.0000175")


# one cheap command per table command: --columns picks by heading or CSV name, a typo is one line, exit 2
COLUMNS = {
    "trace": "trace gpt2 --batch 1 --seq 64",
    "price": "price gpt2 --hardware a100 --batch 1 --seq 64",
    "price --memory": "price gpt2 --hardware a100 --batch 1 --seq 64 --memory",
    "price sweep": "price gpt2 --hardware a100 --batch 1,2 --seq 64",
    "compare": "compare gpt2 --hardware a100 --batch 1 --seq 64 --patterns dense,2:4",
    "budget": "budget gpt2 --sparsity ff=2:4 --recipes sr-ste --steps 10 --batch 8",
    "schedule": "schedule sr-ste --sparsity ff=2:4 --steps 100",
    "hardware list": "hardware list",
    "cluster systems": "cluster systems",
    "cluster plan": "cluster plan llama-2-7b --system dgx-h100 --top 2 --tp 1 --pp 1",
    "cluster budget": "cluster budget llama-2-7b --system dgx-h100 --tokens 1e9",
    "cluster validate": "cluster validate --only megatron-1.7b",
    "sweep": "sweep --task digits --recipes dense --seeds 1",
}
ERROR = re.compile(r"^nmsim: error: --columns: no column 'bogus' \(columns: ([^()]+)\)$")


@pytest.mark.parametrize("name", list(COLUMNS))
def test_columns_everywhere(name, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = COLUMNS[name].split()
    assert main([*argv, "--columns", "bogus"]) == 2
    out, err = capsys.readouterr()
    assert out == ""                                   # nothing printed before the error
    lines = [line for line in err.splitlines() if line.startswith("nmsim: error")]   # (progress notes aside)
    assert len(lines) == 1 and ERROR.match(lines[0]), err
    if name == "sweep":                                # checked before any training: no run folder made
        assert not (tmp_path / "runs").exists()
        return
    columns = ERROR.match(lines[0]).group(1).split(", ")
    picked = [columns[-1], columns[0]]                 # any order, by the heading shown
    assert main([*argv, "--columns", ",".join(picked)]) == 0
    table = [line for line in capsys.readouterr().out.splitlines() if line and not line.startswith("#")]
    header = table[0].split()
    bands = [h for h in header if h.endswith("_80%")]  # a banded figure brings its band (at most one shown)
    assert len(bands) <= 1 and all(h[:-4] in picked for h in bands), table[:2]
    header = [h for h in header if h not in bands]
    keys = header[: len(header) - len(picked)]         # price/trace keep their row keys (role) in front
    assert header[len(keys):] == picked, table[:2]
    assert len(keys) <= 1


def test_csv_picks_columns_by_raw_name_in_raw_si(capsys):
    """``--columns`` picks CSV columns too (issue 20), by heading or raw name, written raw; the row key stays."""
    argv = ["price", "gpt2", "--hardware", "a100", "--batch", "1", "--seq", "64", "--format", "csv"]
    assert main([*argv, "--columns", "time"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split(",") == ["role", "seconds"]
    assert main(argv) == 0
    head = capsys.readouterr().out.splitlines()[0].split(",")
    assert head[:3] == ["role", "nominal_flops", "executed_flops"] and "seconds" in head and "time" not in head
