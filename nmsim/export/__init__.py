"""Export the per-pass GEMM table to the simulators accelerator designers use (SCALE-Sim, Timeloop).

:func:`gemm_rows` reads the one GEMM table every pricing path uses (``nmsim.execution.table.gemm_table``) and
labels each (op, pass) GEMM with the N:M pattern its weight runs with; :func:`write_export` writes one folder:

* ``--format scalesim``: ``fwd.csv``, ``dgrad.csv``, ``wgrad.csv`` (SCALE-Sim GEMM topologies with the N:M
  column), ``scalesim.cfg`` (a 3.0.0 config: the ``--hardware`` systolic spec's array, else 128×128 WS) and a
  header-only ``layout.csv``;
* ``--format timeloop``: ``fwd/``, ``dgrad/``, ``wgrad/`` with one Timeloop problem YAML per GEMM;
* both: ``gemms.csv`` (pass, layer, file, b repeats, m, k, n, sparsity, weight density).

A weight GEMM is sparse when its weight is N:M along the GEMM's reduction: always in fwd; in dgrad only for a
transposable mask (``T``) — or, with ``--hardware``, a spec that accepts the transposed pattern — since dgrad
reduces over the weight's other dim; never in wgrad (no weight operand). With ``--hardware`` the pattern is the
one the engine executes (a 1:8 plan on a 2:4 engine exports 2:4); without, the plan's own.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from nmsim.errors import UserError

FORMATS = ("scalesim", "timeloop")
PASS_ORDER = ("fwd", "dgrad", "wgrad")


def gemm_rows(graph, plan=None, mode: str = "inference", hw=None, dtype: str = "bf16") -> pd.DataFrame:
    """One row per (matrix op, pass): pass, layer, b, m, k, n, sparsity ("N:M"; "1:1" dense)."""
    from nmsim.execution.base import OPERAND_WEIGHT, OPERAND_WEIGHT_T
    from nmsim.execution.table import gemm_table
    from nmsim.sparsity.plan import SparsityPlan

    if isinstance(plan, str):
        plan = SparsityPlan.parse(plan)
    patterns = None if plan is None or plan.is_dense else plan.resolve(graph.ops)
    table = gemm_table(graph, patterns, mode)
    labels = []
    for p in table.patterns:
        if p is None:
            labels.append(("1:1", "1:1"))
            continue
        plain = f"{p.n}:{p.m}"
        if hw is None:
            labels.append((plain, plain))
        else:
            hw_p = hw.best_sparse(p, dtype)[0]
            labels.append((plain, f"{hw_p.n}:{hw_p.m}" if hw_p is not None else "1:1"))
    operand = table.sparse_operand
    usable = operand == OPERAND_WEIGHT
    if hw is not None and hw.accepts_transposed_dgrad:
        usable = usable | (operand == OPERAND_WEIGHT_T)
    col = 1 if hw is not None else 0
    sparsity = [labels[c][col] if u else "1:1" for c, u in zip(table.pattern, usable)]
    f = table.frame.to_pandas()
    rows = pd.DataFrame({"pass": f["pass"].to_numpy(), "layer": f["module"].astype(str).to_numpy(),
                         "b": table.b.astype(int), "m": table.m.astype(int), "k": table.k.astype(int),
                         "n": table.n.astype(int), "sparsity": sparsity})
    # the table books an act x act matmul's dgrad as one row (dA's shape, b doubled); a simulator needs both
    # GEMMs: dA[M, K] = dC[M, N] B^T (the row's m, k, n) and dB[K, N] = A^T[K, M] dC (n, m, k)
    split = (f["kind"].to_numpy() == "matmul") & (rows["pass"].to_numpy() == "dgrad")
    if split.any():
        da, db = rows[split].copy(), rows[split].copy()
        da["b"] = db["b"] = da["b"] // 2
        da["layer"] = da["layer"] + ".dA"
        db["layer"] = db["layer"] + ".dB"
        db["m"], db["k"], db["n"] = rows.loc[split, "n"], rows.loc[split, "m"], rows.loc[split, "k"]
        da.index = da.index + 0.1
        db.index = db.index + 0.2
        rows = pd.concat([rows[~split], da, db]).sort_index().reset_index(drop=True)
    return rows


def _array_of(hw) -> tuple[int, int, str]:
    ex = getattr(hw, "execution", None) or {}
    if hw is not None and ex.get("model") == "systolic":
        return int(ex["rows"]), int(ex["cols"]), str(ex["dataflow"])
    return 128, 128, "ws"


def write_export(rows: pd.DataFrame, fmt: str, out, *, hw=None, note: str = "") -> Path:
    """Write ``rows`` (from :func:`gemm_rows`) as ``fmt`` into the folder ``out`` (atomically; an existing folder
    is replaced only when nmsim made it)."""
    from nmsim.export import scalesim, timeloop
    from nmsim.io import install_folder, temp_folder

    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})", "--format")
    with temp_folder(out) as tmp:     # removed if anything below fails or is interrupted
        index = rows.copy()
        index["density"] = [timeloop.density_of(s) for s in index["sparsity"]]
        if fmt == "scalesim":
            for pass_ in PASS_ORDER:
                sel = rows[rows["pass"] == pass_]
                if len(sel):
                    (tmp / f"{pass_}.csv").write_text(scalesim.topology_text(sel))
            files = [f"{p}.csv" for p in rows["pass"]]
            r, c, df = _array_of(hw)
            ms = [int(s.split(":")[1]) for s in rows["sparsity"]]
            sparse = any(s != "1:1" for s in rows["sparsity"])
            head = f"# nmsim export ({note}); array {r}x{c} {df}\n" if note else ""
            (tmp / "scalesim.cfg").write_text(head + scalesim.config_text(r, c, df, block=max(ms + [4]),
                                                                           sparse=sparse))
            (tmp / "layout.csv").write_text(scalesim.LAYOUT_HEADER)
        else:
            counters, files = dict.fromkeys(PASS_ORDER, 0), []
            for row in rows.rename(columns={"pass": "pass_"}).itertuples(index=False):
                counters[row.pass_] = i = counters[row.pass_] + 1
                name = f"{row.pass_}/{i:04d}_{scalesim.safe_name(row.layer)}.yaml"
                (tmp / row.pass_).mkdir(exist_ok=True)
                text = timeloop.problem_text(row.m, row.k, row.n, row.sparsity, f"{row.layer}.{row.pass_}")
                (tmp / name).write_text(text)
                files.append(name)
        index.insert(2, "file", files)
        (tmp / "gemms.csv").write_text(index.to_csv(index=False))
        return install_folder(tmp, out, marker_text=f"nmsim export ({fmt})\n")


def export_summary(rows: pd.DataFrame, fmt: str, workload: str, mode: str, batch) -> str:
    """One line: what was written (GEMMs per pass, how many sparse)."""
    parts = []
    for pass_ in PASS_ORDER:
        sel = rows[rows["pass"] == pass_]
        if len(sel):
            parts.append(f"{pass_} {len(sel)} GEMMs ({int((sel['sparsity'] != '1:1').sum())} sparse)")
    return f"{fmt} files for {workload} ({mode}, batch {batch}): " + ", ".join(parts)
