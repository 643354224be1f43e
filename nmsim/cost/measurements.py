"""The measurements file of ``nmsim validate``: read (:mod:`nmsim.io`: size, encoding, alias bombs, depth,
duplicate keys) and check every field of every section before anything is fitted or predicted.

Sections (declared in :mod:`nmsim.schema.measurements`, published as ``measurements/gpu.schema.json``):
``sources`` (id -> citation), ``fits`` (kernel fields to calibrate, with bounds inside the range the hardware
schema accepts for that field, :data:`nmsim.schema.execution.FIT_FIELDS`) and ``rows`` (measurements). Every
problem is one :class:`UserError` naming the file and the field, e.g.
``m.yaml: rows[3].gemm.m: must be > 0, got 0``.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path

from nmsim.errors import UserError, field_path
from nmsim.schema.measurements import FILE, SHAPE_KEYS, WORKLOAD_ONLY

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "data" / "measurements" / "gpu.yaml"


def load(path=None) -> tuple[list[dict], list[dict], dict]:
    """(rows, fits, sources) of a measurements file, every field checked (:data:`nmsim.schema.measurements.FILE`,
    the shared schema checks), then what needs the rest of nmsim. Each row and fit gains ``_spec``: the key of its
    resolved hardware spec (an alias and the spec's own name are one spec)."""
    from nmsim.io.spec_reader import SpecReader, read_document
    doc, where = read_document(Path(path or DEFAULT_FILE), "measurements file")
    doc = FILE.check(SpecReader(where), doc, (), None)
    sources = doc["sources"] or {}
    specs = _Specs()
    fits = [_check_fit(f, partial(field_path, where, "fits", i), specs) for i, f in enumerate(doc["fits"] or [])]
    _check_joint(fits, where)
    by_name = {f["name"]: f for f in fits}
    ids: dict = {}
    rows = [_check_row(r, i, partial(field_path, where, "rows", i), ids, by_name, sources, specs)
            for i, r in enumerate(doc["rows"])]
    return rows, fits, sources


def _show(value) -> str:
    from nmsim.io.read import short_repr
    return short_repr(value)


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


# ---- fits ---------------------------------------------------------------------------------------------------

def _check_fit(f, at, specs: _Specs) -> dict:
    """One ``fits`` entry checked (``at(*fields)`` names a place in it): a copy with ``bounds`` and ``_spec``. A
    kernel field names its ``kernel``; a GPU-level field (:data:`nmsim.schema.execution.GPU_FIT_FIELDS`) names none."""
    from nmsim.schema.execution import FIT_FIELDS, GPU_FIT_FIELDS
    gpu_level = f["field"] in GPU_FIT_FIELDS
    hw = specs.get(f["hardware"], at("hardware"))
    names = _kernel_names(hw)
    if gpu_level:
        if "kernel" in f:
            raise UserError(f"{f['field']} is a GPU-level field: a fit of it names no kernel", at("kernel"))
        if (hw.execution or {}).get("model") != "gpu":
            raise UserError(f"{hw.name} has no gpu execution model to set {f['field']} on", at("hardware"))
    elif "kernel" not in f:
        raise UserError("missing required field 'kernel' (a kernel field's fit names its kernel)", at())
    elif f["kernel"] not in names:
        raise UserError(f"{hw.name} has no kernel {f['kernel']!r} (kernels: {', '.join(names) or 'none'})",
                        at("kernel"))
    if not gpu_level and f["field"] not in FIT_FIELDS:
        raise UserError(f"unknown field {f['field']!r} (kernel fields: {', '.join(FIT_FIELDS)}; GPU-level: "
                        f"{', '.join(GPU_FIT_FIELDS)})", at("field"))
    limits = (GPU_FIT_FIELDS[f["field"]][2] if gpu_level else FIT_FIELDS[f["field"]][1])
    _check_bounds(f["bounds"], limits, f["field"], at("bounds"))
    return {**f, "bounds": [float(x) for x in f["bounds"]], "_spec": spec_key(hw)}


def _kernel_names(hw) -> list[str]:
    return [k.name for k in (hw.execution.get("kernels") or ())]


def _check_bounds(b: list, limits: dict, field: str, at) -> None:
    """[low, high] inside the range the hardware schema accepts for ``field``."""
    low_ok = b[0] > 0 if limits["positive"] else b[0] >= 0
    high_ok = limits["at_most"] is None or b[1] <= limits["at_most"]
    if not (low_ok and high_ok):
        top = "inf)" if limits["at_most"] is None else f"{limits['at_most']:g}]"
        span = f"{'(' if limits['positive'] else '['}0, {top}"
        raise UserError(f"bounds {_show(b)} leave {span}, the range a hardware spec accepts for {field}", at)


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

def _check_row(r, i: int, at, ids: dict, fits: dict, sources: dict, specs: _Specs) -> dict:
    """One measurement row checked (``at(*fields)`` names a place in it); a copy with ``_spec``."""
    if r["id"] in ids:
        raise UserError(f"duplicate id {r['id']!r} (first in rows[{ids[r['id']]}])", at("id"))
    ids[r["id"]] = i
    if r["source"] not in sources:
        raise UserError(f"unknown source {_show(r['source'])} (sources: {', '.join(map(str, sources)) or 'none'})",
                        at("source"))
    hw = specs.get(r["hardware"], at("hardware"))
    _check_shape(r, at, hw)
    if r["metric"] == "speedup":
        base = r.get("baseline")
        if not base:
            raise UserError("a speedup row needs a baseline mapping (the keys that differ in the baseline)",
                            at("baseline"))
        _check_shape({**r, **base}, partial(at, "baseline"), hw)
    elif "baseline" in r:
        raise UserError("only a speedup row has a baseline (this row's metric is seconds)", at("baseline"))
    if "fit" in r:
        fit = fits.get(r["fit"])
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
    if r.get("dtype") is not None and r["dtype"] not in hw.matrix_dense:
        raise UserError(f"{hw.name} has no {r['dtype']} matrix peak (dtypes: {', '.join(hw.matrix_dense)})",
                        at("dtype"))
    kernel = r.get("kernel")
    names = _kernel_names(hw)
    if kernel is not None and names and kernel not in names:
        raise UserError(f"{hw.name} has no kernel {_show(kernel)} (kernels: {', '.join(names) or 'none'})",
                        at("kernel"))
    if "gemm" in r:
        extra = [k for k in WORKLOAD_ONLY if k in r]
        if extra:
            raise UserError(f"{extra[0]} applies to workload rows only (this row is one gemm)", at(extra[0]))
        plan = r.get("plan")
        if plan is not None:
            from nmsim.sparsity.hierarchical import parse_any
            _parse(lambda: parse_any(plan, "plan"), at("plan"))
        return
    _check_workload(r, at)


def _parse(fn, at):
    """Run a parser of nmsim's own; its UserError re-raised at ``at``."""
    try:
        return fn()
    except UserError as exc:
        raise UserError(_inner(exc), at) from None


def _check_workload(r: dict, at) -> None:
    from nmsim.execution.modes import MODES, check_mode
    from nmsim.graph import load_workload
    from nmsim.sparsity.plan import SparsityPlan

    cfg = _parse(lambda: load_workload(r["workload"]), at("workload"))
    mode = r.get("mode", "inference")
    if mode not in MODES:
        raise UserError(f"unknown mode {_show(mode)} (known: {', '.join(MODES)})", at("mode"))
    _parse(lambda: check_mode(cfg, mode), at("mode"))
    if r.get("output") is not None and mode != "prefill":
        raise UserError(f"output (tokens generated after the prompt) applies to prefill rows only, not {mode}",
                        at("output"))
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
        _parse(lambda: SparsityPlan.parse(plan, "plan"), at("plan"))
