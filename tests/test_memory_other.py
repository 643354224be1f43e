"""The report's memory table counts the parameters outside linear weights (embeddings, norms, biases)."""
from __future__ import annotations

import pytest

from nmsim.graph import load_workload, parameter_counts
from nmsim.report.study import memory_table


@pytest.mark.parametrize("workload", ["vit-tiny", "gpt2"])
def test_other_params_are_counted(workload):
    cfg = load_workload(workload)
    table = memory_table(cfg, ["dense", "ff=2:4"], "bf16")
    dense = table[table["plan"] == "dense"].iloc[0]
    total_mib = parameter_counts(cfg)["total"] * 2 / 2**20
    assert dense["other_params_mib"] > 0
    assert dense["values_mib"] + dense["other_params_mib"] == pytest.approx(total_mib, rel=1e-12)
    assert table["other_params_mib"].nunique() == 1  # the plan does not touch them
