"""Calibration and validation of the execution models against public measurements (``nmsim validate``).

The measurements file (default ``nmsim/data/measurements/gpu.yaml``; read and checked field by field by
:mod:`nmsim.cost.measurements`) has three sections:

* ``sources``: id -> citation text (every row names one).
* ``fits``: the kernel parameters to calibrate: ``{name, hardware, kernel, field, bounds}`` with ``field`` a kernel
  key of the gpu execution model (``efficiency``, ``small_m.efficiency``, ``bandwidth_efficiency``, ...).
* ``rows``: ``{id, group, level (kernel | end-to-end), source, hardware, dtype, [weight_dtype], metric (seconds |
  speedup), value, [fit], [baseline]}`` plus either ``gemm: {m, k, n}`` (one linear layer, forward) with
  optional ``plan`` (a pattern) and ``kernel`` (pinned), or ``workload`` with ``mode``, ``batch``, ``seq``,
  ``context``, ``plan`` (a plan text) and ``output`` (a prefill row that goes on generating: its time is the
  prefill plus ``output - 1`` decode steps over the growing cache, as a static-batching benchmark times a run).
  ``speedup`` = time of the row with ``baseline``'s keys replaced / time of the row.

Protocol: each fit is calibrated on its own rows only (``fit: NAME``; kernel-level or end-to-end rows: a GPU-level
field such as ``host_op_us`` is only seen end to end), one fit at a
time in file order, by minimising the mean absolute log error (bounded search, scipy). Entries of ``fits`` that
share a name are one joint fit: their fields (e.g. a kernel's ``efficiency`` and ``tile_overhead_k``) are
calibrated together on that name's rows. Every row is
then predicted with all fitted values; fitted and scored (not fitted) rows are reported apart, with MAPE per
group, per use (fitted / scored; scored also per level, kernel and end-to-end) and overall. A row's
``cuda_graphs: false`` prices eager launches, ``fusion: false`` unfused attention and epilogues, ``copies: true``
the eager trace's layout copies and ``dropout: true`` the dropout masks of a training step (workload rows: what
the measured program ran). A row's ``kernel`` pins the kernel
the measurement ran (dense or sparse): it runs every GEMM it can, the fastest other kernel the rest.
"""
from __future__ import annotations

import dataclasses
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from nmsim.cost.measurements import DEFAULT_FILE, load  # noqa: F401 (the file's reader)
from nmsim.schema.measurements import LEVELS
from nmsim.errors import UserError, field_path


@dataclasses.dataclass
class Validation:
    rows: pd.DataFrame      # one row per measurement: predicted, measured, error, fitted?
    groups: pd.DataFrame    # MAPE per (group, fitted/scored)
    fits: pd.DataFrame      # fitted parameter values (and the spec's value)


# ---- predictions ----------------------------------------------------------------------------------------------
def _gemm_ops(m: int, k: int, n: int) -> pd.DataFrame:
    flops = 2.0 * m * k * n
    return pd.DataFrame([{"id": 0, "module": "linear", "role": "ff1", "layer": 0, "kind": "linear", "gemm_b": 1,
                          "gemm_m": m, "gemm_k": k, "gemm_n": n, "weight_numel": k * n, "has_bias": False,
                          "fwd_flops": flops, "dgrad_flops": flops, "wgrad_flops": flops, "vector_flops": 0.0,
                          "bwd_vector_flops": 0.0}])


@lru_cache(maxsize=32)
def _graph(workload: str, mode: str, batch, seq, context):
    from nmsim.cost.pricing import trace_for_mode
    return trace_for_mode(workload, mode, batch, seq, context)


def _seconds(r: dict, hw) -> float:
    from nmsim.cost import price, price_gemms
    from nmsim.sparsity.hierarchical import parse_any
    dtype, wdtype = r.get("dtype"), r.get("weight_dtype")
    if "gemm" in r:
        g = r["gemm"]
        ops = _gemm_ops(int(g["m"]), int(g["k"]), int(g["n"]))
        plan = r.get("plan")
        pattern = None if plan in (None, "dense") else parse_any(str(plan), "plan")
        df = price_gemms(ops, pd.Series([pattern], index=ops.index, dtype=object), hw, dtype,
                         weight_dtype=wdtype, kernel=r.get("kernel"), cuda_graphs=r.get("cuda_graphs", True))
        return float(df["seconds"].sum())
    plan = r.get("plan")

    def step(mode, seq, context):
        graph = _graph(r["workload"], mode, r.get("batch"), seq, context)
        return price(graph, None if plan in (None, "dense") else plan, hw, dtype, mode,
                     weight_dtype=wdtype, kernel=r.get("kernel"), cuda_graphs=r.get("cuda_graphs", True),
                     fusion=None if r.get("fusion", True) else False, fuse_copies=not r.get("copies", False),
                     dropout=r.get("dropout", False)).totals["seconds"]
    mode = r.get("mode", "inference")
    seconds = step(mode, r.get("seq"), r.get("context"))
    steps = int(r.get("output") or 1) - 1
    if steps:   # a generation run: its decode steps over caches of seq + 1 ... seq + steps tokens
        prompt = int(r.get("seq") or r.get("context"))
        seconds += steps * _mean_over_caches(lambda c: step("decode", None, c), prompt + 1, prompt + steps)
    return seconds


def _mean_over_caches(step, first: int, last: int) -> float:
    """Mean step time over KV caches ``first`` ... ``last`` (Simpson's rule on three steps: a decode step's time
    grows with its cache as the KV reads do, nearly linearly)."""
    if first == last:
        return step(first)
    return (step(first) + 4.0 * step((first + last) // 2) + step(last)) / 6.0


def predict(r: dict, hw) -> float:
    """The model's value for measurement row ``r`` on spec ``hw`` (seconds, or a speedup over its baseline)."""
    t = _seconds(r, hw)
    if r["metric"] == "seconds":
        return t
    base = {**r, **r["baseline"]}
    return _seconds(base, hw) / t


def with_kernel_param(hw, kernel: str | None, field: str, value: float):
    """A copy of spec ``hw`` whose gpu kernel ``kernel`` has ``field`` (a key of
    :data:`nmsim.execution.gpu.FIT_FIELDS`, e.g. ``small_m.efficiency``) = value; ``kernel`` None: a GPU-level
    field (:data:`nmsim.execution.gpu.GPU_FIT_FIELDS`, e.g. ``host_op_us``)."""
    from nmsim.execution.gpu import FIT_FIELDS, GPU_FIT_FIELDS
    execution = dict(hw.execution)
    if kernel is None and field in GPU_FIT_FIELDS:
        key, scale, _ = GPU_FIT_FIELDS[field]
        execution[key] = float(value) * scale
        return dataclasses.replace(hw, execution=execution)
    kernels = list(execution.get("kernels") or ())
    names = [k.name for k in kernels]
    if kernel not in names:
        raise UserError(f"{hw.name} has no kernel {kernel!r} (kernels: {', '.join(names) or 'none'})", "fits")
    if field not in FIT_FIELDS:
        raise UserError(f"unknown kernel field {field!r} (fittable: {', '.join(FIT_FIELDS)})", "fits")
    i = names.index(kernel)
    kernels[i] = dataclasses.replace(kernels[i], **{FIT_FIELDS[field][0]: float(value)})
    execution["kernels"] = tuple(kernels)
    return dataclasses.replace(hw, execution=execution)


def kernel_param(hw, kernel: str | None, field: str) -> float:
    from nmsim.execution.gpu import FIT_FIELDS, GPU_FIT_FIELDS
    if kernel is None and field in GPU_FIT_FIELDS:
        key, scale, _ = GPU_FIT_FIELDS[field]
        return float((hw.execution or {}).get(key, 0.0)) / scale
    for k in hw.execution.get("kernels") or ():
        if k.name == kernel:
            value = getattr(k, FIT_FIELDS[field][0])
            return float(k.efficiency if value is None else value)   # fp8_efficiency unset: efficiency
    return math.nan


def _loss(rows, hw) -> float:
    errs = [abs(math.log(predict(r, hw) / r["value"])) for r in rows]
    return float(np.mean(errs))


def _fit_groups(fits) -> list[list[dict]]:
    """Fits sharing a name are one joint fit (their fields calibrated together on that name's rows), in file order."""
    groups: dict = {}
    for f in fits:
        groups.setdefault(f["name"], []).append(f)
    return list(groups.values())


def _fit(rows, hw, group, start) -> list[float]:
    """Values of the group's fields minimising the mean absolute log error on ``rows`` (bounded)."""
    from scipy.optimize import minimize, minimize_scalar

    def spec_at(xs):
        out = hw
        for f, x in zip(group, xs):
            out = with_kernel_param(out, f.get("kernel"), f["field"], x)
        return out
    bounds = [tuple(f.get("bounds", [1e-3, 1.0])) for f in group]
    if len(group) == 1:
        res = minimize_scalar(lambda x: _loss(rows, spec_at([x])), bounds=bounds[0], method="bounded",
                              options={"xatol": 1e-5})
        return [float(res.x)]
    x0 = [min(max(v, lo), hi) for v, (lo, hi) in zip(start, bounds)]
    res = minimize(lambda xs: _loss(rows, spec_at(xs)), x0, method="Powell", bounds=bounds,
                   options={"xtol": 1e-5, "ftol": 1e-9})
    return [float(x) for x in res.x]


def _row_error(path, i: int, exc: UserError) -> UserError:
    """A prediction's UserError (a plan that does not fit the workload, ...) at the row (and field) that asked
    for it."""
    from nmsim.cost.measurements import inner_field
    field = inner_field(exc)
    where = field_path(Path(path or DEFAULT_FILE).name, "rows", i, *([field] if field else []))
    return UserError(exc.message if field or not exc.where else str(exc), where)


def validate(path=None, *, refit: bool = True, progress=None, loaded=None) -> Validation:
    """Fit (``refit``; else use the specs' values) and score every row; see the module docstring. ``loaded``:
    the file as :func:`nmsim.cost.measurements.load` read it, where the caller checked it already."""
    from nmsim.hardware import load as load_hw
    rows, fits, sources = loaded if loaded is not None else load(path)
    specs: dict = {}    # spec key (nmsim.cost.measurements.spec_key) -> spec, fitted values applied

    def spec(item):
        if item["_spec"] not in specs:
            specs[item["_spec"]] = load_hw(item["hardware"])
        return specs[item["_spec"]]

    def predicted(i, r, hw):
        try:
            return predict(r, hw)
        except UserError as exc:
            raise _row_error(path, i, exc) from None

    # every row predicts before any fit: a row that cannot be priced fails fast; a row whose spec no fit changes
    # keeps this prediction
    first = [predicted(i, r, spec(r)) for i, r in enumerate(rows)]
    unfitted = dict(specs)
    fit_rows = []
    for group in _fit_groups(fits):
        f0 = group[0]
        hw = spec(f0)
        mine = [r for r in rows if r.get("fit") == f0["name"]]
        before = [kernel_param(hw, f.get("kernel"), f["field"]) for f in group]
        values = before
        if refit and mine:
            values = _fit(mine, hw, group, before)
            for f, v in zip(group, values):
                hw = with_kernel_param(hw, f.get("kernel"), f["field"], v)
            specs[f0["_spec"]] = hw
        for f, b, v in zip(group, before, values):
            if progress:
                what = f"{f['kernel']}.{f['field']}" if f.get("kernel") else f["field"]
                progress(f"fitted {f['name']}: {what} = {v:.4g} on {len(mine)} rows")
            fit_rows.append({"fit": f["name"], "hardware": hw.name, "kernel": f.get("kernel", "(gpu)"),
                             "field": f["field"],
                             "spec_value": b, "fitted_value": v, "rows": len(mine)})
    out = []
    for i, r in enumerate(rows):
        hw = spec(r)
        p = first[i] if hw is unfitted[r["_spec"]] else predicted(i, r, hw)
        out.append({"id": r["id"], "group": r["group"], "level": r["level"], "hardware": hw.name,
                    "metric": r["metric"], "measured": float(r["value"]), "predicted": p,
                    "error_pct": 100.0 * (p - r["value"]) / r["value"],
                    "use": "fitted" if "fit" in r else "scored", "source": r["source"]})
    df = pd.DataFrame(out)
    df["abs_error_pct"] = df["error_pct"].abs()
    groups = (df.groupby(["use", "group"], sort=False)
              .agg(rows=("id", "size"), mape_pct=("abs_error_pct", "mean"), max_error_pct=("abs_error_pct", "max"))
              .reset_index())
    def summary(use, name, sel):
        if len(sel):
            groups.loc[len(groups)] = {"use": use, "group": name, "rows": len(sel),
                                       "mape_pct": sel["abs_error_pct"].mean(),
                                       "max_error_pct": sel["abs_error_pct"].max()}
    for use in ("fitted", "scored", "all"):
        sel = df if use == "all" else df[df["use"] == use]
        summary(use, "all rows" if use == "all" else f"all {use} rows", sel)
        if use == "scored":  # held-out kernel timings and end-to-end steps answer different questions
            for level in LEVELS:
                summary(use, f"scored {level} rows", sel[sel["level"] == level])
            training = df["id"].isin([r["id"] for r in rows if r.get("mode") == "training"])
            e2e = sel[sel["level"] == "end-to-end"]
            summary(use, "scored inference-step rows", e2e[~training.loc[e2e.index]])
            kind = pd.Series([inference_kind(r) for r in rows], index=df.index)
            for name in ("prefill", "batch-1 decode", "batched decode"):
                summary(use, f"scored {name} rows", e2e[kind.loc[e2e.index] == name])
            summary(use, "scored training-step rows", e2e[training.loc[e2e.index]])
    for hw, pattern, sel in held_out_by_pattern(df, rows):
        summary("scored", f"held-out {hw} kernel rows, {pattern}", sel)
    return Validation(df.drop(columns="abs_error_pct"), groups, pd.DataFrame(fit_rows))


def inference_kind(r: dict) -> str | None:
    """What an end-to-end inference row times: ``prefill`` (a prompt's forward, the first token), ``batch-1
    decode`` or ``batched decode`` (decode steps of several sequences; a generation run, prefill plus ``output -
    1`` decode steps, counts here); None for other rows (kernels, training, encoder inference)."""
    if r.get("level") != "end-to-end":
        return None
    if r.get("mode") == "prefill":
        return "batched decode" if (r.get("output") or 1) > 1 else "prefill"
    if r.get("mode") == "decode":
        return "batch-1 decode" if (r.get("batch") or 1) == 1 else "batched decode"
    return None


def held_out_by_pattern(df: pd.DataFrame, rows: list) -> list:
    """(device, pattern, its rows) for the scored kernel rows of every device no fitted row is on (a GPU
    generation the fits never saw), one entry per row pattern (``dense`` for rows without one): how the carried
    fits extrapolate as sparsity grows."""
    fitted = set(df.loc[df["use"] == "fitted", "hardware"])
    plan = pd.Series([str(r.get("plan") or "dense") for r in rows], index=df.index)
    held = df[(df["use"] == "scored") & (df["level"] == "kernel") & ~df["hardware"].isin(fitted)]

    def density(p):   # dense first, then falling density (16:32, 12:32, ...)
        n, _, m = p.partition(":")
        return -1.0 if not m else -int(n) / int(m)
    return [(hw, p, sel) for hw, by_hw in held.groupby("hardware", sort=True)
            for p, sel in sorted(by_hw.groupby(plan.loc[by_hw.index]), key=lambda kv: (density(kv[0]), kv[0]))]


def gpu_residuals(validation, path=None):
    """Scored ``seconds`` rows of ``nmsim validate`` as (band level, device, id, residual ``ln(measured /
    predicted)``): the GPU levels of :mod:`nmsim.bands.build`."""
    modes = {r["id"]: r.get("mode") for r in load(path)[0]}
    rows = validation.rows
    rows = rows[(rows["use"] == "scored") & (rows["metric"] == "seconds")]
    level = ["kernel" if lv == "kernel" else "training step" if modes.get(i) == "training" else "inference step"
             for lv, i in zip(rows["level"], rows["id"])]
    return pd.DataFrame({"level": level, "device": rows["hardware"].to_numpy(), "id": rows["id"].to_numpy(),
                         "residual": [math.log(m / p) for m, p in zip(rows["measured"], rows["predicted"])]})
