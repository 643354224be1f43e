"""The report's words from its inputs: the metric (name, unit, direction) from the accuracy source, the unit of
work (image or sequence of tokens) from the workload, and the findings summary that opens the report.

An accuracy CSV may carry ``metric`` (e.g. ``perplexity``, ``top1_pct``), ``unit`` and ``higher_is_better``
columns; without ``higher_is_better`` the direction follows the metric's name (losses, perplexities, error and
word/character error rates, bits per byte are lower-is-better).
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

LOWER_IS_BETTER = ("perplexity", "ppl", "loss", "error", "err", "wer", "cer", "bpb", "bpc", "bits", "nll")
KNOWN = {"top1_pct": ("top-1 accuracy", "%"), "top1": ("top-1 accuracy", ""), "accuracy": ("accuracy", "")}


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str = ""
    higher_is_better: bool = True

    @property
    def label(self) -> str:
        arrow = "higher is better" if self.higher_is_better else "lower is better"
        return f"{self.name} ({f'{self.unit}, ' if self.unit else ''}{arrow})"

    @property
    def sense(self) -> str:
        """``max`` or ``min``: the Pareto direction of the metric."""
        return "max" if self.higher_is_better else "min"


def metric_of(acc: pd.DataFrame | None) -> Metric:
    if acc is None or "metric" not in acc or acc["metric"].dropna().empty:
        return Metric("top-1 accuracy", "%")
    raw = str(acc["metric"].dropna().iloc[0]).strip()
    name, unit = KNOWN.get(raw.lower(), (raw.replace("_", " "), ""))
    if "unit" in acc and not acc["unit"].dropna().empty:
        unit = str(acc["unit"].dropna().iloc[0])
    if "higher_is_better" in acc and not acc["higher_is_better"].dropna().empty:
        higher = str(acc["higher_is_better"].dropna().iloc[0]).strip().lower() in ("1", "true", "yes")
    else:
        higher = not any(word in raw.lower().replace("-", "_").split("_") or raw.lower().startswith(word)
                         for word in LOWER_IS_BETTER)
    return Metric(name, unit, higher)


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
    scored = head.dropna(subset=["accuracy"])
    if len(scored):
        best = scored.loc[scored["accuracy"].idxmax() if metric.higher_is_better else scored["accuracy"].idxmin()]
        out.append(f"Best {metric.name}: {best['recipe']} at {best['plan']}, {best['accuracy']:.4g}"
                   f"{' ' + metric.unit if metric.unit and metric.unit != '%' else metric.unit} "
                   f"({'higher' if metric.higher_is_better else 'lower'} is better), at "
                   f"{best['train_flops_rel_dense']:.3f}x dense training FLOPs.")
        dense = scored[scored["recipe"] == "dense"]
        if len(dense):
            ref = float(dense["accuracy"].iloc[0])
            ok = scored[(scored["recipe"] != "dense") & (scored["train_flops_rel_dense"] <= 1.0 + 1e-9)]
            ok = ok[ok["accuracy"] >= ref] if metric.higher_is_better else ok[ok["accuracy"] <= ref]
            out.append(f"{len(ok)} of {len(scored) - len(dense)} sparse recipe x plan rows match dense "
                       f"{metric.name} ({ref:.4g}) within the dense FLOP budget.")
    else:
        out.append("No accuracy for this workload: the tables give cost only.")
    if hw is not None and len(hw) and "speedup_vs_dense" in hw:
        top = hw.loc[hw["speedup_vs_dense"].idxmax()]
        out.append(f"Largest inference speedup over dense: {top['speedup_vs_dense']:.2f}x ({top['plan']} on "
                   f"{top['hardware']}).")
    return out
