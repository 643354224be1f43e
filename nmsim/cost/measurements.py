"""The measurements file of ``nmsim validate``: read (:mod:`nmsim.io`: size, encoding, alias bombs, depth,
duplicate keys) and check every field of every section before anything is fitted or predicted.

Sections (declared in :mod:`nmsim.schema.measurements`, published as ``measurements/gpu.schema.json``):
``sources`` (id -> citation), ``fits`` (kernel fields to calibrate, with bounds inside the range the hardware
schema accepts for that field, :data:`nmsim.execution.gpu.FIT_FIELDS`) and ``rows`` (measurements). Every
problem is one :class:`UserError` naming the file and the field, e.g. ``m.yaml: rows[3].gemm.m: must be a positive integer, got 0``.
"""
from __future__ import annotations

import math
import operator
from functools import partial
from pathlib import Path

from nmsim.errors import UserError, field_path
from nmsim.schema.measurements import (COUNTS, DEFAULT_BOUNDS, FIT_KEYS, LEVELS, MAX_GEMM_DIM, METRICS, REQUIRED,
                                       ROW_KEYS, SHAPE_KEYS, STACK_KEYS, WORKLOAD_ONLY)

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "data" / "measurements" / "gpu.yaml"


def load(path=None) -> tuple[list[dict], list[dict], dict]:
    """(rows, fits, sources) of a measurements file, every field checked. Each row and fit gains ``_spec``: the
    key of its resolved hardware spec (an alias and the spec's own name are one spec)."""
    from nmsim.io.read import load_yaml
    path = Path(path or DEFAULT_FILE)
    where = path.name
    doc = load_yaml(path, "measurements file", where)
    if not isinstance(doc, dict):
        raise UserError("expected a mapping with rows, fits and sources", where)
    unknown = sorted(map(str, set(doc) - {"rows", "fits", "sources"}))
    if unknown:
        raise UserError(f"unknown key {unknown[0]!r} (allowed: fits, rows, sources)", where)
    sources = _sources(doc.get("sources"), where)
    fits = doc.get("fits") if doc.get("fits") is not None else []
    if not isinstance(fits, list):
        raise UserError(f"expected a list of fits, got {_show(fits)}", field_path(where, "fits"))
    rows = doc.get("rows")
    if not isinstance(rows, list) or not rows:
        raise UserError("expected a non-empty list", field_path(where, "rows"))
    specs = _Specs()
    fits = [_check_fit(f, partial(field_path, where, "fits", i), specs) for i, f in enumerate(fits)]
    _check_joint(fits, where)
    by_name = {f["name"]: f for f in fits}
    ids: dict = {}
    rows = [_check_row(r, i, partial(field_path, where, "rows", i), ids, by_name, sources, specs)
            for i, r in enumerate(rows)]
    return rows, fits, sources


def _show(value) -> str:
    from nmsim.io.read import short_repr
    return short_repr(value)


def _sources(node, where: str) -> dict:
    if node is None:
        return {}
    if not isinstance(node, dict):
        raise UserError(f"expected a mapping of source id -> citation, got {_show(node)}", field_path(where, "sources"))
    for key, text in node.items():
        if not isinstance(key, (str, int)) or isinstance(key, bool):
            raise UserError(f"a source id must be a name, got {_show(key)}", field_path(where, "sources"))
        if not isinstance(text, str) or not text.strip():
            raise UserError(f"expected the citation text, got {_show(text)}", field_path(where, "sources", str(key)))
    return node


class _Specs:
    """Hardware specs by the name a file gives, each loaded once; a name that does not resolve is a UserError at
    the field naming it."""

    def __init__(self):
        self.by_name: dict = {}

    def get(self, name, at) -> object:
        if not isinstance(name, str) or not name.strip():
            raise UserError(f"expected a hardware name or spec file, got {_show(name)}", at)
        if name not in self.by_name:
            from nmsim.hardware import load as load_hw
            try:
                self.by_name[name] = load_hw(name)
            except UserError as exc:
                message = exc.message.replace("unknown hardware:", f"unknown hardware {name!r}:") \
                    if exc.where == name else _inner(exc)
                raise UserError(message, at) from None
        return self.by_name[name]


def spec_key(hw) -> str:
    """One key per spec, whatever name, alias or spelling of its path found it."""
    return str(Path(hw.path).resolve()) if hw.path else hw.name


def _inner(exc: UserError) -> str:
    """A nested check's message for a field of this file: its own ``where`` kept only when it names a file (a
    hardware spec or workload file with its own field)."""
    where = exc.where or ""
    return str(exc) if where.split(":")[0].endswith((".yaml", ".yml", ".json")) else exc.message


def inner_field(exc: UserError) -> str | None:
    """The row field a pricing error is about, from the flag it names (``--sparsity 'ff=1:7'`` -> ``plan``)."""
    flag = (exc.where or "").split(" ")[0]
    if not flag.startswith("--"):
        return None
    key = {"sparsity": "plan"}.get(flag[2:], flag[2:].replace("-", "_"))
    return key if key in SHAPE_KEYS else None


def _text(value, at, what: str = "a non-empty string") -> str:
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"expected {what}, got {_show(value)}", at)
    return value


# ---- fits ---------------------------------------------------------------------------------------------------

def _check_fit(f, at, specs: _Specs) -> dict:
    """One ``fits`` entry checked (``at(*fields)`` names a place in it): a copy with ``bounds`` and ``_spec``. A
    kernel field names its ``kernel``; a GPU-level field (:data:`nmsim.execution.gpu.GPU_FIT_FIELDS`) names none."""
    from nmsim.execution.gpu import FIT_FIELDS, GPU_FIT_FIELDS
    if not isinstance(f, dict):
        raise UserError(f"expected a mapping, got {_show(f)}", at())
    bad = sorted(map(str, set(f) - FIT_KEYS))
    if bad:
        raise UserError(f"unknown key {bad[0]!r} (allowed: {', '.join(sorted(FIT_KEYS))})", at())
    gpu_level = isinstance(f.get("field"), str) and f["field"] in GPU_FIT_FIELDS
    for key in ("name", "hardware", "field") + (() if gpu_level else ("kernel",)):
        if not isinstance(f.get(key), str):
            raise UserError(f"missing or non-string {key!r}", at())
    _text(f["name"], at("name"), "a fit name")
    hw = specs.get(f["hardware"], at("hardware"))
    names = _kernel_names(hw)
    if gpu_level:
        if "kernel" in f:
            raise UserError(f"{f['field']} is a GPU-level field: a fit of it names no kernel", at("kernel"))
        if (hw.execution or {}).get("model") != "gpu":
            raise UserError(f"{hw.name} has no gpu execution model to set {f['field']} on", at("hardware"))
    elif f["kernel"] not in names:
        raise UserError(f"{hw.name} has no kernel {f['kernel']!r} (kernels: {', '.join(names) or 'none'})",
                        at("kernel"))
    if not gpu_level and f["field"] not in FIT_FIELDS:
        raise UserError(f"unknown field {f['field']!r} (kernel fields: {', '.join(FIT_FIELDS)}; GPU-level: "
                        f"{', '.join(GPU_FIT_FIELDS)})", at("field"))
    limits = (GPU_FIT_FIELDS[f["field"]][2] if gpu_level else FIT_FIELDS[f["field"]][1])
    bounds = _bounds(f.get("bounds", list(DEFAULT_BOUNDS)), limits, f["field"], at("bounds"))
    return {**f, "bounds": bounds, "_spec": spec_key(hw)}


def _kernel_names(hw) -> list[str]:
    return [k.name for k in (hw.execution.get("kernels") or ())]


def _bounds(b, limits: dict, field: str, at) -> list[float]:
    """[low, high]: finite numbers, low < high, inside the range the hardware schema accepts for ``field``."""
    if not (isinstance(b, list) and len(b) == 2 and all(_is_number(x) and math.isfinite(x) for x in b)
            and b[0] < b[1]):
        raise UserError(f"bounds must be [low, high] with low < high (finite numbers), got {_show(b)}", at)
    low_ok = b[0] > 0 if limits["positive"] else b[0] >= 0
    high_ok = limits["at_most"] is None or b[1] <= limits["at_most"]
    if not (low_ok and high_ok):
        top = "inf)" if limits["at_most"] is None else f"{limits['at_most']:g}]"
        span = f"{'(' if limits['positive'] else '['}0, {top}"
        raise UserError(f"bounds {_show(b)} leave {span}, the range a hardware spec accepts for {field}", at)
    return [float(b[0]), float(b[1])]


def _check_joint(fits: list[dict], where: str) -> None:
    """Fits sharing a name are one joint fit: one spec, each (kernel, field) once."""
    first: dict = {}
    for i, f in enumerate(fits):
        j = first.setdefault(f["name"], i)
        if j == i:
            continue
        at = partial(field_path, where, "fits", i)
        if f["_spec"] != fits[j]["_spec"]:
            raise UserError(f"joint fit {f['name']!r} calibrates {fits[j]['hardware']} in fits[{j}]; one joint fit "
                            "is on one hardware spec", at("hardware"))
        if any((g.get("kernel"), g["field"]) == (f.get("kernel"), f["field"]) for g in fits[j:i]
               if g["name"] == f["name"]):
            what = f"{f['kernel']}.{f['field']}" if f.get("kernel") else f["field"]
            raise UserError(f"{what} is already in joint fit {f['name']!r}", at("field"))


# ---- rows ---------------------------------------------------------------------------------------------------

def _is_number(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float))


def _check_row(r, i: int, at, ids: dict, fits: dict, sources: dict, specs: _Specs) -> dict:
    """One measurement row checked (``at(*fields)`` names a place in it); a copy with ``_spec``."""
    if not isinstance(r, dict):
        raise UserError(f"expected a mapping, got {_show(r)}", at())
    bad = sorted(map(str, set(r) - ROW_KEYS))
    if bad:
        raise UserError(f"unknown key {bad[0]!r}", at(bad[0]))
    missing = [key for key in REQUIRED if key not in r]
    if missing:
        raise UserError(f"missing required field {missing[0]!r}", at())
    if isinstance(r["id"], bool) or not isinstance(r["id"], (str, int)) or not str(r["id"]).strip():
        raise UserError(f"expected a row id (a name), got {_show(r['id'])}", at("id"))
    if r["id"] in ids:
        raise UserError(f"duplicate id {r['id']!r} (first in rows[{ids[r['id']]}])", at("id"))
    ids[r["id"]] = i
    _text(r["group"], at("group"), "a group name")
    if r["level"] not in LEVELS:
        raise UserError(f"level must be one of {', '.join(LEVELS)}, got {_show(r['level'])}", at("level"))
    if r["metric"] not in METRICS:
        raise UserError(f"metric must be one of {', '.join(METRICS)}, got {_show(r['metric'])}", at("metric"))
    if isinstance(r["source"], (dict, list)) or r["source"] not in sources:
        raise UserError(f"unknown source {_show(r['source'])} (sources: {', '.join(map(str, sources)) or 'none'})",
                        at("source"))
    v = r["value"]
    if not _is_number(v) or not math.isfinite(v) or v <= 0:
        raise UserError(f"value must be a positive finite number, got {_show(v)}", at("value"))
    if "note" in r and not isinstance(r["note"], str):
        raise UserError(f"expected text, got {_show(r['note'])}", at("note"))
    hw = specs.get(r["hardware"], at("hardware"))
    _check_shape(r, at, hw)
    if r["metric"] == "speedup":
        base = r.get("baseline")
        if not isinstance(base, dict) or not base:
            raise UserError("a speedup row needs a baseline mapping (the keys that differ in the baseline)",
                            at("baseline"))
        bad = sorted(map(str, set(base) - SHAPE_KEYS))
        if bad:
            raise UserError(f"unknown key {bad[0]!r} (a baseline changes: {', '.join(sorted(SHAPE_KEYS))})",
                            at("baseline", bad[0]))
        _check_shape({**r, **base}, partial(at, "baseline"), hw)
    elif "baseline" in r:
        raise UserError("only a speedup row has a baseline (this row's metric is seconds)", at("baseline"))
    if "fit" in r:
        fit = fits.get(r["fit"]) if isinstance(r["fit"], str) else None
        if fit is None:
            raise UserError(f"unknown fit {_show(r['fit'])}", at("fit"))
        if fit["_spec"] != spec_key(hw):
            raise UserError(f"fit {r['fit']!r} calibrates {fit['hardware']}, but this row was measured on "
                            f"{r['hardware']}", at("fit"))
    return {**r, "_spec": spec_key(hw)}


def _check_shape(r: dict, at, hw) -> None:
    """What is priced: a ``gemm`` or a ``workload`` run, its plan, dtypes and pinned kernel (``r`` may be a row with
    its baseline's keys merged in)."""
    if ("gemm" in r) == ("workload" in r):
        raise UserError("give exactly one of gemm or workload", at())
    _check_dtypes(r, at, hw)
    for key in ("cuda_graphs", *STACK_KEYS):
        if key in r and not isinstance(r[key], bool):
            raise UserError(f"expected true or false, got {_show(r[key])}", at(key))
    kernel = r.get("kernel")
    names = _kernel_names(hw)
    if kernel is not None and (not isinstance(kernel, str) or (names and kernel not in names)):
        raise UserError(f"{hw.name} has no kernel {_show(kernel)} (kernels: {', '.join(names) or 'none'})",
                        at("kernel"))
    if "gemm" in r:
        extra = [k for k in WORKLOAD_ONLY if k in r]
        if extra:
            raise UserError(f"{extra[0]} applies to workload rows only (this row is one gemm)", at(extra[0]))
        _check_gemm(r["gemm"], at)
        plan = r.get("plan")
        if plan is not None:
            from nmsim.sparsity.hierarchical import parse_any
            text = _text(plan, at("plan"), "a pattern such as 2:4 or dense")
            _parse(lambda: parse_any(text, "plan"), at("plan"))
        return
    _check_workload(r, at)


def _check_dtypes(r: dict, at, hw) -> None:
    from nmsim.sparsity.metadata import DTYPE_BYTES
    for key in ("dtype", "weight_dtype"):
        d = r.get(key)
        if d is not None and (not isinstance(d, str) or d not in DTYPE_BYTES):
            raise UserError(f"unknown dtype {_show(d)} (known: {', '.join(DTYPE_BYTES)})", at(key))
    if r.get("dtype") is not None and r["dtype"] not in hw.matrix_dense:
        raise UserError(f"{hw.name} has no {r['dtype']} matrix peak (dtypes: {', '.join(hw.matrix_dense)})",
                        at("dtype"))


def _check_gemm(g, at) -> None:
    if not isinstance(g, dict):
        raise UserError(f"expected a mapping {{m, k, n}}, got {_show(g)}", at("gemm"))
    bad = sorted(map(str, set(g) - {"m", "k", "n"}))
    if bad:
        raise UserError(f"unknown key {bad[0]!r} (a gemm has m, k, n)", at("gemm", bad[0]))
    for dim in ("m", "k", "n"):
        if dim not in g:
            raise UserError(f"missing dimension {dim!r} (a gemm has m, k, n)", at("gemm"))
        _count(g[dim], at("gemm", dim), 1, MAX_GEMM_DIM)


def _count(value, at, low: int, high: int) -> int:
    """An integer from ``low`` to ``high`` (floats such as 1e20 and bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"must be an integer, got {_show(value)}", at)
    if value < low:
        raise UserError(f"must be {'a positive integer' if low == 1 else f'>= {low}'}, got {value:,}", at)
    if value > high:
        raise UserError(f"must be at most {high:,} (a sanity limit), got {value:,}", at)
    return operator.index(value)


def _parse(fn, at):
    """Run a parser of nmsim's own; its UserError re-raised at ``at``."""
    try:
        return fn()
    except UserError as exc:
        raise UserError(_inner(exc), at) from None


def _check_workload(r: dict, at) -> None:
    from nmsim.cost.pricing import check_mode
    from nmsim.execution.table import MODES
    from nmsim.graph import load_workload
    from nmsim.sparsity.plan import SparsityPlan

    name = _text(r["workload"], at("workload"), "a workload name or file")
    cfg = _parse(lambda: load_workload(name), at("workload"))
    mode = r.get("mode", "inference")
    if mode not in MODES:
        raise UserError(f"unknown mode {_show(mode)} (known: {', '.join(MODES)})", at("mode"))
    _parse(lambda: check_mode(cfg, mode), at("mode"))
    for key in ("batch", "seq", "context"):
        if r.get(key) is not None:
            _count(r[key], at(key), *COUNTS[key])
    if mode == "decode" and r.get("seq") not in (None, 1):
        raise UserError("decode prices one new token per sequence; give the cache length as context", at("seq"))
    if r.get("dropout") and mode != "training":
        raise UserError(f"dropout applies to training rows only, not {mode}", at("dropout"))
    if mode not in ("decode", "prefill") and r.get("context") is not None:
        raise UserError(f"context applies to decode and prefill rows only, not {mode}", at("context"))
    if cfg.is_image and r.get("seq") is not None:
        raise UserError(f"{cfg.name} is an image model: its tokens come from image_size/patch_size", at("seq"))
    plan = r.get("plan")
    if plan is not None:
        text = _text(plan, at("plan"), "a plan such as ff=2:4 or dense")
        _parse(lambda: SparsityPlan.parse(text, "plan"), at("plan"))
