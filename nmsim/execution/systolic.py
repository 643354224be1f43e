"""Cycle-level model of a systolic GEMM array (weight-, output- or input-stationary) with N:M weights.

A GEMM ``C[M, N] = A[M, K] · W[K, N]`` (M = activation rows, K = reduction, N = outputs; one pass of the
per-pass GEMM table) runs on an ``R × C`` array of MACs. Everything is numpy over arrays of GEMMs.

**Mapping per dataflow** (which operand stays in the PEs, which two dims it spans, which dim streams)::

    ws  weight stationary  rows <- K (reduction)  cols <- N   streams T = M rows of A
    os  output stationary  rows <- M              cols <- N   streams T = K (reduction)
    is  input stationary   rows <- K (reduction)  cols <- M   streams T = N columns of W

**Folds.** ``folds = ceil(D_rows / R) · ceil(D_cols / C)``; every fold is a full array pass even when the
last one is partly empty (padding to the array: utilisation = MACs / (folds · R · C · cycles_per_fold)).

**Cycles of one fold** (one clock per hop; Kung & Leiserson 1979; the accounting SCALE-Sim uses —
Samajdar et al., "A Systematic Methodology for Characterizing Scalability of DNN Accelerators using
SCALE-Sim", ISPASS 2020, and SCALE-Sim v3, arXiv 2504.15377)::

    ws, is   load the stationary tile (R cycles, one row per cycle)  + stream T rows
             + fill skew across the rows (R - 1) + drain skew across the columns (C - 1)
             = 2R + C + T - 2
    os       stream T reduction steps + fill skew (R - 1) + drain skew (C - 1)   = R + C + T - 2
    compute_cycles = batch · folds · cycles_per_fold

Folds run back to back (no overlap of the next tile's load with the current drain), as in SCALE-Sim.

**N:M weights (condensed K).** A weight that keeps ``n`` of every ``m`` elements along the reduction dim is
stored compressed; the array holds only the kept values and each PE row picks its activation by the
metadata index (VEGETA, S2TA, SCALE-Sim v3's row-wise N:M). The reduction dim shrinks before folding::

    K_c = floor(K / m) · n + min(n, K mod m)          (a partial last group keeps at most n)

so a 1:4 GEMM with K = 768 on 128 rows needs ceil(192/128) = 2 row folds, not 1.5: the condensed K is padded
to whole row folds, which is why 1:4 gains less than 4× when K_c is not a multiple of R, and the fixed
2R + C - 2 per fold does not shrink at all. In ``ws`` and ``is`` K_c sets the row folds; in ``os`` it is the
streamed length. This is SCALE-Sim 3.0.0's accounting in every dataflow: with ``OptimizedMapping: false`` every
output column keeps the same positions, and ``operand_matrix.py`` condenses both the filter and the IFMAP to the
K_c kept reduction indices before any dataflow's compute runs. In ``is`` the array then holds the activations of
the kept indices only (a PE row with its group's candidates, picking one by the streamed weight's index).
Hierarchical patterns condense by their overall n/m (product of the ranks' N and M).

**Activation density-bound blocks (optional; S2TA).** An engine may also prune its activations at run time to
at most ``an`` of every ``am`` along the reduction (S2TA's activation DBB, Liu et al., HPCA 2022). Only where the
reduction streams through time (``os``) can a MAC step over empty pairs; a time-unrolled DBB MAC steps through
the pairs whose weight and activation are both kept. For kept positions independent between the operands that
is ``an/am`` of the weight-condensed reduction, so the streamed length becomes::

    K_j = ceil(K_c · an / am)          (K_c: the weight-condensed K above; K when the weight is dense)

an idealised joint bound (weights density × activations density): fill, drain and whole folds still apply. In
``ws`` the reduction is spatial and in ``is`` the activation is stationary: activation blocks cannot be skipped
there, and asking for them is an error. Activation masks are made on chip and add no main-memory traffic.

**Metadata.** ``groups = N_out · ceil(K / m)`` weight groups, ``metadata_bits = groups · bits_per_group``
(encoding from :mod:`nmsim.sparsity.metadata`). With an on-chip metadata port of ``meta_bits_per_cycle``,
a fold's tile load takes ``max(R, ceil(tile_meta_bits / meta_bits_per_cycle))`` cycles (the tile holds
``R · C / n`` groups in ws; a fold streams K_c·C weights in os, R condensed rows of all N columns in is): a narrow
port stretches the fill.

**Traffic (optional SRAM sizes).** Main-memory traffic of one GEMM, in elements, with double-buffered SRAMs of
which half is usable by the working set (SCALE-Sim's default active fraction 0.5):

* stationary operand: read once (its compressed size + metadata when sparse);
* streamed operand: read once if what is reused fits in its SRAM's active half (strictly smaller), else once
  per fold of the other array dim. Folds run column folds outside, row folds inside (SCALE-Sim's order), so
  ws re-streams all of A for every column fold (ceil(N / C) times) unless all of A fits; is re-streams all of
  W per column fold; os re-streams all of A per column fold, and W's K_c x C tile of a column fold serves all
  its row folds, so W is read once when that tile fits, else once per row fold;
* outputs: written once if a column fold's partial sums (T × C, ws/is) fit in the output SRAM half (they
  accumulate on chip), else every row fold's partial sums are written out (``|C| · row_folds`` writes) and read
  back for the next fold (``|C| · (row_folds - 1)`` reads); os keeps them in the PEs: written once.

Without SRAM sizes every operand moves once (ideal reuse). The array side is counted too (``sram_*``): the
streamed operand is read from its SRAM once per fold of the other array dim (ws: ``M·K·col_folds`` of A, the
full K even when W is N:M, since each PE row picks its activation; os: A ``M·K·col_folds`` and W
``K_c·N·row_folds``; is: W ``K_c·N·col_folds``), the stationary one once, and ws/is write ``M·N·row_folds`` partial
outputs. Checked against SCALE-Sim 3.0.0's DETAILED_ACCESS_REPORT (``nmsim/data/validation/
scalesim-3.0.0-traffic.csv``), where three accountings differ by design: SCALE-Sim drains every fold's partial
sums to DRAM even when they would fit (nmsim accumulates them on chip), for an N:M weight it fetches only
the condensed ``M·K_c`` of A from DRAM (nmsim fetches all of A: the columns of a fold keep different positions,
so together they need every activation), and its os output SRAM count adds rows + cols per fold. Elsewhere the counts agree within 10 % on all but three of 512
comparable counts, 507 within 1 % (214 of them on runs held out from every change to these rules); the three are
os weight reads near the tile fit, where SCALE-Sim's buffer replaces its whole active half at once (-24 % to +18 %).
``memory_cycles = bytes / bytes_per_cycle`` of the main memory; double buffering overlaps it with compute:
``cycles = max(compute, memory)`` and ``bound`` names the larger one (this overlap is not checked against
SCALE-Sim's stall cycles, which its user-bandwidth mode counts with another buffer model). Time = cycles / clock.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nmsim.errors import UserError
from nmsim.execution import register
from nmsim.execution.base import (OPERAND_WEIGHT, OPERAND_WEIGHT_T, ExecContext, ExecutionModel, GemmTable, Priced,
                                  energy_constants, finish)
from nmsim.sparsity.metadata import dtype_bytes, metadata_bits_per_group
from nmsim.schema.execution import DATAFLOWS
from nmsim.sparsity.pattern import NMPattern



@dataclass(frozen=True)
class ArrayConfig:
    """One systolic array: geometry, dataflow, clock and (optional) on-chip memories.

    SRAM sizes are bytes (0 = not modelled: ideal reuse); ``dram_bytes_per_cycle`` is the main-memory bandwidth
    per array clock (0 = not modelled); ``meta_bits_per_cycle`` is the on-chip metadata port (0 = not modelled).
    """
    rows: int
    cols: int
    dataflow: str = "ws"
    clock_ghz: float = 1.0
    ifmap_sram_bytes: float = 0.0
    filter_sram_bytes: float = 0.0
    ofmap_sram_bytes: float = 0.0
    dram_bytes_per_cycle: float = 0.0
    meta_bits_per_cycle: float = 0.0

    def __post_init__(self):
        if self.dataflow not in DATAFLOWS:
            raise UserError(f"unknown dataflow {self.dataflow!r} (known: {', '.join(DATAFLOWS)})", "dataflow")
        for name in ("rows", "cols"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise UserError(f"must be a positive integer, got {v!r}", name)
        if not self.clock_ghz > 0:
            raise UserError(f"must be > 0, got {self.clock_ghz!r}", "clock_ghz")
        for name in ("ifmap_sram_bytes", "filter_sram_bytes", "ofmap_sram_bytes", "dram_bytes_per_cycle",
                     "meta_bits_per_cycle"):
            if not getattr(self, name) >= 0:
                raise UserError(f"must be >= 0, got {getattr(self, name)!r}", name)

    @property
    def macs(self) -> int:
        return self.rows * self.cols

    @property
    def peak_flops(self) -> float:
        """Dense peak, FLOP/s (one MAC = 2 FLOPs per cycle per PE)."""
        return 2.0 * self.macs * self.clock_ghz * 1e9


def condensed_k(k, n, m):
    """Reduction length after dropping the zeros of an n:m operand along it (n = m: unchanged)."""
    k = np.asarray(k, dtype=np.int64)
    n = np.asarray(n, dtype=np.int64)
    m = np.asarray(m, dtype=np.int64)
    return (k // m) * n + np.minimum(n, k % m)


def _ceil_div(a, b):
    return -(-a // b)



def _int(x):
    return np.rint(np.asarray(x, dtype=float)).astype(np.int64)


def gemm_cycles(arr: ArrayConfig, m, k, n, *, keep_n=1, group_m=1, batch=1, meta_bits_per_group=0.0,
                bytes_per_el: float = 1.0, act_n=1, act_m=1) -> dict:
    """Cycles, folds, utilisation and traffic of GEMMs ``[M, K] x [K, N]`` on ``arr`` (arrays broadcast).

    ``keep_n:group_m`` is the weight's N:M along K (1:1 = dense); ``act_n:act_m`` the activations' density-bound
    blocks along K (1:1 = dense; ``os`` only); ``batch`` independent GEMMs of that shape
    run one after another. Traffic is returned per operand in elements (``a_elems`` activations A,
    ``w_elems`` weight values, ``c_elems`` outputs incl. spills) plus ``metadata_bytes``; ``dram_bytes`` prices
    them all at ``bytes_per_el``. See the module docstring for every formula.
    """
    m, k, n, batch = _int(m), _int(k), _int(n), _int(batch)
    keep_n, group_m = _int(keep_n), _int(group_m)
    if np.any(keep_n > group_m) or np.any(keep_n < 1):
        raise UserError("an N:M pattern needs 1 <= N <= M", "pattern")
    sparse = keep_n < group_m
    w_sparse = sparse
    kc = np.where(w_sparse, condensed_k(k, keep_n, group_m), k)
    kw = kc  # the weight's stored (condensed) reduction length
    act_n, act_m = _int(act_n), _int(act_m)
    if np.any(act_n > act_m) or np.any(act_n < 1):
        raise UserError("an activation N:M bound needs 1 <= N <= M", "activation_nm")
    act_sparse = act_n < act_m
    if np.any(act_sparse) and arr.dataflow != "os":
        raise UserError(f"activation blocks can be skipped only where the reduction streams in time (dataflow os), "
                        f"not {arr.dataflow}", "activation_nm")
    kc = np.where(act_sparse, _ceil_div(kc * act_n, act_m), kc)
    sparse = sparse | act_sparse
    R, C = arr.rows, arr.cols
    if arr.dataflow == "ws":
        d_rows, d_cols, t = kc, n, m
    elif arr.dataflow == "os":
        d_rows, d_cols, t = m, n, kc
    else:
        d_rows, d_cols, t = kc, m, n
    row_folds = _ceil_div(d_rows, R)
    col_folds = _ceil_div(d_cols, C)
    folds = row_folds * col_folds
    per_group = np.asarray(meta_bits_per_group, dtype=float)
    groups = np.where(w_sparse, n * _ceil_div(k, group_m), 0)
    meta_bytes = batch * groups * per_group / 8.0
    # tile load (ws/is: R cycles; os: none), stretched by a narrow metadata port
    load = np.zeros(np.shape(folds)) + (0.0 if arr.dataflow == "os" else float(R))
    if arr.meta_bits_per_cycle > 0:
        if arr.dataflow == "ws":
            tile_bits = np.where(w_sparse, R * C / keep_n * per_group, 0.0)
        elif arr.dataflow == "os":  # a fold streams K_c x C weights through
            tile_bits = np.where(w_sparse, kw * np.minimum(n, C) / keep_n * per_group, 0.0)
        else:  # is: a fold streams its R condensed rows of all N columns through
            tile_bits = np.where(w_sparse, np.minimum(kw, R) * n / keep_n * per_group, 0.0)
        load = np.maximum(load, np.ceil(tile_bits / arr.meta_bits_per_cycle))
    per_fold = load + (R - 1) + (C - 1) + t
    compute = batch * folds * per_fold
    macs = batch * m * kc * n  # executed MACs (kept weights; kept pairs under activation DBB)
    util = macs / np.maximum(compute * R * C, 1)
    # main-memory traffic in elements
    a_el, w_el, c_el = m * k, kw * n, m * n
    half = lambda sram: 0.5 * sram  # noqa: E731  double buffered: half holds the working set

    def reads(el, sram, reps, working=None):
        """``el`` read once when its reused working set (default: all of it) fits the active half, else ``reps``
        times; strictly smaller than the half (at exactly half, the prefetch of the next data overwrites it)."""
        if sram <= 0:
            return el
        return np.where((el if working is None else working) * bytes_per_el < half(sram), el, el * reps)

    if arr.dataflow == "ws":
        a_rd, w_rd = reads(a_el, arr.ifmap_sram_bytes, col_folds), w_el
        psum = m * np.minimum(n, C)
    elif arr.dataflow == "is":
        a_rd, w_rd = a_el, reads(w_el, arr.filter_sram_bytes, col_folds)
        psum = n * np.minimum(m, C)
    else:
        # column folds outside, row folds inside: a column fold's weight tile (K_c x C) serves all its row folds
        a_rd = reads(a_el, arr.ifmap_sram_bytes, col_folds)
        w_rd = reads(w_el, arr.filter_sram_bytes, row_folds, working=kw * np.minimum(n, C))
        psum = np.zeros_like(c_el)
    if arr.dataflow != "os" and arr.ofmap_sram_bytes > 0:
        spill = psum * bytes_per_el >= half(arr.ofmap_sram_bytes)
        c_wr = np.where(spill, c_el * row_folds, c_el)
        c_rd = np.where(spill, c_el * (row_folds - 1), 0)
    else:
        c_wr, c_rd = c_el, np.zeros_like(c_el)
    a_rd, w_rd, c_wr, c_rd = batch * a_rd, batch * w_rd, batch * c_wr, batch * c_rd
    c_mv = c_wr + c_rd
    # what the array exchanges with its SRAMs (SCALE-Sim's SRAM reads/writes): the streamed operand once per fold
    # of the other array dim, the stationary one once; outputs once per row fold (os: once, kept in the PEs)
    if arr.dataflow == "ws":
        s_a, s_w, s_c = m * k * col_folds, kw * n, m * n * row_folds
    elif arr.dataflow == "os":
        s_a, s_w, s_c = m * k * col_folds, kw * n * row_folds, m * n
    else:
        s_a, s_w, s_c = m * k, kw * n * col_folds, m * n * row_folds
    dram_bytes = (a_rd + w_rd + c_mv) * bytes_per_el + meta_bytes
    memory = dram_bytes / arr.dram_bytes_per_cycle if arr.dram_bytes_per_cycle > 0 else np.zeros(np.shape(dram_bytes))
    cycles = np.maximum(compute, memory)
    return {
        "sparse": sparse, "condensed_k": kc, "row_folds": row_folds, "col_folds": col_folds, "folds": folds,
        "cycles_per_fold": per_fold, "compute_cycles": compute.astype(float), "memory_cycles": memory,
        "cycles": cycles.astype(float), "executed_macs": macs.astype(float), "utilization": util,
        "a_elems": a_rd.astype(float), "w_elems": w_rd.astype(float), "c_elems": c_mv.astype(float),
        "c_write_elems": c_wr.astype(float), "c_read_elems": c_rd.astype(float),
        "sram_a_reads": (batch * s_a).astype(float), "sram_w_reads": (batch * s_w).astype(float),
        "sram_c_writes": (batch * s_c).astype(float), "metadata_bytes": meta_bytes, "dram_bytes": dram_bytes.astype(float),
        "seconds": cycles / (arr.clock_ghz * 1e9),
    }


# ---- the execution model -----------------------------------------------------------------------------------
PEAK_TOLERANCE = 5e-3


@register("systolic")
class SystolicModel(ExecutionModel):
    """``execution: {model: systolic, rows, cols, dataflow, clock_ghz, [sram_kib], [metadata_bits_per_cycle],
    [activation_nm]}``.

    Prices every GEMM row with :func:`gemm_cycles`: compute seconds = cycles / clock, memory seconds = traffic /
    the spec's main-memory bandwidth, metadata seconds = metadata bits / the metadata port (when given). An
    act×act matmul's dgrad row (the table books dA and dB as one row with ``b`` doubled) is priced as its two
    GEMMs, dA with the row's (m, k, n) and dB = Aᵀ·dC with (n, m, k), half the repeats each. A row
    runs sparse when its weight is N:M along the reduction (``OPERAND_WEIGHT``; ``OPERAND_WEIGHT_T`` only on a
    spec accepting the transposed pattern) and the plan fits a hardware pattern of the spec (the array then
    skips by that hardware pattern: a 1:8 plan on a 2:4 array condenses K by 2). Every matrix dtype's
    ``dense_tflops`` must equal 2 · rows · cols · clock (the spec's peak and the array are one number).
    ``activation_nm`` (``os`` only; e.g. ``"4:8"``) prunes every forward GEMM's activations to that density bound
    at run time (S2TA's activation DBB), priced by the joint rule of the module docstring; without it activations
    run dense. It changes what is computed (activations are pruned), so it is an opt-in of the spec or the caller.
    Parameters: ``nmsim.schema.execution.SYSTOLIC``.
    """
    def __init__(self, hw, params: dict | None = None):
        super().__init__(hw, params)
        p = self.params
        sram = p.get("sram_kib", {})
        bw = hw.main_memory.bandwidth_gbps
        self.array = ArrayConfig(
            rows=int(p["rows"]), cols=int(p["cols"]), dataflow=str(p["dataflow"]), clock_ghz=float(p["clock_ghz"]),
            ifmap_sram_bytes=sram.get("ifmap", 0.0) * 1024, filter_sram_bytes=sram.get("filter", 0.0) * 1024,
            ofmap_sram_bytes=sram.get("ofmap", 0.0) * 1024, dram_bytes_per_cycle=bw / float(p["clock_ghz"]),
            meta_bits_per_cycle=float(p.get("metadata_bits_per_cycle", 0.0)))
        act = NMPattern.parse(str(p.get("activation_nm") or "dense"), "activation_nm")
        self.activation = (act.n, act.m) if act is not None else (1, 1)
        peak = self.array.peak_flops / 1e12
        for dtype, tflops in hw.matrix_dense.items():
            if abs(tflops - peak) > PEAK_TOLERANCE * peak:
                raise UserError(f"dense_tflops {tflops:g} differs from the systolic array's 2 x {self.array.rows} x "
                                f"{self.array.cols} x {self.array.clock_ghz:g} GHz = {peak:g} TFLOPS",
                                f"{hw.path or hw.name}: matrix.{dtype}.dense_tflops")

    def kernel_names(self, ctx):
        return ("dense", "sparse")

    def supports(self, table, ctx):
        return np.full(np.shape(table.nominal_flops), ctx.dtype in self.hw.matrix_dense, dtype=bool)

    def _pattern_arrays(self, table: GemmTable, ctx: ExecContext) -> dict:
        enc = self.hw.metadata_encoding or "index"
        ok, gn, gm, bits, label = [], [], [], [], []
        for p in table.patterns:
            hw_p, _, _ = self.hw.best_sparse(p, ctx.dtype)
            ok.append(hw_p is not None)
            gn.append(hw_p.n if hw_p is not None else 1)
            gm.append(hw_p.m if hw_p is not None else 1)
            bits.append(metadata_bits_per_group(hw_p, enc) if hw_p is not None else 0)
            label.append(str(hw_p) if hw_p is not None else "dense")
        return {"ok": np.array(ok, dtype=bool), "gn": np.array(gn), "gm": np.array(gm),
                "bits": np.array(bits, dtype=float), "label": np.array(label, dtype=object)}

    def price(self, table: GemmTable, ctx: ExecContext) -> Priced:
        hw, arr = self.hw, self.array
        P = self._pattern_arrays(table, ctx)
        code = table.pattern
        usable = (table.sparse_operand == OPERAND_WEIGHT) | (
            (table.sparse_operand == OPERAND_WEIGHT_T) & hw.accepts_transposed_dgrad)
        want = usable & P["ok"][code]
        split = (table.weight_elems == 0) & (table.pass_codes == 1)
        cb = dtype_bytes(ctx.dtype, "--dtype")
        wb = dtype_bytes(ctx.wdtype, "--weight-dtype")
        r = gemm_cycles(arr, table.m, table.k, table.n, keep_n=np.where(want, P["gn"][code], 1),
                        group_m=np.where(want, P["gm"][code], 1), batch=np.where(split, table.b / 2, table.b),
                        meta_bits_per_group=np.where(want, P["bits"][code], 0.0), bytes_per_el=cb,
                        act_n=np.where(table.pass_codes == 0, self.activation[0], 1),
                        act_m=np.where(table.pass_codes == 0, self.activation[1], 1))
        # an act x act dgrad row holds dA (its m, k, n) and dB[K, N] = A^T dC (n, m, k): price dB's own shape
        r2 = gemm_cycles(arr, table.n, table.m, table.k, batch=np.where(split, table.b / 2, 0), bytes_per_el=cb)
        for key in ("compute_cycles", "executed_macs", "a_elems", "w_elems", "c_elems", "folds"):
            r[key] = r[key] + r2[key]
        r["utilization"] = r["executed_macs"] / np.maximum(r["compute_cycles"] * arr.macs, 1)
        sparse = r["sparse"]
        clock = arr.clock_ghz * 1e9
        compute = r["compute_cycles"] / clock
        is_weight = table.weight_elems > 0
        is_wgrad = table.pass_codes == 2
        # fwd/dgrad of a weight op: B is the weight (weight dtype); wgrad writes the dense dW (compute dtype)
        w_bytes = np.where(is_weight & ~is_wgrad, r["w_elems"] * wb + r["metadata_bytes"],
                           np.where(is_weight & is_wgrad, r["c_elems"] * cb, 0.0)) + table.bias_elems * cb
        total = (r["a_elems"] + r["w_elems"] + r["c_elems"]) * cb + r["metadata_bytes"] + table.bias_elems * cb
        total = total + np.where(is_weight & ~is_wgrad, r["w_elems"] * (wb - cb), 0.0)
        if ctx.fusion.attention:  # the T x T scores stay on chip
            total = np.maximum(total - table.score_elems * cb, w_bytes)
        act = total - w_bytes
        memory = total / (hw.main_memory.bandwidth_gbps * 1e9)
        mport = arr.meta_bits_per_cycle
        metadata = r["metadata_bytes"] * 8.0 / (mport * clock) if mport > 0 else np.zeros_like(compute)
        seconds, bound = finish(compute, memory, metadata)
        executed = 2.0 * r["executed_macs"]
        pj_flop, pj_byte = energy_constants(hw, ctx.dtype)
        joules = (executed * pj_flop + total * pj_byte) * 1e-12
        shape = np.broadcast_shapes(np.shape(seconds), np.shape(code))
        bc = lambda a: np.broadcast_to(a, shape)  # noqa: E731
        return Priced(executed_flops=bc(executed), weight_bytes=bc(w_bytes), metadata_bytes=bc(r["metadata_bytes"]),
                      act_bytes=bc(act), bytes=bc(total), compute_seconds=bc(compute), memory_seconds=bc(memory),
                      metadata_seconds=bc(metadata), seconds=bc(seconds), bound=bc(bound), joules=bc(joules),
                      sparse=bc(sparse), kernel=bc(sparse.astype(np.int8)), kernel_names=("dense", "sparse"),
                      extra={"cycles": bc(r["compute_cycles"]), "folds": bc(r["folds"]),
                             "condensed_k": bc(r["condensed_k"]), "utilization": bc(r["utilization"]),
                             "hw_pattern": P["label"][np.where(sparse, code, 0)]})
