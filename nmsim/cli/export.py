"""``nmsim export``: the per-pass GEMM table as SCALE-Sim topologies or Timeloop problems (argument parsing only)."""
from __future__ import annotations

PHASES = ("inference", "prefill", "decode", "training")


def _positive(text: str) -> int:
    import argparse
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def register(sub) -> None:
    p = sub.add_parser("export", help="write a workload's GEMMs for SCALE-Sim or Timeloop",
                       description="Write the GEMMs of one step (fwd, dgrad and wgrad separately) as SCALE-Sim GEMM "
                                   "topologies (with the N:M column) or Timeloop problem YAMLs (structured densities).")
    p.add_argument("workload", help="bundled workload name or a workload YAML path")
    p.add_argument("--sparsity", default=None, help="plan, e.g. ff=1:4,qkv=2:8 (default dense)")
    p.add_argument("--format", choices=("scalesim", "timeloop"), required=True)
    p.add_argument("--phase", "--mode", dest="phase", choices=PHASES, default="training",
                   help="which passes: training = fwd, dgrad, wgrad (default); others fwd only")
    p.add_argument("--batch", type=_positive)
    p.add_argument("--seq", type=_positive, help="sequence length (text models)")
    p.add_argument("--context", type=_positive, help="KV-cache length for --phase decode/prefill")
    p.add_argument("--hardware", help="label GEMMs with the patterns this spec executes (and its array geometry)")
    p.add_argument("--dtype", default="bf16", help="matrix dtype for --hardware pattern look-ups")
    p.add_argument("--out", required=True, help="output folder (created; replaced only if nmsim made it)")
    p.set_defaults(func=run)


def run(args) -> int:
    from nmsim.cost.pricing import trace_for_phase
    from nmsim.export import export_summary, gemm_rows, write_export
    from nmsim.io import check_output_folder

    check_output_folder(args.out, "export")
    hw = None
    if args.hardware:
        from nmsim.hardware import load
        hw = load(args.hardware)
    graph = trace_for_phase(args.workload, args.phase, args.batch, args.seq, args.context)
    rows = gemm_rows(graph, args.sparsity, args.phase, hw, args.dtype)
    note = f"{args.workload} {args.phase} sparsity={args.sparsity or 'dense'}"
    if hw is not None:
        note += f" hardware={hw.name}"
    out = write_export(rows, args.format, args.out, hw=hw, note=note)
    batch = args.batch or graph.config.batch
    print(f"wrote {out}: {export_summary(rows, args.format, args.workload, args.phase, batch)}")
    return 0
