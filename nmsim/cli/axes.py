"""Shape axes on the command line (``--batch 1:128``, ``--seq 128,512,2048``, ``--context 1k:32k:x2``) and the
``nmsim price`` shape sweep they start (``--image-size`` for vision models, always a sweep). Argument parsing
and printing only: the work is :func:`nmsim.api.pricing.price_sweep`.

Syntax (``--batch``, ``--seq``, ``--context``, ``--image-size``): comma-separated items; an item is ``N``, ``A:B`` (A to B, step 1), ``A:B:S`` (step S) or ``A:B:xF``
(A, A·F, A·F², ... up to B). ``k`` multiplies by 1,024 (``32k`` = 32,768 tokens). Values are positive integers,
duplicates are dropped, order is kept; at most 100,000 values per axis.
"""
from __future__ import annotations

import argparse
import re
import sys

MAX_VALUES = 100_000
#: pricing modes (the same tuple as nmsim.execution.table.MODES, kept here so argument parsing imports no numpy)
MODES = ("inference", "prefill", "decode", "training")
_NUM = re.compile(r"^\s*(\d+)\s*([kK]?)\s*$")


class _DeprecatedPhase(argparse.Action):
    """``--phase`` (before ``--mode``): still accepted, with a note; "phase" now names recipe phases only."""

    def __call__(self, parser, namespace, values, option_string=None):
        print("nmsim: note: --phase is now --mode (a recipe has phases; pricing has modes)", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_mode(p, default: str = "inference", help: str | None = None) -> None:
    """``--mode`` (inference, prefill, decode, training) and the hidden deprecated alias ``--phase``."""
    p.add_argument("--mode", choices=MODES, default=default, help=help or (
        "inference (forward), prefill (prompt forward), decode (one token over a KV cache), training"))
    p.add_argument("--phase", dest="mode", choices=MODES, action=_DeprecatedPhase, help=argparse.SUPPRESS)


def _number(text: str, whole: str) -> int:
    m = _NUM.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a positive integer (or N:M range): {whole!r}")
    value = int(m.group(1)) * (1024 if m.group(2) else 1)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value} in {whole!r}")
    return value


def parse_axis(text: str) -> list[int]:
    """``'1:4,8'`` -> ``[1, 2, 3, 4, 8]``; argparse.ArgumentTypeError (one line) on bad syntax."""
    values: list[int] = []
    for item in str(text).split(","):
        parts = item.split(":")
        if len(parts) == 1:
            values.append(_number(parts[0], text))
            continue
        if len(parts) > 3:
            raise argparse.ArgumentTypeError(f"a range is A:B, A:B:STEP or A:B:xFACTOR, got {item!r}")
        lo, hi = _number(parts[0], text), _number(parts[1], text)
        if hi < lo:
            raise argparse.ArgumentTypeError(f"range {item!r} ends before it starts")
        step = parts[2].strip() if len(parts) == 3 else "1"
        if step[:1] in ("x", "X", "*"):
            factor = _number(step[1:], text)
            if factor < 2:
                raise argparse.ArgumentTypeError(f"a geometric factor must be >= 2, got {step!r}")
            v = lo
            while v <= hi and len(values) <= MAX_VALUES:
                values.append(v)
                v *= factor
        else:
            s = _number(step, text)
            if (hi - lo) // s + 1 + len(values) > MAX_VALUES:
                raise argparse.ArgumentTypeError(f"more than {MAX_VALUES:,} values in {text!r}")
            values.extend(range(lo, hi + 1, s))
        if len(values) > MAX_VALUES:
            raise argparse.ArgumentTypeError(f"more than {MAX_VALUES:,} values in {text!r}")
    return list(dict.fromkeys(values))


def axis(text: str):
    """argparse type: an int for one value, a list of ints for a sweep."""
    values = parse_axis(text)
    return values[0] if len(values) == 1 and not any(c in text for c in ":,") else values


def table_view_columns(cfg, mode: str) -> list[str]:
    """The table format's columns of a shape sweep (:func:`_table_view`), known before any work (no pandas)."""
    from nmsim.columns import item_columns, item_name, sweep_axes
    return [*sweep_axes(cfg, mode), "ms", "ms_80%", "exec_TFLOP", "nominal_TFLOP", "GB_moved", "joules",
            *item_columns(item_name(cfg)), "bound", "mem_GiB", "fits"]


def check_sweep_columns(args) -> None:
    """A ``--columns`` typo in a shape sweep's table, before the sweep is priced."""
    if args.columns and args.format == "table":
        from nmsim.cli.table import check_columns
        from nmsim.graph import load_workload
        check_columns(table_view_columns(load_workload(args.workload), args.mode), args.columns)


def _table_view(df, axes: list):
    """The table format's columns: the shape axes, then time, FLOPs, bytes and energy in readable units."""
    show = df[axes].copy()
    show["ms"] = df["seconds"] * 1e3
    if "seconds_lo" in df.columns:   # the 80 % band of the step (nmsim.bands), in ms as the time
        from nmsim.units import fixed
        show["ms_80%"] = [("not validated" if lo != lo else f"{fixed(lo * 1e3)}-{fixed(hi * 1e3)}")
                          for lo, hi in zip(df["seconds_lo"], df["seconds_hi"])]
    show["exec_TFLOP"] = df["executed_flops"] / 1e12
    show["nominal_TFLOP"] = df["nominal_flops"] / 1e12
    show["GB_moved"] = df["bytes"] / 1e9
    show["joules"] = df["joules"]   # shown as energy, "not given" where the spec has no energy figures
    for col in df.columns[df.columns.get_loc("joules") + 1:]:   # what a buyer asks: tokens/s, $/M, J/token
        if col.endswith(("s_per_second", "_tokens", "_images", "per_token", "per_image")):
            show[col] = df[col]
    show["bound"] = df["bound"]
    show["mem_GiB"] = df["mem_gib"]
    show["fits"] = df["fits"]
    return show


def sweep_attention(cfg, mode: str, df) -> str:
    """Which attention count the sweep prices (a causal forward at full T x T, the longest T)."""
    from nmsim.cost.per_token import attention_basis
    query = 1 if mode == "decode" or cfg.is_image else int(df["seq"].max())
    return attention_basis(cfg.causal and not cfg.is_image and not cfg.is_enc_dec, query)


def sweep_recompute(args) -> str:
    """A training sweep's recompute line (nothing for other modes)."""
    if args.mode != "training":
        return ""
    from nmsim.cost.step import recompute_basis
    return f"# {recompute_basis(getattr(args, 'recompute', None))}\n"


def render_sweep(args, sweep) -> int:
    """``nmsim price`` over the product of the shape axes (one row per shape): :class:`nmsim.api.pricing.Sweep`."""
    from nmsim import bands
    from nmsim.cli.output import emit
    from nmsim.cli.price import wrap_comment
    from nmsim.cost.economics import price_note

    df, cfg, hw, axes = sweep.table, sweep.config, sweep.hw, sweep.axes
    span = lambda a: f"{df[a].min():,}" + (f"..{df[a].max():,}" if df[a].max() != df[a].min() else "")  # noqa: E731
    misfits = int((~df["fits"]).sum())
    head = wrap_comment(f"# priced: {cfg.name} {args.mode} on {hw.name} {sweep.dtype}, plan {df['plan'].iloc[0]}: "
                        f"{len(df):,} shapes ({', '.join(f'{a} {span(a)}' for a in axes)})\n"
                        + price_note([hw.name], sweep.prices) + f"# {sweep_attention(cfg, args.mode, df)}\n"
                        + sweep_recompute(args)
                        + (f"# {misfits:,} of {len(df):,} shapes do NOT fit in {hw.main_memory.capacity_gib:g} GiB "
                           "(fits False, priced anyway)\n" if misfits else "")
                        + bands.note(sweep.step_band))
    if args.format == "table":   # the table starts with what it priced (CSV/JSON/--out: the line goes to stderr)
        emit(_table_view(df, axes), "table", args.out, index=False, columns=getattr(args, "columns", None),
             head=head)
    else:
        emit(df, args.format, args.out, index=False, columns=getattr(args, "columns", None), head=head)
    return 0
