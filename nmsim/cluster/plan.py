"""Layout search and run budgets on a cluster: the API behind ``nmsim cluster plan`` / ``budget`` / ``validate``.

* :func:`search` enumerates every valid layout (:mod:`nmsim.cluster.layout`), prices each in every pricing
  phase of the recipe (the recipe's schedule over the run's steps) and ranks the layouts that fit in memory in
  every phase by run-average step time, then by memory headroom; layouts that do not fit come last with what
  overflows and by how much.
* :func:`run_budget` turns tokens (or a dataset size x epochs) into steps, wall-clock days, device-hours, MFU
  and energy for the best layout of each recipe, plus iso-time and iso-FLOP token budgets against the dense run.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nmsim.cluster.device import DeviceModel
from nmsim.cluster.layout import RECOMPUTE, RunSpec, TIME_PARTS, enumerate_layouts, price_layouts
from nmsim.cluster.layout_space import BUDGET_COLUMNS, make_recipes  # noqa: F401 (read here)
from nmsim.cluster.limits import check_factors, check_sequence_model, steps_for
from nmsim.cluster.losses import load_losses
from nmsim.memory.layout import COMPONENTS
from nmsim.cluster.system import load_system
from nmsim.errors import UserError

GIB = 2.0 ** 30
RANKS = ("time", "headroom")


@dataclass
class PlanResult:
    table: pd.DataFrame                     # one row per layout, ranked
    run: RunSpec
    recipe: object
    steps: int
    phases: list = field(default_factory=list)   # (label, steps, state)
    layouts_per_second: float = 0.0
    seconds: float = 0.0
    described: str = ""
    layouts: dict = field(default_factory=dict, repr=False)   # the enumerated layouts (arrays), table order
    device_model: object = field(default=None, repr=False)

    @property
    def best(self) -> pd.Series:
        return self.table.iloc[0]


def run_cost(res: PlanResult, price_per_hour=None) -> pd.DataFrame:
    """Each layout's whole run of ``res.steps`` steps: wall-clock ``days`` and ``device_hours`` (step time x steps
    / the losses' goodput, as :func:`run_budget`) and ``usd`` (device-hours x the device's hourly price,
    ``price_per_hour`` over the bundled list prices; NaN where none is known)."""
    from nmsim.cost.economics import hourly_price, parse_overrides
    prices = price_per_hour if isinstance(price_per_hour, dict) else parse_overrides(price_per_hour)
    system = res.run.system
    seconds = res.table["step_seconds"] * res.steps / res.run.losses.goodput
    hours = seconds / 3600 * system.devices
    return pd.DataFrame({"days": seconds / 86400, "device_hours": hours,
                         "usd": hours * hourly_price(system.device_spec().name, prices)}, index=res.table.index)


def recipe_phases(recipe, steps: int) -> list:
    """(label, steps, state) per pricing phase; the dense recipe (or None) is one dense phase."""
    if recipe is None:
        return [("dense", steps, None)]
    return [(ph.label, ph.steps, ph.state) for ph in recipe.phases(steps)]


def _overflow_text(row) -> str:
    if row["fits"]:
        return ""
    parts = sorted(((row[f"mem_{k}"], k) for k in COMPONENTS), reverse=True)[:2]
    over = -row["headroom_bytes"] / GIB
    return f"needs {over:.1f} GiB more (largest: " + ", ".join(f"{k} {v / GIB:.1f} GiB" for v, k in parts) + ")"


def _check_positive_ints(**values) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise UserError(f"must be a positive integer, got {v!r}", "--" + name.replace("_", "-"))


STEP_COLUMNS = ("step_seconds", *TIME_PARTS, "nominal_flops_step", "executed_flops_step", "joules_device_step")


def _over_phases(L: dict, dm, run: RunSpec, phases: list) -> tuple[dict, np.ndarray]:
    """Every layout over the recipe's phases: step columns weighted by each phase's steps, memory of the phase
    that needs the most, and whether every phase fits."""
    total = float(sum(s for _, s, _ in phases))
    acc: dict = {}
    fits = np.ones(len(L["tp"]), bool)
    worst_total = np.zeros(len(L["tp"]))
    for _, n_steps, state in phases:
        R = price_layouts(L, dm, run, state)
        w = n_steps / total
        for k in STEP_COLUMNS:
            acc[k] = acc.get(k, 0.0) + w * np.asarray(R[k], float)
        fits &= R["fits"]
        worse = R["mem_total"] > worst_total
        for k in (*[f"mem_{c}" for c in (*COMPONENTS, "total")], "headroom_bytes"):
            acc[k] = np.where(worse, R[k], acc.get(k, R[k]))
        worst_total = np.maximum(worst_total, R["mem_total"])
    return acc, fits


def _ranked(df: pd.DataFrame, rank: str) -> pd.DataFrame:
    """Layouts that fit first, then by step time (ties by headroom) or by headroom (ties by step time)."""
    keys = ["step_seconds", "headroom_bytes"] if rank == "time" else ["headroom_bytes", "step_seconds"]
    df = df.sort_values(["fits", *keys], ascending=[False, rank == "time", rank != "time"], kind="stable")
    df = df.reset_index(drop=True)
    df["overflow"] = [_overflow_text(r) for r in df.to_dict("records")] if (~df["fits"]).any() else ""
    return df


def _described(run: RunSpec, recipe, steps: int) -> str:
    cfg, system = run.cfg, run.system
    return (f"{cfg.name} on {system.nodes} x {system.name} ({system.devices} x {system.device}), "
            f"global batch {run.global_batch} x {run.seq} tokens, {run.dtype}, "
            f"{'FlashAttention' if run.flash else 'unfused attention'}, "
            + f"losses {run.losses.name} (compute efficiency {run.compute_efficiency:.3g}), "
            + (f"recipe {recipe.name} over {steps:,} steps" if recipe is not None else "dense training"))


def search(model, system, global_batch: int, seq: int, *, recipe=None, plan=None, steps: int = 1000,
           dtype: str = "bf16", transposable=None, flash: bool = True, dropout: bool = False,
           grad_bytes: float = 2.0, compute_efficiency: float | None = None,
           device_model: DeviceModel | None = None, rank: str = "time", losses=None, **restrict) -> PlanResult:
    """Price every valid layout of ``model`` on ``system`` and rank them (see module docstring): layouts that fit
    first, then by step time (``rank="time"``, ties by headroom) or by memory headroom (``"headroom"``, ties by
    step time). ``losses``: what real runs lose (:func:`nmsim.cluster.losses.load_losses`: a preset, a file or a
    ``Losses``; default the calibrated set); ``compute_efficiency`` replaces its fitted value for the device."""
    if rank not in RANKS:
        raise UserError(f"unknown ranking {rank!r} (known: {', '.join(RANKS)})", "--rank")
    from nmsim.graph import load_workload
    cfg = load_workload(model) if isinstance(model, str) else model
    check_sequence_model(cfg)
    system = load_system(system) if isinstance(system, str) else system
    _check_positive_ints(global_batch=global_batch, seq=seq, steps=steps)
    lo = load_losses(losses)
    compute_efficiency = lo.efficiency(system.device) if compute_efficiency is None else compute_efficiency
    check_factors(grad_bytes, compute_efficiency)
    t_enum = time.perf_counter()   # layouts first: an impossible restriction fails before any tracing
    L = enumerate_layouts(cfg, system.devices, system.devices_per_node, int(global_batch), **restrict)
    t_enum = time.perf_counter() - t_enum
    dm = device_model or DeviceModel(cfg, seq, system.device, dtype, plan, transposable, fused_attention=flash)
    t0 = time.perf_counter() - t_enum  # device tables + layouts (the trace above is cached per model and sequence)
    run = RunSpec(cfg, int(seq), int(global_batch), system, dtype, grad_bytes, flash, dropout,
                  compute_efficiency=float(compute_efficiency), losses=lo)
    phases = recipe_phases(recipe, int(steps))
    if recipe is not None:
        for _, _, state in phases:
            dm.check_state(state, recipe.name)
    acc, fits = _over_phases(L, dm, run, phases)
    elapsed = time.perf_counter() - t0
    df = pd.DataFrame({**{k: v for k, v in L.items()}, **acc})
    df["layout_index"] = np.arange(len(df))
    df["fits"] = fits
    df["recompute"] = np.asarray(RECOMPUTE, dtype=object)[df["recompute"].to_numpy()]
    peak = dm.hw.dense_tflops(dtype) * 1e12
    df["mfu"] = df["nominal_flops_step"] / (df["step_seconds"] * system.devices * peak)
    df["tokens_per_second"] = global_batch * seq / df["step_seconds"]
    return PlanResult(_ranked(df, rank), run, recipe, int(steps), phases, len(df) * len(phases) / max(elapsed, 1e-9),
                      elapsed, _described(run, recipe, steps), L, dm)


# ---- budgets -------------------------------------------------------------------------------------------------


class _RunCost:
    """A recipe run on one fixed layout, priced per recipe phase through :func:`price_layouts`, shaped like
    :class:`nmsim.cost.training.TrainingCostModel` so :func:`nmsim.cost.budget.affordable` can search run
    lengths against it (iso-time: measure ``seconds``; iso-FLOP: executed ``flops``)."""

    def __init__(self, res: PlanResult, row):
        i = int(row["layout_index"])
        self.L = {k: v[i:i + 1] for k, v in res.layouts.items()}
        self.dm, self.run, self.hw = res.device_model, res.run, res.device_model.hw
        self.targets = dict(res.recipe.targets) if res.recipe is not None else {}
        self._cache: dict = {}

    def _state(self, state) -> tuple[float, float, float]:
        key = None if state is None else state.pricing_key()
        hit = self._cache.get(key)
        if hit is None:
            R = price_layouts(self.L, self.dm, self.run, state)
            hit = self._cache[key] = (float(R["step_seconds"][0]), float(R["executed_flops_step"]),
                                      float(R["joules_device_step"]))
        return hit

    def totals(self, recipe, total_steps: int) -> dict:
        out = {"steps": 0, "flops": 0.0, "matrix_flops": 0.0, "seconds": 0.0, "joules": 0.0}
        for _, n, state in recipe_phases(recipe, int(total_steps)):
            sec, flops, joules = self._state(state)
            out["steps"] += n
            out["seconds"] += sec * n
            out["flops"] += flops * n
            out["matrix_flops"] += flops * n
            out["joules"] += joules * n
        return out


def _dense_like(dm):
    """The dense recipe as a schedule object over the plan's selectors, every one dense (``recipe_phases`` treats
    None as dense; ``affordable`` needs a schedule)."""
    from nmsim.recipes import make_recipe
    return make_recipe("dense", {k: None for k in dm.cost.targets})


def run_budget(model, system, global_batch: int, seq: int, tokens: float, recipes: dict, progress=None,
               price_per_hour=None, **kw) -> pd.DataFrame:
    """One row per recipe (``recipes``: name -> recipe object or None for dense): the best layout, steps,
    wall-clock days and device-hours (steps x step time / the losses' goodput: restarts, failures, evaluation),
    MFU (dense-equivalent model FLOPs, steady state), energy (system power x wall-clock, and the devices' priced
    energy of the steps), and the tokens each recipe affords on its layout at the dense run's wall-clock
    (iso-time) and executed FLOPs (iso-FLOP) — searched over run lengths (:func:`nmsim.cost.budget.affordable`),
    since a recipe's phases move with its length. The first recipe is the reference (dense by default).
    ``usd``: device-hours x the device's hourly price (``price_per_hour`` over the bundled list prices,
    :mod:`nmsim.cost.economics`; NaN where none is known)."""
    from nmsim.cost.budget import affordable
    from nmsim.cost.economics import hourly_price, parse_overrides
    from nmsim.hardware import load
    system = load_system(system) if isinstance(system, str) else system
    prices = price_per_hour if isinstance(price_per_hour, dict) else parse_overrides(price_per_hour)
    usd_per_hour = hourly_price(load(system.device).name, prices)
    steps = steps_for(tokens, global_batch, seq)
    rows, dm = [], kw.pop("device_model", None)
    ref = None
    for i, (name, recipe) in enumerate(recipes.items()):
        if progress:
            progress(i, len(recipes), name)
        res = search(model, system, global_batch, seq, recipe=recipe, steps=steps, device_model=dm, **kw)
        dm = res.device_model
        b = res.best
        if not b["fits"]:
            raise UserError(f"no layout fits in device memory for recipe {name}: best {_overflow_text(b)}",
                            "--system")
        cost = _RunCost(res, b)
        tot = cost.totals(recipe, steps)
        seconds = tot["seconds"]
        goodput = res.run.losses.goodput
        row = {"recipe": name, "layout": layout_label(b), "steps": steps, "tokens": steps * global_batch * seq,
               "step_seconds": seconds / steps, "days": seconds / goodput / 86400,
               "device_hours": seconds / goodput / 3600 * system.devices,
               "usd": seconds / goodput / 3600 * system.devices * usd_per_hour, "mfu": b["mfu"], "goodput": goodput,
               "energy_joules": seconds / goodput * system.node_power_watts * system.nodes,
               "device_energy_joules": tot["joules"], "executed_flops": tot["flops"],
               "mem_gib": b["mem_total"] / GIB}
        if ref is None:
            ref = row
        sched = recipe if recipe is not None else _dense_like(dm)
        for col, measure, budget in (("iso_time_tokens", "seconds", ref["days"] * 86400 * goodput),
                                     ("iso_flop_tokens", "flops", ref["executed_flops"])):
            got = affordable(cost, sched, budget, measure=measure)
            row[col] = got["units_exact"] * global_batch * seq
        rows.append(row)
    from nmsim import bands
    return bands.attach(pd.DataFrame(rows, columns=list(BUDGET_COLUMNS)), bands.for_system(system))




def layout_label(row) -> str:
    z = int(row["zero"])
    parts = [f"TP{int(row['tp'])}{'+SP' if row['sp'] else ''}", f"PP{int(row['pp'])}" +
             (f"x{int(row['v'])}" if int(row["v"]) > 1 else ""), f"DP{int(row['dp'])}",
             f"ZeRO-{z}" if z else "no ZeRO", f"mb {int(row['mb'])}", f"recompute {row['recompute']}"]
    return " ".join(parts)
