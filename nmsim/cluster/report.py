"""Frames for a cluster section of ``nmsim report`` (a hook: the report adds them with
``nmsim.report.interactive.add_frame_section``). Prices through :mod:`nmsim.cluster.plan`, the same path as
``nmsim cluster plan`` / ``budget``."""
from __future__ import annotations

import pandas as pd

from nmsim.cluster.plan import make_recipes, run_budget, search, steps_for
from nmsim.cluster.text import plan_rows


def cluster_frames(workload, system: str, nodes: int | None, tokens: float, *, global_batch: int, seq: int,
                   recipes: str = "dense,sr-ste", sparsity: str | None = "ff=2:4", top: int = 10,
                   price_per_hour=None) -> dict:
    """{"cluster_budget": one row per recipe, "cluster_layouts": the best ``top`` layouts of the first sparse
    recipe (dense without one), "cluster_losses": the run-loss terms priced with (term, value, source)}, raw SI
    units; ``usd`` at ``price_per_hour`` over the bundled list prices (:func:`nmsim.cluster.plan.run_budget`)."""
    from nmsim.cluster.system import load_system
    from nmsim.graph import load_workload
    cfg = load_workload(workload) if isinstance(workload, str) else workload
    sysm = load_system(system, nodes)
    recs = make_recipes(recipes, sparsity)
    budget = run_budget(cfg, sysm, global_batch, seq, tokens, recs, plan=sparsity, price_per_hour=price_per_hour)
    name, recipe = next(((n, r) for n, r in recs.items() if r is not None), ("dense", None))
    res = search(cfg, sysm, global_batch, seq, recipe=recipe, steps=steps_for(tokens, global_batch, seq),
                 plan=sparsity)
    layouts = plan_rows(res, top).assign(recipe=name)
    return {"cluster_budget": budget, "cluster_layouts": pd.DataFrame(layouts),
            "cluster_losses": res.run.losses.frame()}
