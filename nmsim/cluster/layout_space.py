"""The layouts a model allows on a system: every valid (TP, PP, DP, ZeRO, micro-batch, recompute, SP, interleave),
and one-line errors for a fixed value no layout can have. Plain Python (no numpy): ``cluster plan`` and
``cluster budget`` search here before any pricing code is imported, so a mistake is said at once;
:func:`nmsim.cluster.layout.enumerate_layouts` turns the rows into arrays.
"""
from __future__ import annotations

import itertools
import math
import numbers
from dataclasses import dataclass

from nmsim.cluster.limits import MAX_DEVICES, check_global_batch
from nmsim.columns import MEMORY_COMPONENTS
from nmsim.errors import UserError
from nmsim.io.read import short_repr

RECOMPUTE = ("none", "selective", "full")
ZERO_STAGES = (0, 1, 2, 3)
INTERLEAVE = (1, 2, 4)
MAX_MICRO_BATCH = 64
TIME_PARTS = ("compute", "bubble", "tp_comm", "pp_comm", "dp_exposed", "optimizer", "recipe_vector", "data_loading",
              "checkpoint")


def _divisors(n: int, limit: int | None = None) -> list[int]:
    """Divisors of ``n`` up to ``limit``, ascending (pairs up to sqrt(n): fast for any device count)."""
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    every = sorted(set(small + [n // d for d in small]))
    return [d for d in every if limit is None or d <= limit]


@dataclass(frozen=True)
class _Search:
    """The values each layout axis may take (the user's fixed values, else every one)."""
    tp: int | None
    pp: int | None
    zero: tuple
    mb: int | None
    recompute: tuple   # codes: indices into RECOMPUTE
    sp: tuple
    interleave: tuple
    max_micro_batch: int


def _tp_fits(cfg, t: int, devices_per_node: int, fixed: bool) -> bool:
    """TP degree ``t`` divides heads and FFN width, divides kv heads (or is a multiple of them), stays in a node
    (searched) or, when the user fixes it, fills whole nodes (PaLM's TP 12 over three 4-chip TPU v4 hosts)."""
    node_ok = t <= devices_per_node or (fixed and not t % devices_per_node)
    return node_ok and not _tp_problem(cfg, t)


def _tp_problem(cfg, t: int) -> str | None:
    """Why the model cannot be split ``t`` ways, or None."""
    if cfg.heads % t:
        return f"{t} does not divide the {cfg.heads} attention heads of {cfg.name}"
    if cfg.n_kv_heads % t and t % cfg.n_kv_heads:
        return f"{t} is neither a divisor nor a multiple of the {cfg.n_kv_heads} KV heads of {cfg.name}"
    if cfg.ffn % t:
        return f"{t} does not divide the FFN width {cfg.ffn:,} of {cfg.name}"
    return None


def _pp_fits(cfg, p: int, fixed: int | None) -> bool:
    """Stages hold equal layer counts, unless the user fixes an uneven PP degree (earlier stages +1)."""
    if p > cfg.layers:
        return False
    return p == fixed if fixed is not None else not cfg.layers % p


def _interleave_fits(cfg, v: int, p: int, m: int, fixed_pp: int | None) -> bool:
    """Interleaving needs PP, a micro-batch count divisible by ``p`` and equal chunks (unless PP is fixed)."""
    if v == 1:
        return True
    return p > 1 and not (fixed_pp is None and cfg.layers % (p * v)) and not m % p and p * v <= cfg.layers


def _replica_rows(cfg, t: int, p: int, d: int, per_replica: int, o: _Search) -> list[tuple]:
    """Layouts (tp pp dp zero mb m recompute sp v) of one (tp, pp, dp): micro-batch, ZeRO, interleave, SP,
    recompute, in that nesting order. ``per_replica`` is the largest share of the global batch a replica
    takes; a fixed micro-batch that does not divide it runs a rounded-up count of micro-batches."""
    rows = []
    sizes = [o.mb] if o.mb is not None else _divisors(per_replica, o.max_micro_batch)
    for b in sizes:
        if b > per_replica:
            continue
        m = -(-per_replica // b)
        zs = [z for z in o.zero if not ((z > 0 and d == 1) or (z == 3 and p > 1))]
        vs = [v for v in o.interleave if _interleave_fits(cfg, v, p, m, o.pp)]
        ss = [s for s in o.sp if not (s and t == 1)]
        rows += [(t, p, d, z, b, m, r, s, v) for z, v, s, r in itertools.product(zs, vs, ss, o.recompute)]
    return rows


def check_restrictions(cfg, devices: int, devices_per_node: int, global_batch: int, tp=None, pp=None, mb=None,
                       zero=None) -> None:
    """One-line errors naming the flag for a count no layout can have: the device count, the global batch, a
    fixed TP, PP, micro-batch or ZeRO stage (cheap: ``nmsim cluster plan`` calls it before pandas loads)."""
    for count in (devices, devices_per_node):
        if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 1:
            raise UserError(f"device counts must be positive integers, got {short_repr(count)}", "--nodes")
    if devices > MAX_DEVICES:
        raise UserError(f"{devices:,} devices; at most {MAX_DEVICES:,} (a sanity limit)", "--nodes")
    check_global_batch(global_batch)
    for name, value in (("--tp", tp), ("--pp", pp), ("--mb", mb)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1):
            raise UserError(f"must be a positive integer, got {short_repr(value)}", name)
    if tp is not None:
        _check_tp(cfg, devices, devices_per_node, tp)
    if pp is not None:
        _check_pp(cfg, devices, tp, pp)
    _check_zero_mb(devices, global_batch, tp, pp, mb, zero)


def _check_tp(cfg, devices: int, devices_per_node: int, tp: int) -> None:
    if _tp_problem(cfg, tp):
        raise UserError(_tp_problem(cfg, tp), "--tp")
    if devices % tp:
        raise UserError(f"{tp} does not divide the {devices:,} devices", "--tp")
    if tp > devices_per_node and tp % devices_per_node:
        raise UserError(f"a TP group of {tp} would straddle the {devices_per_node}-device nodes (give at most "
                        f"{devices_per_node} or a multiple of {devices_per_node})", "--tp")


def _check_pp(cfg, devices: int, tp, pp: int) -> None:
    left, after = (devices // tp, f" left by --tp {tp}") if tp is not None else (devices, "")
    if pp > cfg.layers:
        raise UserError(f"{pp} pipeline stages for the {cfg.layers} layers of {cfg.name} (a stage holds at "
                        "least one layer)", "--pp")
    if left % pp:
        raise UserError(f"{pp} does not divide the {left:,} device{'s' if left > 1 else ''}{after}", "--pp")


def _check_zero_mb(devices: int, global_batch: int, tp, pp, mb, zero) -> None:
    if zero is not None and min(zero) == 3 and pp is not None and pp > 1:
        raise UserError(f"ZeRO-3 is not combined with pipeline parallelism (--pp {pp}), as in DeepSpeed", "--zero")
    if zero is not None and min(zero) > 0 and tp is not None and pp is not None and tp * pp == devices:
        raise UserError(f"ZeRO-{min(zero)} shards over data-parallel replicas, and --tp {tp} x --pp {pp} uses all "
                        f"{devices:,} devices (one replica)", "--zero")
    if mb is not None and mb > global_batch:
        raise UserError(f"a micro-batch of {mb:,} sequences is larger than the global batch ({global_batch:,})", "--mb")


def layout_rows(cfg, devices: int, devices_per_node: int, global_batch: int, *, tp=None, pp=None,
                      zero=None, mb=None, recompute=None, sp=None, interleave=None,
                      max_micro_batch: int = MAX_MICRO_BATCH) -> list[tuple]:
    """The rows (``tp pp dp zero mb m recompute sp v``) of :func:`nmsim.cluster.layout.enumerate_layouts`."""
    check_restrictions(cfg, devices, devices_per_node, global_batch, tp, pp, mb, zero)
    o = _Search(tp, pp, tuple(zero if zero is not None else ZERO_STAGES), mb,
                tuple(RECOMPUTE.index(r) for r in (recompute or RECOMPUTE)),
                (False, True) if sp is None else (bool(sp),), tuple(interleave or INTERLEAVE), max_micro_batch)
    rows, fewest_replicas, largest_share = [], None, 0
    for t in [tp] if tp is not None else _divisors(devices, devices_per_node):
        if not _tp_fits(cfg, t, devices_per_node, tp is not None):
            continue
        for p in [pp] if pp is not None else _divisors(devices // t, cfg.layers):
            d = devices // (t * p)
            if (devices // t) % p or not _pp_fits(cfg, p, pp):
                continue
            fewest_replicas = d if fewest_replicas is None else min(fewest_replicas, d)
            if d <= global_batch:
                largest_share = max(largest_share, -(-global_batch // d))
                rows += _replica_rows(cfg, t, p, d, -(-global_batch // d), o)
    if not rows and mb is not None and 0 < largest_share < mb:
        raise UserError(f"a micro-batch of {mb:,} sequences is larger than a replica's share of the global batch "
                        f"({largest_share:,} of {global_batch:,} at most)", "--mb")
    if not rows:
        fixed = {"--tp": tp, "--pp": pp, "--mb": mb, "--zero": None if zero is None else "/".join(map(str, zero)),
                 "--recompute": None if recompute is None else "/".join(recompute)}
        why = "with " + (" ".join(f"{k} {v}" for k, v in fixed.items() if v is not None) or "these restrictions")
        if fewest_replicas is not None and fewest_replicas > global_batch:
            why = (f"(every layout has at least {fewest_replicas:,} data-parallel replicas, more than the "
                   f"{global_batch:,} sequences of a step; raise --global-batch or use fewer nodes)")
        raise UserError(f"no valid layout of {devices:,} devices for {cfg.name} at global batch {global_batch:,} "
                        + why, "layout")
    return rows


# ---- the columns of the cluster tables and the recipes priced (checked before the search) -----------------

LAYOUT_COLUMNS = ("tp", "pp", "dp", "zero", "mb", "m", "recompute", "sp", "v", "step_seconds", *TIME_PARTS, "mfu",
                   "tokens_per_second", *(f"mem_{k}" for k in (*MEMORY_COMPONENTS, "total")), "headroom_bytes", "fits",
                   "overflow", "days", "device_hours", "usd")   # the run: with --tokens, else NaN


def with_unit(column: str) -> str:
    """A layout column's CSV/JSON name, its SI unit said as every command's are: step-time parts in
    ``_seconds``, memory components in ``_bytes`` (``compute_seconds``, ``mem_total_bytes``)."""
    return f"{column}_seconds" if column in TIME_PARTS else f"{column}_bytes" if column.startswith("mem_") else column


def plan_columns() -> list[str]:
    """The columns of :func:`nmsim.cluster.text.plan_rows`, bands included."""
    from nmsim.bands import with_band_columns
    return [with_unit(c) for c in with_band_columns(LAYOUT_COLUMNS)]


BUDGET_COLUMNS = ("recipe", "layout", "steps", "tokens", "step_seconds", "days", "device_hours", "usd", "mfu",
                  "goodput", "energy_joules", "device_energy_joules", "executed_flops", "mem_gib", "iso_time_tokens",
                  "iso_flop_tokens")   # run_budget's columns


def make_recipes(names: str, sparsity: str | None, dense_frac: float = 0.0, finetune_frac: float = 0.0) -> dict:
    """``"dense,sr-ste"`` + a plan text -> {name: recipe or None (dense)}, dense first (the budgets' reference)."""
    from nmsim.recipes import make_recipe, parse_recipe_list
    from nmsim.sparsity.plan import SparsityPlan
    wanted = parse_recipe_list(names)
    plan = SparsityPlan.parse(sparsity or "dense", "--sparsity")
    make_recipe("dense", None, dense_frac, finetune_frac)   # the fractions, as every recipe checks them
    out: dict = {"dense": None}
    for name in wanted:
        if name == "dense":
            continue
        if plan.is_dense:
            raise UserError(f"recipe {name} needs sparse targets, e.g. --sparsity ff=2:4", "--sparsity")
        out[name] = make_recipe(name, plan, dense_frac, finetune_frac)
    return out
