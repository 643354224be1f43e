"""The report's words from its inputs: the metric (name, unit, direction) from the accuracy source, the unit of
work (image or sequence of tokens) from the workload, and the findings summary that opens the report.

An accuracy CSV may carry ``metric`` (e.g. ``perplexity``, ``top1_pct``), ``unit`` and ``higher_is_better``
columns; without ``higher_is_better`` the direction follows the metric's name (losses, perplexities, error and
word/character error rates, bits per byte are lower-is-better).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

LOWER_IS_BETTER = ("perplexity", "ppl", "loss", "error", "err", "wer", "cer", "bpb", "bpc", "bits", "nll")
KNOWN = {"top1_pct": ("top-1 accuracy", "%"), "top1": ("top-1 accuracy", ""), "accuracy": ("accuracy", "")}
# the report tables' other column names: a metric called so gets a ``_metric`` suffix for its column
TAKEN = {"recipe", "plan", "note", "pareto", "pareto_train", "train_flops", "train_flops_rel_dense",
         "inference_gflops", "affordable_epochs", "hardware", "dtype", "latency_ms", "energy_j"}


@dataclass(frozen=True)
class Metric:
    name: str = "accuracy"
    unit: str = ""
    higher_is_better: bool = True
    column: str = "accuracy"     # the tables' column: the source's metric name (``perplexity``, ``top1_pct``)

    @property
    def label(self) -> str:
        arrow = "higher is better" if self.higher_is_better else "lower is better"
        return f"{self.name} ({f'{self.unit}, ' if self.unit else ''}{arrow})"

    @property
    def sense(self) -> str:
        """``max`` or ``min``: the Pareto direction of the metric."""
        return "max" if self.higher_is_better else "min"


def metric_of(acc: pd.DataFrame | None) -> Metric:
    """The accuracy source's metric; a source without a ``metric`` column (or none) is ``accuracy``, higher is
    better. One metric per source: rows naming two are an error."""
    if acc is None or "metric" not in acc or acc["metric"].dropna().empty:
        return Metric()
    names = list(dict.fromkeys(str(m).strip() for m in acc["metric"].dropna()))
    if len(names) > 1:
        from nmsim.errors import UserError
        raise UserError(f"the rows name {len(names)} metrics ({', '.join(names[:4])}); give one metric per "
                        "accuracy file", "accuracy metric")
    raw = names[0]
    name, unit = KNOWN.get(raw.lower(), (raw.replace("_", " "), ""))
    if "unit" in acc and not acc["unit"].dropna().empty:
        unit = str(acc["unit"].dropna().iloc[0])
    if "higher_is_better" in acc and not acc["higher_is_better"].dropna().empty:
        higher = str(acc["higher_is_better"].dropna().iloc[0]).strip().lower() in ("1", "true", "yes")
    else:
        higher = not any(word in raw.lower().replace("-", "_").split("_") or raw.lower().startswith(word)
                         for word in LOWER_IS_BETTER)
    column = re.sub(r"[^0-9a-z]+", "_", raw.lower()).strip("_") or "value"
    return Metric(name, unit, higher, f"{column}_metric" if column in TAKEN else column)


def sample_noun(cfg) -> str:
    """``image`` for image models, else ``sequence of 1,024 tokens``."""
    return "image" if cfg.is_image else f"sequence of {cfg.seq_len:,} tokens"


def findings(head: pd.DataFrame, metric: Metric, hw: pd.DataFrame | None = None) -> list[str]:
    """Short sentences for the top of the report, from the headline (and accelerator) tables."""
    out = []
    sparse = head[head["recipe"] != "dense"]
    if len(sparse):
        cheap = sparse.loc[sparse["train_flops_rel_dense"].idxmin()]
        out.append(f"Cheapest training: {cheap['recipe']} at {cheap['plan']} costs "
                   f"{cheap['train_flops_rel_dense']:.3f}x the dense training FLOPs.")
    col = metric.column
    scored = head.dropna(subset=[col])
    if len(scored):
        best = scored.loc[scored[col].idxmax() if metric.higher_is_better else scored[col].idxmin()]
        out.append(f"Best {metric.name}: {best['recipe']} at {best['plan']}, {best[col]:.4g}"
                   f"{' ' + metric.unit if metric.unit and metric.unit != '%' else metric.unit} "
                   f"({'higher' if metric.higher_is_better else 'lower'} is better), at "
                   f"{best['train_flops_rel_dense']:.3f}x dense training FLOPs.")
        dense = scored[scored["recipe"] == "dense"]
        if len(dense):
            ref = float(dense[col].iloc[0])
            ok = scored[(scored["recipe"] != "dense") & (scored["train_flops_rel_dense"] <= 1.0 + 1e-9)]
            ok = ok[ok[col] >= ref] if metric.higher_is_better else ok[ok[col] <= ref]
            out.append(f"{len(ok)} of {len(scored) - len(dense)} sparse recipe x plan rows match or beat dense "
                       f"{metric.name} ({ref:.4g}) within the dense FLOP budget.")
    else:
        out.append(f"No {metric.name} for this workload: the tables give cost only.")
    if hw is not None and len(hw) and "speedup_vs_dense" in hw:
        top = hw.loc[hw["speedup_vs_dense"].idxmax()]
        out.append(f"Largest inference speedup over dense: {top['speedup_vs_dense']:.2f}x ({top['plan']} on "
                   f"{top['hardware']}).")
    return out
