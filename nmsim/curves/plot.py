"""Training curves of trainer runs: a metric against cumulative training FLOPs and against steps.

One panel per (task, pattern, metric) and x axis; in each, one line per recipe (the mean over seeds at every
evaluation) with a band of ± one seed standard deviation; the dense runs are drawn in every pattern's panel.
:func:`save_figure` writes a PNG, or a self-contained HTML page (the PNG inlined, plus the final values).
"""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from nmsim.curves import METRICS  # noqa: E402
from nmsim.errors import UserError  # noqa: E402
from nmsim.recipes import recipe_style  # noqa: E402

AXES = {"train_flops": "cumulative training FLOPs (nmsim cost model)", "step": "optimizer steps"}
METRIC_LABELS = dict(zip(METRICS, ("validation accuracy (higher is better)",
                                   "validation loss, nats/token (lower is better)")))


def flop_ticks(ax, axis: str = "x") -> None:
    """FLOP counts on an axis with SI prefixes (20G, 1.5T; the axis label names the unit), no 1e11 offset."""
    from matplotlib.ticker import EngFormatter, MaxNLocator
    target = getattr(ax, f"{axis}axis")
    target.set_major_locator(MaxNLocator(6))
    target.set_major_formatter(EngFormatter(sep=""))


def _bands(g: pd.DataFrame, x: str, metric: str) -> pd.DataFrame:
    agg = g.groupby("step", sort=True).agg(x=(x, "mean"), mean=(metric, "mean"), std=(metric, "std"),
                                           seeds=("seed", "nunique"))
    return agg.fillna({"std": 0.0})


def _group_keys(curves: pd.DataFrame) -> list[str]:
    """Task, and run length and setup where the frame has them: runs that may share a panel and a dense curve."""
    return [k for k in ("task", "length", "setup") if k in curves]


def panels(curves: pd.DataFrame) -> list[tuple[tuple, str]]:
    """(group, pattern) of every sparse pattern, group = (task[, length, setup]) (or ``dense`` alone when only
    dense runs are present): runs of different tasks or lengths never share a panel."""
    group = list(zip(*(curves[k] for k in _group_keys(curves))))
    keys = list(dict.fromkeys(zip(group, curves["pattern"])))
    sparse = [k for k in keys if k[1] != "dense"]
    return sparse or keys


def _check_request(curves: pd.DataFrame, metrics, x_axes) -> None:
    for m in metrics:
        if m not in METRIC_LABELS:
            raise UserError(f"unknown metric {m!r} (one of {', '.join(METRIC_LABELS)})", "--metrics")
    for x in x_axes:
        if x not in AXES:
            raise UserError(f"unknown x axis {x!r} (one of flops, steps)", "--x")
    if "train_flops" in x_axes and curves["train_flops"].isna().all():
        raise UserError("the runs logged no training FLOPs; plot against steps (--x steps)", "--x")


def _draw_lines(ax, sub: pd.DataFrame, x: str, metric: str) -> None:
    """One line per recipe (and variant) with its ± one std band; the y range zoomed on the last three quarters."""
    tail = []
    for key, g in sub.groupby(["recipe", "variant"] if "variant" in sub else ["recipe"], sort=False):
        recipe, variant = (key, "") if isinstance(key, str) else (key[0], key[-1] if len(key) > 1 else "")
        b = _bands(g, x, metric)
        color, marker = recipe_style(recipe)
        n = int(b["seeds"].max())
        ax.plot(b["x"], b["mean"], color=color, marker=marker, ms=3, lw=1.4,
                label=f"{recipe}{f' ({variant})' if variant else ''} ({n} seed{'s' if n != 1 else ''})")
        ax.fill_between(b["x"], b["mean"] - b["std"], b["mean"] + b["std"], color=color, alpha=.18, lw=0)
        tail.append(b.iloc[len(b) // 4:])
    if tail:  # zoom on the last three quarters: the first evaluations would flatten the differences
        t = pd.concat(tail)
        lo, hi = float((t["mean"] - t["std"]).min()), float((t["mean"] + t["std"]).max())
        pad = 0.08 * (hi - lo or abs(hi) or 1.0)
        ax.set_ylim(lo - pad, hi + pad)


def _label_axes(ax, x: str, metric: str, panel: str) -> None:
    ax.set_xlabel(AXES[x])
    if x == "train_flops":
        flop_ticks(ax)
    ax.set_ylabel(METRIC_LABELS[metric], fontsize=8)
    ax.set_title(f"{panel}: {metric} vs {'training FLOPs' if x == 'train_flops' else 'steps'}", fontsize=9)
    ax.grid(alpha=.3)
    ax.legend(fontsize=7)


def plot_curves(curves: pd.DataFrame, metrics=("accuracy", "loss"), x_axes=("train_flops", "step")):
    """The figure (matplotlib) for ``curves`` (rows of :func:`nmsim.curves.runs.load_curves`)."""
    _check_request(curves, metrics, x_axes)
    keys = panels(curves)
    rows = [(k, m) for k in keys for m in metrics]
    fig, axes = plt.subplots(len(rows), len(x_axes), figsize=(6.2 * len(x_axes), 3.6 * len(rows)), squeeze=False)
    gk = _group_keys(curves)
    shown = [k for k in gk if curves[k].nunique() > 1 or k == "task"]
    for r, ((group, pattern), metric) in enumerate(rows):
        same = (curves[gk] == pd.Series(dict(zip(gk, group)))).all(axis=1)
        sub = curves[same & ((curves["pattern"] == pattern) | (curves["recipe"] == "dense"))]
        where = " ".join(str(v) for k, v in zip(gk, group) if k in shown and str(v))
        for c, x in enumerate(x_axes):
            _draw_lines(axes[r][c], sub, x, metric)
            _label_axes(axes[r][c], x, metric, f"{where} {pattern}")
    fig.tight_layout()
    return fig


def final_table(curves: pd.DataFrame) -> pd.DataFrame:
    last = curves.groupby("folder", sort=False).tail(1)
    keys = [k for k in ("task", "length", "setup", "recipe", "pattern", "variant") if k in curves]
    return (last.groupby(keys, sort=False)
            .agg(seeds=("seed", "nunique"), accuracy_mean=("accuracy", "mean"), accuracy_std=("accuracy", "std"),
                 loss_mean=("loss", "mean"), loss_std=("loss", "std"), train_flops=("train_flops", "mean"),
                 steps=("step", "max"))
            .reset_index())


def save_figure(fig, out: str | Path, curves: pd.DataFrame | None = None, title: str = "Training curves",
                mine_only: bool = True) -> Path:
    """Write ``fig`` as PNG (``.png``) or a self-contained HTML page (``.html``/``.htm``), atomically.
    ``mine_only`` (a file the user named): an existing file is replaced only if nmsim wrote it; False inside a
    folder nmsim owns (an evidence protocol folder)."""
    from nmsim.io.write import check_output_file, write_bytes

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".png", ".html", ".htm"):
        raise UserError("output must end in .png or .html", str(out))
    check_output_file(out, "plot", mine_only=mine_only)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    png = buf.getvalue()
    if suffix == ".png":
        return write_bytes(out, png, "plot", mine_only=mine_only)
    table = "" if curves is None else final_table(curves).to_html(index=False, float_format=lambda v: f"{v:.6g}")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1>"
            f"<img alt='training curves' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
            f"<h2>Final evaluation (mean and std over seeds)</h2>{table}</body></html>\n")
    return write_bytes(out, page.encode(), "plot", mine_only=mine_only)
