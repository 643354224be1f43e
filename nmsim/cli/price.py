"""``nmsim price`` (one workload x plan x accelerator, by op/role/layer/pass) and ``nmsim compare``
(accelerators x patterns). Argument parsing only: the work is ``nmsim.cost``."""
from __future__ import annotations

import sys

from nmsim.cli.axes import add_mode, axis, render_sweep
from nmsim.cli.output import FORMATS, add_columns, columns_hook, emit
from nmsim.cli.workload import add_workload


def _common(p) -> None:
    add_workload(p)
    p.add_argument("--dtype", default=None,
                   help="compute dtype (bf16, fp16, tf32, fp8, int8, ...; default: bf16, or fp16 where the spec lacks bf16)")
    p.add_argument("--weight-dtype", default=None,
                   help="storage dtype of the weights when it differs from --dtype (e.g. int4 with bf16 compute)")
    p.add_argument("--kernel", default=None, help="pin this sparse kernel of the spec (default: fastest per GEMM)")
    p.add_argument("--unfused", action="store_true",
                   help="no FlashAttention-style attention and no fused epilogues (default: what the spec's stack fuses)")
    p.add_argument("--no-cuda-graphs", dest="cuda_graphs", action="store_false",
                   help="eager kernel launches: each kernel waits for its host dispatch (gpu specs' host_op_us; "
                   "default: replayed from a CUDA graph)")
    add_mode(p)
    add_memory_options(p)
    p.add_argument("--batch", type=axis, help="batch size; price: a sweep such as 1:128 or 1,8,64")
    p.add_argument("--seq", type=axis, help="sequence length (text models; prefill: prompt length); "
                   "price: a sweep such as 128,512,2048")
    p.add_argument("--context", type=axis, help="KV-cache length for --mode decode (default: seq_len); "
                   "price: a sweep such as 1k:32k:x2")
    p.add_argument("--image-size", type=axis, help="vision models, price: image sizes, e.g. 224,384 or 64:512:32")
    p.add_argument("--format", choices=FORMATS, default="table")
    add_columns(p)
    p.add_argument("--out", help="write to this file instead of stdout")
    add_price_per_hour(p)


def add_price_per_hour(p) -> None:
    """``--price-per-hour DEVICE=USD[,...]`` (repeatable) over the bundled list prices."""
    p.add_argument("--price-per-hour", action="append", metavar="DEVICE=USD",
                   help="hourly price of one device for $ per million tokens (and $ per run), e.g. a100=1.8; "
                        "default: the bundled on-demand list prices (nmsim/data/prices), 'not given' where none")


#: the precision schemes of nmsim.memory.precision (listed here so that parsing imports no pandas)
PRECISION_NAMES = ("mixed", "mixed-fp32-grads", "amp", "fp32", "bf16")


def add_memory_options(p) -> None:
    p.add_argument("--recompute", choices=("none", "selective", "full"), default="none",
                   help="training: activation recomputation: less activation memory, and backward runs the "
                        "forward again (full) or the attention core's (selective) in the step time; default none")
    p.add_argument("--precision", choices=PRECISION_NAMES, default=None,
                   help="training: bytes per parameter of weights, gradients and optimizer (mixed: 16-bit weights "
                        "and grads + fp32 master and Adam, 16 B, DeepSpeed/Megatron; mixed-fp32-grads 18 B, "
                        "Megatron bf16; amp 18 B, PyTorch AMP/HF Trainer; fp32 16 B; bf16 8 B; default mixed, "
                        "fp32 for fp32 compute)")


def memory_kwargs(args) -> dict:
    """The memory model's keywords from the options (:func:`nmsim.api.pricing.memory_kwargs`)."""
    from nmsim.api.pricing import memory_kwargs as kwargs
    return kwargs(args)


def fit_text(total_gib: float, capacity_gib: float) -> str:
    """``memory 84.0 GiB of 74.5 GiB: does NOT fit (priced anyway)``."""
    verdict = "fits" if total_gib <= capacity_gib else "does NOT fit (priced anyway)"
    return f"memory {total_gib:,.1f} GiB of {capacity_gib:g} GiB: {verdict}"


def register(sub) -> None:
    p = sub.add_parser("price", help="price a workload under a sparsity plan on an accelerator")
    _common(p)
    p.add_argument("--hardware", required=True, help="bundled spec name/alias or a spec YAML path")
    p.add_argument("--sparsity", default=None, help="plan, e.g. ff=2:4,qkv=1:8 (default dense)")
    p.add_argument("--by", choices=("op", "role", "layer", "pass", "kernel"), default="role")
    p.add_argument("--memory", action="store_true", help="print the memory footprint instead")
    p.add_argument("--dropout", action="store_true",
                   help="training: the model trains with dropout (its masks are priced and kept in memory: "
                   "embeddings, each residual branch, attention probabilities); one shape, not a sweep")
    p.set_defaults(func=run_price)

    c = sub.add_parser("compare", help="accelerators x N:M patterns: executed FLOPs, seconds, speedup, memory")
    _common(c)
    c.add_argument("--hardware", default="all", help="comma-separated spec names/paths, or all (default)")
    c.add_argument("--patterns", default="dense,2:4,1:4,1:8,1:16,1:32",
                   help="pattern list: dense, N:M or hierarchical patterns, each on --selector")
    c.add_argument("--selector", default="ff", help="which GEMMs get the pattern (role group, all, re:REGEX)")
    c.add_argument("--rank-by", choices=("time", "cost", "energy"), default=None,
                   help="order the rows by step time, $ per million tokens or joules per token (smallest first)")
    c.add_argument("--memory", action="store_true",
                   help="print each row's memory footprint by component (GiB) instead")
    c.set_defaults(func=run_compare)


def run_price(args) -> int:
    from nmsim.api.pricing import is_sweep, price_step
    if is_sweep(args):
        from nmsim.cli.axes import check_sweep_columns
        check_sweep_columns(args)   # a --columns typo in the table of a sweep, before pandas
    step = price_step(args, columns_hook(args))
    if step.sweep is not None:
        return render_sweep(args, step.sweep)
    from nmsim.units import duration, joules, si
    cfg, hw, dtype, graph, mem = step.config, step.hw, step.dtype, step.graph, step.memory
    shape = shape_text(cfg, args.mode, graph_batch(graph, args.batch), args.seq, args.context)
    if args.memory:
        head = (f"# priced: {cfg.name} {args.mode} memory, {shape}, plan {args.sparsity or 'dense'}, {dtype} on "
                f"{hw.name}: {mem.at('total', 'gib'):.3f} GiB of {mem.attrs['capacity_gib']:g} GiB - "
                f"{'fits' if mem.attrs['fits'] else 'does NOT fit'} ({memory_basis(mem.attrs)})\n")
        emit(mem, args.format, args.out, columns=args.columns, head=wrap_comment(head))
        return 0
    from nmsim import bands
    result, step_band = step.result, step.step_band
    t = result.totals
    weights = f", {result.weight_dtype} weights" if result.weight_dtype != dtype else ""
    head = (f"# priced: {cfg.name} {args.mode}, {shape}, on {hw.name} {dtype}"
            f"{weights} ({result.fusion}{'' if args.cuda_graphs else ', no CUDA graphs'}"
            f"{', dropout' if getattr(args, 'dropout', False) else ''}), plan {result.plan}: "
            f"{duration(t['seconds'])}, "
            f"{si(t['executed_flops'], 'FLOP')} executed of {si(t['nominal_flops'], 'FLOP')} nominal, "
            f"{joules(t['joules']) if t['joules'] == t['joules'] else 'energy not given'}, {t['bound']}-bound; "
            f"kernels: {kernel_summary(result.rows)}; {fit_text(mem.at('total', 'gib'), mem.attrs['capacity_gib'])} ({memory_basis(mem.attrs)})\n"
            + padding_note(t) + buyer_lines(graph, cfg, args, hw.name, t, step.prices)
            + bands.note(step_band, step=duration_range(t["seconds"], step_band)))
    # a table starts with what it priced (CSV/JSON/--out: on stderr)
    emit(step.table, args.format, args.out, index=args.by != "op", columns=args.columns, head=wrap_comment(head))
    if getattr(graph, "unrecognised", None):
        from nmsim.cli.trace import unrecognised_note
        print(unrecognised_note(graph.unrecognised), file=sys.stderr)
    return 0


def buyer_lines(graph, cfg, args, hw_name: str, totals, prices) -> str:
    """Throughput, $ per million tokens and J per token of the priced step, then its FLOPs per token."""
    from nmsim.cost.economics import item_name, items_per_step, summary_line
    from nmsim.cost.per_token import flops_per_token, per_token_line

    batch = graph_batch(graph, args.batch)
    seq = None if args.mode == "decode" else (args.seq or args.context)
    items = items_per_step(cfg, args.mode, batch, seq)
    tokens = float(batch) if args.mode == "decode" else float(batch * (seq or cfg.tokens))
    query = 1 if args.mode == "decode" else int(seq or cfg.tokens)
    f = flops_per_token(graph, tokens, query, cfg.causal and not cfg.is_image and not cfg.is_enc_dec)
    return (summary_line(hw_name, totals["seconds"], totals["joules"], items, item_name(cfg), prices)
            + per_token_line(f, training=args.mode == "training"))


def fit_note(df) -> str:
    """The header line for rows whose step does not fit the device's memory (they are priced all the same)."""
    if "fits" not in df or df["fits"].all():
        return ""
    bad = df.loc[~df["fits"].astype(bool)]
    where = ", ".join(dict.fromkeys(f"{h} {p}" for h, p in zip(bad["hardware"], bad["pattern"])))
    return (f"# does NOT fit in device memory (fits False, priced anyway): {where} "
            f"({bad['mem_gib'].min():,.1f}+ GiB; compare --memory shows the components)\n")


def memory_basis(attrs) -> str:
    """What the footprint assumed: attention kind, and for training the recompute and precision scheme."""
    parts = ["FlashAttention" if attrs.get("flash") else "unfused attention"]
    if attrs.get("recompute"):
        parts += [f"recompute {attrs['recompute']}", f"{attrs['precision']} precision"]
    return ", ".join(parts)
def duration_range(seconds: float, band) -> str | None:
    """``4.98 ms-10.5 ms``: a predicted time's 80 % band, None without one."""
    from nmsim.units import duration
    return f"{duration(seconds * band.lo)}-{duration(seconds * band.hi)}" if band else None


def padding_note(totals) -> str:
    """Why executed FLOPs exceed nominal: GEMMs with fewer rows than a kernel tile still run whole tiles."""
    nominal, executed = float(totals["nominal_flops"]), float(totals["executed_flops"])
    if not nominal or executed <= 1.05 * nominal:
        return ""
    return (f"# executed = {executed / nominal:.3g}x nominal: kernels run whole tiles, so padding counts as "
            "executed work (a GEMM with fewer rows (tokens) than the tile height, as at decode, runs the whole "
            "tile; sparse tiles are taller)\n")


def wrap_comment(text: str, width: int = 100) -> str:
    import textwrap
    lines = []
    for line in text.splitlines():
        lines += textwrap.wrap(line, width, subsequent_indent="#   ") or [line]
    return "\n".join(lines) + "\n"


def shape_text(cfg, mode: str, batch: int, seq=None, context=None) -> str:
    """What one priced step holds: ``batch 8 x 1,024 tokens``, or at decode ``batch 8, 1 new token over a
    4,096-token KV cache``; image models: their tokens per image."""
    if mode == "decode":
        return f"batch {batch:,}, 1 new token over a {int(context or cfg.seq_len):,}-token KV cache"
    if cfg.is_image:
        return f"batch {batch:,} x {cfg.tokens:,} tokens ({cfg.image_size}px images)"
    return f"batch {batch:,} x {int(seq or context or cfg.seq_len):,} tokens"


def graph_batch(graph, batch) -> int:
    cfg = getattr(graph, "config", None)
    return int(batch or (cfg.batch if cfg is not None else 1))


def kernel_summary(ops) -> str:
    """``cusparselt 24, cublas 49`` — GEMM rows per kernel (most first; a tie: the kernel seen first)."""
    from collections import Counter

    counts = Counter(k for k in list(ops["kernel"]) if k != "vector")
    return ", ".join(f"{k} {v}" for k, v in counts.most_common()) or "none"


def run_compare(args) -> int:
    from nmsim.api.pricing import compare_rows
    rows = compare_rows(args, columns_hook(args))
    df, cfg, specs, prices = rows.table, rows.config, rows.specs, rows.prices
    shape = shape_text(cfg, args.mode, int(df.attrs.get("batch") or cfg.batch), args.seq, args.context)
    head = (f"# priced: {cfg.name} {args.mode}, {shape}"
            + f", {args.selector}=PATTERN, {'unfused' if args.unfused else 'fusion as each spec stack does'}"
            + ("" if args.cuda_graphs else ", no CUDA graphs")
            + (f", {args.weight_dtype} weights" if args.weight_dtype else "")
            + (f", kernel pinned to {args.kernel}" if args.kernel else ", fastest kernel per GEMM") + "\n")
    from nmsim.cost.engines import basis_note
    head += basis_note((specs[name], dtype) for name, dtype in zip(df["hardware"], df["dtype"]))
    from nmsim.cost.economics import price_note
    from nmsim.cost.per_token import attention_basis
    head += price_note(df["hardware"], prices)
    query = 1 if args.mode == "decode" else int(df.attrs.get("seq") or cfg.tokens)
    head += f"# {attention_basis(cfg.causal and not cfg.is_image and not cfg.is_enc_dec, query)}\n"
    if args.mode == "training":
        from nmsim.cost.step import recompute_basis
        head += f"# {recompute_basis(args.recompute)}\n"
    head += fit_note(df)
    if args.memory:
        emit(df.attrs["memory"], args.format, args.out, index=False, columns=args.columns,
             head=wrap_comment(head.replace(f"# priced: {cfg.name} {args.mode}", f"# priced: {cfg.name} {args.mode} "
                                            "memory (GiB per component)", 1)))
        return 0
    from nmsim import bands
    level = bands.level_for_mode(args.mode)
    head += bands.note([bands.band(level, specs[name]) for name in df["hardware"]], list(df["hardware"]))
    emit(df, args.format, args.out, index=False, columns=args.columns, head=wrap_comment(head))
    for note in df.attrs.get("skipped", []):
        print(f"# skipped {note}", file=sys.stderr)
    return 0
