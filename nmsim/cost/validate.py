"""Calibration and validation of the execution models against public measurements (``nmsim validate``).

The measurements file (default ``nmsim/data/measurements/gpu.yaml``) has three sections:

* ``sources``: id -> citation text (every row names one).
* ``fits``: the kernel parameters to calibrate: ``{name, hardware, kernel, field, bounds}`` with ``field`` a kernel
  key of the gpu execution model (``efficiency``, ``small_m.efficiency``, ``bandwidth_efficiency``, ...).
* ``rows``: ``{id, group, level (kernel | end-to-end), source, hardware, dtype, [weight_dtype], metric (seconds |
  speedup), value, [fit], [baseline]}`` plus either ``gemm: {m, k, n}`` (one linear layer, forward) with
  optional ``plan`` (a pattern) and ``kernel`` (pinned), or ``workload`` with ``mode``, ``batch``, ``seq``,
  ``context`` and ``plan`` (a plan text). ``speedup`` = time of the row with ``baseline``'s keys replaced / time
  of the row.

Protocol: each fit is calibrated on its own rows only (``fit: NAME``; they must be kernel-level), one fit at a
time in file order, by minimising the mean absolute log error (bounded search, scipy). Entries of ``fits`` that
share a name are one joint fit: their fields (e.g. a kernel's ``efficiency`` and ``tile_overhead_k``) are
calibrated together on that name's rows. Every row is
then predicted with all fitted values; fitted and scored (not fitted) rows are reported apart, with MAPE per
group, per use (fitted / scored; scored also per level, kernel and end-to-end) and overall. End-to-end rows are
never fitted. A row's ``kernel`` pins the kernel
the measurement ran (dense or sparse): it runs every GEMM it can, the fastest other kernel the rest.
"""
from __future__ import annotations

import dataclasses
import math
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import pandas as pd

from nmsim.errors import UserError, field_path

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "data" / "measurements" / "gpu.yaml"
ROW_KEYS = {"id", "group", "level", "source", "hardware", "dtype", "weight_dtype", "metric", "value", "fit",
            "baseline", "gemm", "plan", "kernel", "workload", "mode", "batch", "seq", "context", "note"}
FIT_KEYS = {"name", "hardware", "kernel", "field", "bounds"}
LEVELS = ("kernel", "end-to-end")
METRICS = ("seconds", "speedup")


@dataclasses.dataclass
class Validation:
    rows: pd.DataFrame      # one row per measurement: predicted, measured, error, fitted?
    groups: pd.DataFrame    # MAPE per (group, fitted/scored)
    fits: pd.DataFrame      # fitted parameter values (and the spec's value)


def load(path=None) -> tuple[list[dict], list[dict], dict]:
    """(rows, fits, sources) of a measurements file, checked; UserError naming the file and field."""
    from nmsim.io.read import load_yaml
    path = Path(path or DEFAULT_FILE)
    where = path.name
    doc = load_yaml(path, "measurements file")
    if not isinstance(doc, dict):
        raise UserError("expected a mapping with rows, fits and sources", where)
    unknown = set(doc) - {"rows", "fits", "sources"}
    if unknown:
        raise UserError(f"unknown key {sorted(unknown)[0]!r} (allowed: fits, rows, sources)", where)
    sources = doc.get("sources") or {}
    fits = doc.get("fits") or []
    rows = doc.get("rows") or []
    if not isinstance(rows, list) or not rows:
        raise UserError("expected a non-empty list", field_path(where, "rows"))
    names = {_check_fit(f, partial(field_path, where, "fits", i)) for i, f in enumerate(fits)}
    ids: set = set()
    for i, r in enumerate(rows):
        _check_row(r, partial(field_path, where, "rows", i), ids, names, sources)
    return rows, fits, sources


def _is_bounds(b) -> bool:
    return (isinstance(b, list) and len(b) == 2 and all(isinstance(x, (int, float)) for x in b)
            and b[0] < b[1])


def _check_fit(f, at) -> str:
    """Check one ``fits`` entry (``at(*fields)`` names a place in it); its name."""
    if not isinstance(f, dict):
        raise UserError("expected a mapping", at())
    bad = set(f) - FIT_KEYS
    if bad:
        raise UserError(f"unknown key {sorted(bad)[0]!r} (allowed: {', '.join(sorted(FIT_KEYS))})", at())
    for key in ("name", "hardware", "kernel", "field"):
        if not isinstance(f.get(key), str):
            raise UserError(f"missing or non-string {key!r}", at())
    if not _is_bounds(f.get("bounds", [1e-3, 1.0])):
        raise UserError("bounds must be [low, high] with low < high", at("bounds"))
    return f["name"]


def _positive_number(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and v > 0


# Checks of single row fields, in order: (field, valid(value, sources), message(value, sources)); a failing one
# raises at ``rows[i].field``.
_ROW_FIELD_CHECKS = (
    ("level", lambda v, src: v in LEVELS, lambda v, src: f"level must be one of {', '.join(LEVELS)}"),
    ("metric", lambda v, src: v in METRICS, lambda v, src: f"metric must be one of {', '.join(METRICS)}"),
    ("source", lambda v, src: v in src, lambda v, src: f"unknown source {v!r} (sources: {', '.join(src)})"),
    ("value", lambda v, src: _positive_number(v), lambda v, src: f"value must be a positive number, got {v!r}"),
)


def _check_row(r, at, ids: set, names: set, sources) -> None:
    """Check one measurement row (``at(*fields)`` names a place in it); adds its id to ``ids``."""
    if not isinstance(r, dict):
        raise UserError("expected a mapping", at())
    bad = set(r) - ROW_KEYS
    if bad:
        raise UserError(f"unknown key {sorted(bad)[0]!r}", at(sorted(bad)[0]))
    missing = [key for key in ("id", "group", "level", "source", "hardware", "metric", "value") if key not in r]
    if missing:
        raise UserError(f"missing required field {missing[0]!r}", at())
    if r["id"] in ids:
        raise UserError(f"duplicate id {r['id']!r}", at("id"))
    ids.add(r["id"])
    for key, valid, message in _ROW_FIELD_CHECKS:
        if not valid(r[key], sources):
            raise UserError(message(r[key], sources), at(key))
    if ("gemm" in r) == ("workload" in r):
        raise UserError("give exactly one of gemm or workload", at())
    if r["metric"] == "speedup" and not isinstance(r.get("baseline"), dict):
        raise UserError("a speedup row needs a baseline mapping", at("baseline"))
    if "fit" in r:
        if r["fit"] not in names:
            raise UserError(f"unknown fit {r['fit']!r}", at("fit"))
        if r["level"] != "kernel":
            raise UserError("only kernel-level rows may be fitted on", at("fit"))


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
                         weight_dtype=wdtype, kernel=r.get("kernel"))
        return float(df["seconds"].sum())
    graph = _graph(r["workload"], r.get("mode", "inference"), r.get("batch"), r.get("seq"), r.get("context"))
    plan = r.get("plan")
    return price(graph, None if plan in (None, "dense") else plan, hw, dtype, r.get("mode", "inference"),
                 weight_dtype=wdtype, kernel=r.get("kernel")).totals["seconds"]


def predict(r: dict, hw) -> float:
    """The model's value for measurement row ``r`` on spec ``hw`` (seconds, or a speedup over its baseline)."""
    t = _seconds(r, hw)
    if r["metric"] == "seconds":
        return t
    base = {**r, **r["baseline"]}
    return _seconds(base, hw) / t


def with_kernel_param(hw, kernel: str, field: str, value: float):
    """A copy of spec ``hw`` whose gpu kernel ``kernel`` has ``field`` (e.g. ``small_m.efficiency``) = value."""
    execution = dict(hw.execution)
    kernels = list(execution.get("kernels") or ())
    names = [k.name for k in kernels]
    if kernel not in names:
        raise UserError(f"{hw.name} has no kernel {kernel!r} (kernels: {', '.join(names) or 'none'})", "fits")
    attr = field.replace(".", "_")
    i = names.index(kernel)
    if not hasattr(kernels[i], attr):
        raise UserError(f"unknown kernel field {field!r}", "fits")
    kernels[i] = dataclasses.replace(kernels[i], **{attr: float(value)})
    execution["kernels"] = tuple(kernels)
    return dataclasses.replace(hw, execution=execution)


def kernel_param(hw, kernel: str, field: str) -> float:
    for k in hw.execution.get("kernels") or ():
        if k.name == kernel:
            return float(getattr(k, field.replace(".", "_")))
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
            out = with_kernel_param(out, f["kernel"], f["field"], x)
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


def validate(path=None, *, refit: bool = True, progress=None) -> Validation:
    """Fit (``refit``; else use the specs' values) and score every row; see the module docstring."""
    from nmsim.hardware import load as load_hw
    rows, fits, sources = load(path)
    specs: dict = {}

    def spec(name):
        if name not in specs:
            specs[name] = load_hw(name)
        return specs[name]

    fit_rows = []
    for group in _fit_groups(fits):
        f0 = group[0]
        hw = spec(f0["hardware"])
        mine = [r for r in rows if r.get("fit") == f0["name"]]
        before = [kernel_param(hw, f["kernel"], f["field"]) for f in group]
        values = before
        if refit and mine:
            values = _fit(mine, hw, group, before)
            for f, v in zip(group, values):
                hw = with_kernel_param(hw, f["kernel"], f["field"], v)
            specs[f0["hardware"]] = hw
        for f, b, v in zip(group, before, values):
            if progress:
                progress(f"fitted {f['name']}: {f['kernel']}.{f['field']} = {v:.4g} on {len(mine)} rows")
            fit_rows.append({"fit": f["name"], "hardware": hw.name, "kernel": f["kernel"], "field": f["field"],
                             "spec_value": b, "fitted_value": v, "rows": len(mine)})
    out = []
    for r in rows:
        hw = spec(r["hardware"])
        p = predict(r, hw)
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
    return Validation(df.drop(columns="abs_error_pct"), groups, pd.DataFrame(fit_rows))
