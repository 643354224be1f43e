"""Report figures (matplotlib, Agg backend) drawn from the study's DataFrames; no numbers are computed here.

Plans are shown in their text form (``ff=1:8,qk=1:4``, :attr:`nmsim.sparsity.SparsityPlan.label`) as the
frames carry them."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from nmsim.curves.plot import flop_ticks  # noqa: E402
from nmsim.recipes import RECIPES, Recipe, recipe_style  # noqa: E402

RECIPE_STYLE = {name: cls.style for name, cls in RECIPES.items() if cls.style != Recipe.style}
PHASE_COLORS = {"dense": "#4c72b0", "decay": "#dd8452", "sparse": "#55a868", "finetune": "#8172b3"}


def category_colors(n: int) -> list:
    """``n`` colours of a qualitative palette: tab10's ten hues, then (past ten) tab20's lighter shades, so the
    first ten categories never share a hue."""
    tab20 = plt.get_cmap("tab20").colors
    palette = list(plt.get_cmap("tab10").colors) + list(tab20[1::2])
    return [palette[i % len(palette)] for i in range(n)]


def _plain_log_ticks(ax) -> None:
    """Log axis ticks as plain numbers (6, 20, 300), no 6x10^0 labels; minor ticks labelled as the span allows
    (every one within about a decade, 2 and 5 up to three decades, none beyond), so a short axis still reads."""
    from matplotlib.ticker import FuncFormatter
    lo, hi = ax.get_ylim()
    decades = np.log10(hi / lo) if lo > 0 and hi > lo else 99
    digits = "123456789" if decades < 1.2 else "25" if decades < 3 else ""
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:e}"[0] in digits else ""))


def accuracy_vs_training(head: pd.DataFrame, metric_label: str = "accuracy (higher is better)",
                         column: str = "accuracy"):
    """The metric against training FLOPs normalised to dense (the paper's Fig. 4b, in priced FLOPs); every
    sparse point labelled with its plan, labels placed so that none overlaps another (:mod:`labels`)."""
    from nmsim.report.labels import place_labels

    fig, ax = plt.subplots(figsize=(9.5, 5.6))
    xs, ys, texts, colors, sizes, lines = [], [], [], [], [], []
    for recipe, g in head.groupby("recipe", sort=False):
        if recipe == "dense":
            continue
        color, marker = recipe_style(recipe)
        ax.scatter(g["train_flops_rel_dense"], g[column], color=color, marker=marker, label=recipe, s=36,
                   alpha=.85, zorder=3)
        xs += list(g["train_flops_rel_dense"])
        ys += list(g[column])
        texts += list(g["plan"])
        colors += [color] * len(g)
        sizes += [3.5] * len(g)
    dense = head[head["recipe"] == "dense"]
    if len(dense) and pd.notna(dense[column].iloc[0]):
        value = float(dense[column].iloc[0])
        ax.scatter([1.0], [value], color="black", marker="*", s=140, label="dense", zorder=4)
        lines.append(ax.axhline(value, color="black", lw=.8, ls=":"))
        xs, ys, texts, colors, sizes = xs + [1.0], ys + [value], texts + ["dense"], colors + ["black"], sizes + [7]
    lines.append(ax.axvline(1.0, color="black", lw=1.2, ls="--", label="dense training budget"))
    name = metric_label.split(" (")[0]
    legend = _finish(ax, "training FLOPs / dense training FLOPs (priced per recipe phase)", metric_label,
                     f"{name[:1].upper() + name[1:]} vs training FLOPs", outside=True)
    fig.tight_layout()
    _pad_limits(ax, xs, ys)
    place_labels(ax, xs, ys, texts, colors, fontsize=6.5, avoid=(legend, *lines), markers_pt=sizes)
    return fig


def _pad_limits(ax, xs, ys, frac: float = 0.08) -> None:
    """Room around the points for their labels."""
    x = np.asarray([v for v in xs if pd.notna(v)], float)
    y = np.asarray([v for v in ys if pd.notna(v)], float)
    if len(x):
        lo, hi = min(x.min(), ax.get_xlim()[0]), max(x.max(), ax.get_xlim()[1])
        ax.set_xlim(lo - frac * (hi - lo or 1), hi + frac * (hi - lo or 1))
    if len(y):
        lo, hi = y.min(), y.max()
        ax.set_ylim(lo - frac * (hi - lo or 1), hi + frac * (hi - lo or 1))


def _finish(ax, xlabel: str, ylabel: str, title: str, outside: bool = False):
    """Labels, title, light grid and a legend (beside the axes with ``outside``): the accuracy scatter plots'
    common frame. Returns the legend."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=.3)
    if outside:
        return ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return ax.legend(fontsize=8, loc="best")


def accuracy_vs_inference(head: pd.DataFrame, metric_label: str = "accuracy (higher is better)",
                          per: str = "image", column: str = "accuracy"):
    """The metric against inference GFLOPs with the Pareto front (the paper's Fig. 5); front points labelled
    without overlaps."""
    from nmsim.report.labels import place_labels

    fig, ax = plt.subplots(figsize=(9.5, 5.6))
    for recipe, g in head.groupby("recipe", sort=False):
        color, marker = recipe_style(recipe)
        ax.scatter(g["inference_gflops"], g[column], color=color, marker=marker, label=recipe,
                   s=140 if recipe == "dense" else 36, alpha=.85, zorder=3)
    front = head[head["pareto"].astype(bool)].sort_values("inference_gflops")
    ax.step(front["inference_gflops"], front[column], where="post", color="black", lw=1.2, alpha=.7,
            label="Pareto front", zorder=2)
    name = metric_label.split(" (")[0]
    legend = _finish(ax, f"inference GFLOPs per {per} (paper convention)", metric_label,
                     f"{name[:1].upper() + name[1:]} vs inference FLOPs", outside=True)
    fig.tight_layout()
    _pad_limits(ax, head["inference_gflops"], head[column])
    place_labels(ax, list(front["inference_gflops"]), list(front[column]),
                 [f"{plan} {recipe}" for plan, recipe in zip(front["plan"], front["recipe"])], fontsize=6,
                 avoid=(legend,))
    return fig


def latency_energy(hw: pd.DataFrame):
    """Grouped bars: latency and energy per accelerator × pattern (inference, one batch)."""
    plans = list(dict.fromkeys(hw["plan"]))
    accs = list(dict.fromkeys(hw["hardware"]))
    fig, axes = plt.subplots(2, 1, figsize=(11, 7.5), sharex=True)
    width = 0.8 / max(1, len(plans))
    colors = category_colors(len(plans))
    x = np.arange(len(accs))
    for ax, col, label in ((axes[0], "latency_ms", "latency (ms)"), (axes[1], "energy_j", "energy (J)")):
        for i, plan in enumerate(plans):
            g = hw[hw["plan"] == plan].set_index("hardware").reindex(accs)
            ax.bar(x + (i - (len(plans) - 1) / 2) * width, g[col], width, label=plan, color=colors[i])
        ax.set_yscale("log")
        _plain_log_ticks(ax)
        ax.set_ylabel(label)
        ax.grid(alpha=.3, axis="y")
    axes[0].set_title("Inference latency and energy per accelerator and pattern (absolute: each at its own peak)")
    axes[1].set_xticks(x, accs, rotation=20, ha="right")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.legend(handles, labels, fontsize=7, ncol=min(6, len(plans)), loc="lower center")
    return fig


def memory(mem: pd.DataFrame):
    """Weight memory (values + metadata) per pattern and metadata encoding."""
    plans = list(dict.fromkeys(mem["plan"]))
    encs = list(dict.fromkeys(mem["encoding"]))
    fig, ax = plt.subplots(figsize=(10, 4.8))
    width = 0.8 / max(1, len(encs))
    x = np.arange(len(plans))
    hatches = ["", "//", "..", "xx", "\\\\"]
    for i, enc in enumerate(encs):
        g = mem[mem["encoding"] == enc].set_index("plan").reindex(plans)
        off = x + (i - (len(encs) - 1) / 2) * width
        ax.bar(off, g["values_mib"], width, color="#4c72b0", hatch=hatches[i % len(hatches)], edgecolor="white",
               label="values" if i == 0 else None)
        ax.bar(off, g["metadata_mib"], width, bottom=g["values_mib"], color="#dd8452",
               hatch=hatches[i % len(hatches)], edgecolor="white", label=f"metadata ({enc})")
    ax.set_xticks(x, list(plans), rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("weight memory (MiB)")
    ax.set_title("Weight memory and metadata overhead per pattern and encoding (bars left to right: "
                 + ", ".join(encs) + ")", fontsize=9)
    ax.grid(alpha=.3, axis="y")
    top = float((mem["values_mib"] + mem["metadata_mib"]).max())
    ax.set_ylim(0, 1.12 * top if top > 0 else 1)   # headroom: the tallest bar and the legend never touch
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def training_phases(phases: pd.DataFrame, plans: list[str] | None = None):
    """Stacked training FLOPs per recipe phase, one panel per pattern."""
    plans = plans or list(dict.fromkeys(phases["plan"]))
    n = len(plans)
    cols = min(3, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False, sharey=True)
    order = [p for p in PHASE_COLORS if p in set(phases["phase"])] + \
            sorted(set(phases["phase"]) - set(PHASE_COLORS))
    for k, plan in enumerate(plans):
        ax = axes[k // cols][k % cols]
        g = phases[phases["plan"] == plan]
        table = g.pivot_table(index="recipe", columns="phase", values="flops_rel_dense", aggfunc="sum",
                              sort=False).reindex(columns=order).fillna(0.0)
        bottom = np.zeros(len(table))
        for ph in order:
            if table[ph].any():  # a legend entry only for bars that exist
                ax.bar(table.index, table[ph], bottom=bottom, color=PHASE_COLORS.get(ph, None), label=ph)
            bottom += table[ph].to_numpy()
        ax.axhline(1.0, color="black", ls="--", lw=1)
        ax.set_title(plan, fontsize=9)
        ax.tick_params(axis="x", labelrotation=35, labelsize=7)
        ax.grid(alpha=.3, axis="y")
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].axis("off")
    axes[0][0].set_ylabel("training FLOPs / dense")
    legend = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    fig.legend(list(legend.values()), list(legend), loc="upper right", fontsize=8)
    fig.suptitle("Training FLOPs per recipe phase (dashed: dense budget)")
    fig.tight_layout()
    return fig


SWEEP_STYLES = ["-", "--", ":", "-."]


def sweep_curves(curves: pd.DataFrame, dense_budget: float | None = None):
    """Reference-trainer runs: test accuracy against measured cumulative training FLOPs, one line per run; one
    panel per task x run length (x setup where runs differ), so runs of different lengths or tasks never share a
    line or a dense baseline. ``dense_budget``: a dense run's FLOPs, drawn when there is one panel."""
    keys = [c for c in ("task", "length", "setup") if c in curves and curves[c].astype(str).any()]
    groups = list(curves.groupby(keys, sort=False)) if keys else [((), curves)]
    n = len(groups)
    cols = min(2, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(8.5, 5.2) if n == 1 else (6.4 * cols, 4.4 * rows), squeeze=False)
    plans = list(dict.fromkeys(curves["pattern"]))
    many_seeds = curves["seed"].nunique() > 1
    for ax, (key, sub) in zip(axes.flat, groups):
        for _, g in sub.groupby("folder", sort=False):
            _sweep_line(ax, g, plans, many_seeds)
        if dense_budget and n == 1:
            ax.axvline(dense_budget, color="black", ls="--", lw=1, label="dense budget")
        _sweep_panel_labels(ax, key, sub, n)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    if n > 1:
        fig.suptitle("Reference trainer: accuracy vs training FLOPs, per task and run length")
        fig.tight_layout()
    return fig


def _sweep_line(ax, g: pd.DataFrame, plans: list, many_seeds: bool) -> None:
    """One run's accuracy curve: colour and marker by recipe, line style by pattern."""
    recipe, pattern, seed = g["recipe"].iloc[0], g["pattern"].iloc[0], g["seed"].iloc[0]
    variant = str(g["variant"].iloc[0]) if "variant" in g else ""
    color, marker = recipe_style(recipe)
    label = ((recipe if recipe == "dense" else f"{recipe} {pattern}") + (f" ({variant})" if variant else "")
             + (f" s{seed}" if many_seeds else ""))
    ax.plot(g["train_flops"], g["accuracy"] * 100, ls=SWEEP_STYLES[plans.index(pattern) % len(SWEEP_STYLES)],
            color=color, marker=marker, ms=3, label=label)


def _sweep_panel_labels(ax, key, sub: pd.DataFrame, n: int) -> None:
    """Axis labels and the panel's title (its task, length and setup when there are several panels)."""
    ax.set_xlabel("cumulative training FLOPs (measured by the trainer's cost hook)")
    flop_ticks(ax)
    ax.set_ylabel("test accuracy (%)")
    key = key if isinstance(key, tuple) else (key,)
    alone = "" if (sub["recipe"] == "dense").any() else " (no dense run: not compared)"
    ax.set_title((" · ".join(str(k) for k in key if str(k)) if n > 1 else
                  "Reference trainer: accuracy vs training FLOPs") + alone, fontsize=10 if n == 1 else 9)
    ax.grid(alpha=.3)
    ax.legend(fontsize=7, ncol=2)


def seed_sweeps(table: pd.DataFrame):
    """Final accuracy (mean, min-max bars over seeds) against training FLOPs / dense, one panel per task (and run
    length in steps, where a task has several)."""
    steps = table["steps"] if "steps" in table else pd.Series(np.nan, index=table.index)
    many = steps.groupby(table["task"]).nunique() > 1
    key = table["task"].astype(str) + np.where(table["task"].map(many),
                                               " · " + steps.map(lambda v: f"{v:,.0f} steps"), "")
    tasks = list(dict.fromkeys(key))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.2 * len(tasks), 4.4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        g = table[key == task]
        for recipe, r in g.groupby("recipe", sort=False):
            color, marker = recipe_style(recipe)
            ax.errorbar(r["train_flops_rel_dense"], r["accuracy_pct"],
                        yerr=[r["accuracy_pct"] - r["accuracy_pct_min"], r["accuracy_pct_max"] - r["accuracy_pct"]],
                        fmt=marker, color=color, ms=6, capsize=2, lw=.8, label=recipe)
        ax.set_title(str(task), fontsize=10)
        ax.set_xlabel("training FLOPs / dense")
        ax.grid(alpha=.3)
    axes[0][0].set_ylabel("final test accuracy (%)")
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Seed sweeps: mean and min-max over seeds")
    fig.tight_layout()
    return fig
