"""The summary's tables and sentences for people (markdown): values in the metric's units, intervals beside the
Holm-adjusted p-values, the seeds an open comparison would need, the recipe settings against the paper's."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from nmsim.evidence import claims as C
from nmsim.evidence.protocol import departures
from nmsim.evidence.stats import METRICS
from nmsim.units import formatted


def md_table(df: pd.DataFrame, floatfmt: str = "{:.4g}") -> str:
    """A markdown table of ``df`` (floats by ``floatfmt``, NaN and None blank; "(none)" when empty)."""
    if df.empty:
        return "(none)"
    cols = list(df.columns)
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            cells.append("" if v is None or (isinstance(v, float) and math.isnan(v)) else
                         floatfmt.format(v) if isinstance(v, float) else str(v))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def finals_view(finals: pd.DataFrame) -> pd.DataFrame:
    """Final metrics as ``mean ± std`` text; the median wall time per run in minutes."""
    fin = finals.copy()
    for m in METRICS:
        fin[m] = [f"{a:.4f}" if math.isnan(sd) else f"{a:.4f} ± {sd:.4f}"
                  for a, sd in zip(fin[f"{m}_mean"], fin[f"{m}_std"])]
    fin["wall_per_run"] = ["" if math.isnan(w) else f"{w / 60:.1f} min" for w in fin["wall_seconds_median"]]
    fin = fin[["recipe", "pattern", "seeds", "loss", "accuracy", "train_flops", "train_flops_rel_dense", "wall_per_run"]]
    return fin


def effect_text(value: float, metric: str) -> str:
    """A difference in the metric's units: accuracy in points, loss in nats per prediction."""
    if metric == "accuracy":
        return formatted("{:+.2f} points", 100 * value)
    return formatted("{:+.4f} ", value) + METRICS[metric][1]


def paired_view(paired: pd.DataFrame) -> pd.DataFrame:
    """Paired differences in the metric's units with their interval and Holm-adjusted p-value as text."""
    pt = paired.copy()
    pt["effect"] = [effect_text(v, m) for v, m in zip(pt["delta_mean"], pt["metric"])]
    pt["ci"] = ["n/a (1 seed)" if math.isnan(a) else
                f"[{effect_text(a, m).split()[0]}, {effect_text(b, m).split()[0]}]"
                for a, b, m in zip(pt["ci_low"], pt["ci_high"], pt["metric"])]
    pt["p_holm"] = ["n/a" if math.isnan(v) else f"{v:.2g}" for v in pt["p_holm"]]
    pt["seeds_needed"] = [seeds_text(v) for v in pt["seeds_needed"]]
    pt = pt[["pattern", "recipe", "metric", "seeds", "effect", "ci", "p_holm", "verdict", "seeds_needed"]]
    return pt


def seeds_text(n: float) -> str:
    """``seeds_needed`` for people: blank where nothing is open, "never" for a zero effect."""
    return "" if isinstance(n, float) and math.isnan(n) else "> 10,000" if math.isinf(n) else f"{int(n)}"


def claims_view(claims: pd.DataFrame) -> pd.DataFrame:
    """The claims with the effect and its interval in their units next to the Holm-adjusted p-value."""
    def amount(v, unit, sign="+"):
        if not math.isfinite(v):
            return ""
        return (formatted("{:" + sign + ".1f} %", v) if unit == C.SAVING_UNIT else
                formatted("{:" + sign + ".2f} points", 100 * v) if unit == METRICS["accuracy"][1] else
                formatted("{:" + sign + ".4f} ", v) + unit)
    cv = claims.copy()
    cv["effect"] = [("saving " + amount(v, u, "") if u == C.SAVING_UNIT and math.isfinite(v) else amount(v, u))
                    for v, u in zip(cv["effect"], cv["unit"])]
    cv["ci"] = ["" if not math.isfinite(a) else f"[{amount(a, u)}, {amount(b, u)}]".replace(" %", "").replace(
        " points", "").replace(" nats", "") for a, b, u in zip(cv["ci_low"], cv["ci_high"], cv["unit"])]
    cv["p_holm"] = ["" if math.isnan(v) else f"{v:.2g}" for v in cv["p_holm"]]
    cv["seeds_needed"] = [seeds_text(v) for v in cv["seeds_needed"]]
    return cv[["claim", "metric", "pattern", "recipe", "against", "seeds", "effect", "ci", "p_holm", "verdict",
               "basis", "seeds_needed", "figures"]]


def size_text(paired: pd.DataFrame) -> str:
    sizes = paired["validation_size"].dropna().unique() if "validation_size" in paired else []
    return f"{int(sizes[0]):,}" if len(sizes) == 1 else "the task's"


def family_text(paired: pd.DataFrame) -> str:
    counts = paired.groupby("metric").size() if len(paired) else pd.Series(dtype=int)
    return " / ".join(f"{n} ({m})" for m, n in counts.items()) or "0"


def title_note(p) -> str:
    """A note for the summary's title when the protocol ran recipe settings other than the paper's (not for an
    SDGF-geometric k the model is too narrow for: that is listed in :func:`settings_text` only)."""
    from nmsim.evidence.protocol import PAPER_SETTINGS, Protocol

    earlier = [k for k in PAPER_SETTINGS if getattr(p, k) != getattr(Protocol(), k)]
    return " (recipe settings other than the paper's: see below)" if earlier else ""


def settings_text(p) -> str:
    """Whether the protocol runs the paper's recipe settings, and where it does not."""
    off = departures(p)
    if not off:
        return "Recipe settings: the paper's (docs/paper-fidelity.md)."
    return ("Recipe settings differ from the paper's (docs/paper-fidelity.md): " + "; ".join(off) + ".")


def settle_text(tables: dict, last: pd.DataFrame, tiers=(10, 30)) -> str:
    """How many seeds the comparisons and claims left open would need, and what settling those that need at most
    each of ``tiers`` seeds costs at the runs' median wall time (``last``: each run's final row; its folder's
    done.json holds the run's own wall seconds, under the machine's load of the time)."""
    from nmsim.train.checkpoint import read_done

    need = pd.concat([tables["paired"]["seeds_needed"], tables["claims"]["seeds_needed"]]).dropna()
    if need.empty:
        return "No comparison or claim is left open by its spread: more seeds would not change a verdict."
    seeds = int(last.groupby(["recipe", "pattern"]).size().min())
    runs_per_seed = int(last.groupby("seed").size().max())
    per_run = float(pd.Series([float(read_done(Path(f))["final"].get("wall_seconds") or 0)
                               for f in last["folder"]]).median())
    parts = []
    for most in tiers:
        near = need[need <= most]
        if len(near):
            target = int(near.max())
            extra = max(0, target - seeds) * runs_per_seed
            parts.append(f"{len(near)} need at most {most} seeds: {target} seeds settle them, {extra} more runs, "
                         f"about {extra * per_run / 3600 / 2:.1f} h on 2 workers")
    rest = int((need > max(tiers)).sum())
    return (f"Left open, with {seeds} seeds: {len(need)} comparison(s) and claim(s) with a test. "
            + "; ".join(parts) + (f"; {rest} need more than {max(tiers)} (effects too small for this scale to "
                                  "resolve)" if rest else "")
            + f". Times at the runs' median wall time of {per_run / 60:.1f} min ({runs_per_seed} runs per seed; "
            "recorded under this machine's load, an idle core is faster).")
