"""Sweeps: recipes x patterns x seeds, one run folder each, restartable, with a pandas summary.

Folder of a run: ``<out>/<task>/<recipe>/<slug>/seed<S>`` where ``slug`` is the plan's folder name
(:attr:`nmsim.sparsity.SparsityPlan.slug`, e.g. ``ff1_16`` or ``ff1_8+qk1_4``; ``dense`` for the dense recipe,
which runs once per seed whatever the patterns). Tables and messages show the plan's text form (``ff=1:16``). A folder
with ``done.json`` is finished and skipped on restart; an unfinished one resumes from its checkpoint; a
folder whose ``config.json`` differs from the sweep's config for it stops the sweep before anything runs.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from nmsim.errors import UserError
from nmsim.io import write_text
from nmsim.train import checkpoint as ckpt
from nmsim.train.executors import run_jobs
from nmsim.train.loop import RunConfig, check_config, prepare_folder
from nmsim.train.plans import parse_sparsity, run_plan


def run_folder(root: str | Path, config: RunConfig) -> Path:
    slug = run_plan(config.recipe, config.sparsity).slug
    return Path(root) / config.task / config.recipe / slug / f"seed{config.seed}"


def parse_patterns(text: str, selector: str = "ff") -> list[dict[str, str]]:
    """The shared pattern list (:func:`nmsim.sparsity.lists.parse_pattern_list`, bare patterns on ``selector``)
    -> ``[{ff: 1:4}, {ff: 1:8, qk: 1:4}]``."""
    from nmsim.sparsity.lists import parse_pattern_list, plan_text

    return [parse_sparsity(f"{selector}=dense" if item == "dense" else plan_text(item, selector), "--patterns")
            for item in parse_pattern_list(text)]


def plan(task: str, recipes: list[str], patterns: list[dict], seeds: list[int], **common) -> list[RunConfig]:
    configs, seen = [], set()
    for recipe in recipes:
        for sparsity in (patterns[:1] if recipe == "dense" else patterns):
            for seed in seeds:
                cfg = RunConfig(task=task, recipe=recipe, sparsity=dict(sparsity), seed=seed, **common)
                key = json.dumps(cfg.to_dict(), sort_keys=True)
                if key not in seen:
                    seen.add(key)
                    configs.append(cfg)
    return configs


def run_sweep(configs: list[RunConfig], out: str | Path = "runs", *, executor: str = "local", workers: int = 1,
              device: str = "cpu", skip_incompatible: bool = False, echo=print, progress="auto") -> pd.DataFrame:
    """Run every config not finished yet; returns the per-run table (also written to ``<out>/sweep_runs.csv``).

    Every config is checked before anything runs: unknown names, patterns that do not fit the model and run
    folders holding a different config raise :class:`UserError` (``skip_incompatible`` turns pattern misfits
    into skipped runs instead).
    """
    out = Path(out)
    if os.path.lexists(out) and not out.is_dir():
        raise UserError("exists and is not a folder; give a runs folder for --out", str(out))
    from nmsim.progress import resolve_mode

    mode = resolve_mode(progress)
    # on a terminal: the sweep's bar over runs; in logs: each run a line a minute while it trains (heartbeat)
    run_progress = "heartbeat" if mode in ("lines", "heartbeat") else False
    jobs, done, skipped = _sweep_jobs(configs, out, device, run_progress, skip_incompatible)
    echo(f"sweep: {len(configs)} runs, {len(done)} already finished, {len(jobs)} to run, {len(skipped)} skipped "
         f"(executor {executor}, {workers} worker{'s' if workers != 1 else ''})")
    for s in skipped:
        echo(f"  skipped {s['recipe']} {s['pattern']} seed {s['seed']}: {s['reason']}")
    failures = _run_with_progress(jobs, executor, workers, mode, echo)
    table = collect(out, configs)
    write_text(out / ckpt.RUNS_TABLE, table.to_csv(index=False))
    summary = summarize(table)
    write_text(out / ckpt.SUMMARY_TABLE, summary.to_csv(index=False))
    if failures:
        echo(f"sweep: {len(failures)} run(s) failed:")
        for f in failures:
            echo(f"  {f}")
    table.attrs["failures"] = failures
    table.attrs["summary"] = summary
    return table


def _run_name(recipe: str, sparsity, seed) -> str:
    return f"{recipe} {run_plan(recipe, sparsity).label} seed {seed}"


def _sweep_jobs(configs: list[RunConfig], out: Path, device: str, run_progress, skip_incompatible: bool):
    """(jobs to run, jobs already finished, skipped configs): every config checked before anything runs."""
    jobs, done, skipped = [], [], []
    for cfg in configs:
        try:
            resolved = check_config(cfg)
        except UserError as exc:
            if skip_incompatible and "does not fit" in str(exc):
                skipped.append({"recipe": cfg.recipe, "pattern": run_plan(cfg.recipe, cfg.sparsity).label,
                                "seed": cfg.seed, "reason": str(exc)})
                continue
            hint = (" (--skip-incompatible skips such runs; sdgf-geometric also takes a smaller --k)"
                    if "does not fit" in str(exc) else "")
            raise UserError(f"{_run_name(cfg.recipe, cfg.sparsity, cfg.seed)}: {exc}{hint}") from None
        folder = run_folder(out, resolved)
        status = prepare_folder(folder, resolved, resume=True)
        ckpt.check_run_folder(folder)   # a damaged done marker or metrics log: refused before anything trains
        (done if status == "done" else jobs).append({"config": resolved.to_dict(), "out": str(folder),
                                                     "device": device, "progress": run_progress})
    return jobs, done, skipped


def _run_with_progress(jobs: list, executor: str, workers: int, mode: str, echo) -> list[str]:
    """Run the jobs under the sweep's bar (a terminal) or with a line per finished run; the failures."""
    from nmsim.progress import Progress

    failures = []
    bar = Progress(len(jobs), "sweep", "run", mode="bar" if mode == "bar" else "off")
    say = bar.write if bar.bar is not None else echo    # messages above the bar, never through it
    with bar:
        for i, (job, result, error) in enumerate(run_jobs(jobs, executor, workers), 1):
            c = job["config"]
            what = _run_name(c["recipe"], c["sparsity"], c["seed"])
            bar.update(1)
            pace = f" ({bar.pace()})" if bar.bar is None and bar.pace() else ""
            if error:
                failures.append(f"{what}: {error}")
                say(f"  [{i}/{len(jobs)}] {what}: FAILED {error}")
                continue
            elsewhere = " (already finished, e.g. by another sweep; not retrained)" \
                if result.get("already_finished") else ""
            say(f"  [{i}/{len(jobs)}] {what}: accuracy {result.get('accuracy', float('nan')):.4f}{elsewhere}{pace}")
    return failures


def collect(out: str | Path, configs: list[RunConfig]) -> pd.DataFrame:
    """One row per finished run among ``configs`` (final metrics from done.json)."""
    rows = []
    for cfg in configs:
        try:
            resolved = check_config(cfg)
        except UserError:
            continue
        folder = run_folder(out, resolved)
        if not (folder / ckpt.DONE).exists():
            continue
        final = ckpt.read_done(folder)["final"]
        rows.append({"task": cfg.task, "recipe": resolved.recipe,
                     "pattern": run_plan(resolved.recipe, resolved.sparsity).label,
                     "seed": cfg.seed, "accuracy": final.get("accuracy"), "loss": final.get("loss"),
                     "train_flops": final.get("train_flops"), "steps": final.get("step"),
                     "wall_seconds": final.get("wall_seconds"), "folder": str(folder)})
    return pd.DataFrame(rows, columns=["task", "recipe", "pattern", "seed", "accuracy", "loss", "train_flops",
                                       "steps", "wall_seconds", "folder"])


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and std (over seeds) of the final accuracy and loss per recipe x pattern."""
    if table.empty:
        return pd.DataFrame(columns=["task", "recipe", "pattern", "runs", "accuracy_mean", "accuracy_std",
                                     "loss_mean", "train_flops_mean"])
    g = table.groupby(["task", "recipe", "pattern"], sort=False)
    return g.agg(runs=("seed", "count"), accuracy_mean=("accuracy", "mean"), accuracy_std=("accuracy", "std"),
                 loss_mean=("loss", "mean"), train_flops_mean=("train_flops", "mean")).reset_index()


SUMMARY_COLUMNS = ("task", "recipe", "pattern", "runs", "accuracy", "loss_mean", "mean_train_flops")  # its table


def summary_view(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary as people read it (``SUMMARY_COLUMNS``): accuracy as ``97.12 ± 0.31 %``; the CLI renders it."""
    view = summary.copy()
    view["accuracy"] = [f"{m * 100:.2f} %" if pd.isna(s) else f"{m * 100:.2f} ± {s * 100:.2f} %"
                        for m, s in zip(view["accuracy_mean"], view["accuracy_std"])]
    cols = list(SUMMARY_COLUMNS[:-1])
    if view["train_flops_mean"].notna().any():
        view["mean_train_flops"] = view["train_flops_mean"]
        cols.append("mean_train_flops")
    return view[cols]
