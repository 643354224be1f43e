"""Trace four layers per stack and replicate them: the trace of a deep model without running every layer.

The builder (:mod:`nmsim.graph.builder`) builds every block of a stack with the same arguments and runs the blocks
in one loop with the same context, bias, rotary tables and KV-cache length; a block's ops depend only on its
input's shape, dtype and grad flag. So :func:`trace_replicated` traces the model with ``PROBE`` (4) layers per
stack and checks that layers 1, 2 and 3 are alike, column by column (module path, weight name and layer
renamed), and that layer 3 reads layer 2 as layer 2 reads layer 1 (every data-flow edge shifted: from the block
itself, from the block before, or from the same op outside the blocks). Layer 0 may differ: it reads the
embedding. By induction every deeper layer repeats layer 3, and the full-depth graph is the probe with layer 3
copied into layers 3 .. L-1, ops renumbered, edges remapped, uncounted ops and parameter counts scaled. A user
role map (``roles:``) must give every copied module path the role of its layer-3 original. Anything else
(layers built differently: :func:`nmsim.graph.stacks.block_kinds`; layers that trace differently; edges that
skip a layer; roles by layer) returns None and the caller traces every layer. Models not built by the builder
(``nmsim.trace(module, ...)``) are always traced whole. ``tests/test_replicate.py`` proves both equal, column by
column, for every bundled workload and random configurations of every family.
"""
from __future__ import annotations

import warnings

import numpy as np

from nmsim.graph.stacks import LAYER_RE

PROBE = 4   # layers per stack in the probe: 0 reads the embedding, 1 to 3 prove that layers repeat


def probe_config(cfg):
    """``cfg`` with at most PROBE layers per stack, or None when no stack is deeper (nothing to replicate) or
    a stack's blocks are not all built alike."""
    layers = depths(cfg)
    if layers is None or all(n <= PROBE for n in layers.values()):
        return None
    changes = {"layers": min(cfg.layers, PROBE)}
    if cfg.is_enc_dec:
        changes["decoder_layers"] = min(cfg.decoder_layers, PROBE)
    return cfg.replace(**changes)


def depths(cfg) -> dict[str, int] | None:
    """Layers per stack name (the tracer's ``stack`` column); None when a stack's blocks are not all built
    alike (:func:`nmsim.graph.stacks.block_kinds`)."""
    from nmsim.graph import stacks

    specs = stacks.stack_specs(cfg)
    if any(len(set(stacks.block_kinds(cfg, *spec))) > 1 for spec in specs.values()):
        return None
    return {name: spec[0] for name, spec in specs.items()}


def renamed(path: str, layer: int) -> str:
    """``path`` with its layer index (the one :func:`nmsim.graph.stacks.layer_of` reads) set to ``layer``."""
    m = LAYER_RE.search(path)
    return path if m is None else f"{path[:m.start(1)]}{layer}{path[m.end(1):]}"


class _Stack:
    """Row positions of one stack's probe blocks: ``rows[j]`` = range of layer j's ops (contiguous)."""

    def __init__(self, name: str, depth: int, rows: list[range]):
        self.name, self.depth, self.rows = name, depth, rows
        self.first = 0   # row of the last probe layer (the first copy) in the replicated frame

    @property
    def template(self) -> range:
        return self.rows[PROBE - 1]

    def block_of(self, pos: int) -> int | None:
        return next((j for j, r in enumerate(self.rows) if pos in r), None)


def _stacks(ops, cfg) -> list[_Stack] | None:
    """The stacks to replicate (deeper than the probe) with their blocks' row ranges; None when a stack's
    blocks are not contiguous, consecutive runs, of one length from layer 1 on."""
    layer = ops["layer"].to_numpy()
    stack = ops["stack"].to_numpy()
    out = []
    for name, depth in (depths(cfg) or {}).items():
        if depth <= PROBE:
            continue
        rows = []
        for j in range(PROBE):
            pos = np.flatnonzero((layer == j) & (stack == name))
            if not len(pos) or pos[-1] - pos[0] + 1 != len(pos):
                return None
            rows.append(range(int(pos[0]), int(pos[-1]) + 1))
        if any(rows[j].stop != rows[j + 1].start for j in range(PROBE - 1)) or len({len(r) for r in rows[1:]}) > 1:
            return None
        out.append(_Stack(name, depth, rows))
    return out


def _classified(edges_in: dict[int, list[int]], block: range, prev: range) -> list[tuple]:
    """The edges into ``block`` relative to it: (dst offset, "self"|"prev", src offset) or (dst, "out", src id)."""
    out = []
    for dst in block:
        for src in edges_in.get(dst, ()):
            if src in block:
                out.append((dst - block.start, "self", src - block.start))
            elif src in prev:
                out.append((dst - block.start, "prev", src - prev.start))
            else:
                out.append((dst - block.start, "out", src))
    return out


def _alike(ops, a: range, b: range, layer: int) -> bool:
    """Whether rows ``b`` (of ``layer``) are rows ``a`` with ids shifted and names and layer renamed."""
    one, two = ops.iloc[list(a)], ops.iloc[list(b)]
    for col in ops.columns:
        x, y = one[col].tolist(), two[col].tolist()
        if col == "id":
            x = [i + b.start - a.start for i in x]
        elif col in ("module", "weight"):
            x = [renamed(v, layer) if v else v for v in x]
        elif col == "layer":
            x = [layer] * len(x)
        if x != y:
            return False
    return True


def _repeats(ops, st: _Stack, edges_in: dict[int, list[int]]) -> bool:
    """Whether probe layers 1 .. PROBE-1 are alike and each reads its predecessor alike (edges)."""
    rows = st.rows
    if not all(_alike(ops, rows[j], rows[j + 1], j + 1) for j in range(1, PROBE - 1)):
        return False
    into = [_classified(edges_in, rows[j], rows[j - 1]) for j in range(2, PROBE)]
    blocks = set().union(*rows)
    return all(e == into[-1] for e in into) and all(src not in blocks for _, how, src in into[-1] if how == "out")


def _roles_repeat(cfg, ops, st: _Stack) -> bool:
    """Whether the workload's role map gives each copied module path (and its ancestors) its template's role."""
    if not cfg.roles:
        return True
    from nmsim.graph.roles import role_resolver

    resolve = role_resolver(cfg.roles)
    paths = set()
    for path in set(ops["module"].iloc[list(st.template)]):
        parts = path.split(".")
        paths.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    paths = [p for p in paths if LAYER_RE.search(p)]
    want = {p: resolve(p) for p in paths}
    return all(resolve(renamed(p, j)) == want[p] for j in range(PROBE, st.depth) for p in paths)


def _leaves_ok(edges: list[tuple[int, int]], st: _Stack) -> bool:
    """Edges leaving the probe layers but the last go only to the next layer or stay inside (the last feeds
    what follows)."""
    for src, dst in edges:
        j = st.block_of(src)
        if j is not None and j < PROBE - 1 and st.block_of(dst) not in (j, j + 1):
            return False
    return True


def replicate(probe, cfg):
    """The full-depth :class:`~nmsim.graph.opgraph.OpGraph` of ``cfg`` from ``probe`` (its trace with
    :func:`probe_config`'s depths), or None when the probe does not prove its layers repeat."""
    from nmsim.graph.opgraph import OpGraph

    found = plan(probe, cfg)
    if found is None:
        return None
    source, layers, new_edges, uncounted = found
    graph = OpGraph(None, _copied_frame(probe.ops, source, layers), uncounted, cfg)
    graph._edges = new_edges
    return graph


def plan(probe, cfg) -> tuple | None:
    """How ``probe`` becomes ``cfg``'s full-depth graph: (probe row of each new row, the layer each copied row
    gets (None: kept as is), the new edges, the uncounted ops), or None when the probe does not prove its layers
    repeat. Also applied to a shape-generic graph's rows (:mod:`nmsim.graph.templates`)."""
    ops = probe.ops
    edges = probe.edge_list()
    stacks = _stacks(ops, cfg)
    if not stacks:
        return None
    edges_in: dict[int, list[int]] = {}
    for src, dst in edges:
        edges_in.setdefault(dst, []).append(src)
    if not all(_repeats(ops, st, edges_in) and _roles_repeat(cfg, ops, st) and _leaves_ok(edges, st)
               for st in stacks):
        return None
    # new row order: probe rows, each stack's last probe layer repeated for layers PROBE-1 .. L-1
    source, layers, new_of = [], [], {}
    template_of = {st.template.start: st for st in stacks}
    pos = 0
    while pos < len(ops):
        st = template_of.get(pos)
        if st is None:
            new_of[pos] = len(source)
            source.append(pos)
            layers.append(None)
            pos += 1
            continue
        st.first = len(source)
        for j in range(PROBE - 1, st.depth):   # the last probe layer and its copies
            source.extend(st.template)
            layers.extend([j] * len(st.template))
        pos = st.template.stop
    new_edges = _copied_edges(edges, edges_in, stacks, new_of)
    uncounted = dict(probe.uncounted)
    for st in stacks:
        extra = ops.iloc[list(st.template)]
        for name in extra.loc[extra["kind"] == "unknown", "op"]:
            uncounted[name] += st.depth - PROBE
    return source, layers, new_edges, uncounted


def copied_column(col: str, values: list, source: list[int], layers: list[int | None]) -> list:
    """Column ``col`` of the probe's rows (``values``) for the replicated rows: copies renamed to their layer."""
    new = [values[i] for i in source]
    if col == "id":
        return list(range(len(source)))
    if col in ("module", "weight"):
        return [v if j is None or not v else renamed(v, j) for v, j in zip(new, layers)]
    if col == "layer":
        return [old if j is None else j for old, j in zip(new, layers)]
    return new


def _copied_frame(ops, source: list[int], layers: list[int | None]):
    new = ops.iloc[source].copy()
    for col in ("module", "weight"):
        new[col] = copied_column(col, ops[col].tolist(), source, layers)
    for col in ("id", "layer"):
        new[col] = np.array(copied_column(col, ops[col].tolist(), source, layers), dtype=ops[col].dtype)
    return new.set_index("id", drop=False).rename_axis(None)


def _copied_edges(edges, edges_in, stacks, new_of: dict[int, int]) -> list[tuple[int, int]]:
    """The probe's edges for the replicated rows."""
    def fixed(src: int) -> int:
        for st in stacks:   # what reads the last probe layer reads the last layer
            if src in st.template:
                return st.first + (st.depth - PROBE) * len(st.template) + src - st.template.start
        return new_of[src]

    out = []
    templates = {st.template.start: st for st in stacks}
    dsts = sorted(edges_in)
    i = 0
    while i < len(dsts):
        dst = dsts[i]
        st = next((s for s in templates.values() if dst in s.template), None)
        if st is None:
            out.extend((fixed(src), new_of[dst]) for src in edges_in[dst])
            i += 1
            continue
        rel = _classified(edges_in, st.template, st.rows[PROBE - 2])
        n = len(st.template)
        for k in range(st.depth - PROBE + 1):
            base = st.first + k * n
            prev = base - n if k else new_of[st.rows[PROBE - 2].start]
            for d, how, s in rel:
                src = base + s if how == "self" else prev + s if how == "prev" else fixed(s)
                out.append((src, base + d))
        while i < len(dsts) and dsts[i] in st.template:
            i += 1
    return sorted(out)   # the order of a traced graph's DiGraph: by source, then destination


def trace_replicated(cfg, batch: int, seq: int | None, past: int = 0):
    """:func:`replicate` of a probe trace, or None (no deeper stack, or the layers do not provably repeat).
    The uncounted-ops warning names the full model's counts."""
    probe_cfg = probe_config(cfg)
    if probe_cfg is None:
        return None
    from nmsim.graph.api import trace_full
    from nmsim.graph.tracer import uncounted_warning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        probe = trace_full(probe_cfg, batch, seq, past)
    graph = replicate(probe, cfg)
    if graph is None:
        return None
    for w in caught:
        text = str(w.message)
        if probe.uncounted and text == uncounted_warning(probe.uncounted):
            text = uncounted_warning(graph.uncounted)
        warnings.warn(text, w.category, stacklevel=3)
    return graph


def parameter_table(model) -> tuple[dict[str, int], dict[tuple[str, int], list]]:
    """Parameters of ``model`` by role (weight matrices by role, the rest ``other``; plus ``total``), and per
    (stack, layer) the list of (name, shape, role) of each block's parameters."""
    from nmsim.graph.roles import role_of
    from nmsim.graph.stacks import layer_of, stack_of

    counts: dict[str, int] = {}
    blocks: dict[tuple[str, int], list] = {}
    total = 0
    for name, p in model.named_parameters():
        role = role_of(name.rsplit(".", 1)[0]) if name.endswith("weight") and p.dim() >= 2 else None
        key = role or "other"
        counts[key] = counts.get(key, 0) + p.numel()
        total += p.numel()
        blocks.setdefault((stack_of(name), layer_of(name)), []).append((name, tuple(p.shape), key))
    counts["total"] = total
    return counts, blocks


def parameter_counts_replicated(cfg) -> dict[str, int] | None:
    """:func:`parameter_table`'s counts for ``cfg`` from its probe model (the last probe layer's parameters
    counted for every deeper layer, once they are the layer before's renamed), or None (nothing to replicate, or
    the layers differ)."""
    probe_cfg = probe_config(cfg)
    if probe_cfg is None:
        return None
    import math

    import torch

    from nmsim.graph.builder import build_model

    with torch.device("meta"):
        model = build_model(probe_cfg)
    counts, blocks = parameter_table(model)
    for stack, depth in depths(cfg).items():   # not None: probe_config checked
        if depth <= PROBE:
            continue
        one, two = blocks.get((stack, PROBE - 2), []), blocks.get((stack, PROBE - 1), [])
        if not two or [(renamed(n, PROBE - 1), s, r) for n, s, r in one] != two:
            return None
        for _, shape, role in two:
            n = math.prod(shape) * (depth - PROBE)
            counts[role] += n
            counts["total"] += n
    return counts
