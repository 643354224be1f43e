"""Graphs at one shape, kept in the trace cache: the shapes no shape-generic graph covers.

A mixture of experts routes a rounded share of the tokens to each expert, so its sizes are no polynomial of the
shape (:func:`nmsim.graph.shapes.shape_generic`) and each shape is traced; so is any shape outside a shape-generic
graph's domain (one token of prefill, several new tokens over a KV cache, an image of one patch) or of a model
whose graph cannot be fitted exactly. The trace at one shape is stored as a
:class:`~nmsim.graph.shapes.ShapeGraph` with every shape variable fixed (one point, constant "polynomials"), under
the trace cache's key of the workload, the kind and that shape; it is checked against the trace, column by column,
before it is stored (a graph that does not reproduce it is never kept). A second question at that shape, in any
later process, loads it instead of importing torch and tracing.
"""
from __future__ import annotations

from nmsim.graph.shapes import ShapeFitError, design, fit_design, verify

_MEMORY: dict = {}   # (cfg, batch, seq, past) -> OpGraph
_PARAMS: dict = {}   # cfg -> parameter counts by role, from a graph kept or traced in this process
_ANNOUNCED: set = set()


def region(cfg, batch: int, seq: int | None, past: int = 0) -> tuple[str, dict] | None:
    """(kind, the shape as the graph's fixed variables) of a trace request, or None (no batch)."""
    if batch is None or batch < 1:
        return None
    if cfg.is_image:
        return ("image", {"batch": batch, "image_size": cfg.image_size}) if seq is None and not past else None
    if past:
        return "decode", {"batch": batch, "past": past, **({} if seq == 1 else {"seq": seq})}
    return ("forward", {"batch": batch, "seq": seq}) if seq else None


def graph_at(cfg, batch: int, seq: int | None, past: int, build: bool):
    """The OpGraph of ``cfg`` at this shape from the trace cache; with ``build``, traced and kept when missing.
    None when the shape has no kept graph and ``build`` is False, or it is no text model's trace request."""
    from nmsim.graph import cache

    found = region(cfg, batch, seq, past)
    if found is None:
        return None
    memo = (cfg, batch, seq, past)
    if memo in _MEMORY:
        return _MEMORY[memo]
    kind, shape = found
    key = cache.key(cfg, kind, shape)
    sg = cache.load(key)
    if sg is None:
        if not build:
            return None
        graph, sg = _traced(cfg, kind, shape, batch, seq, past)
        if sg is not None:
            cache.store(key, sg)
    if sg is not None:
        graph = sg.at(config=cfg)
        _PARAMS[cfg] = sg.parameter_counts()
    if len(_MEMORY) > 32:
        _MEMORY.clear()
    _MEMORY[memo] = graph
    return graph


def forget() -> None:
    """Drop this process's graphs and counts (a later call reads the trace cache again)."""
    _MEMORY.clear()
    _PARAMS.clear()


def parameter_counts(cfg) -> dict[str, int] | None:
    """The parameter counts of ``cfg`` kept with a graph this process loaded or traced (no torch), or None."""
    return _PARAMS.get(cfg)


def _traced(cfg, kind: str, shape: dict, batch: int, seq: int | None, past: int):
    """(the trace, its one-point ShapeGraph or None when that does not reproduce it exactly)."""
    from nmsim.graph.api import parameter_counts_uncached, trace_uncached

    _announce(cfg, batch, seq, past)
    graph = trace_uncached(cfg, batch, seq, past)
    counts = {k: int(v) for k, v in parameter_counts_uncached(cfg).items()}
    try:
        sg, _, _ = fit_design(design(cfg, kind, shape), kind, trace_point=lambda *_: graph,
                              params_at=lambda *_: counts)
        sg.info = {"workload": cfg.name, "fit_points": [shape], "verified_at": shape, "ops": sg.n_ops}
        verify(sg, graph.ops, {}, counts)
    except ShapeFitError:   # a number that is not an exact integer below 2^53: this shape is traced each time
        return graph, None
    return graph, sg


def _announce(cfg, batch: int, seq: int | None, past: int) -> None:
    """Say on stderr (once per shape) that a mixture of experts' shape is traced: it imports torch and takes
    seconds (a shape outside a shape-generic graph's domain is small: traced quietly, as before)."""
    if not cfg.is_moe or (cfg, batch, seq, past) in _ANNOUNCED:
        return
    _ANNOUNCED.add((cfg, batch, seq, past))
    from nmsim.progress import progress_stream

    at = f"batch {batch:,}" + (f", seq {seq:,}" if seq else "") + (f", context {past:,}" if past else "")
    print(f"nmsim: tracing {cfg.name} at {at} (a mixture of experts has no shape-generic graph: each shape is "
          "traced once, cached after)", file=progress_stream(), flush=True)
