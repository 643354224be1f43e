"""``nmsim price`` (one workload x plan x accelerator, by op/role/layer/pass) and ``nmsim compare``
(accelerators x patterns). Argument parsing only: the work is ``nmsim.cost``."""
from __future__ import annotations

import sys

from nmsim.cli.output import FORMATS, emit

PHASES = ("inference", "prefill", "decode", "training")


def _positive(text: str) -> int:
    import argparse
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _common(p) -> None:
    p.add_argument("workload", help="bundled workload name or a workload YAML path")
    p.add_argument("--dtype", default="bf16", help="matrix dtype (bf16, fp16, tf32, fp8, int8, ...)")
    p.add_argument("--phase", choices=PHASES, default="inference",
                   help="inference (forward), prefill (prompt forward), decode (one token over a KV cache), training")
    p.add_argument("--batch", type=_positive)
    p.add_argument("--seq", type=_positive, help="sequence length (text models; prefill: prompt length)")
    p.add_argument("--context", type=_positive, help="KV-cache length for --phase decode (default: seq_len)")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--out", help="write to this file instead of stdout")


def register(sub) -> None:
    p = sub.add_parser("price", help="price a workload under a sparsity plan on an accelerator")
    _common(p)
    p.add_argument("--hardware", required=True, help="bundled spec name/alias or a spec YAML path")
    p.add_argument("--sparsity", default=None, help="plan, e.g. ff=2:4,qkv=1:8 (default dense)")
    p.add_argument("--by", choices=("op", "role", "layer", "pass"), default="role")
    p.add_argument("--memory", action="store_true", help="print the memory footprint instead")
    p.set_defaults(func=run_price)

    c = sub.add_parser("compare", help="accelerators x N:M patterns: executed FLOPs, seconds, speedup, memory")
    _common(c)
    c.add_argument("--hardware", default="all", help="comma-separated spec names/paths, or all (default)")
    c.add_argument("--patterns", default="dense,2:4,1:4,1:8,1:16,1:32", help="comma-separated patterns")
    c.add_argument("--selector", default="ff", help="which GEMMs get the pattern (role group, all, re:REGEX)")
    c.set_defaults(func=run_compare)


def run_price(args) -> int:
    from nmsim.cost import memory_footprint, price, trace_for_phase
    from nmsim.cost.pricing import _hardware
    from nmsim.graph import load_workload

    hw = _hardware(args.hardware)
    hw.dense_tflops(args.dtype)  # one-line error naming the hardware and dtype
    cfg = load_workload(args.workload)
    graph = trace_for_phase(cfg, args.phase, args.batch, args.seq, args.context)
    if args.memory:
        df = memory_footprint(graph, args.sparsity, hw, args.dtype, args.phase, context=args.context,
                              batch=args.batch)
        emit(df, args.format, args.out)
        print(f"# {hw.name}: {df.loc['total', 'gib']:.3f} GiB of {df.attrs['capacity_gib']:g} GiB - "
              f"{'fits' if df.attrs['fits'] else 'does NOT fit'}", file=sys.stderr)
        return 0
    result = price(graph, args.sparsity, hw, args.dtype, args.phase)
    table = result.by(args.by)
    if args.by == "op":
        emit(table, args.format, args.out, index=False)
    else:
        total = table.sum(numeric_only=True)
        table.loc[len(table)] = {**total.to_dict(), args.by: "total", "bound": result.totals["bound"]}
        emit(table.set_index(args.by), args.format, args.out)
    t = result.totals
    print(f"# {cfg.name} {args.phase} on {hw.name} {args.dtype}, plan {result.plan}: {t['seconds'] * 1e3:.4g} ms, "
          f"{t['executed_flops'] / 1e12:.4g} executed TFLOP of {t['nominal_flops'] / 1e12:.4g} nominal, "
          f"{t['joules']:.4g} J, {t['bound']}-bound", file=sys.stderr)
    return 0


def run_compare(args) -> int:
    from nmsim.cost import compare

    df = compare(args.workload, args.hardware, args.patterns, args.selector, args.phase, args.dtype,
                 args.batch, args.seq, args.context)
    emit(df, args.format, args.out, index=False)
    for note in df.attrs.get("skipped", []):
        print(f"# skipped {note}", file=sys.stderr)
    return 0
