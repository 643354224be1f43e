"""``hardware list``: the bundled accelerator specs as one table (peak, sparse patterns, memory, bandwidth)."""
from __future__ import annotations

from typing import Callable


def patterns_text(spec) -> str:
    """The spec's sparse patterns in one short cell (``nmsim hardware show`` lists them all)."""
    if spec.any_nm:
        return f"any N:M (M<={spec.sparse.max_m})" if spec.sparse.max_m else "any N:M"
    seen: list[str] = []
    for options in spec.matrix_sparse.values():
        for pattern, _ in options:
            if str(pattern) not in seen:
                seen.append(str(pattern))
    if len(seen) > 3:
        return ",".join(seen[:2]) + f" +{len(seen) - 2} more"
    return ",".join(seen) or "-"


def spec_table(columns_known: Callable | None = None):
    """One row per bundled spec, raw SI units; ``columns_known`` sees the columns before pandas is imported."""
    from nmsim.hardware import list_specs, load

    rows = []
    for name in list_specs():
        spec = load(name)
        mem = spec.main_memory
        rows.append({"name": name, "kind": spec.kind,
                     "bf16_peak_flops_per_second": spec.matrix_dense["bf16"] * 1e12 if "bf16" in spec.matrix_dense
                     else None, "sparse_patterns": patterns_text(spec), "memory_bytes": mem.capacity_gib * 2**30,
                     "bandwidth_bytes_per_second": mem.bandwidth_gbps * 1e9})
    if columns_known and rows:   # a typo fails before pandas is imported
        columns_known(list(rows[0]))
    import pandas as pd
    return pd.DataFrame(rows)
