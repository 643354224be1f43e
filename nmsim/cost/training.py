"""Training cost of a recipe schedule: FLOPs (and, on an accelerator, seconds and joules) per phase and in total.

A recipe is a schedule (``nmsim.recipes``): ``recipe.phases(T)`` tiles ``[0, T)`` into intervals of constant
pricing, each with a :class:`~nmsim.recipes.RecipeState`. One training step of a phase is priced as

* **matrix FLOPs** per weight/attention GEMM, split into the three passes:
  forward ``Y = X W^T`` runs on the pattern the state lets the GEMM exploit (``state.cost_patterns``; None
  while W~ is dense, e.g. MDGF while D counts as nonzero), i.e. ``nominal x density``; dgrad ``dX = dY W``
  is sparse only when the mask can be used transposed: ``transposable=True`` forces it, ``False`` forbids it,
  ``None`` (default) allows it when the pattern is transposable (``1:8T``) or the hardware accepts the
  transposed pattern (``hw.accepts_transposed_dgrad``; ``ideal-nm`` does, A100/H100 do not); wgrad
  ``dW = dY^T X`` is always dense (every recipe here keeps a dense weight gradient). These are the
  *algorithmic* executed FLOPs (an ideal N:M engine); what a real engine executes after rounding a pattern up
  to the one it supports is ``hw_matrix_flops``, from ``nmsim.cost.gemm.price_gemms``.
* **vector FLOPs**: the graph's activation/norm/softmax/bias FLOPs (forward + backward) plus the recipe's own
  terms, see :mod:`nmsim.cost.vector_terms` (mask top-N-of-M, SR-STE decay term, MDGF blend, optimizer).

With the paper's per-step model (Bambhaniya et al. 2024, training FLOPs) this gives dense ``3 F_D``, a sparse
forward + sparse dgrad recipe ``2 F_S + F_D`` and MDGF while D > 0 ``3 F_D``.

Paper convention (``paper_convention=True``): only the ops the paper counts (Q, K, V, O, Logit, Attend, FF1,
FF2) are kept; use :func:`paper_graph` to trace an image model without its class token. The optimizer then
updates only those weights.

Normalisation: ``totals`` divides by the dense recipe and by SR-STE with the same targets, d, f and
granularity over the same number of steps (``*_vs_dense``, ``*_vs_srste``; NaN when undefined).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

from typing import TYPE_CHECKING

import numpy as np

from nmsim.cost import vector_terms as VT
from nmsim.errors import UserError
from nmsim.graph.roles import PAPER_ROLES

from nmsim.sparsity.plan import SparsityPlan

if TYPE_CHECKING:
    import pandas as pd

MATRIX_KINDS = ("linear", "matmul", "conv")
PASSES = ("fwd", "dgrad", "wgrad")
PER_STEP_COLUMNS = ("fwd_flops", "dgrad_flops", "wgrad_flops", "matrix_flops", "activation_flops", "mask_flops",
                    "srste_flops", "blend_flops", "optimizer_flops", "vector_flops", "step_flops")
HW_COLUMNS = ("hw_matrix_flops", "step_seconds", "step_joules")


# ---- graphs ---------------------------------------------------------------------------------------------

def paper_graph(cfg, batch: int | None = None):
    """Trace ``cfg`` the paper's way: image models without the class token (196 tokens for ViT-B/16)."""
    from nmsim.graph import trace_workload
    if cfg.is_image and cfg.class_token:
        cfg = cfg.replace(class_token=False)
    return trace_workload(cfg, batch=batch or cfg.batch)


@functools.lru_cache(maxsize=16)
def _parameter_total(cfg) -> int:
    from nmsim.graph import parameter_counts
    return int(parameter_counts(cfg)["total"])


def _resolve_hardware(hardware):
    if hardware is None or not isinstance(hardware, str):
        return hardware
    from nmsim.hardware import load
    return load(hardware)


# ---- the cost model --------------------------------------------------------------------------------------

class TrainingCostModel:
    """Prices recipe states of one (graph, plan, hardware) combination; state costs are cached by
    ``RecipeState.pricing_key()`` so whole schedules (and budget searches over their length) are cheap."""

    def __init__(self, graph, plan: SparsityPlan, *, hardware=None, dtype: str | None = "bf16", transposable=None,
                 optimizer: str = "adamw", paper_convention: bool = False, weight_dtype: str | None = None,
                 fusion=None, kernel: str | None = None, recompute=None):
        ops = graph.ops
        if paper_convention:
            ops = ops[ops["role"].isin(PAPER_ROLES)]
        self.graph, self.plan, self.ops, self.optimizer = graph, plan, ops, optimizer
        self.pricing_options = {"weight_dtype": weight_dtype, "fusion": fusion, "kernel": kernel}
        self.recompute = recompute   # the forward work backward runs again (hardware seconds, not FLOP budgets)
        self.hw = _resolve_hardware(hardware)
        self.dtype = dtype
        if self.hw is not None:
            from nmsim.cost.pricing import default_dtype
            self.dtype = default_dtype(self.hw, dtype)
            self.hw.dense_tflops(self.dtype)  # a one-line UserError for a dtype the device lacks
        self.transposable = transposable
        self.paper_convention = paper_convention
        self.opt_per_param = VT.optimizer_flops_per_param(optimizer)
        self.matrix = ops[ops["kind"].isin(MATRIX_KINDS)].copy()
        self.activation_flops = float(ops["vector_flops"].sum() + ops["bwd_vector_flops"].sum())
        cfg = getattr(graph, "config", None)
        if getattr(graph, "params", None) is not None and not paper_convention:
            self.params = float(graph.params)   # counted by the caller (the cluster model's replicated layers)
        elif paper_convention or cfg is None:
            self.params = float(self.matrix["weight_numel"].sum())
        else:
            self.params = float(_parameter_total(cfg))
        self.rules = [(rule.key, rule, np.asarray(hit)) for rule, hit in plan.hits(self.matrix)]
        self.targets = plan.targets
        m = self.matrix
        self._weights = m["weight_numel"].to_numpy(float)
        self._cache: dict = {}

    # per-op patterns of a state
    def _per_op(self, patterns) -> tuple[list, list]:
        """(pattern per matrix op, direction per op) after applying the plan's rules in order."""
        out = [None] * len(self.matrix)
        direction = ["row"] * len(self.matrix)
        for key, rule, hit in self.rules:
            pattern = patterns.get(key) if key in patterns else rule.pattern
            for i in np.flatnonzero(hit):
                out[i], direction[i] = pattern, rule.direction
        return out, direction

    def check_reachable(self, state, recipe_name: str = "recipe") -> None:
        """UserError when a pattern in force (mask or cost) does not tile the grouped dimension of an op."""
        for patterns in (state.masks, state.cost_patterns):
            per_op, direction = self._per_op(patterns)
            for i, p in enumerate(per_op):
                if p is None:
                    continue
                dim = "gemm_k" if direction[i] == "row" else "gemm_n"
                size = int(self.matrix[dim].iloc[i])
                if size % p.m:
                    module = self.matrix["module"].iloc[i]
                    raise UserError(f"{recipe_name} cannot reach this target: its {state.phase} phase uses {p}, "
                                    f"and M={p.m} does not divide {dim}={size} of {module}", "--sparsity")

    def _table(self):
        """The per-pass GEMM table of this graph (the one pricing path's), built once."""
        if getattr(self, "_gemm_table", None) is None:
            from nmsim.execution.table import gemm_table
            self._gemm_table = gemm_table(self.graph, None, "training", ops=self.ops,
                                          dgrad_sparse=self.transposable)
        return self._gemm_table

    def _algorithmic(self, cost_pats) -> dict:
        """fwd/dgrad/wgrad FLOPs an ideal N:M engine executes: nominal x the plan's density on rows whose weight
        operand is usable (dgrad: transposable mask, forced, or a spec accepting the transposed pattern)."""
        import pandas as pd
        from nmsim.execution.base import OPERAND_WEIGHT, OPERAND_WEIGHT_T
        from nmsim.execution.table import pattern_codes, restack
        table = self._table()
        known = list(table.patterns)
        codes = pattern_codes(pd.Series(cost_pats, index=self.matrix.index, dtype=object), self.matrix.index, known)
        t = restack(table, codes, known)
        dens = np.array([1.0 if p is None else p.density for p in t.patterns])[t.pattern]
        accepts = bool(self.hw is not None and self.hw.accepts_transposed_dgrad and self.transposable is None)
        usable = (t.sparse_operand == OPERAND_WEIGHT) | ((t.sparse_operand == OPERAND_WEIGHT_T) & accepts)
        flops = t.nominal_flops * np.where(usable, dens, 1.0)
        return {f"{p}_flops": float(flops[t.pass_codes == i].sum()) for i, p in enumerate(PASSES)}

    def state_cost(self, state) -> dict:
        """Per-step costs of ``state`` (keys: PER_STEP_COLUMNS, plus HW_COLUMNS with hardware)."""
        key = state.pricing_key()
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        cost_pats, _ = self._per_op(state.cost_patterns)
        mask_pats, _ = self._per_op(state.masks)
        row = self._algorithmic(cost_pats)
        row["matrix_flops"] = row["fwd_flops"] + row["dgrad_flops"] + row["wgrad_flops"]
        masked = np.array([p is not None for p in mask_pats])
        masked_weights = float(self._weights[masked].sum()) if masked.any() else 0.0
        mask_weights = float(sum(w * VT.mask_flops_per_weight(p.m) for w, p in zip(self._weights, mask_pats)
                                 if p is not None)) if state.mask_recompute else 0.0
        row["activation_flops"] = self.activation_flops
        row["mask_flops"] = mask_weights
        row["srste_flops"] = VT.SRSTE_FLOPS_PER_WEIGHT * masked_weights if state.rule == "sr-ste" else 0.0
        row["blend_flops"] = VT.BLEND_FLOPS_PER_WEIGHT * masked_weights if state.blend else 0.0
        row["optimizer_flops"] = self.opt_per_param * self.params
        row["vector_flops"] = sum(row[k] for k in ("activation_flops", "mask_flops", "srste_flops",
                                                   "blend_flops", "optimizer_flops"))
        row["step_flops"] = row["matrix_flops"] + row["vector_flops"]
        if self.hw is not None:
            n_masked = float(self._weights[masked].sum()) if (masked.any() and state.mask_recompute) else 0.0
            extras = {
                "mask": (row["mask_flops"], VT.MASK_BYTES_PER_WEIGHT * n_masked),
                "sr-ste": (row["srste_flops"], VT.SRSTE_BYTES_PER_WEIGHT * masked_weights if row["srste_flops"]
                           else 0.0),
                "blend": (row["blend_flops"], VT.BLEND_BYTES_PER_WEIGHT * masked_weights if row["blend_flops"]
                          else 0.0)}
            row.update(self._hardware(cost_pats, {k: v for k, v in extras.items() if v[0] > 0}))
        self._cache[key] = row
        return row

    def _hardware(self, cost_pats, extras: dict) -> dict:
        """Seconds and joules of one step through the one pricing path (GEMMs, vector ops, optimizer, recipe
        terms): the same number ``nmsim price --mode training`` gives for the same plan."""
        import pandas as pd
        from nmsim.cost.pricing import context, price_step, training_extras
        patterns = pd.Series(cost_pats, index=self.matrix.index, dtype=object)
        ctx = context(self.hw, self.dtype, dgrad_sparse=self.transposable, step=False, **self.pricing_options)
        step = training_extras(self.params, self.optimizer, extras)
        t = price_step(self.graph, patterns, ctx, "training", ops=self.ops, extras=step, recompute=self.recompute)[1]
        return {"hw_matrix_flops": t["executed_flops"], "step_seconds": t["seconds"],
                "step_joules": t["joules"]}   # NaN: no energy figures, not 0 J

    # schedules
    def phases(self, recipe, total_steps: int) -> pd.DataFrame:
        """One row per recipe phase: steps, label, per-step costs and per-phase totals."""
        import pandas as pd
        rows = []
        for ph in recipe.phases(total_steps):
            self.check_reachable(ph.state, recipe.name)
            cost = self.state_cost(ph.state)
            row = {"start_step": ph.start_step, "stop_step": ph.stop_step, "steps": ph.steps, "label": ph.label,
                   "phase": ph.state.phase, "decay": ph.state.decay, **cost}
            row["phase_matrix_flops"] = cost["matrix_flops"] * ph.steps
            row["phase_flops"] = cost["step_flops"] * ph.steps
            if self.hw is not None:
                row["phase_seconds"] = cost["step_seconds"] * ph.steps
                row["phase_joules"] = cost["step_joules"] * ph.steps
            rows.append(row)
        return pd.DataFrame(rows)

    def totals(self, recipe, total_steps: int) -> dict:
        """Sums over the schedule (no normalisation): steps, matrix_flops, vector_flops, flops, [seconds, joules]."""
        out = {"steps": 0, "matrix_flops": 0.0, "vector_flops": 0.0, "flops": 0.0}
        if self.hw is not None:
            out.update(hw_matrix_flops=0.0, seconds=0.0, joules=0.0)
        for ph in recipe.phases(total_steps):
            c = self.state_cost(ph.state)
            out["steps"] += ph.steps
            out["matrix_flops"] += c["matrix_flops"] * ph.steps
            out["vector_flops"] += c["vector_flops"] * ph.steps
            out["flops"] += c["step_flops"] * ph.steps
            if self.hw is not None:
                out["hw_matrix_flops"] += c["hw_matrix_flops"] * ph.steps
                out["seconds"] += c["step_seconds"] * ph.steps
                out["joules"] += c["step_joules"] * ph.steps
        return out


@dataclass
class TrainingCost:
    """``phases``: one row per recipe phase; ``totals``: sums over the schedule plus normalised ratios."""

    recipe: object
    plan: SparsityPlan
    total_steps: int
    phases: pd.DataFrame
    totals: pd.Series
    model: TrainingCostModel = field(repr=False)

    @property
    def flops(self) -> float:
        return float(self.totals["flops"])


def reference_recipes(recipe):
    """(dense, sr-ste) recipes on ``recipe``'s targets, d, f and granularity (sr-ste None without targets)."""
    from nmsim.recipes import make_recipe
    dense = make_recipe("dense", {k: None for k in recipe.targets}, 0.0, 0.0, recipe.steps_per_epoch)
    try:
        srste = make_recipe("sr-ste", recipe.targets, recipe.dense_frac, recipe.finetune_frac,
                            recipe.steps_per_epoch)
    except UserError:
        srste = None
    return dense, srste


def normalised(model: TrainingCostModel, recipe, total_steps: int) -> pd.Series:
    """``model.totals`` plus ``*_vs_dense`` and ``*_vs_srste`` ratios for flops, matrix_flops (and seconds)."""
    import pandas as pd
    tot = model.totals(recipe, total_steps)
    dense, srste = reference_recipes(recipe)
    refs = {"dense": model.totals(dense, total_steps),
            "srste": model.totals(srste, total_steps) if srste is not None else None}
    for name, ref in refs.items():
        for col in ("flops", "matrix_flops", "seconds", "joules"):
            if col in tot:
                tot[f"{col}_vs_{name}"] = tot[col] / ref[col] if ref and ref[col] else math.nan
    return pd.Series(tot)


def training_cost(graph, plan: SparsityPlan, recipe, total_steps: int, *, hardware=None, dtype: str = "bf16",
                  transposable=None, optimizer: str = "adamw", paper_convention: bool = False,
                  model: TrainingCostModel | None = None) -> TrainingCost:
    """Price ``recipe`` over ``total_steps`` steps of ``graph`` (traced at the training batch) under ``plan``.

    ``hardware``: a HardwareSpec or bundled name; adds seconds/joules (``price_gemms``) and decides dgrad
    sparsity with ``transposable=None`` (see the module doc). ``paper_convention`` keeps only the paper's ops.
    """
    if isinstance(plan, str):
        plan = SparsityPlan.parse(plan)
    model = model or TrainingCostModel(graph, plan, hardware=hardware, dtype=dtype, transposable=transposable,
                                       optimizer=optimizer, paper_convention=paper_convention)
    unknown = sorted(set(recipe.targets) - set(model.targets))
    if unknown:
        raise UserError(f"recipe target {unknown[0]!r} is not a selector of the plan {plan}", "--sparsity")
    phases = model.phases(recipe, total_steps)
    return TrainingCost(recipe, plan, int(total_steps), phases, normalised(model, recipe, total_steps), model)


# ---- the trainer's hook ----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=32)
def _step_model(cfg, batch: int, targets_key: tuple) -> TrainingCostModel:
    from nmsim.graph import trace_workload
    graph = trace_workload(cfg, batch=batch)  # itself cached per (cfg, batch)
    return TrainingCostModel(graph, SparsityPlan.from_mapping(dict(targets_key), "targets"))


def step_flops(cfg, targets: dict, state, batch: int) -> float:
    """FLOPs (matrix + vector) of one training step of ``cfg`` at ``batch`` under ``state``; no hardware, so
    dgrad is sparse only for transposable patterns. Called by ``nmsim.train.flops``."""
    key = tuple((str(k), v) for k, v in dict(targets or {}).items())
    return _step_model(cfg, int(batch), key).state_cost(state)["step_flops"]
