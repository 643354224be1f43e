"""A protocol priced before it runs: every run's schedule through ``nmsim budget``'s pricing path
(:func:`nmsim.cost.budget.budget_table`) on one device, summed over the protocol's runs.

Each recipe x pattern is priced with the settings its runs resolve to (MDGF's beta from its rule, SDGF-geometric's
k, the phases), at the run's steps, batch and sequence, in bf16 (the GPU protocol's autocast; an fp32 protocol at
TF32, :data:`PRICED_AS`). Left out: the evaluation passes (forward only over the validation split, about 1.3 % of a
run's FLOPs in the GPU protocol), Python and data-loading overhead, and torch.compile's warm-up.
"""
from __future__ import annotations

import pandas as pd


# precision -> dtype priced: a GPU spec lists tensor-core peaks (bf16, tf32), no fp32 matrix peak
PRICED_AS = {"bf16": "bf16", "tf32": "tf32", "fp32": "tf32"}


def price_protocol(p, hardware: str = "h100") -> tuple[pd.DataFrame, str]:
    """(one row per recipe x pattern: runs, steps, a run's FLOPs and seconds, the tokens (examples) per second that
    implies, the device-hours of all its runs; a header text)."""
    from nmsim.cost.budget import budget_table
    from nmsim.evidence.protocol import plan
    from nmsim.train.loop import check_config
    from nmsim.train.plans import run_plan
    from nmsim.train.tasks import load_task

    groups: dict[tuple, list] = {}
    for config in plan(p):
        c = check_config(config)
        groups.setdefault((c.recipe, run_plan(c.recipe, c.sparsity).label), []).append(c)
    rows = []
    for (recipe, label), runs in groups.items():
        c = runs[0]
        task = load_task(c.task)
        steps = c.epochs * task.steps_per_epoch(c.batch)
        sparsity = ",".join(f"{sel}={pat}" for sel, pat in c.sparsity.items())
        params = c.recipe_params
        run = budget_table(c.workload, sparsity, recipes=recipe, steps=steps, batch=c.batch,
                           seq=int(task.train_x.shape[1]) if task.kind == "lm" else None, hardware=hardware,
                           dtype=PRICED_AS[c.precision], dense_frac=c.dense_frac,
                           finetune_frac=c.finetune_frac, beta=params.get("beta"), k=params.get("k"))
        row = run.table.iloc[0]
        tokens = steps * c.batch * (int(task.train_x.shape[1]) if task.kind == "lm" else 1)
        rows.append({"recipe": recipe, "pattern": label, "runs": len(runs), "steps": steps,
                     "train_flops": float(row["train_flops"]), "run_seconds": float(row["seconds"]),
                     "tokens_per_second": tokens / float(row["seconds"]), "hours": len(runs) * float(row["hours"])})
    table = pd.DataFrame(rows)
    first = next(iter(groups.values()))[0]
    task = load_task(first.task)
    tokens = first.epochs * task.steps_per_epoch(first.batch) * first.batch * (
        int(task.train_x.shape[1]) if task.kind == "lm" else 1)
    text = (f"# priced: protocol {first.task} on {first.workload}, {len(table)} recipe x pattern groups, "
            f"{int(table['runs'].sum())} runs of {first.epochs} epochs at batch {first.batch} "
            f"({tokens:,} {'tokens' if task.kind == 'lm' else 'examples'} per run), {first.precision} priced as "
            f"{PRICED_AS[first.precision]}, "
            f"on one {hardware}: {table['hours'].sum():.3g} device-hours in all (training steps through nmsim's "
            "pricing; evaluation passes, Python overhead and compile warm-up not priced)")
    return table, text
