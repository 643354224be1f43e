"""SCALE-Sim interop: GEMM topology CSV and config text from the per-pass GEMM table, and the reference check.

SCALE-Sim v3 (Raj et al., "SCALE-Sim v3: A modular cycle-accurate systolic accelerator simulator for end-to-end
system analysis", arXiv 2504.15377) reads a GEMM topology ``Layer, M, N, K, Sparsity,`` — one row per GEMM with
a trailing comma; M = activation rows, K = reduction, N = outputs; Sparsity ``N:M`` of the filter (weight) along
K (``1:1`` = dense). It has no batch column: a row whose GEMM repeats ``b`` times (attention matmuls, one per
batch × head) is written once and named ``<layer>*<b>``; ``gemms.csv`` beside it keeps ``b`` for totals.
Hierarchical patterns are written as their flat N:M (same kept count per group, hence the same condensed K).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from nmsim.execution.systolic import ArrayConfig, gemm_cycles

HEADER = "Layer, M, N, K, Sparsity,\n"

CONFIG_TEMPLATE = """[general]
run_name = {run_name}

[architecture_presets]
ArrayHeight : {rows}
ArrayWidth : {cols}
IfmapSramSzkB : {sram_kb}
FilterSramSzkB : {sram_kb}
OfmapSramSzkB : {sram_kb}
IfmapOffset : 0
FilterOffset : 10000000
OfmapOffset : 20000000
Bandwidth : {bandwidth}
Dataflow : {dataflow}
MemoryBanks : 1
ReadRequestBuffer : 512
WriteRequestBuffer : 512

[layout]
IfmapCustomLayout : False
IfmapSRAMBankBandwidth : {bandwidth}
IfmapSRAMBankNum : 1
IfmapSRAMBankPort : 2
FilterCustomLayout : False
FilterSRAMBankBandwidth : {bandwidth}
FilterSRAMBankNum : 1
FilterSRAMBankPort : 2

[sparsity]
SparsitySupport : {sparse}
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : {block}
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth : CALC
UseRamulatorTrace : False
"""
#: a header-only layout file (SCALE-Sim 3.0.0 needs one even with custom layouts off)
LAYOUT_HEADER = "Layer, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter,\n"


def config_text(rows: int = 128, cols: int = 128, dataflow: str = "ws", block: int = 4, sparse: bool = True,
                sram_kb: int = 6144, bandwidth: int = 10, run_name: str = "nmsim") -> str:
    """A SCALE-Sim 3.0.0 config with every section its parser requires. ``InterfaceBandwidth: CALC`` sizes the
    interface so the report has no memory stalls (compute cycles); ``OptimizedMapping: false`` keeps the
    topology's N:M (true draws a random N per column); ``BlockSize`` is the M of the patterns in the topology."""
    return CONFIG_TEMPLATE.format(rows=rows, cols=cols, dataflow=dataflow, block=block, run_name=run_name,
                                  sparse="true" if sparse else "false", sram_kb=sram_kb, bandwidth=bandwidth)


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", name)


def topology_rows(gemms: pd.DataFrame) -> list[str]:
    """Topology lines for rows of a GEMM frame with columns layer, b, m, k, n, sparsity."""
    lines = []
    for r in gemms.itertuples(index=False):
        name = safe_name(r.layer) + (f"*{int(r.b)}" if int(r.b) > 1 else "")
        lines.append(f"{name}, {int(r.m)}, {int(r.n)}, {int(r.k)}, {r.sparsity},\n")
    return lines


def topology_text(gemms: pd.DataFrame) -> str:
    return HEADER + "".join(topology_rows(gemms))


def read_topology(path: Path) -> pd.DataFrame:
    """Parse a topology written by :func:`topology_text` back to (layer, b, m, k, n, sparsity)."""
    rows = []
    for line in Path(path).read_text().splitlines()[1:]:
        if not line.strip():
            continue
        name, m, n, k, sp = (x.strip() for x in line.split(",")[:5])
        layer, _, b = name.partition("*")
        rows.append({"layer": layer, "b": int(b or 1), "m": int(m), "k": int(k), "n": int(n), "sparsity": sp})
    return pd.DataFrame(rows)


def _nm(text: str) -> tuple[int, int]:
    n, m = (int(x) for x in str(text).split(":"))
    return n, m


def nmsim_cycles(frame: pd.DataFrame, rows: int = 128, cols: int = 128, dataflow=None) -> np.ndarray:
    """nmsim's compute cycles for each row (m, k, n, sparsity[, dataflow]) on a rows × cols array."""
    out = np.zeros(len(frame))
    dfs = frame["dataflow"] if dataflow is None and "dataflow" in frame else pd.Series([dataflow or "ws"] * len(frame),
                                                                                         index=frame.index)
    for df_name in dfs.unique():
        sel = (dfs == df_name).to_numpy()
        sub = frame[sel]
        nm = np.array([_nm(s) for s in sub["sparsity"]]).reshape(-1, 2)
        arr = ArrayConfig(rows=int(rows), cols=int(cols), dataflow=str(df_name))
        r = gemm_cycles(arr, sub["m"], sub["k"], sub["n"], keep_n=nm[:, 0], group_m=nm[:, 1])
        out[sel] = r["compute_cycles"]
    return out


def compare_reference(ref: pd.DataFrame) -> pd.DataFrame:
    """SCALE-Sim's compute cycles (its "Total Cycles", column ``total_cycles``) beside nmsim's for the same GEMMs
    and arrays, error in %; with SCALE-Sim's "Total Cycles (incl. prefetch)" (``scalesim_incl_prefetch_cycles``,
    :data:`INCL_PREFETCH`) where the run has it, and each run's ``split`` ("seen" where the file has none)."""
    out = ref[["name", "m", "k", "n", "sparsity", "dataflow", "rows", "cols", "total_cycles"]].copy()
    out = out.rename(columns={"name": "shape", "total_cycles": "scalesim_cycles"})
    out["split"] = ref["split"] if "split" in ref else "seen"
    out["scalesim_incl_prefetch_cycles"] = (ref["total_cycles_incl_prefetch"] if "total_cycles_incl_prefetch" in ref
                                            else float("nan"))
    cyc = np.zeros(len(out))
    for (rows, cols), idx in out.groupby(["rows", "cols"]).groups.items():
        cyc[out.index.get_indexer(idx)] = nmsim_cycles(out.loc[idx], rows, cols)
    out["nmsim_cycles"] = cyc
    out["error_pct"] = 100.0 * (out["nmsim_cycles"] - out["scalesim_cycles"]) / out["scalesim_cycles"]
    return out.reset_index(drop=True)


#: what SCALE-Sim's "Total Cycles (incl. prefetch)" adds to the compute cycles nmsim is compared with
INCL_PREFETCH = ("SCALE-Sim's 'incl. prefetch' cycles run from its first DRAM read to its last DRAM write: they add "
                 "the fill of the SRAMs before the first compute cycle at the config's Bandwidth (10 words per "
                 "cycle) and the drain of the last outputs; nmsim prices that memory side as traffic over the "
                 "memory bandwidth, overlapped with compute, so only the compute cycles are compared")


#: SCALE-Sim DETAILED_ACCESS_REPORT counts (worker keys) and the nmsim ``gemm_cycles`` count each is compared with
TRAFFIC = {"sram_ifmap_reads": "sram_a_reads", "sram_filter_reads": "sram_w_reads",
           "sram_ofmap_writes": "sram_c_writes", "dram_ifmap_reads": "a_elems", "dram_filter_reads": "w_elems",
           "dram_ofmap_writes": "c_write_elems"}
NOT_COMPARABLE = {
    "condensed_ifmap": "SCALE-Sim 3.0.0 fetches only the condensed M x K_c of A for an N:M weight; nmsim fetches "
                       "all of A (the columns of a fold keep different positions)",
    "psum_on_chip": "SCALE-Sim 3.0.0 drains every row fold's partial sums to DRAM; nmsim accumulates them in the "
                    "output SRAM when a column fold's partial sums fit its active half",
    "os_ofmap_count": "SCALE-Sim 3.0.0 adds rows + cols to its output-stationary OFMAP SRAM write count for every "
                      "fold (systolic_compute_os.create_ofmap_demand_mat counts the fold's demand-matrix height and "
                      "width as writes); nmsim counts each output once",
}


def compare_traffic(ref: pd.DataFrame) -> pd.DataFrame:
    """SCALE-Sim's SRAM and DRAM access counts beside nmsim's, one row per (run, quantity), in elements (SCALE-Sim's
    word is one byte; every SRAM is ``sram_kb``), plus the filter metadata in bytes for N:M runs (SCALE-Sim's
    SPARSE_REPORT, index encoding). ``comparable`` is ``yes`` or the reason the two tools count the quantity
    differently by design (:data:`NOT_COMPARABLE`); ``error_pct`` is given for every row; ``split`` says whether the
    run was seen while the model was corrected or held out."""
    from nmsim.sparsity.metadata import metadata_bits_per_group
    from nmsim.sparsity.pattern import NMPattern

    rows = []
    for r in ref.itertuples(index=False):
        kb = float(r.sram_kb) * 1024
        arr = ArrayConfig(int(r.rows), int(r.cols), str(r.dataflow), ifmap_sram_bytes=kb, filter_sram_bytes=kb,
                          ofmap_sram_bytes=kb)
        n, m = _nm(r.sparsity)
        bits = metadata_bits_per_group(NMPattern(n, m), "index")  # SCALE-Sim: ceil(log2 M) bits per kept value
        got = gemm_cycles(arr, r.m, r.k, r.n, keep_n=n, group_m=m, bytes_per_el=1.0, meta_bits_per_group=bits)
        counts = dict(TRAFFIC)
        words = getattr(r, "filter_metadata_words", float("nan"))
        if n < m and words == words:  # SPARSE_REPORT counts 32-bit words
            counts["filter_metadata_words"] = "metadata_bytes"
        for ss_key, nm_key in counts.items():
            ss, mine = float(getattr(r, ss_key)), float(got[nm_key])
            if ss_key == "filter_metadata_words":
                ss *= 4.0  # bytes
            why = "yes"
            if ss_key == "dram_ifmap_reads" and bool(got["sparse"]):
                why = NOT_COMPARABLE["condensed_ifmap"]
            elif ss_key == "sram_ofmap_writes" and r.dataflow == "os":
                why = NOT_COMPARABLE["os_ofmap_count"]
            elif (ss_key == "dram_ofmap_writes" and r.dataflow != "os" and int(got["row_folds"]) > 1
                  and float(got["c_read_elems"]) == 0):
                why = NOT_COMPARABLE["psum_on_chip"]
            rows.append({"split": getattr(r, "split", "seen"), "shape": r.name, "m": int(r.m), "k": int(r.k),
                         "n": int(r.n), "sparsity": r.sparsity,
                         "dataflow": r.dataflow, "array": f"{int(r.rows)}x{int(r.cols)}", "sram_kb": float(r.sram_kb),
                         "quantity": ss_key.replace("_words", "_bytes"), "scalesim": ss, "nmsim": mine,
                         "error_pct": 100.0 * (mine - ss) / ss if ss else float("nan"), "comparable": why})
    return pd.DataFrame(rows)


def _ratio(dense: pd.DataFrame, sparse: pd.DataFrame, col: str) -> float:
    return float(dense[col].iloc[0] / sparse[col].iloc[0])


def speedups(table: pd.DataFrame, pattern: str = "1:4") -> pd.DataFrame:
    """Per weight-stationary shape on a 128x128 array: dense cycles / ``pattern`` cycles from both tools."""
    ws = table[(table["dataflow"] == "ws") & (table["rows"] == 128) & (table["cols"] == 128)]
    rows = []
    for shape, g in ws.groupby("shape", sort=False):
        d, s = g[g["sparsity"] == "1:1"], g[g["sparsity"] == pattern]
        if len(d) and len(s):
            rows.append({"shape": shape, "m": int(d["m"].iloc[0]), "k": int(d["k"].iloc[0]),
                         "n": int(d["n"].iloc[0]),
                         f"scalesim_speedup_{pattern}": _ratio(d, s, "scalesim_cycles"),
                         f"nmsim_speedup_{pattern}": _ratio(d, s, "nmsim_cycles")})
    return pd.DataFrame(rows)


def compare_topology(folder: Path, run_scalesim, rows: int = 128, cols: int = 128, command: str = "") -> list[dict]:
    """Run every distinct GEMM of an exported SCALE-Sim folder (``fwd.csv``, ``dgrad.csv``, ``wgrad.csv``) through
    ``run_scalesim(job) -> {'total_cycles': ...}`` and compare per pass with nmsim's cycles (× repeats)."""
    out = []
    for pass_ in ("fwd", "dgrad", "wgrad"):
        path = Path(folder) / f"{pass_}.csv"
        if not path.exists():
            continue
        topo = read_topology(path)
        topo["dataflow"] = "ws"
        topo["nmsim_cycles"] = nmsim_cycles(topo, rows, cols)
        uniq = topo.drop_duplicates(["m", "k", "n", "sparsity"])
        ref, pre = {}, {}
        for r in uniq.itertuples(index=False):
            nm = _nm(r.sparsity)
            job = {"name": r.layer, "m": r.m, "k": r.k, "n": r.n, "sparsity": r.sparsity, "dataflow": "ws",
                   "rows": rows, "cols": cols,
                   "config": config_text(rows, cols, "ws", block=nm[1], sparse=nm[0] < nm[1])}
            got = run_scalesim(job)
            ref[(r.m, r.k, r.n, r.sparsity)] = got["total_cycles"]
            pre[(r.m, r.k, r.n, r.sparsity)] = got.get("total_cycles_incl_prefetch", float("nan"))
        keys = [(r.m, r.k, r.n, r.sparsity) for r in topo.itertuples(index=False)]
        ss = np.array([ref[key] for key in keys], dtype=float)
        total_ss = float((ss * topo["b"]).sum())
        total_pre = float((np.array([pre[key] for key in keys], dtype=float) * topo["b"]).sum())
        total_nm = float((topo["nmsim_cycles"] * topo["b"]).sum())
        out.append({"bench": "scalesim-export", "export": command, "pass": pass_, "gemms": int(len(topo)),
                    "distinct_gemms": int(len(uniq)), "sparse_gemms": int((topo["sparsity"] != "1:1").sum()),
                    "scalesim_cycles": total_ss, "scalesim_incl_prefetch_cycles": total_pre, "nmsim_cycles": total_nm,
                    "error_pct": 100.0 * (total_nm - total_ss) / total_ss,
                    "goal_met": abs(total_nm - total_ss) <= 0.10 * total_ss})
    if out:
        ss, nm = sum(r["scalesim_cycles"] for r in out), sum(r["nmsim_cycles"] for r in out)
        out.append({"bench": "scalesim-export", "export": command, "pass": "step",
                    "gemms": sum(r["gemms"] for r in out), "scalesim_cycles": ss,
                    "scalesim_incl_prefetch_cycles": sum(r["scalesim_incl_prefetch_cycles"] for r in out),
                    "nmsim_cycles": nm,
                    "error_pct": 100.0 * (nm - ss) / ss, "goal_met": abs(nm - ss) <= 0.10 * ss})
    return out


VALIDATION = Path(__file__).resolve().parent.parent / "data" / "validation"


def stored_validation() -> dict:
    """nmsim against the stored SCALE-Sim 3.0.0 runs (no SCALE-Sim needed): ``cycles`` (every GEMM of
    ``scalesim-3.0.0.csv`` and of the traffic runs), ``speedups`` (1:4 vs dense, both tools), ``traffic`` (every
    count of ``scalesim-3.0.0-traffic.csv``, :func:`compare_traffic`) and ``summary`` (per split: counts compared,
    within 10 % and 1 %, worst error, counts SCALE-Sim makes another way by design)."""
    ref = pd.read_csv(VALIDATION / "scalesim-3.0.0.csv")
    traffic_ref = pd.read_csv(VALIDATION / "scalesim-3.0.0-traffic.csv")
    cycles = pd.concat([compare_reference(ref).assign(runs="cycles"),
                        compare_reference(traffic_ref).assign(runs="traffic")], ignore_index=True)
    traffic = compare_traffic(traffic_ref)
    rows = []
    for split, g in traffic.groupby("split", sort=False):
        ok = g[g["comparable"] == "yes"]
        err = ok["error_pct"].abs()
        worst = ok.loc[err.idxmax()]
        rows.append({"split": split, "runs": int((traffic_ref["split"] == split).sum()), "counts": len(g),
                     "comparable": len(ok), "within_10_pct": int((err <= 10).sum()), "within_1_pct": int((err <= 1).sum()),
                     "worst_error_pct": float(worst["error_pct"]),
                     "worst": f"{worst['quantity']} {worst['dataflow']} {worst['shape']} {worst['sram_kb']:g} KiB",
                     "other_accounting": len(g) - len(ok)})
    return {"cycles": cycles, "cycles_summary": cycles_summary(cycles), "speedups": speedups(compare_reference(ref)),
            "traffic": traffic, "summary": pd.DataFrame(rows)}


def cycles_summary(cycles: pd.DataFrame) -> pd.DataFrame:
    """Per runs file, split, dataflow and array: GEMMs compared, patterns, how many within 1 %, worst error."""
    frame = cycles.assign(array=cycles["rows"].astype(str) + "x" + cycles["cols"].astype(str),
                          abs_err=cycles["error_pct"].abs())
    order = {"1:1": 0, "2:4": 1, "1:4": 2, "1:8": 3}
    rows = []
    for (runs, split, df, array), g in frame.groupby(["runs", "split", "dataflow", "array"], sort=False):
        pats = sorted(g["sparsity"].unique(), key=lambda p: (order.get(p, 9), p))
        rows.append({"runs": runs, "split": split, "dataflow": df, "array": array, "patterns": " ".join(pats),
                     "gemms": len(g), "within_1_pct": int((g["abs_err"] <= 1.0).sum()),
                     "worst_error_pct": float(g.loc[g["abs_err"].idxmax(), "error_pct"])})
    return pd.DataFrame(rows)

