"""The report's study: accuracy (bundled paper results, a CSV, or a trainer sweep) joined with cost frames.

Every FLOP, second and joule comes from :mod:`nmsim.cost` (``TrainingCostModel``, ``price_gemms``,
``budget``); weight bytes from :func:`nmsim.sparsity.compressed_bytes`. This module only joins, ranks and
lays out.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from nmsim.errors import UserError
from nmsim.report import figures as F
from nmsim.report.interactive import Chart
from nmsim.report.length import LengthOptions, ReportLength, human, report_length
from nmsim.report.options import (DEFAULT_PATTERNS, PAPER_RECIPES, normalize_plan, parse_hardware,  # noqa: F401
                                  parse_patterns, parse_recipes, check_cluster, cluster_error, parse_cluster)
from nmsim.report.pareto import pareto_mask
from nmsim.report.results import load_results
from nmsim.report.wording import Metric
from nmsim.report.writer import Figure, Report, Table, write_report
from nmsim.units import dollars

ENCODINGS_SHOWN = ("index", "bitmask", "combinatorial")


@dataclass
class StudyOptions:
    workload: str = "vit-base-16"
    hardware: str = "all"
    patterns: str = "default"
    recipes: str = "paper"
    accuracy: str = "paper"
    epochs: float | None = None         # the run length (one of epochs, steps, tokens; None: nmsim.report.length)
    steps: int | None = None
    tokens: float | None = None
    dataset_size: int | None = None
    steps_per_epoch: int | None = None
    batch: int | None = None            # training batch (None: nmsim.report.length's default)
    dtype: str = "bf16"
    train: bool = True
    train_epochs: int = 10
    sweep_runs: str | None = None
    cluster: str | None = None          # WORKLOAD@SYSTEM[:NODES]
    cluster_tokens: float = 1e12
    cluster_plan: str = "ff=2:4"
    price_per_hour: dict = field(default_factory=dict)   # spec name -> USD per device-hour over the list prices
    name: str = "default"


# ---- parsing ---------------------------------------------------------------------------------------------

def load_accuracy(spec: str, workload: str) -> tuple[pd.DataFrame | None, str, Path | None]:
    """(accuracy frame with plan, recipe, value; its description; a runs folder or None)."""
    spec = spec.strip()
    if spec.lower() == "paper":
        try:
            df = load_results(workload)
        except UserError:
            return None, f"no bundled paper results for {workload}", None
        return df, f"bundled paper results ({df['model'].iloc[0]}, {df['task'].iloc[0]}, {df['metric'].iloc[0]})", None
    path = Path(spec)
    if path.is_dir():
        try:
            df = load_results(workload)
            desc = f"bundled paper results ({df['model'].iloc[0]}); trainer sweep from {path}"
        except UserError:
            df, desc = None, f"trainer sweep from {path}"
        return df, desc, path
    if path.suffix.lower() == ".csv":
        from nmsim.report.accuracy import read_accuracy_csv

        return read_accuracy_csv(path), str(path), None
    raise UserError("expected 'paper', a runs folder or a .csv file (no such runs folder)", f"--accuracy {spec}")


# ---- cost frames (all numbers from nmsim.cost) ------------------------------------------------------------

def _targets(plan: str) -> dict:
    from nmsim.sparsity import SparsityPlan
    return SparsityPlan.parse(plan, "--patterns").targets if plan != "dense" else {}


def _model(graph, plan: str, **kw):
    from nmsim.cost import TrainingCostModel
    from nmsim.sparsity import SparsityPlan
    return TrainingCostModel(graph, SparsityPlan.parse("ff=dense" if plan == "dense" else plan, "--patterns"), **kw)


def inference_table(cfg, plans: list[str]) -> pd.DataFrame:
    """Paper-convention inference GFLOPs per image (Q, K, V, O, Logit, Attend, FF1, FF2; no class token)."""
    from nmsim.cost import paper_graph
    from nmsim.recipes import make_recipe

    graph = paper_graph(cfg, batch=1)
    rows = []
    for plan in plans:
        targets = _targets(plan) or {"ff": None}
        state = make_recipe("static" if plan != "dense" else "dense", targets).phases(1)[0].state
        model = _model(graph, plan, paper_convention=True)
        rows.append({"plan": plan, "inference_gflops": model.state_cost(state)["fwd_flops"] / 1e9})
    df = pd.DataFrame(rows)
    df["inference_rel_dense"] = df["inference_gflops"] / float(df.loc[df["plan"] == "dense", "inference_gflops"].iloc[0])
    return df


TOTALS_COLUMNS = {"recipe": "recipe", "plan": "plan", "note": "note", "train_flops": "train_flops",
                  "train_matrix_flops": "train_matrix_flops", "vs_dense": "train_flops_rel_dense",
                  "budget_epochs": "affordable_epochs"}
PHASE_COLUMNS = ["recipe", "plan", "label", "phase", "start_step", "stop_step", "steps", "decay", "step_flops",
                 "phase_flops", "flops_rel_dense"]


def training_tables(cfg, plans: list[str], recipes: list[str], length):
    """(totals per recipe x plan incl. iso-FLOP budget columns, phases) over ``length``
    (a :class:`nmsim.cost.run_length.RunLength`: steps, steps per epoch, batch), priced by
    :func:`nmsim.cost.budget.recipe_plan_table` (the numbers of ``nmsim budget``): the budget is what dense
    spends over the run; SDGF-geometric's default k falls back where it does not fit (said in ``note``); a
    combination that cannot be priced is a row of NaN with the reason."""
    from nmsim.cost.budget import recipe_plan_table
    from nmsim.graph import trace_workload
    from nmsim.sparsity import SparsityPlan

    graph = trace_workload(cfg, batch=length.batch)
    items = [(p, SparsityPlan.parse("ff=dense" if p == "dense" else p, "--patterns")) for p in plans]
    cost = recipe_plan_table(graph, items, recipes, length, fit_defaults=True, unreachable="note")
    totals = cost.totals[list(TOTALS_COLUMNS)].rename(columns=TOTALS_COLUMNS)
    return totals, cost.phases.reindex(columns=PHASE_COLUMNS)


def hardware_table(cfg, plans: list[str], specs: list, dtype: str, prices: dict | None = None) -> pd.DataFrame:
    """Inference (one forward pass at the workload's batch) latency and energy per accelerator x plan, priced by
    ``nmsim.cost.price`` (GEMMs on the spec's execution model, vector ops, fusion): the numbers
    ``nmsim price``/``nmsim compare`` give for the same question (``prices``: their ``--price-per-hour``)."""
    from nmsim.cost import price, price_many
    from nmsim.cost.pricing import default_dtype
    from nmsim.graph import trace_workload
    from nmsim.memory import memory_footprint
    from nmsim.sparsity import SparsityPlan

    graph = trace_workload(cfg, batch=cfg.batch)
    for plan in plans:   # a plan that does not fit the model: the error names the report's option
        if plan != "dense":
            SparsityPlan.parse(plan, "--patterns").resolve(graph.ops)
    rows, configs = [], []
    for hw in specs:
        dt = dtype if dtype in hw.matrix_dense else default_dtype(hw, None)
        for plan in plans:
            configs.append((None if plan == "dense" else plan, hw, dt))
            result = price(graph, None if plan == "dense" else plan, hw, dt, "inference")
            mem = memory_footprint(graph, None if plan == "dense" else plan, hw, dt, "inference")
            priced = result.ops[result.ops["kind"].isin(("linear", "matmul", "conv"))]
            rows.append({"hardware": hw.name, "family": device_family(hw), "dtype": dt, "plan": plan,
                         "latency_ms": result.totals["seconds"] * 1e3,
                         "energy_j": result.totals["joules"],
                         "executed_gflops": result.totals["executed_flops"] / 1e9,
                         "sparse_ops": int(priced["sparse"].sum()),
                         "hw_patterns": ",".join(sorted(set(priced.loc[priced["sparse"].astype(bool), "hw_pattern"])))
                         or "-", **execution_summary(result.ops), "bound": result.totals["bound"],
                         "mem_gib": float(mem.loc["total", "gib"]), "fits": bool(mem.attrs["fits"])})
    df = pd.DataFrame(rows)
    base = df[df["plan"] == "dense"].set_index("hardware")
    df["speedup_vs_dense"] = [base.loc[h, "latency_ms"] / v for h, v in zip(df["hardware"], df["latency_ms"])]
    # what caps each plan, from the same priced rows (the columns of nmsim compare)
    cap = price_many(graph, configs, "inference", ceiling=True)
    df["sparsified_share"], df["ceiling"] = cap["sparsified_share"].to_numpy(), cap["ceiling"].to_numpy()
    df["energy_vs_dense"] = [v / base.loc[h, "energy_j"] for h, v in zip(df["hardware"], df["energy_j"])]
    # what a buyer asks: tokens (images) per second, $ per million of them at the bundled prices, J per one
    from nmsim.cost.economics import add_columns, hourly_price, item_name, items_per_step
    add_columns(df, df["latency_ms"] / 1e3, df["energy_j"], items_per_step(cfg, "inference", cfg.batch),
                [hourly_price(h, prices) for h in df["hardware"]], item_name(cfg))
    from nmsim import bands   # the inference step's 80 % band per device (not validated off its scored rows)
    by_name = {hw.name: hw for hw in specs}
    return bands.attach(df, [bands.band("inference step", by_name[h]) for h in df["hardware"]],
                        columns=["latency_ms", "energy_j"])


def economics_columns(cfg) -> tuple:
    """The hardware table's per-item columns (tokens or images per second, $ per million, J per one)."""
    from nmsim.cost.economics import columns, item_name
    return columns(item_name(cfg))


def device_family(hw) -> str:
    """The family a device is filtered by on the page: NVIDIA HBM (data-centre training) or GDDR (inference and
    consumer) GPUs, AMD GPUs, TPUs, research engines, the ideal device."""
    if hw.kind == "gpu":
        vendor = "AMD" if hw.description.startswith("AMD") else "NVIDIA"
        return f"{vendor} GPUs" if vendor == "AMD" else (
            f"NVIDIA {'HBM' if hw.main_memory.name.lower().startswith('hbm') else 'GDDR'} GPUs")
    return {"tpu": "TPUs", "ideal": "ideal"}.get(hw.kind, "research engines")


#: a chart of more devices than this opens on the first device's family (the rest are a filter away)
READABLE_DEVICES = 6


def opening_families(hw: pd.DataFrame) -> dict:
    """``Chart.initial`` for the ``family`` filter: every family while the devices fit a readable legend,
    else the family of the first device listed."""
    if hw["hardware"].nunique() <= READABLE_DEVICES:
        return {}
    return {"family": [hw["family"].iloc[0]]}


def execution_summary(priced: pd.DataFrame) -> dict:
    """What executed, from a pricer's per-op rows: ``bound`` (the one holding most of the time) and, where the
    pricer reports them, ``kernel`` (kernels by share of time) and ``fallback`` (GEMMs that fell back)."""
    out = {}
    sec = priced["seconds"].astype(float)
    total = float(sec.sum())
    if "bound" in priced and len(priced):
        out["bound"] = str(sec.groupby(priced["bound"]).sum().idxmax())
    if "kernel" in priced and len(priced):
        shares = sec.groupby(priced["kernel"].astype(str)).sum().sort_values(ascending=False, kind="stable")
        out["kernel"] = ", ".join(f"{k} {100 * v / total:.0f}%" if total > 0 else k for k, v in shares.items())
    if "fallback" in priced:
        fb = priced["fallback"]
        if fb.dtype == bool:
            out["fallback"] = f"{int(fb.sum())} of {len(fb)} GEMMs" if fb.any() else "none"
        else:
            seen = [str(v) for v in dict.fromkeys(fb.dropna()) if str(v) not in ("", "-", "none", "False")]
            out["fallback"] = "; ".join(seen) or "none"
    return out


def memory_table(cfg, plans: list[str], dtype: str) -> pd.DataFrame:
    """Weight memory of every linear weight (values + metadata) per plan and metadata encoding."""
    from nmsim.graph import trace_workload
    from nmsim.sparsity import SparsityPlan, compressed_bytes, dtype_bytes

    ops = trace_workload(cfg, batch=1).ops
    lin = ops[ops["kind"].isin(("linear", "conv")) & ops["weight"].notna()].drop_duplicates("weight")
    from nmsim.graph import parameter_counts

    # embeddings, position tables, norms and biases: every parameter that is not a linear/conv weight
    other = float(parameter_counts(cfg)["total"] - lin["weight_numel"].sum())
    rows = []
    for plan in plans:
        pats = [None] * len(lin) if plan == "dense" else SparsityPlan.parse(plan, "--patterns").resolve(lin).tolist()
        for enc in ENCODINGS_SHOWN:
            values = meta = 0.0
            for (_, op), p in zip(lin.iterrows(), pats):
                rows_, cols_ = op["weight_shape"][0], int(np.prod(op["weight_shape"][1:]))
                b = compressed_bytes(rows_, cols_, p, dtype, enc)
                values += b["values_bytes"]
                meta += b["metadata_bytes"]
            rows.append({"plan": plan, "encoding": enc, "values_mib": values / 2**20, "metadata_mib": meta / 2**20,
                         "total_mib": (values + meta) / 2**20, "metadata_pct": 100 * meta / (values + meta),
                         "other_params_mib": other * dtype_bytes(dtype) / 2**20})
    return pd.DataFrame(rows)


# ---- joins -----------------------------------------------------------------------------------------------

def headline_table(infer: pd.DataFrame, totals: pd.DataFrame, acc: pd.DataFrame | None,
                   metric: Metric = Metric()) -> pd.DataFrame:
    """One row per recipe x plan; the metric's column is named after it (``perplexity``, ``top1_pct``, ...)."""
    col = metric.column
    head = totals.merge(infer[["plan", "inference_gflops"]], on="plan", how="left")
    if acc is not None:
        a = acc[["plan", "recipe", "value"]].rename(columns={"value": col})
        head = head.merge(a, on=["plan", "recipe"], how="left")
    else:
        head[col] = np.nan
    for front, cost in (("pareto", "inference_gflops"), ("pareto_train", "train_flops_rel_dense")):
        head[front] = (pareto_mask(head, minimize=cost, maximize=col) if metric.higher_is_better
                       else pareto_mask(head, minimize=[cost, col]))
    cols = ["recipe", "plan", "inference_gflops", "train_flops_rel_dense", col, "pareto", "pareto_train",
            "train_flops", "note"]
    return head[cols]


def iso_flop_table(head: pd.DataFrame, totals: pd.DataFrame, length: ReportLength,
                   metric: Metric = Metric()) -> pd.DataFrame:
    """The run length affordable at the dense budget (in the run's unit: epochs, steps or tokens), the metric at
    (at most) equal FLOPs, FLOPs to reach the dense metric."""
    col = metric.column
    t = head.merge(totals[["recipe", "plan", "affordable_epochs"]], on=["recipe", "plan"], how="left")
    dense = t[t["recipe"] == "dense"]
    dense_value = float(dense[col].iloc[0]) if len(dense) else np.nan
    spe = length.length.steps_per_epoch
    rows = []
    for r in t.to_dict("records"):
        if r["recipe"] == "dense":
            continue
        rel, value = r["train_flops_rel_dense"], r[col]
        within = bool(rel <= 1.0 + 1e-9) if pd.notna(rel) else None
        better = (value >= dense_value) if metric.higher_is_better else (value <= dense_value)
        reaches = bool(better) if pd.notna(value) and pd.notna(dense_value) else None
        rows.append({
            "recipe": r["recipe"], "plan": r["plan"], "train_flops_rel_dense": rel,
            f"{length.unit}_at_dense_budget": length.in_unit(r["affordable_epochs"] * spe),
            col: value,
            "delta_vs_dense_at_equal_flops": (value - dense_value) if within else np.nan,
            "reaches_dense": reaches,
            # the runs behind the accuracies end at the run's length: spending train_flops_rel_dense reaches the
            # dense metric (an upper bound: no curve says when it was first reached)
            "flops_to_reach_dense_rel_le": rel if reaches else np.nan,
            "flops_saving_vs_dense_pct_ge": 100 * (1 - rel) if reaches else np.nan,
        })
    return pd.DataFrame(rows)


# ---- seed sweeps (per-run tables of ``nmsim sweep``) -------------------------------------------------------

RUN_COLUMNS = ("task", "recipe", "pattern", "seed", "accuracy", "train_flops")


def load_sweep_runs(spec: str) -> pd.DataFrame:
    """Per-run tables written by ``nmsim sweep`` (``sweep_runs.csv``): a comma list of CSV files or folders
    (every ``*runs.csv`` inside). A run listed twice counts once."""
    from nmsim.io import read_csv

    files: list[Path] = []
    for item in (t.strip() for t in spec.split(",")):
        if not item:
            continue
        path = Path(item)
        if path.is_dir():
            found = sorted(path.glob("*runs.csv"))
            if not found:
                raise UserError("holds no *runs.csv (per-run tables from nmsim sweep)", str(path))
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise UserError("no such CSV file or folder", f"--sweep-runs {item}")
    if not files:
        raise UserError("no CSV file or folder given", "--sweep-runs")
    frames = []
    for f in files:
        df = read_csv(f, "sweep runs table", columns=RUN_COLUMNS, numeric=("accuracy", "train_flops"))
        steps = pd.to_numeric(df["steps"], errors="coerce") if "steps" in df else np.nan   # the run's length
        frames.append(df[list(RUN_COLUMNS)].assign(steps=steps, source=f.name))
    return pd.concat(frames, ignore_index=True).drop_duplicates(["task", "steps", "recipe", "pattern", "seed"])


def sweep_runs_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per task x run length (``steps``, where the tables give it) x recipe x pattern: seeds, final accuracy (%)
    mean/std/min/max, mean training FLOPs and their ratio to the dense runs of the same task and length (NaN
    where there are none: runs of different lengths are never compared), and ``pareto`` (per task and length:
    fewer FLOPs, higher mean accuracy)."""
    if "steps" not in runs:
        runs = runs.assign(steps=np.nan)
    first = {r: i for i, r in enumerate(dict.fromkeys(["dense", *PAPER_RECIPES, *runs["recipe"]]))}
    runs = runs.iloc[np.lexsort((runs["recipe"].map(first).to_numpy(), runs["steps"].fillna(-1).to_numpy(),
                                 pd.factorize(runs["task"])[0]))]
    acc = 100 * runs["accuracy"].astype(float)
    g = runs.assign(accuracy_pct=acc).groupby(["task", "steps", "recipe", "pattern"], sort=False, dropna=False)
    out = g.agg(seeds=("seed", "nunique"), accuracy_pct=("accuracy_pct", "mean"),
                accuracy_pct_std=("accuracy_pct", "std"), accuracy_pct_min=("accuracy_pct", "min"),
                accuracy_pct_max=("accuracy_pct", "max"), train_flops=("train_flops", "mean")).reset_index()
    out["accuracy_pct_std"] = out["accuracy_pct_std"].fillna(0.0)
    # the run's length key; NaN steps: one unknown length per task
    length = out["task"].astype(str) + "@" + out["steps"].map(lambda v: "" if pd.isna(v) else f"{v:g}")
    dense = out[out["recipe"] == "dense"].groupby(length[out["recipe"] == "dense"])["train_flops"].mean()
    out["train_flops_rel_dense"] = out["train_flops"] / length.map(dense)
    out["pareto"] = False
    for _, idx in out.groupby(length, sort=False).groups.items():
        out.loc[idx, "pareto"] = pareto_mask(out.loc[idx], minimize="train_flops", maximize="accuracy_pct")
    return out if out["steps"].notna().any() else out.drop(columns="steps")


# ---- cluster section (frames from nmsim.cluster, the path of `nmsim cluster plan/budget`) --------------------

def cluster_frames_for(opts: StudyOptions, recipes: list[str]) -> tuple[dict, str]:
    """({"cluster_budget", "cluster_layouts"} from nmsim.cluster.report.cluster_frames, a description)."""
    from nmsim.cluster.report import cluster_frames
    from nmsim.graph import load_workload

    workload, system, nodes = check_cluster(opts.cluster, opts.cluster_tokens)
    try:
        cfg = load_workload(workload)
        seq = int(cfg.seq_len)
        batch = max(1, round(4 * 2 ** 20 / seq))   # 4M-token steps, as `nmsim cluster` defaults
        frames = cluster_frames(cfg, system, nodes, opts.cluster_tokens, global_batch=batch, seq=seq,
                                recipes=",".join(["dense", *recipes]), sparsity=opts.cluster_plan,
                                price_per_hour=opts.price_per_hour)
    except UserError as exc:
        raise cluster_error(exc) from None
    desc = (f"`{cfg.name}`, {opts.cluster_tokens:.3g} training tokens, global batch {batch} x {seq} tokens, "
            f"plan `{opts.cluster_plan}` on {system}" + (f" x {nodes} nodes" if nodes else ""))
    return frames, desc


def add_cluster_sections(report, frames: dict, desc: str) -> None:
    budget, layouts = frames["cluster_budget"], frames["cluster_layouts"]
    s = report.section("Cluster: run budget per recipe",
                       f"{desc}. Each recipe on its fastest parallel layout (`nmsim cluster budget`): wall-clock "
                       "days and device-hours (divided by the goodput), energy, MFU, and the tokens it affords at the dense run's time "
                       "(`iso_time_tokens`) and FLOPs (`iso_flop_tokens`). Each `COL 80%` is the 80 % band of the "
                       "scored published runs (`band_level`, `band_rows`; `nmsim cluster validate`), or "
                       "`not validated` on a device no scored run used.")
    s.items.append(Chart("bar", name="cluster_budget", x="recipe",
                         y=("days", "device_hours", "energy_joules", "mfu", "iso_time_tokens", "iso_flop_tokens"),
                         filters=("recipe",), hover=("recipe", "layout", "steps", "step_seconds", "mem_gib",
                                                     "executed_flops", "days_lo", "days_hi", "band_level"),
                         frame=budget, title="Cluster run budget per recipe"))
    s.items.append(Table("cluster_budget", budget, "Run budget per recipe", formats={
        "step_seconds": "{:.3f}", "days": "{:.1f}", "device_hours": "{:.4g}", "mfu": FMT3,
        "energy_joules": "{:.4g}", "device_energy_joules": "{:.4g}", "executed_flops": "{:.4g}",
        "mem_gib": "{:.1f}", "tokens": "{:.4g}", "iso_time_tokens": "{:.4g}", "iso_flop_tokens": "{:.4g}"}))
    if "cluster_losses" in frames:   # what real runs lose, as priced (nmsim/data/published_runs/losses.yaml)
        s.items.append(Table("cluster_losses", frames["cluster_losses"], "Run-loss terms in the step and the run",
                             formats={"value": "{:.4g}"}))
    s = report.section("Cluster: parallel layouts",
                       f"The fastest layouts for `{layouts['recipe'].iloc[0] if len(layouts) else '-'}` "
                       "(`nmsim cluster plan`): step time against memory per device; the front is the layouts no "
                       "other is both faster and smaller.")
    hover = [c for c in layouts.columns if c not in ("step_seconds", "mem_total_bytes")]
    s.items.append(Chart("scatter", name="cluster_layouts", x="step_seconds", y="mem_total_bytes", color="recompute",
                         symbol="zero", filters=("tp", "pp", "zero", "recompute", "fits"), pareto=("min", "min"),
                         hover=tuple(hover), labels={"step_seconds": "step time (s)",
                                                     "mem_total_bytes": "memory per device (bytes)"},
                         frame=layouts, title="Cluster layouts: step time vs memory per device"))
    s.items.append(Table("cluster_layouts", layouts, "Layouts, fastest first", formats={
        c: "{:.4g}" for c in layouts.columns if pd.api.types.is_float_dtype(layouts[c])}))


# ---- the report ------------------------------------------------------------------------------------------

FMT2 = "{:.2f}"
FMT3 = "{:.3f}"
LABELS = {"train_flops_rel_dense": "training FLOPs / dense", "train_flops": "training FLOPs",
          "inference_gflops": "inference GFLOPs", "latency_ms": "latency (ms)", "energy_j": "energy (J)",
          "speedup_vs_dense": "speedup vs dense", "energy_vs_dense": "energy / dense", "flops_rel_dense":
          "training FLOPs / dense", "values_mib": "values (MiB)", "metadata_mib": "metadata (MiB)",
          "accuracy_pct": "test accuracy (%)", "executed_gflops": "executed GFLOPs"}
EXECUTED = ("hw_patterns", "kernel", "fallback", "bound")   # what ran; kernel/fallback where the pricer says


def _recipe_colors() -> dict:
    from matplotlib.colors import to_hex
    return {r: to_hex(c) for r, (c, _) in F.RECIPE_STYLE.items()}


@dataclass
class _Study:
    """What one report is about (options, workload, plans, accuracy, run length) and its cost frames."""
    opts: StudyOptions
    cfg: object
    plans: list
    recipes: list
    specs: list
    acc: pd.DataFrame | None
    acc_desc: str
    runs_dir: Path | None
    length: ReportLength
    sweeps: pd.DataFrame | None
    M: Metric | None = None
    noun: str = ""
    infer: pd.DataFrame | None = None
    totals: pd.DataFrame | None = None
    phases: pd.DataFrame | None = None
    hw: pd.DataFrame | None = None
    mem: pd.DataFrame | None = None
    ceilings: pd.DataFrame | None = None
    head: pd.DataFrame | None = None
    iso: pd.DataFrame | None = None
    curves: pd.DataFrame | None = None
    quick_index: dict | None = None    # the quick sweep's index (request, runs, their machines)
    cluster: tuple | None = None

    # the metric's words, for section texts and chart labels
    @property
    def metric(self) -> str:
        return self.M.label

    @property
    def col(self) -> str:
        return self.M.column

    @property
    def Name(self) -> str:  # noqa: N802 - the metric's name, capitalised
        return self.M.name[:1].upper() + self.M.name[1:]

    @property
    def better(self) -> str:
        return "higher" if self.M.higher_is_better else "lower"

    @property
    def labels(self) -> dict:
        return {**LABELS, self.col: self.metric, "inference_gflops": f"inference GFLOPs per {self.noun}"}

    @property
    def acc_line(self) -> tuple:
        """The dense run's metric as a horizontal chart line (none without it)."""
        dense_acc = self.head.loc[self.head["recipe"] == "dense", self.col].dropna()
        return ({"axis": "y", "value": float(dense_acc.iloc[0]), "label": f"dense {self.M.name}"},) \
            if len(dense_acc) else ()


def _study_inputs(opts: StudyOptions) -> _Study:
    """Parse the options and read the accuracy source; the run length priced (:mod:`nmsim.report.length`)."""
    from nmsim.graph import load_workload

    cfg = load_workload(opts.workload)
    plans = parse_patterns(opts.patterns)
    recipes = parse_recipes(opts.recipes)
    specs = parse_hardware(opts.hardware)
    acc, acc_desc, runs_dir = load_accuracy(opts.accuracy, cfg.name)
    if str(opts.accuracy).lower().endswith(".csv"):   # a user's CSV: by default the plans and recipes it measured
        if opts.patterns.strip().lower() == "default":
            plans = list(dict.fromkeys(["dense", *acc["plan"]]))
        if opts.recipes.strip().lower() == "paper" and (acc["recipe"] != "dense").any():
            recipes = parse_recipes(",".join(dict.fromkeys(r for r in acc["recipe"] if r != "dense")))
    length = report_length(cfg, acc, LengthOptions(opts.epochs, opts.steps, opts.tokens, opts.dataset_size,
                                                   opts.steps_per_epoch, opts.batch),
                           "the bundled paper results" if acc is not None and "citation" in acc.attrs else acc_desc)
    sweeps = load_sweep_runs(opts.sweep_runs) if opts.sweep_runs else None
    return _Study(opts, cfg, plans, recipes, specs, acc, acc_desc, runs_dir, length, sweeps)


def _cost_frames(st: _Study) -> bool:
    """Every cost frame of the report, all from :mod:`nmsim.cost` (or kept by an earlier report of the same
    question: :mod:`nmsim.report.kept_costs`), and the headline and iso-FLOP joins. True when they were kept."""
    from nmsim.report import kept_costs

    cfg, plans, opts = st.cfg, st.plans, st.opts
    key = kept_costs.key({"workload": cfg, "plans": plans, "recipes": st.recipes, "specs": st.specs,
                          "dtype": opts.dtype, "length": st.length.length, "prices": opts.price_per_hour})
    kept = kept_costs.load(key)
    found = kept is not None
    if not found:
        kept = {"infer": inference_table(cfg, plans)}
        kept["totals"], kept["phases"] = training_tables(cfg, plans, st.recipes, st.length.length)
        kept["hw"] = hardware_table(cfg, plans, st.specs, opts.dtype, opts.price_per_hour)
        kept["mem"] = memory_table(cfg, plans, opts.dtype)
        from nmsim.cost.ceiling import measured_ceilings
        kept["ceilings"] = measured_ceilings(workload=cfg.name)
        kept_costs.store(key, kept)
    st.infer, st.totals, st.phases, st.hw, st.mem, st.ceilings = (
        kept[n] for n in ("infer", "totals", "phases", "hw", "mem", "ceilings"))
    st.head = headline_table(st.infer, st.totals, st.acc, st.M)
    st.iso = iso_flop_table(st.head, st.totals, st.length, st.M)
    return found


def run_study(opts: StudyOptions, out: str | Path, echo=print) -> Path:
    from nmsim.progress import Stages
    from nmsim.report.wording import metric_of, sample_noun

    t0 = time.perf_counter()
    out = Path(out)
    st = _study_inputs(opts)
    echo(f"report: {st.cfg.name}, {len(st.plans)} patterns x {len(st.recipes)} recipes x {len(st.specs)} "
         "accelerators")
    from nmsim.report import quick_sweep
    train = st.runs_dir is None and opts.train and quick_sweep.applies_to(st.cfg)   # digits: image models only
    stages = Stages(2 + bool(opts.cluster) + bool(train), echo, "report ")   # [i/n] stage lines with times
    if opts.cluster:   # before the study: a bad --cluster fails fast
        stages.start(f"cluster sections ({opts.cluster}: run budget per recipe, parallel layouts)")
        st.cluster = cluster_frames_for(opts, st.recipes)
        stages.done()
    if st.runs_dir is not None:
        from nmsim.curves.runs import load_curves
        st.curves = load_curves(st.runs_dir)
    st.M, st.noun = metric_of(st.acc), sample_noun(st.cfg)

    stages.start("cost tables (inference, training schedules, accelerators, memory)")
    kept = _cost_frames(st)
    stages.done("kept" if kept else "")   # priced by an earlier report of the same question
    if train:
        stages.start(f"reference-trainer sweep ({quick_sweep.TASK}, {opts.train_epochs} epochs per run)")
        runs = quick_sweep.quick_runs(opts.train_epochs, out, echo=echo)   # trained once, kept after
        st.curves, st.quick_index = quick_sweep.curves(runs), runs.index
        stages.done(f"{runs.kept} kept, {runs.trained} trained")
    stages.start("tables, figures and the page")
    report = _headline_sections(st)
    for add in (_training_flops_section, _iso_flop_section, _inference_section, _hardware_section, _memory_section,
                _trainer_sections):
        add(report, st)
    if train:
        report.files = quick_sweep.report_files(runs)
    path = write_report(report, out)
    stages.done(f"{time.perf_counter() - t0:.1f} s in all")
    return path


def _headline_sections(st: _Study) -> Report:
    """The report with its title, the findings and the headline table."""
    from nmsim.report.wording import findings

    opts, cfg, noun, metric, acc, acc_desc = st.opts, st.cfg, st.noun, st.metric, st.acc, st.acc_desc
    runs_dir, length, head, M, hw, col = st.runs_dir, st.length, st.head, st.M, st.hw, st.col
    report = Report(title=f"nmsim report: {opts.name}",
                    subtitle=f"Workload `{cfg.name}`, costs per {noun}; "
                             + (f"{metric} from {acc_desc}" if acc is not None else acc_desc if runs_dir else
                                f"no accuracy ({acc_desc}; give --accuracy a CSV or a runs folder)") + "; training "
                             f"priced over {length.describe()} ({length.origin}); inference at batch {cfg.batch:,}; "
                             f"accelerators priced at {opts.dtype} where supported.")
    from nmsim.report.trainer_section import findings as trainer_findings
    report.section("Findings", " ".join(findings(head, M, hw) + (trainer_findings(st.curves) if st.curves is not None
                                                                  else [])))
    s = report.section(f"Headline: {M.name}, inference and training cost",
                       f"One row per recipe x sparsity plan. `inference_gflops`: per {noun}, the paper's convention "
                       f"(Q, K, V, O, Logit, Attend, FF1, FF2{'; no class token' if cfg.is_image else ''}; sparse "
                       "GEMMs at N/M). `train_flops_rel_dense`: the whole schedule priced phase by phase (forward on "
                       "the pattern in force, dgrad dense unless transposable, wgrad dense, plus mask/optimizer vector "
                       f"work) over the dense run of the same length. `{col}`: {metric}, from {acc_desc}. "
                       f"`pareto`: on the {M.name} vs "
                       f"inference-FLOPs front; `pareto_train`: on the {M.name} vs training-FLOPs front.")
    s.items.append(Table("headline", head, "Headline table", formats={
        "inference_gflops": FMT2, "train_flops_rel_dense": FMT3, col: FMT3, "train_flops": "{:.4g}"},
        hide=("train_flops",)))
    return report


def _training_flops_section(report: Report, st: _Study) -> None:
    """Accuracy vs priced training FLOPs, and training FLOPs per recipe phase."""
    metric, head, M, col, Name = st.metric, st.head, st.M, st.col, st.Name
    better, labels, acc_line, plans, phases = st.better, st.labels, st.acc_line, st.plans, st.phases
    s = report.section(f"{Name} vs training FLOPs",
                       "The paper's Fig. 4b plots accuracy against the fraction of the training run, treating a step "
                       "of every recipe as equal. Here each recipe's schedule is priced: MDGF is dense while its "
                       "decay D > 0, SDGF's early intervals keep more weights, SR-STE is sparse from step 0.")
    s.items.append(Figure("accuracy_vs_training_flops", F.accuracy_vs_training(head, metric, col),
                          f"{Name} vs priced training FLOPs (dashed: the dense training budget).",
                          chart=Chart("scatter", x=("train_flops_rel_dense", "train_flops"), y=col,
                                      color="recipe", filters=("recipe", "plan"), pareto=("min", M.sense),
                                      hover=("recipe", "plan", "inference_gflops", "train_flops", "note"),
                                      lines=({"axis": "x", "value": 1.0, "label": "dense budget",
                                              "column": "train_flops_rel_dense"},) + acc_line,
                                      labels=labels, colors=_recipe_colors(), frame=head,
                                      title=f"{Name} vs training FLOPs (front: fewer FLOPs, {better} "
                                            f"{M.name})")))
    single = [p for p in plans if p != "dense" and "," not in p]
    s.items.append(Figure("training_flops_by_phase", F.training_phases(phases, single or None),
                          "Training FLOPs per recipe phase, normalised to dense training of the same length.",
                          chart=Chart("bar", x="recipe", group="plan", y=("flops_rel_dense", "phase_flops"),
                                      color="phase", filters=("plan", "recipe", "phase"),
                                      initial={"plan": single} if single else {},
                                      hover=("recipe", "plan", "label", "steps", "start_step", "stop_step",
                                             "step_flops", "phase_flops"),
                                      lines=({"axis": "y", "value": 1.0, "label": "dense budget",
                                              "column": "flops_rel_dense"},),
                                      labels=LABELS, colors=F.PHASE_COLORS, frame=phases,
                                      title="Training FLOPs per recipe phase")))
    s.items.append(Table("training_phases", phases, "Per-phase training cost", show=False))


def _iso_flop_section(report: Report, st: _Study) -> None:
    """Epochs (or steps, tokens) each recipe affords at the dense budget."""
    length, M, col, iso = st.length, st.M, st.col, st.iso
    unit = length.unit
    s = report.section("Iso-FLOP comparison",
                       f"Dense budget: dense training over {length.describe()}. `{unit}_at_dense_budget`: how many "
                       f"{unit} each recipe can train for the same FLOPs (its schedule stretched; from "
                       f"`nmsim.cost.budget`). `delta_vs_dense_at_equal_flops`: the recipe's {M.name} minus dense's "
                       "where the recipe's run cost no more than dense "
                       f"({'positive' if M.higher_is_better else 'negative'} is "
                       "better). `reaches_dense`: as good "
                       f"as dense or better. `flops_to_reach_dense_rel_le`: the runs behind these values reach dense's "
                       f"{M.name} within this fraction of the dense FLOPs (an upper bound: only final values are "
                       "known).")
    s.items.append(Table("iso_flop", iso, "Iso-FLOP table", formats={
        "train_flops_rel_dense": FMT3,
        f"{unit}_at_dense_budget": {"epochs": "{:.1f}", "steps": "{:,.0f}"}.get(unit, human),
        col: FMT3, "delta_vs_dense_at_equal_flops": "{:+.3f}", "flops_to_reach_dense_rel_le": FMT3,
        "flops_saving_vs_dense_pct_ge": "{:.1f}"}))


def _inference_section(report: Report, st: _Study) -> None:
    """Accuracy vs inference FLOPs (the paper's Fig. 5) and the inference FLOPs table."""
    cfg, noun, metric, head, M, Name = st.cfg, st.noun, st.metric, st.head, st.M, st.Name
    col, better, labels, acc_line, infer = st.col, st.better, st.labels, st.acc_line, st.infer
    s = report.section(f"{Name} vs inference FLOPs",
                       f"As in the paper's Fig. 5: every recipe x plan with its {M.name}; the line is "
                       f"the Pareto front (fewer inference FLOPs, {better} {M.name}).")
    s.items.append(Figure("accuracy_vs_inference_flops", F.accuracy_vs_inference(head, metric, noun, col),
                          f"{Name} vs inference GFLOPs per {noun}, with the Pareto front.",
                          chart=Chart("scatter", x="inference_gflops", y=col, color="recipe",
                                      filters=("recipe", "plan"), pareto=("min", M.sense),
                                      hover=("recipe", "plan", "train_flops_rel_dense", "note"), lines=acc_line,
                                      labels=labels, colors=_recipe_colors(), frame=head,
                                      title=f"{Name} vs inference FLOPs (front: fewer FLOPs, {better} {M.name})")))
    s.items.append(Table("inference", infer, "Inference FLOPs per plan (the paper's convention" +
                         (", its Table 18)" if cfg.name == "vit-base-16" else ")"),
                         formats={"inference_gflops": FMT2, "inference_rel_dense": FMT3}))


def _hardware_section(report: Report, st: _Study) -> None:
    """Latency and energy per accelerator x plan."""
    cfg, head, M, hw, col, labels = st.cfg, st.head, st.M, st.hw, st.col, st.labels
    Name, better = st.Name, st.better
    samples = "images" if cfg.is_image else f"sequences of {cfg.seq_len:,} tokens"
    s = report.section("Accelerators: latency and energy",
                       f"One forward pass at batch {cfg.batch:,} ({samples}), priced by `nmsim.cost.price` (the same "
                       "numbers as `nmsim price` and `nmsim compare`): GEMMs on each spec's execution model "
                       "(GPUs: the fastest kernel per GEMM, `kernel`), vector ops, and the fusion the spec's "
                       "stack does. Energy: GPUs board power x time (datasheet TDP, an upper bound), others "
                       "pJ per FLOP and per byte (in each spec's `source:`). A plan no kernel can exploit runs "
                       "dense (`hw_patterns`). Latency and energy are absolute: each accelerator at its own dense "
                       "peak, so a 2-TFLOPS research array beside a 1,000-TFLOPS GPU differs mostly by size "
                       "(`speedup_vs_dense` is the size-free figure; `nmsim validate --engines` compares them at "
                       "equal dense peak). What caps a plan: `sparsified_share` is the share of the dense step spent "
                       "in the GEMMs the plan sparsifies and `ceiling` the speedup if those took no time at all "
                       "(Amdahl, from the same priced step; the columns of `nmsim compare`): attention, the GEMMs "
                       "left dense and the vector ops stay, so no kernel passes it. `mem_gib` is the step's "
                       "memory on one device (`nmsim price --memory`: weights at rest, KV cache, activations, "
                       "runtime) and `fits` whether the device holds it; a row that does not fit is still priced. "
                       "`latency_ms 80%` and `energy_j 80%` are 80 % bands from the scored inference steps "
                       "(`band_level`; `nmsim validate`): on devices without measured steps they read "
                       "`not validated`.")
    measured_ceiling_notes(s, cfg.name, measured=st.ceilings)
    acc_hw = hw.merge(head[["recipe", "plan", col]], on="plan", how="inner")
    from nmsim.cost.per_token import attention_basis
    s.text.append("Attention: " + attention_basis(cfg.causal and not cfg.is_image and not cfg.is_enc_dec,
                                                  cfg.tokens) + ".")
    rate, usd, per = economics_columns(cfg)
    given = ", ".join(f"{name} {dollars(v)}/h" for name, v in st.opts.price_per_hour.items())
    s.text.append(f"What a buyer asks: `{rate}`, `{usd}` (one device's hourly on-demand list price, "
                  "`nmsim/data/prices/hourly.yaml`, with its source and date; "
                  + (f"`--price-per-hour` set {given}" if given else "`nmsim compare --price-per-hour` sets your own")
                  + f") and `{per}`; a device without a price or energy figures reads 'not given'.")
    s.text.append("The chart opens on one device family when more than "
                  f"{READABLE_DEVICES} devices are priced (`family` filter: tick the others).")
    s.items.append(Chart("scatter", name="accuracy_latency_energy", x=("latency_ms", "energy_j"), y=col,
                         color="hardware", symbol="recipe", initial=opening_families(hw),
                         filters=("family", "hardware", "recipe", "plan", "dtype"), pareto=("min", M.sense),
                         log_x=True,
                         hover=("hardware", "dtype", "recipe", "plan", "speedup_vs_dense", "energy_vs_dense",
                                "executed_gflops", "latency_ms_lo", "latency_ms_hi", "band_level") + EXECUTED,
                         labels=labels, frame=acc_hw,
                         title=f"{Name} vs absolute inference latency or energy per accelerator (front: faster or "
                               f"less energy, {better} {M.name})"))
    s.items.append(Table("accuracy_hardware", acc_hw, f"{Name} joined with each accelerator's latency and energy",
                         show=False))
    s.items.append(Figure("latency_energy", F.latency_energy(hw), "Latency and energy per accelerator and plan "
                          "(absolute: each accelerator at its own dense peak).",
                          chart=Chart("bar", x="plan", group="hardware",
                                      y=("latency_ms", "energy_j", "speedup_vs_dense", "energy_vs_dense"),
                                      filters=("family", "hardware", "plan", "dtype"), log_y=True,
                                      initial=opening_families(hw),
                                      hover=("hardware", "dtype", "plan", "latency_ms", "latency_ms_lo",
                                             "latency_ms_hi", "energy_j", "speedup_vs_dense", "executed_gflops",
                                             "sparse_ops", "band_level") + EXECUTED,
                                      labels=LABELS, frame=hw, title="Inference cost per accelerator and plan (absolute: each at "
                                                                  "its own peak)")))
    s.items.append(Table("hardware", hw, "Per accelerator x plan", formats={
        "latency_ms": FMT3, "energy_j": "{:.4g}", "executed_gflops": "{:.1f}", "speedup_vs_dense": FMT2,
        "sparsified_share": FMT3, "ceiling": FMT2, "energy_vs_dense": FMT3, "mem_gib": FMT2,
        **dict.fromkeys(economics_columns(cfg), "{:.4g}")}))


def measured_ceiling_notes(s, workload: str, path=None, measured: pd.DataFrame | None = None) -> None:
    """Section ``s`` gets the end-to-end speedups measured on ``workload`` (measurements file ``path``, default
    the bundled one; or ``measured``, their :func:`~nmsim.cost.ceiling.measured_ceilings` frame) beside their
    plan's ceiling, and one paragraph for each that lies above it."""
    from nmsim.cost.ceiling import ABOVE, measured_ceilings

    measured = measured_ceilings(path, workload=workload) if measured is None else measured
    if not len(measured):
        return
    for r in measured[measured["above"]].itertuples():
        s.text.append(f"**{r.id}** ({r.hardware}, {r.plan}, against {r.baseline}): {r.measured_speedup:.2f}x "
                      f"{ABOVE} (ceiling {r.ceiling:.2f}x).")
    s.items.append(Table("measured_ceilings", measured, "End-to-end speedups measured on this workload (bundled GPU "
                         "measurements) beside their plan's ceiling, priced under each row's own baseline",
                         formats={"measured_speedup": FMT2, "sparsified_share": FMT3, "ceiling": FMT2}))


def _memory_section(report: Report, st: _Study) -> None:
    """Weight memory and N:M metadata per plan and encoding."""
    opts, mem = st.opts, st.mem
    s = report.section("Weight memory and metadata",
                       f"Every linear weight at {opts.dtype}: kept values plus N:M metadata per encoding (index: "
                       "N·⌈log2 M⌉ bits per group; bitmask: M bits; combinatorial: ⌈log2 C(M,N)⌉ bits). Embeddings, "
                       "norms and biases are `other_params_mib`.")
    s.items.append(Figure("memory", F.memory(mem), "Weight memory per plan and metadata encoding.",
                          chart=Chart("bar", x="encoding", group="plan", stack=("values_mib", "metadata_mib"),
                                      filters=("plan", "encoding"),
                                      hover=("plan", "encoding", "total_mib", "metadata_pct", "other_params_mib"),
                                      labels=LABELS, frame=mem,
                                      title="Weight memory: kept values + N:M metadata per encoding")))
    s.items.append(Table("memory", mem, "Weight memory per plan and encoding", formats={
        "values_mib": "{:.1f}", "metadata_mib": "{:.2f}", "total_mib": "{:.1f}", "metadata_pct": "{:.1f}",
        "other_params_mib": "{:.2f}"}))


def _trainer_sections(report: Report, st: _Study) -> None:
    """The reference trainer's curves and seed sweeps, the runs' iso-FLOP view, the cluster sections and the footer."""
    opts, acc, runs_dir, Name = st.opts, st.acc, st.runs_dir, st.Name
    curves, sweeps, cluster = st.curves, st.sweeps, st.cluster
    from nmsim.report import quick_sweep as Q
    if curves is not None:
        from nmsim.report.trainer_section import add_section as add_trainer_section
        add_trainer_section(report, curves, f"the runs in `{runs_dir}`" if runs_dir is not None else
                            (f"the report's quick sweep, {Q.TASK}, {', '.join(Q.recipes())} x "
                             f"{', '.join(Q.SWEEP_PATTERNS)}, {len(Q.SEEDS)} seeds paired by seed, "
                             f"{opts.train_epochs} epochs (deterministic seeds; trained once, its runs kept in "
                             f"`{Q.FOLDER}/` beside this page, their machines in `{Q.FOLDER}/{Q.INDEX}`: "
                             f"{Q.environment_text(st.quick_index or {})})"), LABELS,
                            _recipe_colors())
    else:
        why = ("Skipped (`--no-train`)." if not opts.train else
               f"Not run: the report's quick sweep trains the `{Q.TASK}` image task, which does not bear on "
               f"`{st.cfg.name}`, not an image model.")
        csv = str(opts.accuracy).lower().endswith(".csv")
        report.section("Reference trainer: accuracy vs measured training FLOPs",
                       f"{why} Trainer curves come from the runs folder of an `nmsim sweep` on a task like the "
                       "workload's, given as `--accuracy runs/DIR`" + (f" (in place of `{opts.accuracy}`)." if csv
                                                                      else "."))
    if sweeps is not None:
        sw = sweep_runs_table(sweeps)
        s = report.section("Reference trainer: seed sweeps",
                           f"Final test accuracy of every run in {', '.join(sorted(set(sweeps['source'])))} "
                           "(per-run tables of `nmsim sweep`): the mean over seeds with the min-max range, against "
                           "the mean cumulative training FLOPs the trainer logged. `train_flops_rel_dense`: over the "
                           "dense runs of the same task and run length (`steps`; none: not compared). `pareto`: per "
                           "task and length, no other recipe x pattern has fewer FLOPs and a higher mean accuracy.")
        first_task = str(sw["task"].iloc[0])
        s.items.append(Figure("seed_sweeps", F.seed_sweeps(sw), "Final accuracy vs training FLOPs, mean and "
                              "min-max over seeds, one panel per task.",
                              chart=Chart("scatter", x=("train_flops_rel_dense", "train_flops"), y="accuracy_pct",
                                          errors=("accuracy_pct_min", "accuracy_pct_max"), color="recipe",
                                          symbol="pattern",
                                          filters=("task", "steps", "recipe", "pattern") if "steps" in sw
                                          else ("task", "recipe", "pattern"),
                                          initial={"task": [first_task]}, pareto=("min", "max"),
                                          hover=("task", "recipe", "pattern", "seeds", "accuracy_pct_std",
                                                 "accuracy_pct_min", "accuracy_pct_max", "train_flops"),
                                          labels=LABELS, colors=_recipe_colors(), frame=sw,
                                          title="Seed sweeps: final accuracy vs training FLOPs (front per "
                                                "filtered set)")))
        s.items.append(Table("seed_sweeps", sw, "Seed sweeps: one row per task x run length x recipe x pattern",
                             formats={
            "accuracy_pct": FMT2, "accuracy_pct_std": FMT2, "accuracy_pct_min": FMT2, "accuracy_pct_max": FMT2,
            "train_flops": "{:.4g}", "train_flops_rel_dense": FMT3}))
    if curves is not None:  # iso-FLOP view of the runs (nmsim.report.evidence_section)
        from nmsim.report.evidence_section import add_section
        add_section(report, curves)
    if cluster is not None:
        add_cluster_sections(report, *cluster)
    cited = acc is not None and "citation" in acc.attrs
    report.footer = (f"{Name} data: {acc.attrs['citation']} " if cited else "") + "Generated by `nmsim report`."
