"""The report's cost frames, priced once and kept (nmsim.report.kept_costs): a second report of the same question
prices nothing and writes the same files; another question, or the cache off, prices anew; frames come back
exactly (values, dtypes, index)."""
from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames, range_indexes

from nmsim.graph import cache
from nmsim.report import kept_costs
from nmsim.report.study import StudyOptions, run_study

STUDY = importlib.import_module("nmsim.report.study")


@pytest.fixture
def mode(monkeypatch, tmp_path):
    """Set the cache mode (restored after) with a private cache folder."""
    monkeypatch.setenv("NMSIM_CACHE_DIR", str(tmp_path / "cache"))
    before = cache.cache_mode()
    yield cache.set_cache_mode
    cache.set_cache_mode(before)


@pytest.fixture
def priced(monkeypatch):
    """How many times the report priced its accelerator table."""
    calls = []
    real = STUDY.hardware_table
    monkeypatch.setattr(STUDY, "hardware_table", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def _files(out) -> dict:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()
            and p.suffix in (".csv", ".md")}


def _small(**kw) -> StudyOptions:
    return StudyOptions(**{"workload": "trainer-vit-digits", "patterns": "1:8", "recipes": "sr-ste",
                           "hardware": "ideal-nm", "train": False, **kw})


def test_a_second_report_prices_nothing_and_writes_the_same_files(tmp_path, mode, priced):
    mode("build")
    lines = []
    first = _files(run_study(_small(), tmp_path / "a", echo=lines.append))
    assert len(priced) == 1 and not any("kept" in x for x in lines)
    assert len(list((tmp_path / "cache" / kept_costs.FOLDER).iterdir())) == 1
    second = _files(run_study(_small(), tmp_path / "b", echo=lines.append))
    assert len(priced) == 1 and second == first and {"hardware.csv", "training_phases.csv"} <= set(first)
    stage = [x for x in lines if x.startswith("report [1/2] cost tables")]
    assert not stage[1].endswith(", kept") and stage[3].endswith(", kept") and len(stage[3]) <= 100


def test_read_mode_reads_only_and_off_neither_reads_nor_writes(tmp_path, mode):
    frame = pd.DataFrame({"x": [1.5]})
    mode("read")
    assert kept_costs.store("a" * 64, {"f": frame}) is None and not (tmp_path / "cache").exists()
    mode("build")
    assert kept_costs.store("a" * 64, {"f": frame}) == tmp_path / "cache" / kept_costs.FOLDER / f"costs-{'a' * 64}.json"
    mode("read")
    assert kept_costs.load("a" * 64)["f"].equals(frame)
    mode("off")
    assert kept_costs.load("a" * 64) is None


def test_the_key_is_the_question():
    q = {"workload": "vit-base-16", "plans": ["dense", "ff=2:4"], "dtype": "bf16"}
    assert kept_costs.key(q) == kept_costs.key(dict(reversed(q.items())))
    assert kept_costs.key({**q, "dtype": "fp16"}) != kept_costs.key(q)
    assert kept_costs.key({**q, "plans": ["dense"]}) != kept_costs.key(q)


def test_unreadable_entries_are_misses_and_only_the_newest_are_kept(tmp_path, mode):
    mode("build")
    frame = pd.DataFrame({"x": [1.5]})
    for i in range(kept_costs.KEEP + 3):
        assert kept_costs.store(f"{i:064x}", {"f": frame}) is not None
    where = tmp_path / "cache" / kept_costs.FOLDER
    (where / "notes.txt").write_text("mine")
    kept_costs.store("f" * 64, {"f": frame})
    names = sorted(p.name for p in where.iterdir())
    assert len(names) == kept_costs.KEEP + 1 and "notes.txt" in names and f"costs-{'f' * 64}.json" in names
    (where / f"costs-{'f' * 64}.json").write_text("{trunc")
    assert kept_costs.load("f" * 64) is None and kept_costs.load("e" * 64) is None


text = st.one_of(st.none(), st.text(max_size=5))


@settings(max_examples=25, deadline=None)
@given(data_frames([column("f", dtype=float), column("i", dtype=np.int64), column("b", dtype=bool),
                    column("s", elements=text)], index=range_indexes(max_size=6)), st.booleans())
def test_frames_come_back_exactly(frame, shuffled):
    frame["s"] = frame["s"].astype("str")
    if shuffled:
        frame = frame.iloc[::-1]
    frame.attrs["note"] = "kept"
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        mp.setenv("NMSIM_CACHE_DIR", tmp)
        before = cache.cache_mode()
        cache.set_cache_mode("build")
        try:
            kept_costs.store("a" * 64, {"f": frame})
            back = kept_costs.load("a" * 64)["f"]
        finally:
            cache.set_cache_mode(before)
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert back.attrs == {"note": "kept"}
