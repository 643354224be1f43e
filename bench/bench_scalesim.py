"""nmsim's systolic model against SCALE-Sim 3.0.0, run live (the unit tests use the stored copy).

``python bench/bench_scalesim.py`` prints, for transformer GEMMs × dense/2:4/1:4 on a 128×128 weight-stationary
array, output- and input-stationary cases dense and N:M (2:4, 1:4, 1:8: SCALE-Sim condenses an N:M operand's
reduction in every dataflow), and non-square and odd arrays (32×64, 64×16, 8×128, 48×20) in every dataflow:
SCALE-Sim's cycles (Total Cycles, and incl. prefetch), nmsim's cycles, the error (goal: within 1 %), and the
1:4-vs-dense speedup from both tools; then an exported ViT-B/16 FF=1:4 training step (``nmsim export``) run
through SCALE-Sim; then SRAM and DRAM traffic (SCALE-Sim's DETAILED_ACCESS_REPORT against nmsim's counts) for
transformer GEMMs on a 32x32 array with 4 and 64 KiB SRAMs in every dataflow. ``--write`` stores the reference
tables as ``nmsim/data/validation/scalesim-3.0.0.csv`` and ``scalesim-3.0.0-traffic.csv`` (runs already stored
are kept; only new jobs run).

SCALE-Sim needs numpy<2, so it runs in its own environment: ``$NMSIM_SCALESIM_PYTHON`` if set, else
``.venvs/scalesim`` in the repository, created on first use (``pip install scalesim==3.0.0 'numpy<2'``). When
that cannot be done (no network) the bench prints why and returns a skipped row. One GEMM takes 10 s to a few
minutes and about 1 GB, so they run one at a time (the whole bench: about 30 min on 2 busy cores).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "scalesim_worker.py"
VERSION = "3.0.0"
VENV = REPO / ".venvs" / "scalesim"

# transformer GEMMs as (name, M activation rows, K reduction, N outputs): FF and projection GEMMs at small
# (decode, M=8), medium (one image / sequence, M=197) and large (M=512, 1024) M; 1:4 of K=768 or 192 condenses
# to 192 or 48 rows, not a multiple of 128
SHAPES = [
    ("vit-b qkv", 197, 768, 2304),
    ("vit-b proj", 197, 768, 768),
    ("vit-b ff1", 197, 768, 3072),
    ("vit-b ff2", 197, 3072, 768),
    ("vit-tiny ff1", 197, 192, 768),
    ("gpt2 proj m=1024", 1024, 768, 768),
    ("bert-large proj m=512", 512, 1024, 1024),
    ("gpt2 decode ff1 m=8", 8, 768, 3072),
]
PATTERNS = ["1:1", "2:4", "1:4"]
EXTRA = [("vit-b proj", 197, 768, 768, "1:1", "os"), ("vit-tiny ff1", 197, 192, 768, "1:1", "os"),
         ("vit-b proj", 197, 768, 768, "1:1", "is"), ("vit-tiny ff1", 197, 192, 768, "1:1", "is"),
         ("gpt2 decode ff1 m=8", 8, 768, 3072, "1:1", "is"), ("bert-large proj m=512", 512, 1024, 1024, "1:1", "is")]
# held out (split "held_out"): decided and run once after the model was changed from SCALE-Sim 3.0.0's source
# (operand_matrix.py condenses the filter and the IFMAP to the kept K_c before any dataflow's compute), never used
# to change it. N:M on input- and output-stationary 128x128 arrays ...
NM_PATTERNS = ["2:4", "1:4", "1:8"]
HELD_OUT_NM = [(s, m, k, n, p, df) for df in ("is", "os")
               for s, m, k, n in (("vit-b proj", 197, 768, 768), ("vit-tiny ff1", 197, 192, 768),
                                  ("gpt2 decode ff1 m=8", 8, 768, 3072))
               for p in (["1:1"] if (df == "os" and m == 8) else []) + NM_PATTERNS]
HELD_OUT_NM += [("vit-b proj", 197, 768, 768, "1:8", "ws"), ("bert-large proj m=512", 512, 1024, 1024, "2:4", "is")]
# ... and non-square and odd arrays in every dataflow, dense and N:M; K = 150 leaves a partial last group (150 mod 4
# = 2, mod 8 = 6)
HELD_OUT_ARRAYS = [(32, 64), (64, 16), (8, 128), (48, 20)]
HELD_OUT_ARRAY_SHAPES = [("vit-tiny ff1", 197, 192, 768), ("odd 100x150x200", 100, 150, 200)]
# SRAM and DRAM traffic: small SRAMs (4 KiB: every streamed operand and every column fold's partial sums overflow
# the active half; 64 KiB: most fit) on a 32x32 array, so re-reads and spills happen at transformer shapes that
# SCALE-Sim runs in seconds; every dataflow dense, and N:M weights on ws (SCALE-Sim skips an N:M operand's zero
# blocks in every dataflow; the N:M cycles of os and is are checked by the held-out runs of ``jobs``)
TRAFFIC_SHAPES = [
    ("vit-tiny ff1", 197, 192, 768),
    ("vit-tiny ff2", 197, 768, 192),
    ("vit-tiny qkv", 197, 192, 576),
    ("gpt2 decode proj m=8", 8, 768, 768),
    ("bert-mini ff1 m=128", 128, 256, 1024),
    ("odd 100x200x150", 100, 200, 150),
]
TRAFFIC_SRAM_KB = (4, 64)
TRAFFIC_ARRAY = 32
# held out: run once after the traffic model was settled on the runs above, never used to change it (another
# array, other SRAM sizes, other shapes)
HELD_OUT_SHAPES = [
    ("vit-s qkv", 197, 384, 1152),
    ("gpt2 decode proj m=4", 4, 768, 768),
    ("bert-mini ff2 m=128", 128, 1024, 256),
    ("odd 150x300x100", 150, 300, 100),
]
HELD_OUT_SRAM_KB = (8, 32)
HELD_OUT_ARRAY = 64


def scalesim_python() -> tuple[str | None, str]:
    """The interpreter that has SCALE-Sim, creating ``.venvs/scalesim`` when needed; (None, why) if impossible."""
    from peer_venv import peer_python

    return peer_python(VENV, [f"scalesim=={VERSION}", "numpy<2"],
                       f"import scalesim, importlib.metadata as m; assert m.version('scalesim') == '{VERSION}'",
                       "NMSIM_SCALESIM_PYTHON")


def run_one(py: str, job: dict) -> dict:
    out = subprocess.run(["nice", "-n", "10", py, str(WORKER), json.dumps(job)], capture_output=True, text=True,
                         timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"SCALE-Sim failed on {job}: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def jobs() -> list[dict]:
    from nmsim.export.scalesim import config_text

    base = {"rows": 128, "cols": 128, "split": "seen"}
    out = [{"name": s, "m": m, "k": k, "n": n, "sparsity": p, "dataflow": "ws", **base}
           for s, m, k, n in SHAPES for p in PATTERNS]
    out += [{"name": s, "m": m, "k": k, "n": n, "sparsity": p, "dataflow": df, **base} for s, m, k, n, p, df in EXTRA]
    held = {"split": "held_out"}
    out += [{"name": s, "m": m, "k": k, "n": n, "sparsity": p, "dataflow": df, "rows": 128, "cols": 128, **held}
            for s, m, k, n, p, df in HELD_OUT_NM]
    out += [{"name": s, "m": m, "k": k, "n": n, "sparsity": p, "dataflow": df, "rows": r, "cols": c, **held}
            for r, c in HELD_OUT_ARRAYS for s, m, k, n in HELD_OUT_ARRAY_SHAPES for df in ("ws", "os", "is")
            for p in ["1:1", "2:4", "1:4"] + (["1:8"] if k == 150 else [])]
    for job in out:
        n, m = (int(x) for x in job["sparsity"].split(":"))
        job["config"] = config_text(job["rows"], job["cols"], job["dataflow"], block=m, sparse=n < m)
    return out


def traffic_jobs() -> list[dict]:
    """The traffic runs: ``split`` "seen" (the traffic model was corrected after them) and "held_out"."""
    from nmsim.export.scalesim import config_text

    out = []
    for split, shapes, sizes, a in (("seen", TRAFFIC_SHAPES, TRAFFIC_SRAM_KB, TRAFFIC_ARRAY),
                                    ("held_out", HELD_OUT_SHAPES, HELD_OUT_SRAM_KB, HELD_OUT_ARRAY)):
        for s, m, k, n in shapes:
            for kb in sizes:
                cases = [(df, "1:1") for df in ("ws", "os", "is")] + [("ws", "2:4"), ("ws", "1:4")]
                for df, p in cases:
                    nn, mm = (int(x) for x in p.split(":"))
                    out.append({"name": s, "m": m, "k": k, "n": n, "sparsity": p, "dataflow": df, "rows": a,
                                "cols": a, "sram_kb": kb, "split": split,
                                "config": config_text(a, a, df, block=mm, sparse=nn < mm, sram_kb=kb)})
    return out


def collect(py: str, todo: list[dict], progress: bool = True, save=None, stored=None) -> list[dict]:
    """Run ``todo`` one GEMM at a time; ``save(rows)`` after each (a long run keeps what it has done). Rows of
    ``stored`` (earlier results) with the same job key are reused instead of run again."""
    rows = []
    old = {_key(r): r for r in (stored or [])}
    for i, job in enumerate(todo, 1):
        hit = old.get(_key(job))
        if hit is not None:  # the job's own fields (a label added since) win over the stored ones
            rows.append({**hit, **{k: v for k, v in job.items() if k != "config"}})
            continue
        res = run_one(py, job)
        if progress:
            print(f"[{i}/{len(todo)}] {job['name']} {job['sparsity']} {job['dataflow']}: "
                  f"{res['total_cycles']} cycles ({res['scalesim_seconds']} s)", file=sys.stderr, flush=True)
        shown = {k: v for k, v in job.items() if k != "config"}  # the config is config_text(rows, cols, ...)
        rows.append({**shown, **res, "scalesim_version": VERSION,
                     "command": f"python bench/scalesim_worker.py '{json.dumps(shown)}'"})
        if save is not None:
            save(rows)
    return rows


def write_reference(path: Path, todo: list[dict]) -> None:
    """Store SCALE-Sim's results for ``todo`` at ``path``; runs already stored there (same job) are kept as they
    are and only new jobs run."""
    import pandas as pd

    from nmsim.io import write_text

    def write(p: Path, rows: list[dict]) -> None:  # a data file of the repository, not a user's output
        write_text(p, pd.DataFrame(rows).to_csv(index=False), mine_only=False)

    py, why = scalesim_python()
    if py is None:
        raise SystemExit(f"bench_scalesim: {why}")
    partial = path.with_name(path.name + ".partial")  # what an interrupted run had done
    stored = [r for f in (path, partial) if f.exists() for r in pd.read_csv(f).to_dict("records")]
    rows = collect(py, todo, save=lambda r: write(partial, r), stored=stored)
    write(path, rows)
    partial.unlink(missing_ok=True)
    print(f"wrote {path}", file=sys.stderr)


def run() -> list[dict]:
    import pandas as pd

    from nmsim.export.scalesim import compare_reference, compare_traffic, speedups

    py, why = scalesim_python()
    if py is None:
        print(f"bench_scalesim: {why}", file=sys.stderr)
        return [{"bench": "scalesim", "skipped": why}]
    start = time.perf_counter()
    live = pd.DataFrame(collect(py, jobs()))
    table = compare_reference(live)
    rows = [{"bench": "scalesim", **r, "goal_met": abs(r["error_pct"]) <= 1.0} for r in table.to_dict("records")]
    rows += [{"bench": "scalesim-1:4-speedup", **r} for r in speedups(table).to_dict("records")]
    done = {_key(r): r for r in live.to_dict("records")}  # GEMMs already run above are not run twice

    def cached(job: dict) -> dict:
        hit = done.get(_key(job))
        if hit is None:
            hit = run_one(py, job)
            print(f"[export] {job['name']} {job['m']}x{job['k']}x{job['n']} {job['sparsity']}: "
                  f"{hit['total_cycles']} cycles ({hit['scalesim_seconds']} s)", file=sys.stderr, flush=True)
        return hit

    rows += exported_step(cached)
    traffic = compare_traffic(pd.DataFrame(collect(py, traffic_jobs())))
    rows += [{"bench": "scalesim-traffic", **r,
              "goal_met": abs(r["error_pct"]) <= 10.0 if r["comparable"] == "yes" else None}
             for r in traffic.to_dict("records")]
    print(f"bench_scalesim: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return rows


def _key(job: dict) -> tuple:
    sram = job.get("sram_kb")
    sram = "" if sram is None or sram != sram else str(int(float(sram)))  # absent or NaN: the default config
    return tuple(str(job[k]) for k in ("m", "k", "n", "sparsity", "dataflow", "rows", "cols")) + (sram,)


def exported_step(run_scalesim) -> list[dict]:
    """Export a ViT-B/16 FF=1:4 training step with ``nmsim export`` and run the file through SCALE-Sim."""
    import tempfile

    from nmsim.export.scalesim import compare_topology

    with tempfile.TemporaryDirectory(prefix="nmsim-export-") as tmp:
        cmd = [sys.executable, "-m", "nmsim", "export", "vit-base-16", "--sparsity", "ff=1:4", "--mode", "training",
               "--batch", "1", "--format", "scalesim", "--out", tmp]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        return compare_topology(Path(tmp), run_scalesim, command="nmsim " + " ".join(cmd[3:-2]))


if __name__ == "__main__":
    if "--write" in sys.argv:
        folder = REPO / "nmsim" / "data" / "validation"
        write_reference(folder / f"scalesim-{VERSION}.csv", jobs())
        write_reference(folder / f"scalesim-{VERSION}-traffic.csv", traffic_jobs())
    else:
        import pandas as pd

        with pd.option_context("display.width", 200, "display.max_columns", None):
            print(pd.DataFrame(run()).to_string(index=False))
