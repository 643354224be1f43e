"""Summaries of a protocol folder: finals, paired differences with intervals, iso-FLOP tables, the claims.

:func:`summarize` reads only finished runs (``done.json``) and writes, atomically, ``summary.md`` and one CSV
per table (raw values: metrics as measured, FLOPs in FLOPs) plus ``curves.png``. Rerunning it on the same
runs gives the same files.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd

from nmsim.errors import UserError
from nmsim.evidence import claims as C
from nmsim.evidence import isoflop
from nmsim.evidence import views as V
from nmsim.evidence.files import read_timing
from nmsim.evidence.protocol import RUNS, TIMING_FILE, load_protocol, plan_labels
from nmsim.evidence.stats import METRICS, direction, holm, p_value, paired, pooled_sd, seeds_needed, verdict
from nmsim.units import formatted
from nmsim.recipes.decay import DEFAULT_ZERO_THRESHOLD as ZERO_DECAY  # below it MDGF's W~ counts as sparse

FRACTIONS = (1.0, 0.99, 0.98)




def _at_target(folder: Path) -> dict[int, bool]:
    """step -> whether the run's target patterns are in force with no decay left (dense runs: always)."""
    from nmsim.train import checkpoint as ckpt

    config = ckpt.read_config(folder / ckpt.CONFIG)
    target = config.get("sparsity") or {}
    zero = (config.get("recipe_params") or {}).get("zero_threshold", ZERO_DECAY)
    if isinstance(zero, bool) or not isinstance(zero, (int, float)):
        raise UserError(f"must be a number, got {zero!r:.40}", f"{folder / ckpt.CONFIG}: recipe_params.zero_threshold")
    return {int(row["step"]): config.get("recipe") == "dense" or (
            row.get("patterns") == target and float(row.get("decay") or 0.0) < zero)
            for row in ckpt.read_metrics_rows(folder / ckpt.METRICS)}


def finished_curves(runs: str | Path) -> pd.DataFrame:
    """Evaluation rows of the finished runs under ``runs``, with ``at_target`` (UserError when none is finished)."""
    from nmsim.curves.runs import load_curves

    from nmsim.train import checkpoint as ckpt

    curves = load_curves(runs)
    done = {f for f in curves["folder"].unique() if (Path(f) / ckpt.DONE).exists()}
    for f in done:
        ckpt.read_done(Path(f))
    curves = curves[curves["folder"].isin(done)].reset_index(drop=True)
    if curves.empty:
        raise UserError("holds no finished runs yet", str(runs))
    flags = {f: _at_target(Path(f)) for f in done}
    curves["at_target"] = [flags[f].get(int(s), False) for f, s in zip(curves["folder"], curves["step"])]
    return curves


def finals_table(curves: pd.DataFrame) -> pd.DataFrame:
    """Per recipe x pattern: seeds, mean and std of the final loss and accuracy, mean final training FLOPs, the
    median of the runs' own wall seconds (their done.json: every invocation's training, under its load)."""
    from nmsim.train.checkpoint import read_done

    last = curves.groupby("folder", sort=False).tail(1)
    dense_flops = last.loc[last["recipe"] == isoflop.DENSE, "train_flops"].mean()
    rows = []
    for (recipe, pattern), g in last.groupby(["recipe", "pattern"], sort=False):
        row = {"recipe": recipe, "pattern": pattern, "seeds": len(g)}
        for m in METRICS:
            row[f"{m}_mean"], row[f"{m}_std"] = float(g[m].mean()), float(g[m].std(ddof=1)) if len(g) > 1 else math.nan
        row["train_flops"] = float(g["train_flops"].mean())
        row["train_flops_rel_dense"] = row["train_flops"] / dense_flops if dense_flops else math.nan
        walls = [read_done(Path(f))["final"].get("wall_seconds") for f in g["folder"]]
        walls = [float(w) for w in walls if w is not None]
        row["wall_seconds_median"] = float(pd.Series(walls).median()) if walls else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def gap_table(curves: pd.DataFrame, reference: str = "sr-ste") -> pd.DataFrame:
    """Dense vs ``reference`` per pattern and metric: gap, pooled seed-to-seed std, gap in stds."""
    fin = {m: isoflop.finals(curves, m) for m in METRICS}
    rows = []
    for (recipe, pattern) in isoflop.groups(curves):
        if recipe != reference:
            continue
        for m in METRICS:
            dense = fin[m].get((isoflop.DENSE, isoflop.DENSE), {})
            ref = fin[m][(recipe, pattern)]
            gap = (sum(dense.values()) / len(dense) - sum(ref.values()) / len(ref)) if dense and ref else math.nan
            sd = pooled_sd(dense.values(), ref.values())
            rows.append({"pattern": pattern, "metric": m, "dense_mean": sum(dense.values()) / max(1, len(dense)),
                         f"{reference}_mean": sum(ref.values()) / len(ref), "gap": gap, "pooled_seed_std": sd,
                         "gap_in_stds": abs(gap) / sd if sd else math.nan})
    return pd.DataFrame(rows)


def paired_table(curves: pd.DataFrame, reference: str = "sr-ste", level: float = 0.95,
                 validation_size: int | None = None) -> pd.DataFrame:
    """Every recipe (dense included) minus ``reference`` at the same pattern and seed, final metric, in the
    metric's units; ``p_value`` (paired t) and ``p_holm`` (Holm over every comparison of that metric), the
    verdict from ``p_holm`` and, where not separated, ``seeds_needed`` to separate it at the observed mean and
    spread (:func:`nmsim.evidence.stats.seeds_needed`). ``validation_size``: predictions each final metric
    averages."""
    rows = []
    for m in METRICS:
        fin = isoflop.finals(curves, m)
        for (recipe, pattern) in isoflop.groups(curves):
            ref = fin.get((reference, pattern))
            if ref is None:
                continue
            for other in ([(isoflop.DENSE, isoflop.DENSE)] if recipe == reference else [(recipe, pattern)]):
                if other not in fin:
                    continue
                iv = paired(fin[other], ref, level)
                rows.append({"pattern": pattern, "recipe": other[0], "metric": m, "direction": direction(m),
                             "unit": METRICS[m][1], "seeds": iv.n, "delta_mean": iv.mean, "delta_sd": iv.sd,
                             "ci_low": iv.low, "ci_high": iv.high, "level": level, "p_value": p_value(iv),
                             "validation_size": validation_size, "iv": iv})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df["p_holm"] = math.nan
    for m in METRICS:   # the family: every comparison of this metric
        hit = df["metric"] == m
        df.loc[hit, "p_holm"] = holm(df.loc[hit, "p_value"])
    df["verdict"] = [verdict(iv, m, ph, level) for iv, m, ph in zip(df["iv"], df["metric"], df["p_holm"])]
    family = df.groupby("metric")["p_value"].transform(lambda p: int(p.notna().sum()))
    df["seeds_needed"] = [seeds_needed(r["delta_mean"], r["delta_sd"], level, k)
                          if r["verdict"] == "not separated" and math.isfinite(r["p_value"]) else math.nan
                          for (_, r), k in zip(df.iterrows(), family)]
    df = df.drop(columns=["iv"])
    order = {p: i for i, p in enumerate(dict.fromkeys(df["pattern"]))}
    return df.sort_values(["metric", "pattern"], key=lambda c: c.map(order) if c.name == "pattern" else c,
                          kind="stable").reset_index(drop=True)


def ranking_lines(paired_df: pd.DataFrame, metric: str, reference: str = "sr-ste") -> list[str]:
    """Per pattern: recipes better / worse than the reference where the interval excludes zero."""
    lines = []
    sub = paired_df[paired_df["metric"] == metric]
    sign = 1 if direction(metric) == "higher" else -1
    for pattern, g in sub.groupby("pattern", sort=False):
        parts = []
        for word in ("better", "worse"):
            hit = g[g["verdict"] == word].copy()
            hit["key"] = -sign * hit["delta_mean"]
            hit = hit.sort_values("key")
            if len(hit):
                parts.append(f"{word} than {reference}: " + ", ".join(
                    f"{r} ({formatted('{:+.4g}', d)})" for r, d in zip(hit["recipe"], hit["delta_mean"])))
        rest = g[g["verdict"] == "not separated"]["recipe"].tolist()
        if rest:
            parts.append("not separated: " + ", ".join(rest))
        lines.append(f"{pattern}: " + "; ".join(parts))
    return lines


def most_sparse(labels) -> str:
    """The plan label (``ff=1:32,qkv=1:32``) with the lowest density, ties broken by more sparse rules."""
    from nmsim.sparsity.plan import SparsityPlan

    def key(label):
        dens = [1.0 if r.pattern is None else r.pattern.density for r in SparsityPlan.parse(label, "pattern").rules]
        return (min(dens, default=1.0), -len(dens), sum(dens))
    return min(dict.fromkeys(labels), key=key)


def _run_text(last: pd.DataFrame) -> str:
    """What one run is: model, batch, sequence, steps, optimizer (from a finished run's config.json)."""
    from nmsim.train import checkpoint as ckpt
    from nmsim.train.loop import RunConfig, check_config
    from nmsim.train.tasks import load_task

    path = Path(last["folder"].iloc[0]) / ckpt.CONFIG
    try:   # the config as the run resolved it (the task's defaults filled in)
        cfg = check_config(RunConfig.from_dict(ckpt.read_config(path))).to_dict()
    except UserError as exc:
        raise UserError(f"not a run config nmsim can run ({exc})", str(path)) from None
    task = load_task(cfg["task"])
    shape = "x".join(str(d) for d in task.train_x.shape[1:])
    what = f"sequences of {shape} tokens" if task.kind == "lm" else f"examples of {shape}"
    steps = int(last["step"].max())
    seen = steps * cfg["batch"] * int(task.train_x[0].numel() if task.kind == "lm" else 1)
    seen_text = f"{seen:,} tokens" if task.kind == "lm" else f"{seen:,} examples"
    return (f"Each run: model `{cfg['workload']}`, fp32 on {cfg.get('threads', 1)} thread(s), batch {cfg['batch']} "
            f"{what}, {steps} steps ({seen_text} per run), AdamW lr {cfg['lr']:g} (warm-up "
            f"{cfg['warmup_frac']:g}, cosine), weight decay {cfg['weight_decay']:g}; evaluation every "
            f"{cfg['eval_every'] or 'epoch'} steps on the fixed validation split.")


def _timing_text(folder: Path) -> str:
    rows = read_timing(folder / TIMING_FILE)
    if not rows:
        return "no timing recorded"
    wall = sum(r["wall_seconds"] for r in rows)
    cpus = [r["cpu_seconds"] for r in rows if r.get("cpu_seconds") is not None]
    cpu_text = (f"; {sum(cpus) / 60:.1f} CPU-minutes in all" if len(cpus) == len(rows) else
                f"; CPU time recorded for {len(cpus)} of {len(rows)} invocations ({sum(cpus) / 60:.1f} min)"
                if cpus else "")
    loads = ", ".join(f"{r['loadavg_1m_start']:g}→{r['loadavg_1m_end']:g}" for r in rows)
    return (f"{wall / 60:.1f} min wall over {len(rows)} invocation(s) of `run` "
            f"({rows[-1]['workers']} workers, device {rows[-1]['device']}); 1-minute load average at start→end: "
            f"{loads} (on {os.cpu_count()} CPUs){cpu_text}")


def summarize(folder: str | Path, echo=print) -> dict:
    """Write the summaries of a protocol folder; returns the tables by name."""
    from nmsim.io.write import write_bytes, write_text
    from nmsim.curves.plot import plot_curves, save_figure

    from nmsim.train.checkpoint import read_done

    folder = Path(folder)
    proto, meta = load_protocol(folder)
    read_timing(folder / TIMING_FILE)    # a damaged log is refused before the summaries are computed
    curves = finished_curves(folder / RUNS)
    last = curves.groupby("folder", sort=False).tail(1)
    wall_runs = sum(float(read_done(Path(f))["final"].get("wall_seconds") or 0) for f in last["folder"])
    tables = _evidence_tables(curves, proto.reference, proto.level, validation_size(proto.task))
    # the protocol folder is nmsim's (load_protocol found its protocol.json): its figure is replaced like its CSVs
    save_figure(plot_curves(curves, x_axes=("train_flops", "step")), folder / "curves.png", mine_only=False)
    for name, df in tables.items():
        write_bytes(folder / f"{name}.csv", df.to_csv(index=False).encode())
    write_text(folder / "summary.md", _summary_markdown(folder, proto, meta, last, wall_runs, tables))
    _echo_summary(echo, folder, tables, proto.metric, proto.reference)
    return tables


def validation_size(task: str) -> int:
    """Predictions each validation metric averages: tokens for a language model, examples otherwise."""
    from nmsim.train.tasks import load_task

    return int(load_task(task).test_y.numel())


def _evidence_tables(curves: pd.DataFrame, ref: str, level: float, n_val: int | None = None) -> dict:
    """Every table of the summary by name: finals, seed gap, paired differences, iso-FLOP views and claims."""
    tables = {
        "finals": finals_table(curves),
        "gap": gap_table(curves, ref),
        "paired": paired_table(curves, ref, level, n_val),
        "reach_dense": pd.concat([isoflop.reach_table(curves, m, FRACTIONS, level) for m in METRICS]),
        "reach_reference": pd.concat([isoflop.reach_reference_table(curves, m, ref, level) for m in METRICS]),
        "equal_flops": pd.concat([isoflop.equal_flops_table(curves, m, level) for m in METRICS]),
        "common_flops": pd.concat([isoflop.common_flops_table(curves, m, ref, level) for m in METRICS]),
        "claims": C.test_claims(curves, tuple(METRICS), level),
    }
    return tables


def _summary_markdown(folder: Path, proto, meta: dict, last: pd.DataFrame, wall_runs: float, tables: dict) -> str:
    """``summary.md``: the protocol, the metrics, then every table with what it measures (``last``: each run's
    final evaluation; ``wall_runs``: the runs' own wall seconds)."""
    ref, level, metric = proto.reference, proto.level, proto.metric
    pct = int(round(level * 100))
    fin, pt = V.finals_view(tables["finals"]), V.paired_view(tables["paired"])
    gap = tables["gap"]
    highest = gap[gap["pattern"] == most_sparse(gap["pattern"])] if len(gap) else gap
    p = proto
    lines = [
        f"# Evidence: {p.task}, recipes ranked against {ref} with {pct} % intervals{V.title_note(p)}",
        "",
        f"Protocol: task `{p.task}`, recipes {', '.join(p.recipes)}; "
        f"plans {', '.join(f'`{x}`' for x in plan_labels(p.patterns))}; "
        f"{p.seeds} seeds paired by seed (same initial weights and data order for every recipe); "
        f"epochs {p.epochs}, dense warm-up fraction {p.dense_frac:g}, fine-tune fraction {p.finetune_frac:g}; "
        f"MDGF beta rule {p.beta_rule}, SR-STE rule in fine-tune {p.srste_finetune_rule}; "
        f"SDGF-geometric k per pattern: {', '.join(f'{k} {v}' for k, v in p.geometric_k.items()) or 'n/a'}.",
        V.settings_text(p),
        f"Metrics: `loss` = validation cross-entropy in nats per predicted token (lower is better); "
        f"`accuracy` = validation top-1 (next-token for language models; higher is better). The ranking uses "
        f"`{metric}`. Training FLOPs: cumulative, priced per step by nmsim's cost model (the trainer's FLOP hook: "
        "matrix + vector FLOPs of forward, dgrad and wgrad under the recipe state in force, no hardware, so dgrad "
        "is dense unless the pattern is transposable; MDGF counts as dense while its decay D > 0).",
        _run_text(last),
        f"Command: `{meta.get('command', '')}`",
        f"Environment: {meta.get('environment', {})}. Wall time: {_timing_text(folder)}; the finished runs' own "
        f"wall time sums to {wall_runs / 60:.1f} min.",
        "",
        "## Final metrics (mean ± std over seeds; `wall_per_run`: median of the runs' own wall time)",
        "", V.md_table(fin), "",
        f"## Dense vs {ref}: is the task hard enough?",
        "", V.md_table(gap), "",
        f"At the most sparse pattern ({highest['pattern'].iloc[0] if len(highest) else 'none'}): " + "; ".join(
            f"{r['metric']} gap {formatted('{:+.4f}', r['gap'])} = {r['gap_in_stds']:.1f} seed stds" for _, r in highest.iterrows())
        + " (requirement: at least 5).", "",
        f"## Paired differences against {ref} (recipe − {ref}, final metric, {pct} % t intervals)",
        f"Effects in the metric's units (accuracy in points, loss in nats per prediction), each final metric "
        f"averaging {V.size_text(tables['paired'])} validation predictions. `p_holm`: paired t-test p-value, "
        f"Holm-adjusted over the {V.family_text(tables['paired'])} comparisons of its metric; the verdict is "
        f"`better`/`worse` only where p_holm < {1 - level:.2g} (the interval is the unadjusted per-comparison one). "
        "`seeds_needed`: paired seeds that would separate a comparison left open, if its observed mean and spread "
        "held (Bonferroni over the family, an upper bound on Holm's need).",
        "", V.md_table(pt), "",
        V.settle_text(tables, last), "",
        f"Ranking (only where the interval excludes zero), by `{metric}`:", "",
        *[f"- {line}" for line in ranking_lines(tables["paired"], metric, ref)],
        "",
        "## Iso-FLOP: training FLOPs to reach a fraction of the dense final metric",
        "Per seed, against the dense run of the same seed; `saving_pct` = 100·(1 − FLOPs/dense run's FLOPs), "
        "with an interval only when every seed reached the target. For loss the target is dense/fraction. Only "
        "evaluations where the run is at its target pattern with no decay left count (an SDGF run at 4:16 on "
        "its way to 1:16, or MDGF with D > 0, is not yet the sparse model). When the first counted evaluation "
        "already reaches the target, its FLOPs are used: an upper bound within one evaluation interval.",
        "", V.md_table(tables["reach_dense"]), "",
        "## Iso-FLOP: metric at equal training FLOPs",
        "Each sparse run's final metric against the dense curve of the same seed at the same cumulative FLOPs "
        "(the dense point is mid-run, before its learning rate has decayed: this favours the sparse run).",
        "", V.md_table(tables["equal_flops"].drop(columns=["dense_point"])), "",
        f"Every recipe at one FLOP count per pattern (the smallest final FLOPs among them), against {ref}:",
        "", V.md_table(tables["common_flops"]), "",
        f"## FLOPs to reach {ref}'s final quality",
        f"Per seed: FLOPs until the recipe, at its target pattern, first matches {ref}'s final metric of the same "
        f"seed, over {ref}'s total FLOPs.",
        "", V.md_table(tables["reach_reference"]), "",
        "## The paper's training-FLOP claims",
        "Each claim is tested per recipe and pattern, Holm-adjusted over that claim's rows per metric (`p_holm`, "
        "beside the unadjusted 95 % interval `ci`). `effect`: a gain in the metric's units (recipe − `against`; "
        f"accuracy in points, loss in nats per prediction, each averaging {V.size_text(tables['paired'])} "
        "validation predictions) or a saving in % of the FLOPs of `against`. The abstract's iso-FLOP gain (up to "
        "2 %) is tested, as the paper states it, against SR-STE (conventional sparse training) at equal training "
        "FLOPs; the +1.6-point gain over dense at equal FLOPs separately (the dense point is mid-run, which "
        "favours the recipe). A gain claim holds where the gain is significantly above zero. "
        "`basis`: `follows from the schedule` where every seed meets "
        "the target at its first evaluation at the target pattern (the FLOPs are where the schedule puts the "
        "pattern in force or MDGF's decay below its threshold: a property of the schedule, not a measured "
        "training result; no p-value).",
        "",
    ]
    for m in METRICS:
        for claim, sentence in C.overall(tables["claims"], m).items():
            lines.append(f"- **{C.CLAIMS[claim]}** ({m}): {sentence}")
    lines += ["", V.md_table(V.claims_view(tables["claims"])), "", "![curves](curves.png)", ""]
    return "\n".join(lines)


def _echo_summary(echo, folder: Path, tables: dict, metric: str, ref: str) -> None:
    """The ranking and the claims on the console, wrapped at 100 columns (summary.md keeps lines whole)."""
    import textwrap

    echo(f"evidence: summary in {folder / 'summary.md'}")
    for line in ranking_lines(tables["paired"], metric, ref):
        echo(textwrap.fill(line, 100, initial_indent="  ", subsequent_indent="    ", break_on_hyphens=False))
    for claim, sentence in C.overall(tables["claims"], metric).items():
        echo(textwrap.fill(f"claim {claim} ({metric}): {sentence}", 100, initial_indent="  ",
                           subsequent_indent="    ", break_on_hyphens=False))
