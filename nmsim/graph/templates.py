"""Per-structure templates: a model's first answer without torch.

A *structure* is a workload config less its sizes (family, norm, FFN kind, positions, bias, head, ..., probe
depths, and which sizes it has: grouped KV heads, learned positions, ...). Its template is a shape-generic graph
(:class:`nmsim.graph.shapes.ShapeGraph`) of the probe model (at most ``PROBE`` layers per stack,
:mod:`nmsim.graph.replicate`) whose every number is an exact integer polynomial of the shape (batch, seq or past)
*and* of the model's sizes (:func:`dimensions`): fitted by tracing the probe at a grid of small sizes and verified
on one more trace at random sizes, by :func:`generate` (``python -m nmsim.graph.templates``, which writes one
compressed file per structure, kind and region of the bundled workloads under ``nmsim/data/templates``).

:func:`instantiate` turns a template into the shape-generic graph of one workload without torch: the size
monomials are evaluated at the workload's sizes (exact integers, checked below 2^53), and the probe's rows are
replicated to the full depth with :func:`nmsim.graph.replicate.plan`, as a trace is. The result is the graph the
trace cache would hold; :func:`nmsim.graph.shapes.shape_graph` asks here before it traces. A structure without
a template, or sizes outside a template's region (any size below its fit points), is traced as before.
``tests/test_templates.py`` checks every template and every bundled workload against fresh traces, column by
column: it fails when the tracer and the shipped templates drift (regenerate them with the command above).
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import random
from pathlib import Path

import numpy as np

from nmsim.errors import UserError
from nmsim.graph.shapes import (DEGREES, EXACT_LIMIT, FIT_POINTS, SINGLE, Design, ShapeFitError, ShapeGraph, design,
                                fit_design, verify)

FOLDER = Path(__file__).resolve().parent.parent / "data" / "templates"
FORMAT = 1
# The sizes a structure may have (a template variable each, degree 1); the fit grid uses two values of each.
SIZE_POINTS = {"d_model": (2, 3), "half_d_model": (2, 3), "heads": (2, 3), "kv_heads": (2, 3), "groups": (2, 3),
               "head_dim": (2, 3), "half_head_dim": (2, 3), "half_rotary_dim": (2, 3), "half_unrotated_dim": (2, 3), "ffn": (2, 3), "vocab": (2, 3), "positions": (4, 5),
               "type_vocab": (2, 3), "relative_buckets": (2, 3), "num_classes": (2, 3)}
SIZE_FIELDS = ("layers", "decoder_layers", "d_model", "heads", "kv_heads", "head_dim", "rotary_dim", "ffn", "vocab",
               "max_positions", "type_vocab", "relative_buckets", "num_classes")
SHAPELESS = ("name", "source", "batch", "seq_len", "norm_eps", "rope_theta")   # no op depends on them
TEXT_KINDS = ("forward", "decode")


# ---- structure and sizes --------------------------------------------------------------------------
def dimensions(cfg) -> dict[str, int] | None:
    """The sizes of ``cfg`` as template variables (``heads = kv_heads * groups`` with grouped KV heads; half the
    head dimension with rotary positions, or half the rotated and half the unrotated channels with partial rotary),
    or None for a model templates do not cover (images; mixtures of experts, which have no shape-generic graph)."""
    from nmsim.graph.shapes import shape_generic

    if cfg.is_image or not shape_generic(cfg):
        return None
    if cfg.position == "sinusoidal" and cfg.d_model % 2:
        return None
    # sinusoidal tables take half the width: d_model = 2 * half_d_model
    dims = {"half_d_model": cfg.d_model // 2} if cfg.position == "sinusoidal" else {"d_model": cfg.d_model}
    if cfg.n_kv_heads != cfg.heads:
        dims.update(kv_heads=cfg.n_kv_heads, groups=cfg.heads // cfg.n_kv_heads)
    else:
        dims["heads"] = cfg.heads
    rotary = cfg.rotary_dim or cfg.dim_head
    if cfg.position == "rope" and (rotary % 2 or cfg.dim_head % 2):
        return None
    if cfg.position == "rope" and rotary < cfg.dim_head:
        dims.update(half_rotary_dim=rotary // 2, half_unrotated_dim=(cfg.dim_head - rotary) // 2)
    elif cfg.position == "rope":
        dims["half_head_dim"] = cfg.dim_head // 2
    else:
        dims["head_dim"] = cfg.dim_head
    dims["ffn"] = cfg.ffn
    dims["vocab"] = cfg.vocab
    if cfg.position == "learned":
        dims["positions"] = cfg.max_positions or cfg.seq_len
    if cfg.type_vocab:
        dims["type_vocab"] = cfg.type_vocab
    if cfg.position == "relative":
        dims["relative_buckets"] = cfg.relative_buckets
    if cfg.head == "classifier":
        dims["num_classes"] = cfg.num_classes
    return dims


def with_dimensions(cfg, dims: dict[str, int]):
    """``cfg`` with the sizes ``dims`` (names of :func:`dimensions`)."""
    heads = dims["kv_heads"] * dims["groups"] if "groups" in dims else dims["heads"]
    rotary = None
    if "half_rotary_dim" in dims:
        rotary = 2 * dims["half_rotary_dim"]
        head_dim = rotary + 2 * dims["half_unrotated_dim"]
    else:
        head_dim = 2 * dims["half_head_dim"] if "half_head_dim" in dims else dims["head_dim"]
    width = 2 * dims["half_d_model"] if "half_d_model" in dims else dims["d_model"]
    changes = {"d_model": width, "heads": heads, "kv_heads": dims.get("kv_heads"), "head_dim": head_dim,
               "rotary_dim": rotary, "ffn": dims["ffn"], "vocab": dims["vocab"]}
    for name, field in (("positions", "max_positions"), ("type_vocab", "type_vocab"),
                        ("relative_buckets", "relative_buckets"), ("num_classes", "num_classes")):
        if name in dims:
            changes[field] = dims[name]
    if "positions" in dims:   # seq_len sizes nothing here (max_positions does) but may not exceed the table
        changes["seq_len"] = min(cfg.seq_len, dims["positions"])
    return cfg.replace(**changes)


def probe_depths(cfg) -> dict[str, int]:
    from nmsim.graph.replicate import PROBE

    out = {"layers": min(cfg.layers, PROBE)}
    if cfg.is_enc_dec:
        out["decoder_layers"] = min(cfg.decoder_layers, PROBE)
    return out


def structure(cfg) -> dict:
    """The fields of ``cfg`` that shape its ops besides its sizes (those not at their defaults), the names of its
    sizes and its probe depths."""
    defaults = {f.name: f.default for f in dataclasses.fields(cfg)}
    skip = set(SIZE_FIELDS) | set(SHAPELESS)
    fields = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in skip and v != defaults.get(k)}
    return {"fields": fields, "sizes": sorted(dimensions(cfg) or ()), "depths": probe_depths(cfg)}


def template_key(cfg, kind: str, fixed: dict) -> str:
    blob = json.dumps({"format": FORMAT, "kind": kind, "fixed": fixed, **structure(cfg)}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def path_for(key: str) -> Path:
    return FOLDER / f"{key}.npz"


# ---- instantiation (no torch) ------------------------------------------------------------------------
_LOADED: dict = {}


def load(key: str) -> ShapeGraph | None:
    if key not in _LOADED:
        path = path_for(key)
        try:
            with np.load(path) as z:
                _LOADED[key] = ShapeGraph.from_arrays(z)
        except (OSError, ValueError, KeyError):
            _LOADED[key] = None
    return _LOADED[key]


def available(cfg, kind: str, fixed: dict | None = None) -> bool:
    """Whether ``cfg``'s structure has a shipped template for ``kind`` in region ``fixed`` (no torch)."""
    return dimensions(cfg) is not None and kind in TEXT_KINDS and load(template_key(cfg, kind, dict(fixed or {})))\
        is not None


def instantiate(cfg, kind: str, fixed: dict | None = None) -> ShapeGraph | None:
    """The shape-generic graph of ``cfg`` (kind, region ``fixed``) from its structure's template, or None (no
    template, or sizes outside its region, or numbers too large to evaluate exactly)."""
    fixed = dict(fixed or {})
    dims = dimensions(cfg)
    if dims is None or kind not in TEXT_KINDS:
        return None
    template = load(template_key(cfg, kind, fixed))
    if template is None or any(dims[n] < SIZE_POINTS[n][0] for n in dims):
        return None
    d = design(cfg, kind, fixed)   # the monomials and points a traced fit would have
    probe = _at_sizes(template, dims, [tuple(r) for r in d.exponents.tolist()])
    if probe is None:
        return None
    sg = _replicated(probe, cfg)
    if sg is not None:
        sg.info = {"workload": cfg.name, "template": template_key(cfg, kind, fixed),
                   "fit_points": [d.shown(p) for p in d.grid], "verified_at": d.shown(d.check), "ops": sg.n_ops}
    return sg


def _at_sizes(template: ShapeGraph, dims: dict[str, int], monomials: list[tuple]) -> ShapeGraph | None:
    """``template`` with its size variables set to ``dims``: a shape-generic graph of the probe over the shape
    ``monomials`` (exponent tuples)."""
    shape_vars = tuple(v for v in template.variables if v not in dims)
    k = len(shape_vars)
    exps = template.exponents
    values = np.array([dims[v] for v in template.variables[k:]], dtype=float)
    factor = np.prod(values[None, :] ** exps[:, k:], axis=1)            # (T,) size monomials
    rows = [tuple(r) for r in exps[:, :k].tolist()]
    if not set(rows) <= set(monomials):
        return None
    M = np.zeros((len(monomials), len(rows)))
    M[[monomials.index(r) for r in rows], np.arange(len(rows))] = factor
    bound = np.abs(M)

    def apply(C: np.ndarray) -> np.ndarray | None:
        if C.size and (bound @ np.abs(C)).max() >= EXACT_LIMIT:
            return None
        return M @ C

    coef = {c: apply(C) for c, C in template.coef.items()}
    dims_at = apply(template.dims)
    params = {name: apply(np.asarray(c, dtype=float)[:, None]) for name, c in template.param_coef.items()}
    if any(v is None for v in (*coef.values(), dims_at, *params.values())):
        return None
    return ShapeGraph(template.kind, shape_vars, dict(template.fixed), np.array(monomials, dtype=np.int64).reshape(
        len(monomials), k), coef, template.static, template.columns, dims_at, template.dim_layout, template.edges,
        template.uncounted, {n: [int(round(x)) for x in v[:, 0]] for n, v in params.items()}, 0,
        dict(template.info))


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The concatenated ranges ``starts[j] .. starts[j] + counts[j] - 1``."""
    ends = np.cumsum(counts)
    return np.repeat(starts - ends + counts, counts) + np.arange(int(ends[-1]) if len(ends) else 0)


def _reindexed_dims(dims: np.ndarray, layout: list, source: list[int]) -> tuple[np.ndarray, list]:
    """The flattened tensor shapes (``dims`` columns, ``layout`` entries (column, op, length; -1 ends an op's
    list)) of the rows ``source``: each op's entries are contiguous, by column then op."""
    lay = np.asarray(layout, dtype=np.int64).reshape(-1, 3)
    sizes = np.maximum(lay[:, 2], 0)
    value_start = np.cumsum(sizes) - sizes
    n_ops = int(lay[:, 1].max()) + 1 if len(lay) else 0
    count = np.zeros((3, n_ops), dtype=np.int64)
    np.add.at(count, (lay[:, 0], lay[:, 1]), 1)
    first = (np.cumsum(count.ravel()) - count.ravel()).reshape(3, n_ops)   # each (column, op)'s first entry
    src = np.asarray(source, dtype=np.int64)
    entries = np.concatenate([_ranges(first[ci, src], count[ci, src]) for ci in range(3)])
    new_ops = np.concatenate([np.repeat(np.arange(len(src)), count[ci, src]) for ci in range(3)])
    new_layout = np.stack([lay[entries, 0], new_ops, lay[entries, 2]], axis=1)
    cols = _ranges(value_start[entries], sizes[entries])
    return dims[:, cols], new_layout.tolist()


def _replicated(probe: ShapeGraph, cfg) -> ShapeGraph | None:
    """The full-depth shape-generic graph of ``cfg`` from its probe's (the probe itself when no stack is
    deeper): rows copied as :func:`nmsim.graph.replicate.plan` copies a traced probe's, parameters counted with
    the last probe layer's for every deeper layer."""
    from nmsim.graph.replicate import PROBE, copied_column, plan
    from nmsim.graph.stacks import stack_specs

    depth = {name: spec[0] for name, spec in stack_specs(cfg).items()}
    params = _full_parameters(probe.param_coef, depth, PROBE)
    if all(n <= PROBE for n in depth.values()):
        return dataclasses.replace(probe, param_coef=params)
    point = {v: SIZE_POINTS.get(v, FIT_POINTS.get(v, (2,)))[-1] for v in probe.variables}
    found = plan(probe.at(config=cfg, **point), cfg)
    if found is None:
        return None
    source, layers, edges, uncounted = found
    static = {c: v if c.startswith("__") else copied_column(c, v, source, layers) for c, v in probe.static.items()}
    dims, layout = _reindexed_dims(probe.dims, probe.dim_layout, source)
    return dataclasses.replace(probe, coef={c: C[:, source] for c, C in probe.coef.items()}, static=static,
                               dims=dims, dim_layout=layout, edges=edges, uncounted=uncounted, param_coef=params)


def _full_parameters(param_coef: dict, depth: dict[str, int], probe: int) -> dict[str, list[int]]:
    """Parameter counts by role of the full model from the probe's (``probe:ROLE``) and each stack's last probe
    layer's (``layer:STACK:ROLE``), as polynomial coefficient lists."""
    out: dict[str, list[int]] = {}
    for name, c in param_coef.items():
        what, *rest = name.split(":")
        if what == "probe":
            role = rest[0]
            out[role] = [a + b for a, b in zip(out.get(role, [0] * len(c)), c)]
    for name, c in param_coef.items():
        what, *rest = name.split(":")
        if what == "layer" and depth.get(rest[0], 0) > probe:
            extra = depth[rest[0]] - probe
            for role in (rest[1], "total"):
                out[role] = [a + extra * b for a, b in zip(out[role], c)]
    return out


# ---- generation (traces: imports torch) ---------------------------------------------------------------
def _split(full: dict, dims_names) -> tuple[dict, dict]:
    return ({k: v for k, v in full.items() if k not in dims_names}, {k: full[k] for k in dims_names})


def _design(cfg, kind: str, fixed: dict, rng: random.Random) -> Design:
    from nmsim.graph.shapes import VARIABLES

    free = tuple(v for v in VARIABLES[kind] if v not in fixed)
    sizes = tuple(sorted(dimensions(cfg)))
    names = (*free, *sizes)
    degrees = [DEGREES[v] for v in free] + [1] * len(sizes)
    exponents = np.array(list(itertools.product(*[range(d + 1) for d in degrees])), dtype=np.int64)
    grid = list(itertools.product(*[FIT_POINTS[v][:DEGREES[v] + 1] for v in free],
                                  *[SIZE_POINTS[s] for s in sizes]))
    shape = {"batch": rng.randint(4, 64), "seq": rng.randint(7, 600), "past": rng.randint(4, 600)}
    check = {s: rng.randint(4, 16 if s == "groups" else 120) for s in sizes}
    if "positions" in check:
        check["positions"] = rng.randint(shape["seq"] + shape["past"] + 1, 2000)
    point = tuple(shape[v] for v in free) + tuple(check[s] for s in sizes)
    return Design(cfg, fixed, names, names, exponents.reshape(len(exponents), len(names)), grid, point)


def _traced(cfg, kind: str, full: dict):
    from nmsim.graph.api import trace_full

    shape, dims = _split(full, dimensions(cfg))
    at = with_dimensions(cfg, dims)
    if kind == "decode":
        return trace_full(at, shape["batch"], 1, shape["past"])
    return trace_full(at, shape["batch"], shape["seq"])


def _parameters(cfg, kind: str, full: dict) -> dict[str, int]:
    """``probe:ROLE`` counts of the probe at these sizes, and ``layer:STACK:ROLE`` of each stack's last layer."""
    import torch

    from nmsim.graph.builder import build_model
    from nmsim.graph.replicate import PROBE, parameter_table

    _, dims = _split(full, dimensions(cfg))
    with torch.device("meta"):
        counts, blocks = parameter_table(build_model(with_dimensions(cfg, dims)))
    out = {f"probe:{role}": int(n) for role, n in counts.items()}
    roles = sorted(counts)
    for (stack, layer), params in sorted(blocks.items()):
        if layer == PROBE - 1:
            for role in roles:
                out[f"layer:{stack}:{role}"] = 0
            for _, shape, role in params:
                out[f"layer:{stack}:{role}"] += int(np.prod(shape))
    return out


def _pruned(sg: ShapeGraph) -> ShapeGraph:
    """``sg`` without the monomials that no number uses."""
    used = np.zeros(len(sg.exponents), dtype=bool)
    for C in (*sg.coef.values(), sg.dims, *(np.asarray(c)[:, None] for c in sg.param_coef.values())):
        if np.size(C):
            used |= (np.asarray(C) != 0).any(axis=1)
    keep = np.flatnonzero(used)
    return dataclasses.replace(sg, exponents=sg.exponents[keep], coef={c: C[keep] for c, C in sg.coef.items()},
                               dims=sg.dims[keep], param_coef={n: [c[i] for i in keep]
                                                               for n, c in sg.param_coef.items()})


def fit_template(cfg, kind: str, fixed: dict, rng: random.Random | None = None) -> ShapeGraph:
    """The template of ``cfg``'s structure for ``kind`` in region ``fixed``, traced and verified (at random sizes
    and shape); :class:`~nmsim.graph.shapes.ShapeFitError` when it is not exact."""
    probe = cfg.replace(**probe_depths(cfg))
    d = _design(probe, kind, fixed, rng or random.Random(0))
    sg, frames, params = fit_design(d, kind, trace_point=_traced, params_at=_parameters)
    sg = _pruned(sg)
    sg.info = {"structure": structure(probe), "kind": kind, "fixed": fixed,
               "verified_at": {**fixed, **{v: x for v, x in zip(d.names, d.check) if v in DEGREES}}}
    verify(sg, frames[-1], dict(zip(d.names, d.check)), params[-1])
    return sg


def regions(cfg) -> list[tuple[str, dict]]:
    kinds = ["forward"] + (["decode"] if cfg.causal and not cfg.is_enc_dec else [])
    return [(kind, fixed) for kind in kinds for fixed in (dict(SINGLE), {})]


def generate(workloads=None, folder: Path = FOLDER, log=print) -> dict[str, dict]:
    """Fit and write the template of every structure, kind and region of ``workloads`` (default: every bundled
    text workload), keeping the files already written (delete the folder to start over), then rewrite the index
    next to them (``index.json``: key -> structure and the bundled workloads it serves). Returns the index."""
    from nmsim.graph.workloads import list_workloads, load_workload

    folder.mkdir(parents=True, exist_ok=True)
    bundled = [load_workload(n) for n in list_workloads()]
    configs = [load_workload(n) for n in workloads] if workloads else bundled
    todo = [(cfg, kind, fixed) for cfg in configs if dimensions(cfg) is not None for kind, fixed in regions(cfg)]
    todo.sort(key=lambda item: (item[1] != "forward", not item[2]))   # the first questions first: prefill at batch 1
    for cfg, kind, fixed in todo:
        key = template_key(cfg, kind, fixed)
        if not (folder / f"{key}.npz").is_file():
            try:
                sg = fit_template(cfg, kind, fixed)
            except (ShapeFitError, UserError) as exc:
                log(f"{cfg.name} {kind} {fixed}: no template ({exc})")
                continue
            np.savez_compressed(folder / f"{key}.npz", **sg.to_arrays())
            log(f"{cfg.name} {kind} {fixed}: {key} ({len(sg.exponents)} monomials, {sg.n_ops} ops)")
    index: dict[str, dict] = {}
    for cfg in bundled:
        for kind, fixed in regions(cfg) if dimensions(cfg) is not None else ():
            key = template_key(cfg, kind, fixed)
            if (folder / f"{key}.npz").is_file():
                entry = index.setdefault(key, {"kind": kind, "fixed": fixed, **structure(cfg), "workloads": []})
                entry["workloads"].append(cfg.name)
    (folder / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True, default=str) + "\n")
    return index


if __name__ == "__main__":
    import sys

    generate(sys.argv[1:] or None)
