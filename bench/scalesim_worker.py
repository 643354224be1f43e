"""Run SCALE-Sim 3.0.0 on one GEMM and print its compute report as one JSON line (stdlib + scalesim only).

Runs inside SCALE-Sim's own virtual environment (numpy<2), started by ``bench_scalesim.py``::

    python scalesim_worker.py '{"name": "ff1", "m": 196, "n": 3072, "k": 768, "sparsity": "1:4",
                                "config": "<nmsim.export.scalesim.config_text(...)>"}'

The job carries the full config text (``"config"``, written by ``nmsim.export.scalesim.config_text`` in the
bench's own environment, so the worker and ``nmsim export`` use one template).

It writes the config (every section the 3.0.0 parser requires), a GEMM topology CSV (``Layer, M, N, K,
Sparsity,`` with the trailing comma) and a header-only layout CSV into a temporary folder, calls the Python API
with ``save_disk_space=True`` (the CLI's ``-s`` flag has no effect in 3.0.0), and reads COMPUTE_REPORT.csv
(cycles), DETAILED_ACCESS_REPORT.csv (SRAM reads/writes by the array, DRAM reads/writes by the SRAMs) and,
with sparsity on, SPARSE_REPORT.csv (filter metadata storage).
``InterfaceBandwidth: CALC`` lets SCALE-Sim size the interface bandwidth so it reports compute cycles without
memory stalls; ``OptimizedMapping: false`` keeps the topology's N:M (true draws a random N per column).
"""
from __future__ import annotations

import contextlib
import csv
import glob
import io
import json
import os
import sys
import tempfile
import time

def run(job: dict) -> dict:
    from scalesim.scale_sim import scalesim  # imported here: only inside SCALE-Sim's environment

    with tempfile.TemporaryDirectory(prefix="nmsim-scalesim-") as tmp:
        cfg, topo, layout = (os.path.join(tmp, f) for f in ("nmsim.cfg", "gemm.csv", "layout.csv"))
        with open(cfg, "w") as f:
            f.write(job["config"])
        with open(topo, "w") as f:
            f.write("Layer, M, N, K, Sparsity,\n")
            f.write(f"{job['name']}, {job['m']}, {job['n']}, {job['k']}, {job.get('sparsity', '1:1')},\n")
        with open(layout, "w") as f:
            f.write("Layer, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter,\n")
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            sim = scalesim(save_disk_space=True, verbose=False, config=cfg, topology=topo, layout=layout,
                           input_type_gemm=True)
            sim.run_scale(top_path=os.path.join(tmp, "out"))
        seconds = time.perf_counter() - start
        row = _report(tmp, "COMPUTE_REPORT.csv")
        access = _report(tmp, "DETAILED_ACCESS_REPORT.csv")
        sparse = _report(tmp, "SPARSE_REPORT.csv") if glob.glob(os.path.join(tmp, "out", "*", "SPARSE_REPORT.csv")) \
            else None
    out = {"total_cycles_incl_prefetch": int(float(row["Total Cycles (incl. prefetch)"])),
           "total_cycles": int(float(row["Total Cycles"])), "stall_cycles": int(float(row["Stall Cycles"])),
           "mapping_efficiency_pct": float(row["Mapping Efficiency %"]),
           "compute_util_pct": float(row["Compute Util %"]), "scalesim_seconds": round(seconds, 2)}
    out.update({key: int(float(access[col])) for key, col in ACCESS.items()})
    if sparse is not None:  # 32-bit words of filter metadata (SCALE-Sim: kept elements x ceil(log2 M) bits)
        out["filter_metadata_words"] = float(sparse["Filter Metadata Storage"])
    return out


#: DETAILED_ACCESS_REPORT.csv columns kept (element counts; SCALE-Sim's word is one byte)
ACCESS = {"sram_ifmap_reads": "SRAM IFMAP Reads", "sram_filter_reads": "SRAM Filter Reads",
          "sram_ofmap_writes": "SRAM OFMAP Writes", "dram_ifmap_reads": "DRAM IFMAP Reads",
          "dram_filter_reads": "DRAM Filter Reads", "dram_ofmap_writes": "DRAM OFMAP Writes"}


def _report(tmp: str, name: str) -> dict:
    with open(glob.glob(os.path.join(tmp, "out", "*", name))[0]) as f:
        row = next(csv.DictReader(f, skipinitialspace=True))
    return {k.strip(): v.strip() for k, v in row.items() if k and k.strip()}


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))))
