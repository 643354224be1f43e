"""``nmsim validate``: fit the execution models' kernel parameters on kernel-level measurements and score every
measurement (kernel and end-to-end) against its prediction. Argument parsing only: the work is
``nmsim.api.checks``."""
from __future__ import annotations

import sys
import textwrap

from nmsim.cli.output import FORMATS, add_columns, emit


from nmsim.api.checks import ROW_COLUMNS  # noqa: F401 (the per-row table's columns)


def register(sub) -> None:
    p = sub.add_parser("validate", help="fit kernels on public kernel measurements, score end-to-end ones (MAPE)")
    p.add_argument("--measurements", default=None,
                   help="measurements YAML (default: the bundled nmsim/data/measurements/gpu.yaml)")
    p.add_argument("--no-refit", action="store_true", help="use the specs' kernel values instead of refitting")
    p.add_argument("--engines", action="store_true",
                   help="research engines (VEGETA, S2TA, HighLight) against their papers' relative figures, and "
                        "against GPUs absolute and at equal dense peak")
    p.add_argument("--systolic", action="store_true",
                   help="the systolic model against the stored SCALE-Sim 3.0.0 runs: cycles, 1:4 speedups, SRAM/DRAM "
                        "traffic (seen and held-out runs)")
    p.add_argument("--memory", action="store_true",
                   help="the memory model against published measured peak memory (allocator overhead fitted on "
                        "the fit rows of nmsim/data/measurements/memory.yaml, MAPE on the scored rows)")
    p.add_argument("--format", choices=FORMATS, default="table")
    add_columns(p, "all of the per-row tables; the fit and MAPE tables are always whole")
    p.add_argument("--out", help="write the per-row table to this file instead of stdout")
    p.add_argument("--write-bands", action="store_true",
                   help="also run `cluster validate` and rewrite the bundled 80 %% bands file "
                        "(nmsim/data/bands/bands.yaml) from the scored rows of every level")
    p.set_defaults(func=run)


def run_engines(args, checked) -> int:
    rows, gpus = checked.rows, checked.result
    if args.format != "table":
        emit(rows, args.format, args.out, index=False, columns=args.columns)
        return 0
    print(textwrap.fill("research engines: each paper's relative figure beside nmsim's (systolic cycle model, "
                        "inference batch 1; nothing is fitted: every comparable row is scored; a 'lower_bound' "
                        "claim is met at or above it)", 100))
    emit(rows[["engine", "pattern", "activations", "workload", "kind", "paper_speedup", "nmsim_speedup", "error_pct",
               "reproduced"]], "table", args.out, index=False)
    for r in rows[rows["comparable"] != "yes"].itertuples():
        print(textwrap.fill(f"not scored: {r.engine}, {r.claim} — {str(r.comparable).removeprefix('no: ')}", 100,
                            initial_indent="  ", subsequent_indent="    "))
    print("\n" + textwrap.fill(f"against GPUs: {gpus.attrs['what']}; the other columns are absolute (each device "
                               "at its own peak)", 100))
    emit(gpus, "table", None, index=False)
    return 0


def _readable(rows):
    """``measured``/``predicted`` in their row's unit (seconds as 870 us, speedups as 1.83x) for the table."""
    from nmsim.units import duration, fixed

    rows = rows.copy()
    for col in ("measured", "predicted"):
        rows[col] = [duration(v) if m == "seconds" else f"{fixed(v)}x" if m == "speedup" else fixed(v, 4)
                     for v, m in zip(rows[col], rows["metric"])]
    return rows


def run_systolic(args, checked) -> int:
    from nmsim.export.scalesim import INCL_PREFETCH, NOT_COMPARABLE
    v = checked.result
    if args.format != "table":
        emit(v["traffic"], args.format, args.out, index=False, columns=args.columns)
        return 0
    cyc = v["cycles"]
    print(f"cycles: {len(cyc)} GEMMs ({', '.join(f'{n} {d}' for d, n in cyc['dataflow'].value_counts().items())}), "
          f"worst error {cyc['error_pct'].abs().max():.3f} %\n(SCALE-Sim counts one cycle fewer per GEMM)")
    print("\n" + textwrap.fill("compute cycles per runs file, split, dataflow and array ('held_out': run once after "
                               "the model was settled, never used to change it; nothing is fitted):", 100))
    emit(v["cycles_summary"], "table", None, index=False)
    own = cyc[cyc["runs"] == "cycles"]
    gemm = own["m"].astype(str) + "x" + own["k"].astype(str) + "x" + own["n"].astype(str)
    table = own.assign(gemm=gemm, array=own["rows"].astype(str) + "x" + own["cols"].astype(str))[
        ["split", "shape", "gemm", "array", "dataflow", "sparsity", "scalesim_cycles",
         "scalesim_incl_prefetch_cycles", "nmsim_cycles", "error_pct"]]
    table.columns = ["split", "shape", "MxKxN", "array", "df", "nm", "scalesim", "incl_prefetch", "nmsim",
                     "error_pct"]
    print("\n" + textwrap.fill("every GEMM of scalesim-3.0.0.csv: SCALE-Sim's Total Cycles (scalesim) and Total "
                               "Cycles (incl. prefetch), nmsim's compute cycles, error against Total Cycles:", 100))
    emit(table, "table", None, index=False)
    print(textwrap.fill(INCL_PREFETCH, 100, initial_indent="  - ", subsequent_indent="    "))
    print("\n1:4 over dense on a 128x128 weight-stationary array, both tools:")
    emit(v["speedups"], "table", None, index=False)
    print("\n" + textwrap.fill("SRAM/DRAM traffic against SCALE-Sim's access reports ('seen': the model was corrected "
                               "after these runs; 'held_out': run once afterwards, never used to change it):", 100))
    emit(v["summary"], "table", args.out, index=False)
    print("counted another way by SCALE-Sim by design (not scored):")
    for reason in NOT_COMPARABLE.values():
        print(textwrap.fill(reason, 100, initial_indent="  - ", subsequent_indent="    "))
    return 0


def run_memory(args, checked) -> int:
    v = checked.rows
    if args.format != "table":
        emit(v, args.format, args.out, index=False, columns=args.columns)
        return 0
    gib = 2.0 ** 30
    show = v.assign(measured_gib=v["measured_bytes"] / gib, predicted_gib=v["predicted_bytes"] / gib,
                    allocated_gib=v["allocated_bytes"] / gib)[["id", "split", "measure", "measured_gib", "allocated_gib",
                                                         "predicted_gib", "error_pct"]]
    print(textwrap.fill("memory model against measured peak memory (allocated: predicted bytes in use; reserved "
                        "adds the fitted allocator overhead, nvidia-smi also the CUDA context and kernels):", 100))
    emit(show, "table", args.out, index=False, columns=args.columns)
    m = v.attrs["mape"]
    print(f"allocator overhead {v.attrs['overhead']:.4f} (fitted on the fit rows{'' if checked.refit else ', as carried'})"
          f"; MAPE fit {m['fit']:.1f} %, scored {m['score']:.1f} % "
          f"({int((v['split'] == 'score').sum())} scored runs)")
    return 0


def run(args) -> int:
    from nmsim.api.checks import validate_models
    from nmsim.cli.output import columns_hook
    hook = columns_hook(args) if args.format == "table" else None   # a typo fails before the fit
    checked = validate_models(args, progress=lambda msg: print(f"nmsim: {msg}", file=sys.stderr),
                              columns_known=hook)
    if checked.kind != "kernels":
        return {"memory": run_memory, "engines": run_engines, "systolic": run_systolic}[checked.kind](args, checked)
    if checked.bands_file:
        print(f"nmsim: wrote {checked.bands_file}", file=sys.stderr)
    v = checked.result
    rows = checked.rows
    if args.format != "table":
        emit(rows, args.format, args.out, index=False, columns=args.columns)
        return 0
    rows = _readable(rows.drop(columns=["source"]))
    if args.out:
        emit(rows, "table", args.out, index=False, columns=args.columns)
    else:
        from nmsim.cli.output import render
        render(rows, "table", False, args.columns)   # a bad --columns fails before anything is printed
        for use, title in (("fitted", "fitted rows (each used by the fit it names)"),
                           ("scored", "scored rows (never used by a fit)")):
            print(f"{title}:")
            # group names carry the hardware
            emit(rows[rows["use"] == use].drop(columns=["use", "hardware"]), "table", None, index=False,
                 columns=",".join(c for c in args.columns.split(",") if c.strip() not in ("use", "hardware"))
                 if args.columns else None)
            print()
    print(f"fitted parameters: {len(v.fits)} (spec value -> fitted on the rows named by each fit):")
    emit(v.fits, "table", None, index=False)
    print("\nMAPE per group, per use and overall (fitted rows were used by a fit; scored rows never were):")
    emit(v.groups, "table", None, index=False)
    print_coverage(v, args.measurements)
    return 0


def print_coverage(v, measurements=None, cluster=None) -> None:
    """The 80 % band per level from these scored rows and its leave-one-out coverage (nmsim.bands.build)."""
    from nmsim.bands.build import coverage_table
    from nmsim.cost.validate import gpu_residuals
    import pandas as pd
    res = gpu_residuals(v, measurements)
    if cluster is not None:
        from nmsim.bands.build import cluster_residuals
        res = pd.concat([res, cluster_residuals(cluster)], ignore_index=True)
    print("\n" + textwrap.fill("80 % band per level from the scored seconds rows (factor on a predicted time; "
                               "coverage: share of the rows inside the band of the others, goal 75-85 %):", 100))
    emit(coverage_table(res), "table", None, index=False)
