"""Pricing shapes × accelerators × plans × modes in one call, on shape-generic graphs.

The per-pass GEMM table (:func:`nmsim.execution.table.gemm_table`) and the vector table of a workload are built
the usual way at the shape-generic graph's fit points, and each numeric column (GEMM b/m/k/n, nominal FLOPs,
weight/bias/activation/score elements, epilogue FLOPs; vector FLOPs and bytes) is solved for as an exact
integer polynomial of the shape variables, checked at a further shape (the same machinery as
:mod:`nmsim.graph.shapes`). Rows that are the same polynomial with the same kind, role, pass and plan patterns
(the 32 identical layers of a Llama, ...) are priced once with a multiplicity. Pricing S shapes is then
``(S, T) @ (T, rows)`` per column and one call of the spec's execution model on (S, plans, rows) arrays —
the models are element-wise by contract — so a batch sweep costs about as much as one shape.

This module is the one place where the shape axis meets the pricing core (``nmsim.cost.pricing``, the
execution models); its numbers equal :func:`nmsim.cost.price` on a graph traced at each shape (tests check).
Shapes outside the shape-generic domain (``seq`` 1 in a forward pass) are priced by tracing them.
"""
from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd

from nmsim.cost.step import TOTAL_COLUMNS, assemble, representative_rows, runs_of, step_kernel, vector_sums
from nmsim.errors import UserError
from nmsim.execution import VectorTable, model_for
from nmsim.execution.base import BOUNDS
from nmsim.execution.table import MATRIX_KINDS, gemm_table, sparse_operands, vector_table

GEMM_COLUMNS = ("b", "m", "k", "n", "nominal_flops", "weight_elems", "bias_elems", "act_elems", "score_elems")
AXES = ("batch", "seq", "context", "image_size")


# ---- polynomial tables --------------------------------------------------------------------------------------
class _ShapeTables:
    """GEMM and vector tables of one shape-generic graph and mode as polynomials (rows deduplicated later)."""

    def __init__(self, sg, cfg, mode: str, dgrad_sparse):
        from nmsim.cost.pricing import epilogue_flops

        self.sg, self.cfg, self.mode, self.dgrad_sparse = sg, cfg, mode, dgrad_sparse
        self.points = [*sg.info["fit_points"], sg.info["verified_at"]]
        self.graphs = [sg.at(config=cfg, **p) for p in self.points]
        tables = [gemm_table(g, None, mode, dgrad_sparse=dgrad_sparse) for g in self.graphs]
        t0 = tables[0]
        for t in tables[1:]:
            if not _same_rows(t.frame, t0.frame):
                raise UserError(f"{cfg.name}: the GEMM table's rows change with shape", "shapes")
        self.base = t0
        self.patterns = list(t0.patterns)   # grows as plans are resolved
        mops = [g.ops[g.ops["kind"].isin(MATRIX_KINDS)] for g in self.graphs]
        self.mops = mops[0]
        cols = {c: [getattr(t, c) for t in tables] for c in GEMM_COLUMNS}
        cols["epilogue_flops"] = [epilogue_flops(m, t) for m, t in zip(mops, tables)]
        self.gemm = {c: self._fit(v, c) for c, v in cols.items()}
        self.vectors: dict = {}
        self.codes: dict = {}
        self.layouts: dict = {}
        self.steps: dict = {}
        self.params = None

    def _fit(self, values: list, what: str) -> np.ndarray:
        """Exact integer polynomial coefficients (T, rows) of per-point ``values``, checked at the last point."""
        from nmsim.graph.shapes import ShapeFitError, solve_exact

        sg = self.sg
        X = sg.monomials(sg.points({v: [p[v] for p in self.points] for v in sg.variables}))
        Y = np.stack([np.asarray(v, dtype=float) for v in values])
        C = solve_exact(X[:-1], Y[:-1], f"{self.cfg.name} {what}")
        if not np.array_equal(X[-1] @ C, Y[-1]):
            raise ShapeFitError(f"{self.cfg.name}: {what} is not exact at {self.points[-1]}")
        return C

    def vector(self, fusion, copies: bool) -> dict:
        """Vector-table polynomials at 4-byte elements (scaled to the dtype when priced)."""
        key = (fusion, copies)
        hit = self.vectors.get(key)
        if hit is None:
            vts = [vector_table(g, self.mode, 4.0, fusion, copies=copies) for g in self.graphs]
            for vt in vts[1:]:
                if not (np.array_equal(vt.fused, vts[0].fused) and _same_rows(vt.frame, vts[0].frame)):
                    raise UserError(f"{self.cfg.name}: the vector table changes with shape", "shapes")
            hit = {"fused": vts[0].fused, "frame": vts[0].frame,
                   **{c: self._fit([getattr(vt, c) for vt in vts], f"vector {c}")
                      for c in ("flops", "bytes", "fused_bytes")}}
            f0 = vts[0].frame.to_pandas()
            ident = pd.factorize(f0["kind"].astype(str) + "|" + f0["role"].astype(str) + "|"
                                 + f0["pass"].astype(str) + "|"
                                 + f0["kernel_share"].astype(str))[0]  # launches per row (gpu model)
            hit["all_frame"] = hit["frame"]
            hit["unique"], hit["mult"], hit["inverse"] = _dedup(
                np.concatenate([hit[c] for c in ("flops", "bytes", "fused_bytes")]), [hit["fused"].astype(np.int64), ident])
            u = hit["unique"]
            hit.update(frame=hit["frame"].take(u), fused=hit["fused"][u],
                       **{c: np.ascontiguousarray(hit[c][:, u]) for c in ("flops", "bytes", "fused_bytes")})
            self.vectors[key] = hit
        return hit

    def layout(self, plan_keys: tuple) -> dict:
        """Deduplicated rows for these plans: a GemmTable skeleton (patterns, operands, pass codes) with
        multiplicities, the coefficient columns of the unique rows and the representative rows for ``kernel``."""
        hit = self.layouts.get(plan_keys)
        if hit is not None:
            return hit
        base = self.base
        is_w = base.weight_elems > 0
        row_codes = np.stack([np.where(is_w, self.codes[k][base.op_pos], 0) for k in plan_keys])  # (Q, rows)
        cols = (*GEMM_COLUMNS, "epilogue_flops")
        f0 = base.frame.to_pandas()
        ident = pd.factorize(f0["kind"].astype(str) + "|" + f0["role"].astype(str))[0]
        uniq, mult, inverse = _dedup(np.concatenate([self.gemm[c] for c in cols]),
                            [ident, base.pass_codes.astype(np.int64), *row_codes])
        codes_u, pass_u = row_codes[:, uniq], base.pass_codes[uniq]
        operand = sparse_operands(codes_u, self.patterns, pass_u, is_w[uniq], self.dgrad_sparse)
        table = base.replace(frame=base.frame.take(uniq), pattern=codes_u[None],
                             sparse_operand=operand[None], op_pos=base.op_pos[uniq], pass_codes=pass_u,
                             patterns=tuple(self.patterns), **{c: getattr(base, c)[uniq] for c in GEMM_COLUMNS})
        size = self.sg.monomials(self.sg.points(self.sg.default_shape()))[0] @ self.gemm["nominal_flops"][:, uniq]
        rep = representative_rows((pass_u == 0) & is_w[uniq], size)
        hit = self.layouts[plan_keys] = {"coef": {c: np.ascontiguousarray(self.gemm[c][:, uniq]) for c in cols},
                                         "codes": codes_u, "pass": pass_u, "mult": mult, "rep": rep,
                                         "inverse": inverse,
                                         "table": table}
        return hit

    def step_frame(self, names: list) -> pd.DataFrame:
        key = tuple(names)
        if key not in self.steps:
            self.steps[key] = pd.DataFrame({"id": -1, "module": names, "role": names, "layer": -1, "kind": "update",
                                            "pass": "step"})
        return self.steps[key]

    def parameter_totals(self, X: np.ndarray) -> np.ndarray:
        """Total parameters per shape (the optimizer step of training)."""
        coef = np.asarray(self.sg.param_coef["total"], dtype=float)
        return X @ coef


def _dedup(coef: np.ndarray, keys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(representative column of each unique row, multiplicity, each row's unique row) over polynomial
    coefficients and int keys."""
    sig = np.concatenate([coef, *[np.asarray(k, dtype=float)[None, :] for k in keys]], axis=0).T
    _, first, inverse = np.unique(sig, axis=0, return_index=True, return_inverse=True)
    mult = np.bincount(inverse.reshape(-1), minlength=len(first)).astype(float)
    return first, mult, inverse.reshape(-1)


def _same_rows(a, b) -> bool:
    """Whether two tables hold the same (op id, pass) rows in the same order."""
    return all(len(a) == len(b) and np.array_equal(np.asarray(a[c]), np.asarray(b[c])) for c in ("id", "pass"))


def runs_mult(frame, mult: np.ndarray, inverse: np.ndarray, recompute) -> np.ndarray:
    """Multiplicities of the unique rows counting the times a step runs each row (training's ``recompute``,
    :func:`~nmsim.cost.step.runs_of` on the rows before deduplication)."""
    runs = runs_of(frame, recompute)
    return mult if runs is None else np.bincount(inverse, weights=runs, minlength=len(mult))


# ---- public ---------------------------------------------------------------------------------------------------
_TABLES: dict = {}


def _tables(sg, cfg, mode: str, dgrad_sparse) -> _ShapeTables:
    key = (id(sg), cfg, mode, dgrad_sparse)
    hit = _TABLES.get(key)
    if hit is None or hit.sg is not sg:
        hit = _TABLES[key] = _ShapeTables(sg, cfg, mode, dgrad_sparse)
    return hit


def axis_values(cfg, shapes: dict | None) -> dict[str, list[int]]:
    """Each axis's values (defaults: the workload's batch, seq_len as seq and context, image_size)."""
    shapes = dict(shapes or {})
    for name in shapes:
        if name not in AXES:
            raise UserError(f"unknown shape axis {name!r} (known: {', '.join(AXES)})", "shapes")
    out = {}
    for name, default in (("batch", cfg.batch), ("seq", cfg.seq_len), ("context", cfg.seq_len),
                          ("image_size", cfg.image_size)):
        vals = shapes.get(name)
        vals = [default] if vals is None else [int(v) for v in np.atleast_1d(vals)]
        if shapes.get(name) is not None and (not vals or any(v < 1 for v in vals)):
            raise UserError(f"must be positive integers, got {min(vals)}", f"--{name.replace('_', '-')}")
        out[name] = vals
    if cfg.is_image and shapes.get("seq") is not None:
        raise UserError(f"{cfg.name} is an image model: its tokens come from image_size/patch_size", "--seq")
    if not cfg.is_image and shapes.get("image_size") is not None:
        raise UserError(f"{cfg.name} is a text model", "--image-size")
    return out


def mode_points(cfg, mode: str, axes: dict, seq_given: bool) -> dict[str, np.ndarray]:
    """The points a mode is priced at, as arrays: batch × seq (or × context for decode, × image_size)."""
    if cfg.is_image:
        names, lists = ("batch", "image_size"), (axes["batch"], axes["image_size"])
    elif mode == "decode":
        names, lists = ("batch", "seq", "context"), (axes["batch"], [1], axes["context"])
    else:
        seqs = axes["seq"] if (seq_given or mode != "prefill") else axes["context"]
        names, lists = ("batch", "seq", "context"), (axes["batch"], seqs, [0])
    grid = np.array(list(itertools.product(*lists)), dtype=np.int64).reshape(-1, len(names))
    return {k: grid[:, i] for i, k in enumerate(names)}


def price_shapes(workload, configs, modes="prefill", shapes: dict | None = None, *,
                 dgrad_sparse: bool | None = None, fuse_copies: bool = True, weight_dtype: str | None = None,
                 fusion=None, kernel: str | None = None, build: bool = True, cuda_graphs: bool = True,
                 recompute=None, precision: str | None = None, dropout: bool = False) -> pd.DataFrame:
    """Totals for every (mode, shape, config): ``configs`` = ``(plan, hw, dtype)`` tuples as for ``price_many``;
    ``shapes`` = ``{"batch": [...], "seq": [...], "context": [...], "image_size": [...]}`` (product per mode:
    decode uses batch × context, the other modes batch × seq, prefill batch × context when no seq is given;
    vision models batch × image_size). One row per (mode, shape, config) with the mode, the shape columns and
    the columns of :func:`nmsim.cost.price_many` (text columns as categoricals: a sweep of 10⁶ rows holds no
    Python strings)."""
    from nmsim.cost.pricing import check_mode, check_recompute
    from nmsim.graph import load_workload

    if isinstance(workload, str):
        cfg = load_workload(workload)
    else:  # a ModelConfig, or a traced graph of one (its shape is then swept)
        cfg = getattr(workload, "config", None) if hasattr(workload, "ops") else workload
        if cfg is None:
            raise UserError("a shape sweep needs a workload (name, ModelConfig or a graph traced from one)", "shapes")
    modes = [modes] if isinstance(modes, str) else list(modes)
    for mode in modes:
        check_mode(cfg, mode)
        check_recompute(recompute, mode)
    if dropout:   # its 1-byte masks do not scale with the dtype as the sweep's 4-byte vector polynomials do
        raise UserError("dropout is priced one shape at a time, not over a shape sweep", "--dropout")
    axes = axis_values(cfg, shapes)
    seq_given = bool(shapes and shapes.get("seq") is not None)
    configs = list(configs)
    opts = dict(dgrad_sparse=dgrad_sparse, fuse_copies=fuse_copies, weight_dtype=weight_dtype, fusion=fusion,
                kernel=kernel, cuda_graphs=cuda_graphs, recompute=recompute)
    swept = []
    for mode in modes:
        points = mode_points(cfg, mode, axes, seq_given)
        # the largest shape the model must take (learned position tables, size limits): limits are upper bounds
        cfg.check_shape(int(points["batch"].max()), None if cfg.is_image else int(points["seq"].max()),
                        int(points["context"].max()) if mode == "decode" else 0)
        swept.append((mode, points))
    out = _Sink(sum(len(p["batch"]) for _, p in swept) * len(configs), modes, list(swept[0][1]), configs)
    start = 0
    for mode, points in swept:
        n_points = len(points["batch"])
        rows = np.arange(start, start + n_points * len(configs)).reshape(n_points, len(configs))
        _price_mode(cfg, mode, points, configs, opts, build, out, rows)
        start += rows.size
    df = out.frame()
    df["mem_gib"], df["fits"] = _memory(cfg, df, configs, weight_dtype=weight_dtype, fusion=fusion,
                                        recompute=recompute, precision=precision)
    return df


def _memory(cfg, df: pd.DataFrame, configs: list, *, weight_dtype, fusion, recompute, precision):
    """Each row's step memory (GiB) and whether it fits its device (:func:`nmsim.memory.step_memory`, the
    footprint of ``price --memory``); the weights at rest come from the model at batch 2 (the smallest batch the
    shape-generic graph covers, so a cached sweep stays torch-free; weights do not depend on the shape)."""
    from nmsim.cost.pricing import default_dtype, hardware_spec, trace_for_mode
    from nmsim.memory import GIB, step_memory
    from nmsim.graph.shapes import LOWEST
    from nmsim.memory.footprint import flash_for, recompute_code
    graph = trace_for_mode(cfg, "inference", LOWEST["batch"], None if cfg.is_image else max(min(cfg.seq_len, 8),
                                                                                               LOWEST["seq"]))
    gib, fits = np.zeros(len(df)), np.zeros(len(df), dtype=bool)
    # integer views of the shape columns, read per (config, mode) only: no float or string copy of 10⁶ rows
    shape = {k: df[k].to_numpy() for k in ("batch", "image_size" if cfg.is_image else "seq", "context")
             if k in df}
    config, mode_codes = df["config"].to_numpy(), df["mode"].cat.codes.to_numpy()
    modes = list(df["mode"].cat.categories)
    for c, (plan, hw, dtype) in enumerate(configs):
        hw = hardware_spec(hw)
        dt = default_dtype(hw, dtype)
        w = _weights(graph, plan, hw, dt, weight_dtype)
        at_config = config == c
        for m, mode in enumerate(modes):
            rows = np.flatnonzero(at_config & (mode_codes == m) if len(modes) > 1 else at_config)
            if not len(rows):
                continue
            batch = shape["batch"][rows].astype(float)
            if cfg.is_image:
                seq = context = (shape["image_size"][rows] // cfg.patch_size) ** 2 + int(cfg.class_token)
            else:
                seq, context = shape["seq"][rows].astype(float), shape["context"][rows].astype(float)
            tot = step_memory(cfg, mode, batch, seq, context, w, hw, dt,
                              flash=flash_for(hw, fusion), recompute=recompute_code(recompute), precision=precision,
                              weight_dtype=weight_dtype)["total"]
            gib[rows] = tot / GIB
            fits[rows] = gib[rows] <= hw.main_memory.capacity_gib
    return gib, fits


_WEIGHTS: dict = {}


def _weights(graph, plan, hw, dtype: str, weight_dtype):
    """:func:`nmsim.memory.weights_at_rest`, once per (graph, plan, spec, dtypes): a warm sweep of one model
    asks the same question every call (the graph and spec objects are cached, so their identity is the key)."""
    from nmsim.memory import weights_at_rest

    try:
        key = (id(graph), plan, id(hw), dtype, weight_dtype)
        hit = _WEIGHTS.get(key)
    except TypeError:   # an unhashable plan (a pattern Series): priced each time
        return weights_at_rest(graph, plan, hw, dtype, weight_dtype)
    if hit is None or hit[0] is not graph or hit[1] is not hw:
        if len(_WEIGHTS) >= 64:   # it holds its graphs: a few models at most
            _WEIGHTS.clear()
        hit = _WEIGHTS[key] = (graph, hw, weights_at_rest(graph, plan, hw, dtype, weight_dtype))
    return hit[2]


class _Sink:
    """A sweep's output columns, filled in place: numbers as arrays, text as integer codes (one list of names
    per column) turned into categoricals at the end."""

    def __init__(self, n_rows: int, modes: list, point_names: list, configs: list):
        from nmsim.cost.pricing import default_dtype, hardware_spec, plan_label

        self.n_configs = len(configs)
        self.modes = modes
        self.points = {k: np.empty(n_rows, dtype=np.int64) for k in point_names}
        self.mode = np.empty(n_rows, dtype=np.int8)
        self.numbers = {c: np.empty(n_rows) for c in NUMBER_COLUMNS}
        self.bound = np.empty(n_rows, dtype=np.int8)
        self.kernel = np.empty(n_rows, dtype=np.int32)
        self.kernel_names: dict[str, int] = {}
        hws = [hardware_spec(c[1]) for c in configs]
        labels: dict = {}
        for plan, _, _ in configs:
            key = plan if not isinstance(plan, pd.Series) else ("series", id(plan))
            if key not in labels:
                labels[key] = plan_label(plan)
        self.per_config = {
            "plan": [labels[p if not isinstance(p, pd.Series) else ("series", id(p))] for p, _, _ in configs],
            "hardware": [h.name for h in hws],
            "dtype": [default_dtype(h, c[2]) for h, c in zip(hws, configs)]}

    def kernel_codes(self, names) -> np.ndarray:
        """Codes of kernel ``names`` in this sweep's kernel column (new names are added)."""
        return np.array([self.kernel_names.setdefault(str(k), len(self.kernel_names)) for k in names], np.int32)

    def put_shapes(self, rows: np.ndarray, mode: str, points: dict) -> None:
        """The mode, shape and config columns of ``rows`` (S, configs), one shape per row of ``rows``."""
        self.mode[rows] = self.modes.index(mode)
        for k, a in points.items():
            self.points[k][rows] = a[:, None]

    def frame(self) -> pd.DataFrame:
        from nmsim.cost.pricing import categorical

        n_rows = len(self.mode)
        config = np.tile(np.arange(self.n_configs), n_rows // max(self.n_configs, 1))
        cols = {"mode": categorical(self.mode, self.modes), **self.points, "config": config,
                **{c: categorical(config, v) for c, v in self.per_config.items()},
                **self.numbers, "bound": categorical(self.bound, BOUNDS),
                "kernel": categorical(self.kernel, list(self.kernel_names))}
        return pd.DataFrame(cols, copy=False)


def _price_mode(cfg, mode: str, points: dict, configs: list, opts: dict, build: bool, out: _Sink,
                rows: np.ndarray) -> None:
    """Price one mode's points into ``out`` at ``rows`` ((points, configs) row numbers)."""
    from nmsim.graph.shapes import LOWEST, SINGLE, ShapeFitError, kind_for, shape_generic, shape_graph

    kind = kind_for(cfg, past=1 if mode == "decode" else 0)
    var, inner = {"forward": ("seq", "seq"), "decode": ("context", "past"), "image": ("image_size", "grid")}[kind]
    S = len(points["batch"])
    b, v = points["batch"], points[var]
    if kind == "image":
        p = cfg.patch_size
        ok_var = (v % p == 0) & (v // p >= LOWEST["grid"])
    else:
        ok_var = v >= LOWEST[inner]
    single = b == SINGLE["batch"]
    out.put_shapes(rows, mode, points)
    for fixed, mask in (({"batch": 1}, single), ({}, ~single)):
        if not mask.any():
            continue
        sg = None
        if (mask & ok_var).any() and shape_generic(cfg):
            try:
                sg = shape_graph(cfg, kind, fixed, build=build)
            except ShapeFitError as exc:   # sizes that are no polynomial of the shape: trace each (as graph_at)
                warnings.warn(f"nmsim: tracing every shape of {cfg.name}: {exc}", stacklevel=2)
        inside = mask & ok_var if sg is not None else np.zeros(S, bool)
        if inside.any():
            idx = np.flatnonzero(inside)
            shape = {"batch": b[idx], ("past" if kind == "decode" else var): v[idx]}
            _price_region(sg, cfg, mode, shape, configs, opts, out, rows[idx])
        outside = np.flatnonzero(mask & ~inside)
        if len(outside):
            _price_traced(cfg, mode, {k: a[outside] for k, a in points.items()}, configs, opts, out, rows[outside])


def _price_traced(cfg, mode: str, points: dict, configs: list, opts: dict, out: _Sink, rows: np.ndarray) -> None:
    """Shapes outside the shape-generic domain: one trace each, priced by price_many."""
    from nmsim.cost.pricing import price_many, trace_for_mode

    for i in range(len(points["batch"])):
        b = int(points["batch"][i])
        if cfg.is_image:
            graph = trace_for_mode(cfg.replace(image_size=int(points["image_size"][i])), mode, b)
        elif mode == "decode":
            graph = trace_for_mode(cfg, mode, b, None, int(points["context"][i]))
        else:
            graph = trace_for_mode(cfg, mode, b, int(points["seq"][i]))
        df = price_many(graph, configs, mode, **opts)
        for c in NUMBER_COLUMNS:
            out.numbers[c][rows[i]] = df[c].to_numpy()
        out.bound[rows[i]] = np.asarray([BOUNDS.index(x) for x in df["bound"]])
        out.kernel[rows[i]] = out.kernel_codes(df["kernel"])


NUMBER_COLUMNS = TOTAL_COLUMNS[:-1]
#: elements of the execution model's (shapes, plans, rows) arrays priced at once: bounds a sweep's working memory
CHUNK_ELEMENTS = 1 << 16


def _price_region(sg, cfg, mode: str, shape: dict, configs: list, opts: dict, out: _Sink, rows: np.ndarray) -> None:
    """Every config at every shape of one shape-generic region, into ``out`` at ``rows`` (shapes, configs):
    GEMMs evaluated from the polynomials and priced per (hardware, dtype) group, then the vector ops (and
    training's optimizer step), a block of shapes at a time (:data:`CHUNK_ELEMENTS` per model array)."""
    from nmsim.cost.pricing import context, default_dtype, forward_step, hardware_spec

    T = _tables(sg, cfg, mode, opts["dgrad_sparse"])
    X_all = sg.monomials(sg.points(shape))                     # (S, T)
    plans, plan_index = _plan_codes(T, configs)
    L = T.layout(tuple(plan_index))
    hws = [hardware_spec(c[1]) for c in configs]
    groups: dict = {}
    for i, hw in enumerate(hws):
        dt = default_dtype(hw, configs[i][2])
        groups.setdefault((id(hw), dt), (hw, dt, []))[2].append(i)
    priced = []
    for hw, dt, idx in groups.values():
        ctx = context(hw, dt, weight_dtype=opts["weight_dtype"], fusion=opts["fusion"], kernel=opts["kernel"],
                      dgrad_sparse=opts["dgrad_sparse"], cuda_graphs=opts["cuda_graphs"], step=forward_step(mode))
        priced.append((model_for(hw), ctx, idx, np.array([plans[i] for i in idx])))
    mult, fwd, rep = L["mult"], L["pass"] == 0, L["rep"]
    runs = runs_mult(T.base.frame, mult, L["inverse"], opts["recompute"] if mode == "training" else None)
    # whole blocks of 64 shapes: BLAS sums a matrix's last rows in another order, so the blocks' edges must not
    # move with the chunk (a shape's numbers do not depend on how many shapes a sweep holds)
    step = max(1, CHUNK_ELEMENTS // max(len(plan_index) * len(mult), 1) // 64) * 64
    for lo in range(0, len(X_all), step):
        X = X_all[lo:lo + step]
        ev = {c: X @ L["coef"][c] for c in L["coef"]}                              # (S, U)
        table = L["table"].replace(**{c: ev[c][:, None, :] for c in GEMM_COLUMNS})
        nominal, epilogue = (ev["nominal_flops"] @ mult)[:, None], (ev["epilogue_flops"] @ runs)[:, None]
        params = T.parameter_totals(X) if mode == "training" else None
        at = rows[lo:lo + step]
        for model, ctx, idx, q in priced:
            if not np.all(model.supports(table, ctx)):
                raise UserError(f"execution model {model.name!r} of {ctx.hw.name} cannot run {ctx.dtype} GEMMs",
                                "--dtype")
            r = model.price(table, ctx)
            per_config = lambda a: np.broadcast_to(a, r.seconds.shape)[:, q, :] @ runs   # noqa: E731  (S, configs)
            vec = {k: v[:, None] for k, v in vector_sums(_vector_parts(T, model, ctx, X, params, opts, mode)).items()}
            t = assemble(r, fwd, vec, nominal=nominal, epilogue=epilogue, reduce=per_config)
            for c in NUMBER_COLUMNS:
                out.numbers[c][at[:, idx]] = t[c]
            out.bound[at[:, idx]] = t["bound"]
            kc = np.broadcast_to(r.kernel, r.seconds.shape)[:, q][:, :, rep]          # (S, configs, R)
            kernels = step_kernel(kc, np.broadcast_to(L["codes"][q][:, rep] > 0, kc.shape))
            out.kernel[at[:, idx]] = out.kernel_codes(r.kernel_names)[kernels]


def _plan_codes(T, configs: list) -> tuple[list, list]:
    """(each config's index into the distinct plans, the distinct plan keys); pattern codes per op are resolved
    once per plan on a materialised graph and kept in ``T.codes``."""
    from nmsim.execution.table import pattern_codes

    from nmsim.cost.pricing import resolve_plan

    plans, plan_index = [], []
    for plan, _, _ in configs:
        key = plan if not isinstance(plan, pd.Series) else ("series", id(plan))
        if key not in T.codes:
            T.codes[key] = pattern_codes(resolve_plan(plan, T.mops), T.mops.index, T.patterns)
        if key not in plan_index:
            plan_index.append(key)
        plans.append(plan_index.index(key))
    return plans, plan_index


def _vector_parts(T, model, ctx, X: np.ndarray, params, opts: dict, mode: str) -> list:
    """The vector ops per shape (plan-independent, rows priced once with their multiplicity), plus training's
    optimizer step (``params``: parameter totals per shape), for :func:`~nmsim.cost.step.vector_sums`."""
    V = T.vector(ctx.fusion, not opts["fuse_copies"])
    scale = _dtype_scale(ctx.dtype)
    vt = VectorTable(V["frame"], X @ V["flops"], (X @ V["bytes"]) * scale, V["fused"],
                     (X @ V["fused_bytes"]) * scale)
    runs = runs_mult(V["all_frame"], V["mult"], V["inverse"], opts["recompute"] if mode == "training" else None)
    parts = [(model.price_vector(vt, ctx), lambda a: a @ runs)]
    if params is not None:
        parts.append((_optimizer_step(T, model, ctx, params, len(X)), lambda a: a.sum(axis=1)))
    return parts


def _optimizer_step(T, model, ctx, params: np.ndarray, S: int) -> dict:
    """The optimizer step's vector prices per shape, priced once per distinct parameter count (fp32)."""
    from nmsim.cost.pricing import fp32_context, training_extras

    values, inverse = np.unique(params, return_inverse=True)
    ex = [training_extras(float(p)) for p in values]
    names_x = list(ex[0])
    flops_x = np.array([[e[k][0] for k in names_x] for e in ex], float)[inverse.reshape(-1)]
    bytes_x = np.array([[e[k][1] for k in names_x] for e in ex], float)[inverse.reshape(-1)]
    st = VectorTable(T.step_frame(names_x), flops_x, bytes_x, np.zeros(len(names_x), bool),
                     np.zeros((S, len(names_x))))
    return model.price_vector(st, fp32_context(ctx))


def _dtype_scale(dtype: str) -> float:
    from nmsim.sparsity.metadata import dtype_bytes

    return dtype_bytes(dtype) / 4.0
