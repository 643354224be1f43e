"""Shape-generic op graphs: trace a workload a few times, keep every size as an exact polynomial of its shape.

Every number the tracer records per op (GEMM dims, element counts, bytes, FLOPs, tensor shapes) is an integer
polynomial of the shape variables, of low degree: ``batch`` (degree 1) and ``seq`` (degree 2: attention
logits) for a forward pass; ``batch`` and ``past`` (the KV-cache length, degree 2 allowed) for single-token
decode; ``batch`` and the patch grid side ``image_size / patch_size`` (degree 4: attention over grid² tokens)
for vision. :func:`fit` traces the model at the tensor grid of points these degrees need (6 or 10 traces;
3 or 5 with the batch held; all on the meta device), solves for integer coefficients, and checks them on a
further trace at a random shape. It refuses (:class:`ShapeFitError`) when the op set changes between shapes or a
column is not an exact integer polynomial of that degree. Evaluating at S shapes is then one
``(S, T) @ (T, ops)`` product per column (T monomials), exact while values stay below 2^53.

Regions: a batch of one is fitted on its own (``fixed={"batch": 1}``): eager batched matmuls skip their
contiguous copies at batch 1, so the ops differ. Domains: ``batch >= 2`` (or = 1), ``seq >= 2`` (a causal
model masks only when more than one query attends), ``past >= 1`` with one new token, a grid side ``>= 2``.
Shapes outside are traced as before.

:func:`graph_at` is what :func:`nmsim.graph.trace_workload` asks first: with the cache mode ``"read"`` (the
library default) it answers from a shape-generic graph already in memory or in the trace cache
(:mod:`nmsim.graph.cache`); with ``"build"`` (the pricing commands of the CLI) it stores one when missing, from
the structure's shipped template (:mod:`nmsim.graph.templates`: no torch) or else fitted; ``"off"`` never.
This module does not import torch; only fitting does.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import random
import warnings
from dataclasses import dataclass, field

import numpy as np

from nmsim.errors import UserError

KINDS = ("forward", "decode", "image")
VARIABLES = {"forward": ("batch", "seq"), "decode": ("batch", "past"), "image": ("batch", "image_size")}
DEGREES = {"batch": 1, "seq": 2, "past": 2, "grid": 4}
LOWEST = {"batch": 2, "seq": 2, "past": 1, "grid": 2}
# batch 1 is a region of its own: eager matmuls over a batch of one skip the contiguous copies they make
# for larger batches, so the op set differs. Fit points per variable (image: grid sides); the verification
# trace draws from further out.
SINGLE = {"batch": 1}
FIT_POINTS = {"batch": (2, 3), "seq": (2, 3, 4), "past": (1, 2, 3), "grid": (2, 3, 4, 5, 6)}
NUMERIC = ("gemm_b", "gemm_m", "gemm_k", "gemm_n", "in_numel", "out_numel", "weight_numel", "bytes_read",
           "bytes_written", "fwd_flops", "dgrad_flops", "wgrad_flops", "vector_flops", "bwd_vector_flops")
FLOAT_COLUMNS = ("fwd_flops", "dgrad_flops", "wgrad_flops", "vector_flops", "bwd_vector_flops")
SHAPE_COLUMNS = ("in_shapes", "out_shape", "weight_shape")
EXACT_LIMIT = 2.0 ** 53


class ShapeFitError(RuntimeError):
    """The workload's sizes are not exact integer polynomials of its shape variables (or its ops change)."""


def kind_for(cfg, past: int = 0) -> str:
    if cfg.is_image:
        return "image"
    return "decode" if past else "forward"


# ---- the shape-generic graph --------------------------------------------------------------------------
@dataclass
class ShapeGraph:
    """Ops whose sizes are polynomials of ``variables``; ``coef[column]`` is (T, ops) over ``exponents`` (T, V).

    ``static`` holds the shape-independent columns (op, kind, role, module, layer, flags, ...) as lists;
    shape tuples are flattened into ``dims`` (T, D) with ``dim_layout`` [(column, op, length), ...].
    """
    kind: str
    variables: tuple[str, ...]      # free variables (the kind's variables less the fixed ones)
    fixed: dict[str, int]           # {"batch": 1} for the single-batch region, else {}
    exponents: np.ndarray
    coef: dict[str, np.ndarray]
    static: dict[str, list]
    columns: list[str]
    dims: np.ndarray
    dim_layout: list            # [(column, op, length), ...] (lists when loaded)
    edges: list[tuple[int, int]]
    uncounted: dict[str, int]
    param_coef: dict[str, list[int]]
    patch_size: int = 0
    info: dict = field(default_factory=dict)

    @property
    def n_ops(self) -> int:
        return len(self.static["op"])

    # ---- shapes -> internal variable values ------------------------------------------------------
    def points(self, shapes: dict) -> np.ndarray:
        """(S, V) integer array of internal variable values (image_size -> grid side) from ``{var: array}``."""
        cols = []
        for var, value in self.fixed.items():
            if var in shapes and (np.asarray(shapes[var]) != value).any():
                raise UserError(f"this shape-generic graph is for {var} = {value}", var)
        for var in self.variables:
            if var not in shapes:
                raise UserError(f"missing shape variable {var!r} (this graph has {', '.join(self.variables)})",
                                "shapes")
            v = np.asarray(shapes[var], dtype=np.int64).reshape(-1)
            if var == "image_size":
                if (v % self.patch_size).any():
                    raise UserError(f"image_size must be a multiple of the patch size {self.patch_size}",
                                    "--image-size")
                v = v // self.patch_size
            lo = LOWEST.get("grid" if var == "image_size" else var, 1)   # a model size (templates): checked there
            if (v < lo).any():
                what = f"{lo * self.patch_size} (grid {lo})" if var == "image_size" else str(lo)
                raise UserError(f"the shape-generic graph covers {var} >= {what}; got {int(v.min())}", var)
            cols.append(v)
        sizes = {len(c) for c in cols}
        if len(sizes) > 1:
            raise UserError("shape arrays must have one length", "shapes")
        return np.stack(cols, axis=1) if cols else np.zeros((1, 0), dtype=np.int64)

    def monomials(self, points: np.ndarray) -> np.ndarray:
        """(S, T) float64 monomial values."""
        x = np.asarray(points, dtype=float)
        return np.prod(x[:, None, :] ** self.exponents[None, :, :], axis=2)

    def evaluate(self, shapes: dict, columns=NUMERIC, rows=None) -> dict[str, np.ndarray]:
        """``{column: (S, ops)}`` at the S shapes (``rows``: a subset of op positions). Pure numpy."""
        X = self.monomials(self.points(shapes))
        out = {}
        for col in columns:
            C = self.coef[col] if rows is None else self.coef[col][:, rows]
            out[col] = X @ C
        return out

    def parameter_counts(self, shape: dict | None = None) -> dict[str, int]:
        pt = self.points(shape or self.default_shape())
        X = self.monomials(pt)[0]
        return {k: int(round(float(X @ np.asarray(v, dtype=float)))) for k, v in self.param_coef.items()}

    def default_shape(self) -> dict:
        return {v: [self.info["verified_at"][v]] for v in self.variables}

    def covers(self, shape: dict) -> bool:
        """Whether the scalar ``shape`` lies in this graph's region."""
        if any(shape.get(k) != v for k, v in self.fixed.items()):
            return False
        for var in self.variables:
            v = shape.get(var)
            if var == "image_size":
                if v is None or v % self.patch_size or v // self.patch_size < LOWEST["grid"]:
                    return False
            elif v is None or v < LOWEST[var]:
                return False
        return True

    @property
    def region(self) -> str:
        free = ", ".join(f"{v} >= {LOWEST['grid'] * self.patch_size if v == 'image_size' else LOWEST[v]}"
                         for v in self.variables)
        return ", ".join([*(f"{k} = {v}" for k, v in self.fixed.items()), *([free] if free else [])])

    # ---- materialise one shape as an OpGraph (same frame a fresh trace gives) ----------------------
    def at(self, config=None, **shape) -> "object":
        from nmsim.frame import Rows, column_of

        from nmsim.graph.opgraph import OpGraph

        pt = self.points({k: [v] for k, v in shape.items()})
        X = self.monomials(pt)
        data = {}
        exact = X @ self.dims if self.dims.size else np.zeros((1, 0))
        tuples = _unflatten(exact[0], self.dim_layout, self.n_ops)
        for col in self.columns:
            if col in self.coef:
                v = (X @ self.coef[col])[0]
                data[col] = v if col in FLOAT_COLUMNS else np.rint(v).astype(np.int64)
            elif col in SHAPE_COLUMNS:
                data[col] = column_of(tuples[col])
            else:
                data[col] = column_of(self.static[col])
        for col in self.static.get("__bool__", []):
            data[col] = data[col].astype(bool)
        for col in self.static.get("__int__", []):
            data[col] = data[col].astype(np.int64)
        ops = Rows(data, index=data["id"])
        graph = OpGraph(None, ops, self.uncounted, config)
        graph._edges = self.edges
        return graph

    # ---- (de)serialisation: plain arrays + UTF-8 JSON, no pickle ------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """Integer arrays, and the rest as UTF-8 JSON bytes (a numpy str array takes 4 bytes a character)."""
        meta = {"kind": self.kind, "variables": self.variables, "fixed": self.fixed, "static": self.static,
                "columns": self.columns, "uncounted": self.uncounted, "param_coef": self.param_coef,
                "patch_size": self.patch_size, "info": self.info, "coef_columns": list(self.coef)}
        return {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
                "exponents": self.exponents.astype(np.int64), "dims": self.dims.astype(np.int64),
                "dim_layout": np.array(self.dim_layout, dtype=np.int64).reshape(-1, 3),
                "edges": np.array(self.edges, dtype=np.int64).reshape(-1, 2),
                "coef": np.stack([self.coef[c] for c in self.coef]).astype(np.int64)}

    @classmethod
    def from_arrays(cls, arrays) -> "ShapeGraph":
        meta = read_meta(arrays["meta"])
        coef = {c: arr.astype(float) for c, arr in zip(meta["coef_columns"], arrays["coef"])}
        return cls(meta["kind"], tuple(meta["variables"]), meta["fixed"], arrays["exponents"].astype(np.int64), coef,
                   meta["static"], meta["columns"], arrays["dims"].astype(float),
                   arrays["dim_layout"].tolist(), list(map(tuple, arrays["edges"].tolist())),
                   meta["uncounted"], meta["param_coef"], meta["patch_size"], meta["info"])


def read_meta(array: np.ndarray) -> dict:
    """The JSON header of a stored graph: UTF-8 bytes (cache format 2), or a numpy str (format 1)."""
    return json.loads(str(array) if array.dtype.kind == "U" else array.tobytes())


def _flatten(frame) -> tuple[list[int], list[tuple[int, int, int]]]:
    values, layout = [], []
    for ci, col in enumerate(SHAPE_COLUMNS):
        for i, item in enumerate(frame[col].tolist()):
            if col == "in_shapes":
                for shp in item:
                    layout.append((ci, i, len(shp)))
                    values.extend(int(d) for d in shp)
                layout.append((ci, i, -1))  # end of this op's list
            else:
                layout.append((ci, i, len(item)))
                values.extend(int(d) for d in item)
    return values, layout


def _unflatten(flat: np.ndarray, layout, n_ops: int) -> dict[str, list]:
    vals = np.rint(flat).astype(np.int64).tolist()
    out = {"in_shapes": [[] for _ in range(n_ops)], "out_shape": [()] * n_ops, "weight_shape": [()] * n_ops}
    pos = 0
    for ci, i, length in layout:
        col = SHAPE_COLUMNS[ci]
        if length < 0:
            continue
        t = tuple(vals[pos:pos + length])
        pos += length
        if col == "in_shapes":
            out[col][i].append(t)
        else:
            out[col][i] = t
    return out


# ---- fitting --------------------------------------------------------------------------------------
def _internal(var: str) -> str:
    return "grid" if var == "image_size" else var


def trace_at(cfg, kind: str, shape: dict):
    """A fresh trace of ``cfg`` at ``shape``, in the user's variables of ``kind`` (batch and seq, past or
    image_size): what a shape-generic graph of that kind must reproduce."""
    from nmsim.graph.api import trace_uncached

    if kind == "forward":
        return trace_uncached(cfg, shape["batch"], shape["seq"], 0)
    if kind == "decode":
        return trace_uncached(cfg, shape["batch"], 1, shape["past"])
    return trace_uncached(cfg.replace(image_size=shape["image_size"]), shape["batch"], None, 0)


def _trace_point(cfg, kind: str, full: dict):
    """Trace at ``full`` = {internal variable: value} (image: grid side)."""
    grid = {"image_size": full["grid"] * cfg.patch_size} if "grid" in full else {}
    return trace_at(cfg, kind, {**full, **grid})


def _params_at(cfg, kind: str, full: dict) -> dict[str, int]:
    from nmsim.graph.api import parameter_counts_uncached

    if kind == "image":
        cfg = cfg.replace(image_size=full["grid"] * cfg.patch_size)
    return {k: int(v) for k, v in parameter_counts_uncached(cfg).items()}


STATIC_SKIP = set(NUMERIC) | set(SHAPE_COLUMNS)


def _static_of(ops) -> dict[str, list]:
    cols = [c for c in ops.columns if c not in STATIC_SKIP]
    static = {c: ops[c].tolist() for c in cols}
    static["__bool__"] = [c for c in cols if ops[c].dtype == bool]
    static["__int__"] = [c for c in cols if str(ops[c].dtype) == "int64"]
    return static


def _same_ops(a: dict, b: dict) -> str | None:
    for col, vals in a.items():
        if b.get(col) != vals:
            if col.startswith("__"):
                return f"column types of {col} differ"
            n = min(len(vals), len(b.get(col, [])))
            if len(vals) != len(b.get(col, [])):
                return f"{len(vals)} ops vs {len(b.get(col, []))} ops"
            i = next(j for j in range(n) if vals[j] != b[col][j])
            return f"op {i} ({a['op'][i]} in {a['module'][i] or 'top'}): {col} {vals[i]!r} vs {b[col][i]!r}"
    return None


def solve_exact(X: np.ndarray, Y: np.ndarray, what: str) -> np.ndarray:
    """Integer coefficients C with X @ C == Y exactly (X: (P, T) monomials at the fit points)."""
    C = np.rint(np.linalg.solve(X, Y))
    Xi, Ci, Yi = X.astype(object), C.astype(object), np.rint(Y).astype(object)
    if (Y != np.rint(Y)).any() or ((Xi @ Ci) != Yi).any():
        raise ShapeFitError(f"{what}: not an integer polynomial of the assumed degree")
    if np.abs(C).max(initial=0) >= EXACT_LIMIT:
        raise ShapeFitError(f"{what}: coefficients too large to evaluate exactly")
    return C


@dataclass
class Design:
    """Where :func:`fit` traces: the free variables (the user's names and the internal ones, e.g. ``grid`` for
    ``image_size``), the exponents of the polynomial's monomials, the fit grid and the random check point."""
    cfg: object
    fixed: dict
    free: tuple
    names: tuple
    exponents: np.ndarray
    grid: list
    check: tuple

    def full(self, pt) -> dict:
        """The trace arguments (internal variables) at point ``pt``."""
        return {**{_internal(k): v for k, v in self.fixed.items()}, **dict(zip(self.names, pt))}

    def shown(self, pt) -> dict:
        """Point ``pt`` in the user's variables (an image size in pixels)."""
        return {**self.fixed, **{v: x * (self.cfg.patch_size if v == "image_size" else 1)
                                 for v, x in zip(self.free, pt)}}

    def params_vary(self, kind: str) -> bool:
        """Whether parameter counts change between fit points (image size, or a model dimension)."""
        return kind == "image" or any(n not in DEGREES for n in self.names)

    def monomials(self) -> np.ndarray:
        """The monomials at the fit points: X with X @ coefficients = values."""
        pts = np.array(self.grid, dtype=float).reshape(len(self.grid), len(self.names))
        return np.prod(pts[:, None, :] ** self.exponents[None, :, :], axis=2)


def _check_value(var: str, rng: random.Random) -> int:
    """A random value of internal variable ``var`` away from the fit points."""
    if var == "batch":
        return rng.randint(4, 64)
    return rng.randint(7, 40 if var == "grid" else 4096)


def design(cfg, kind: str, fixed: dict | None = None, rng: random.Random | None = None) -> Design:
    """Where :func:`fit` traces ``cfg`` for ``kind`` in the region ``fixed`` (the check point drawn from ``rng``,
    default seed 0)."""
    fixed = dict(fixed or {})
    free = tuple(v for v in VARIABLES[kind] if v not in fixed)
    names = tuple(_internal(v) for v in free)
    degrees = [DEGREES[v] for v in names]
    exponents = np.array(list(itertools.product(*[range(d + 1) for d in degrees])), dtype=np.int64)
    exponents = exponents.reshape(len(exponents), len(names))
    grid = list(itertools.product(*[FIT_POINTS[v][:d + 1] for v, d in zip(names, degrees)]))
    rng = rng or random.Random(0)
    check = tuple(_check_value(v, rng) for v in names)
    return Design(cfg, fixed, free, names, exponents, grid, check)


def _op_set_difference(reference: tuple, this: tuple) -> str | None:
    """How the op set of a trace (static columns, columns, edges, uncounted) differs from the first one."""
    diff = _same_ops(reference[0], this[0])
    if diff is None and this[2] != reference[2]:
        diff = "the data-flow edges differ"
    if diff is None and this[3] != reference[3]:
        diff = f"uncounted ops differ: {reference[3]} vs {this[3]}"
    return diff


PREFLIGHT: list = []   # checks of the ops of a fit's first trace (see preflight)


@contextlib.contextmanager
def preflight(check):
    """Inside the block, a shape-generic fit runs ``check(ops)`` on its first trace before it shows any progress:
    what the graph's structure decides (a plan's selectors, layer ranges, divisibility: the same at every shape)
    then fails with its one line, not after a progress line and every other trace."""
    PREFLIGHT.append(check)
    try:
        yield
    finally:
        PREFLIGHT.remove(check)


def _trace_points(d: Design, kind: str, progress, trace_point=None, params_at=None) -> tuple[list, list, tuple]:
    """(ops frames, parameter counts, the first trace's op set) at every fit point then the check point;
    :class:`ShapeFitError` when the op set changes with shape. The first warning of the traces is re-raised.
    ``progress(i, n)`` is called before trace i of n (trace 0: after it and the :func:`preflight` checks) and
    once more with i = n at the end."""
    points = [*d.grid, d.check]
    trace_point, params_at = trace_point or _trace_point, params_at or _params_at
    frames, params, reference = [], [], None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i, pt in enumerate(points):
            if progress and i:
                progress(i, len(points))
            full = d.full(pt)
            g = trace_point(d.cfg, kind, full)
            if i == 0:
                for check in list(PREFLIGHT):
                    check(g.ops)
                if progress:
                    progress(0, len(points))
            this = (_static_of(g.ops), g.ops.columns.tolist(), sorted(g.edge_list()), g.uncounted)
            if reference is None:
                reference = this
            else:
                diff = _op_set_difference(reference, this)
                if diff:
                    raise ShapeFitError(f"{d.cfg.name}: the op set changes with shape ({d.shown(d.grid[0])} vs "
                                        f"{d.shown(pt)}): {diff}")
            frames.append(g.ops)
            params.append(params_at(d.cfg, kind, full) if d.params_vary(kind) or not params else params[0])
        if progress:
            progress(len(points), len(points))
    for w in caught[:1]:
        warnings.warn(w.message, stacklevel=3)
    return frames, params, reference


def _solve_graph(d: Design, kind: str, frames: list, params: list, reference: tuple) -> ShapeGraph:
    """The ShapeGraph whose polynomials reproduce the fit points' frames and parameter counts exactly."""
    name = d.cfg.name
    static, columns, edges, uncounted = reference
    X = d.monomials()
    coef = {col: solve_exact(X, np.stack([f[col].to_numpy(dtype=float) for f in frames[:-1]]), f"{name} {col}")
            for col in NUMERIC}
    flats = [_flatten(f) for f in frames]
    if any(fl[1] != flats[0][1] for fl in flats):
        raise ShapeFitError(f"{name}: tensor ranks change with shape")
    dims = solve_exact(X, np.array([fl[0] for fl in flats[:-1]], dtype=float), f"{name} tensor shapes") \
        if flats[0][0] else np.zeros((len(d.exponents), 0))
    keys = list(params[0])
    P = solve_exact(X, np.array([[p[k] for k in keys] for p in params[:-1]], dtype=float), f"{name} parameters")
    return ShapeGraph(kind, d.free, d.fixed, d.exponents, coef, static, columns, dims, flats[0][1],
                      [tuple(map(int, e)) for e in edges], dict(uncounted),
                      {k: [int(c) for c in P[:, j]] for j, k in enumerate(keys)}, int(d.cfg.patch_size or 0))


def fit(cfg, kind: str, fixed: dict | None = None, rng: random.Random | None = None, progress=None) -> ShapeGraph:
    """Trace ``cfg`` at the fit points of ``kind`` (variables in ``fixed`` held), solve for exact integer
    polynomials, and verify them on one more trace at a random shape; :class:`ShapeFitError` otherwise."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    d = design(cfg, kind, fixed, rng)
    sg, frames, params = fit_design(d, kind, progress)
    sg.info = {"workload": cfg.name, "fit_points": [d.shown(p) for p in d.grid], "verified_at": d.shown(d.check),
               "ops": sg.n_ops}
    verify(sg, frames[-1], d.shown(d.check), params[-1])
    return sg


def fit_design(d: Design, kind: str, progress=None, trace_point=None, params_at=None) -> tuple:
    """(ShapeGraph, frames, parameter counts) fitted at ``d``'s grid; the last frame and counts are the check
    point's. ``trace_point(cfg, kind, full)`` and ``params_at(cfg, kind, full)`` default to tracing ``cfg`` at
    the shape ``full``; :mod:`nmsim.graph.templates` passes its own (the model's dimensions are variables too)."""
    frames, params, reference = _trace_points(d, kind, progress, trace_point, params_at)
    return _solve_graph(d, kind, frames, params, reference), frames, params


def verify(sg: ShapeGraph, ops, shape: dict, params: dict | None = None) -> None:
    """Raise :class:`ShapeFitError` unless ``sg`` at ``shape`` reproduces the traced ``ops`` frame exactly."""
    got = sg.at(**shape).ops
    diff = frame_difference(got, ops)
    if diff:
        raise ShapeFitError(f"{sg.info.get('workload', '?')}: shape-generic graph is not exact at {shape}: {diff}")
    if params is not None and sg.parameter_counts({k: [v] for k, v in shape.items()}) != params:
        raise ShapeFitError(f"{sg.info.get('workload', '?')}: parameter counts are not exact at {shape}")


def frame_difference(got, want) -> str | None:
    """First difference between two ops frames (columns, values, dtypes), or None when identical."""
    if list(got.columns) != list(want.columns) or len(got) != len(want):
        return f"columns/length differ: {list(got.columns)} x{len(got)} vs {list(want.columns)} x{len(want)}"
    for col in want.columns:
        a, b = got[col].tolist(), want[col].tolist()
        if a != b:
            i = next(j for j in range(len(a)) if a[j] != b[j])
            return f"{col} of op {i} ({want['op'].iloc[i]} {want['module'].iloc[i]}): {a[i]!r} vs {b[i]!r}"
        if str(got[col].dtype) != str(want[col].dtype):
            return f"dtype of {col}: {got[col].dtype} vs {want[col].dtype}"
    return None


# ---- cache policy and look-ups ---------------------------------------------------------------------
_MEMORY: dict[str, ShapeGraph | ShapeFitError] = {}
_AT: dict = {}


class _Progress:
    """The fit's progress on stderr: a line saying what is traced, then a bar on a terminal (a last line with
    the time taken in a log): the first call on a new model imports torch and traces several shapes."""

    def __init__(self, cfg, kind: str):
        self.cfg, self.kind, self.bar = cfg, kind, None

    def __call__(self, i: int, n: int) -> None:
        if self.bar is None:
            from nmsim.progress import Progress, progress_stream

            print(f"nmsim: tracing {self.cfg.name} at {n} shapes for a shape-generic {self.kind} graph (cached "
                  "after)", file=progress_stream(), flush=True)
            self.bar = Progress(n, f"nmsim: tracing {self.cfg.name}", "shape", stream=progress_stream(),
                                every_fraction=None)
        self.bar.update(i - self.bar.n)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close(ok=exc[0] is None)


def region_of(shape: dict) -> dict:
    """The fixed variables of the region holding ``shape``: ``{"batch": 1}`` for a batch of one, else ``{}``."""
    return {k: v for k, v in SINGLE.items() if shape.get(k) == v}


def shape_graph(cfg, kind: str | None = None, fixed: dict | None = None, *, build: bool = True) -> ShapeGraph | None:
    """The shape-generic graph of ``cfg`` for ``kind`` (forward | decode | image; default by model) in the region
    ``fixed`` ({} or {"batch": 1}), from memory, the trace cache, or (``build=True``) fitted and stored.
    ``None`` when it is not built and ``build`` is False; :class:`ShapeFitError` when it cannot be exact."""
    from nmsim.graph import cache

    kind = kind or kind_for(cfg)
    if (kind == "image") != bool(cfg.is_image):
        raise UserError(f"{cfg.name}: no {kind} shape graph for {'an image' if cfg.is_image else 'a text'} model",
                        "kind")
    fixed = dict(fixed or {})
    key = cache.key(cfg, kind, fixed)
    hit = _MEMORY.get(key)
    if isinstance(hit, ShapeFitError):
        raise hit
    if hit is not None:
        return hit
    sg = cache.load(key)
    if sg is None:
        if not build:
            return None
        from nmsim.graph.templates import instantiate

        sg = instantiate(cfg, kind, fixed)   # the structure's shipped template: no torch, no tracing
        try:
            if sg is None:
                with _Progress(cfg, kind) as progress:
                    sg = fit(cfg, kind, fixed, progress=progress)
        except ShapeFitError as exc:
            _MEMORY[key] = exc
            raise
        cache.store(key, sg)
    _MEMORY[key] = sg
    return sg


def shape_generic(cfg) -> bool:
    """Whether ``cfg`` can have a shape-generic graph: not a mixture of experts, whose tokens per expert are
    rounded shares of the batch (no polynomial of the shape); those are traced at each shape."""
    return not cfg.is_moe


def shape_of(cfg, batch: int, seq: int | None, past: int = 0) -> tuple[str, dict] | None:
    """(kind, shape) of a trace request, or None when no shape-generic graph covers it."""
    if batch is None or batch < 1 or not shape_generic(cfg):
        return None
    if cfg.is_image:
        p = cfg.patch_size
        if seq is not None or past or cfg.image_size % p or cfg.image_size // p < LOWEST["grid"]:
            return None
        return "image", {"batch": batch, "image_size": cfg.image_size}
    if past:
        if seq != 1 or past < LOWEST["past"]:
            return None
        return "decode", {"batch": batch, "past": past}
    if seq is None or seq < LOWEST["seq"]:
        return None
    return "forward", {"batch": batch, "seq": seq}


def graph_at(cfg, batch: int, seq: int | None, past: int = 0):
    """An OpGraph at one shape from the shape-generic graph, or None (cache mode, domain, or no graph)."""
    from nmsim.graph.cache import cache_mode

    mode = cache_mode()
    if mode == "off":
        return None
    found = shape_of(cfg, batch, seq, past)
    if found is None:   # a mixture of experts, or a shape outside the domain: its graph at this shape, if kept
        return _at_one_shape(cfg, batch, seq, past, mode)
    kind, shape = found
    akey = (cfg, kind, tuple(shape.values()))
    hit = _AT.get(akey)
    if hit is not None:
        return hit
    try:
        sg = shape_graph(cfg, kind, region_of(shape), build=mode == "build")
    except ShapeFitError as exc:
        warnings.warn(f"nmsim: tracing every shape of {cfg.name} (once, cached after): {exc}", stacklevel=3)
        return _at_one_shape(cfg, batch, seq, past, mode)
    if sg is None:
        return None
    graph = sg.at(config=cfg, **shape)
    if len(_AT) > 64:
        _AT.clear()
    _AT[akey] = graph
    return graph


def _at_one_shape(cfg, batch: int, seq: int | None, past: int, mode: str):
    from nmsim.graph import one_shape

    return one_shape.graph_at(cfg, batch, seq, past, build=mode == "build")


def cached_parameter_counts(cfg) -> dict[str, int] | None:
    """Parameter counts from an already-built shape-generic graph of ``cfg`` (no torch), or None."""
    from nmsim.graph.cache import cache_mode

    if cache_mode() == "off":
        return None
    if not shape_generic(cfg):   # a mixture of experts: counted with its graph at one shape
        from nmsim.graph import one_shape

        return one_shape.parameter_counts(cfg)
    kinds = ("image",) if cfg.is_image else ("forward", "decode")
    for kind in kinds:
        for fixed in ({}, dict(SINGLE)):
            try:
                sg = shape_graph(cfg, kind, fixed, build=False)
            except ShapeFitError:
                continue
            if sg is None:
                continue
            if kind != "image":
                return sg.parameter_counts()
            shape = {**sg.default_shape(), "image_size": [cfg.image_size]}
            if sg.covers({k: v[0] for k, v in shape.items()}):
                return sg.parameter_counts(shape)
    from nmsim.graph import one_shape   # counted with a graph at one shape this process kept or loaded

    return one_shape.parameter_counts(cfg)
