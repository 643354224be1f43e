"""``nmsim export``: the per-pass GEMM table as SCALE-Sim topologies or Timeloop problems (argument parsing only)."""
from __future__ import annotations

from nmsim.cli.axes import add_mode


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
    from nmsim.cli.workload import add_workload
    add_workload(p)
    p.add_argument("--sparsity", default=None, help="plan, e.g. ff=1:4,qkv=2:8 (default dense)")
    p.add_argument("--format", choices=("scalesim", "timeloop"), required=True)
    add_mode(p, "training", "pricing mode, i.e. which passes: training = fwd, dgrad, wgrad (default); inference, "
                            "prefill, decode: fwd only")
    p.add_argument("--batch", type=_positive)
    p.add_argument("--seq", type=_positive, help="sequence length (text models)")
    p.add_argument("--context", type=_positive, help="KV-cache length for --mode decode/prefill")
    p.add_argument("--hardware", help="label GEMMs with the patterns this spec executes (and its array geometry)")
    p.add_argument("--dtype", default="bf16", help="matrix dtype for --hardware pattern look-ups")
    p.add_argument("--out", required=True, help="output folder (created; replaced only if nmsim made it)")
    p.set_defaults(func=run)


def run(args) -> int:
    from nmsim.api.checks import export_folder
    out, rows, batch = export_folder(args)
    from nmsim.export import export_summary
    import textwrap
    text = f"wrote {out}: {export_summary(rows, args.format, args.workload, args.mode, batch)}"
    print(textwrap.fill(text, 100, subsequent_indent="    ", break_on_hyphens=False))
    return 0
