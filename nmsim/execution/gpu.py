"""``gpu``: kernels as data. A GPU spec lists the GEMM kernels its stack can run; each row runs on the fastest
kernel that accepts it (or the one pinned with ``--kernel``), and the row reports which.

Spec (``execution:`` of a GPU YAML)::

    execution:
      model: gpu
      sms: 108                                  # streaming multiprocessors (wave quantization)
      arch: sm90                                # the GPU's compute capability (kernel applicability)
      older_arch_peak_fraction: 0.5             # share of the dtype peak a kernel built for an older arch reaches
      vector_launch_us: 3                       # fixed cost of each unfused non-GEMM kernel (norm, embedding)
      host_op_us: 30                            # host dispatch per kernel without CUDA graphs (eager framework)
      kernel_gap_us: 3.4                        # GPU time per kernel of a model step beyond its own (fitted)
      vector_bandwidth_efficiency: {value: 0.84, source: ...}   # share of DRAM bandwidth an element-wise kernel
                                                # reaches (a measured STREAM copy/triad rate); absent: 1
      l2_bandwidth_gbps: {value: 7219, source: ...}   # L2 -> SM read bandwidth; absent: "not given", no L2 limit
      l2_mib: {value: 72, source: ...}          # L2 capacity: split-K partials that fit it stay there (with the
                                                # L2 bandwidth); absent: they go to DRAM
      sm_limits: {shared_kib: 164, blocks: 32, warps: 64, reserved_kib_per_block: 1,
                  shared_bytes_per_clk: 128, source: ...}   # per SM
      boost_mhz: {value: 1410, source: ...}     # the clock the matrix peaks are listed at (FLOPs per SM per clock)
      sustained_mhz: {value: 2235, source: ...} # the clock a model run holds (absent: boost_mhz); GEMMs timed
                                                # alone (price_gemms) run at boost_mhz
      board_watts: {value: 400, source: ...}    # energy = seconds x board power (an upper bound)
      fusion: {attention: true, epilogue: true}
      kernels:
        NAME:
          kind: dense | sparse-tensor-core | compressed-weight
          dtypes: [bf16, fp16]                  # compute dtypes
          weight_dtypes: [int4]                 # stored weight dtypes (default: the compute dtype)
          patterns: ["2:4"] | any               # hardware patterns a plan must fit; any = the plan's own N:M
          max_m: 128                            # any: largest M
          offered_from_rows: 128                # not offered below this many activation rows (outside the
                                                # shapes its measurements cover); default 1
          tile: {m: 128, n: 128}                # output tile (tile + wave quantization); a list of tiles: each
                                                # GEMM runs on the fastest (libraries pick per shape)
          occupancy: {threads: 64, stage_k: 256, latency_warps: 19.4}   # resident warps from shared memory per
                                                # block and sm_limits; fewer than latency_warps slow the math
                                                # (nmsim.execution.occupancy)
          warp_tile: {m: 64, n: 64}             # register-fed MMA: each warp reads its fragments from shared
                                                # memory (nmsim.execution.operand_feed)
          efficiency_rate: 2048                 # dense FLOPs per SM per clock `efficiency` was fitted at: its
                                                # loss is issue time per FLOP, the same at a slower tensor rate
          min_rows: 32                          # activation rows are padded to this
          efficiency: 0.8                       # fraction of the peak on full waves of full tiles
          fp8_efficiency: 0.6                   # the same for fp8 GEMMs of a forward step (default: efficiency)
          tile_overhead_k: 128                  # per-tile prologue + epilogue, in reduction steps (default 0)
          index_columns: 32                     # compressed-weight: output columns sharing one index set; a tile
                                                # gathers the union of its column groups' kept k from L2
          arch: sm80                            # arch the kernel is built for (default: the GPU's own)
          bandwidth_efficiency: 0.9             # fraction of HBM bandwidth reached
          launch_us: 3                          # fixed cost per GEMM
          overlap: 1.0                          # 1 = memory and compute overlap fully, 0 = they add up
          decode_ns_per_nnz: 0                  # index decode / gather, per kept nonzero per row tile per SM
          split_k: false                        # true: the reduction is split across SMs (no wave quantization);
                                                # auto: split into s = min(sms // tiles, k // 256) slices when faster
                                                # (fp32 partials written and re-read, one more launch)
          small_m: {rows_below: 32, efficiency: 0.062}   # measured slowdown of small-M calls
          metadata: index                       # metadata encoding of the compressed weight
          source: ...

Per row and kernel (all numpy, broadcast over leading config axes)::

    rows      = max(m, min_rows);  h = tile.m, or the next power of two >= rows when rows < tile.m (short tile)
    tiles     = b * ceil(rows / h) * ceil(n / tile.n);  tile_eff = m * n / (ceil(rows / h) * h * ceil(n / tile.n) * tile.n)
    wave_eff  = tiles / (ceil(tiles / sms) * sms)
    padded    = nominal / tile_eff;  executed = padded * density   (1 dense, hw pattern's, the plan's for any)
    k_eff     = kw / (kw + tile_overhead_k)      (kw = k, or the kept k = k x density on a compressed-weight kernel)
    compute   = work / (peak * efficiency * issue * clock * wave_eff * k_eff * occ * feed)
                + decode_ns_per_nnz * kept_nnz * row_tiles / sms
                (issue = eff(r) / efficiency, 1 / eff(r) = 1 + (1 / efficiency - 1) * r / efficiency_rate at the
                 GPU's dense FLOPs per SM per clock r; clock = sustained_mhz / boost_mhz in a model run, 1 for
                 GEMMs timed alone; both 1 where not given: nmsim.execution.operand_feed)
                (occ = min(1, resident warps / latency_warps); 1 without occupancy or sm_limits)
                (feed = min(1, shared-memory port / operand bytes per clock at the peak); 1 without warp_tile,
                 boost_mhz or sm_limits.shared_bytes_per_clk: nmsim.execution.operand_feed)
                (work = padded on a sparse tensor core, whose peak counts dense-equivalent FLOPs; else executed)
    memory    = (weight values + metadata + bias + activations) / (bandwidth * bandwidth_efficiency)
    l2        = tiles * (h * k * union + tile.n * kw) * bytes / l2_bandwidth     (compressed-weight kernels with
                index_columns, on a GPU whose l2_bandwidth_gbps is given; union = 1 - (1 - density)^(tile.n /
                index_columns)); memory = max(memory, l2)
    small M   : compute and memory / small_m.efficiency when m < small_m.rows_below
    seconds   = launch + max(compute, memory) + (1 - overlap) * min(compute, memory)

``peak``: the dtype's dense peak (dense, compressed-weight: dense MMA on the gathered operand) or the spec's
listed sparse peak for the kernel's pattern (sparse-tensor-core; dense × M/N when not listed), times
``older_arch_peak_fraction`` when the kernel is built for an older arch than the GPU's (a Hopper GPU running an
sm80 kernel issues Ampere ``mma.sync``, not ``wgmma``); a kernel built for a newer arch is not offered.

``k_eff``: each output tile pays a fixed prologue (filling the multi-stage shared-memory pipeline) and epilogue
(writing the tile) besides its reduction loop, so short-K GEMMs reach a lower share of the peak.

``l2`` (the high-sparsity limiter): a software N:M kernel gathers, for each output tile and window, the activation
values its kept k needs. Columns sharing an index set (``index_columns``; NM-SpMM's VEC_LEN = 32) need the same k,
but a tile of ``tile.n`` columns holds ``tile.n / index_columns`` independent sets, so it loads the union of their
kept k: for random patterns the expected share ``1 - (1 - N/M)^(tile.n / index_columns)`` of each M-wide window of k
(NM-SpMM's high-sparsity kernels load only that union, ``column_info`` in github.com/M-H482/NM-SpMM). These
activation re-reads (once per column tile) come from L2 (the activation is L2-resident), so their traffic over the
GPU's L2 bandwidth bounds the kernel: the activation share of a tile's traffic falls far more slowly than the kept
work as N/M drops, so the gain over dense levels off below M/N instead of following HBM bandwidth. The L2 time joins
the memory side (``overlap`` applies to it as to HBM traffic). Where the spec gives no ``l2_bandwidth_gbps`` (no
source found), or the kernel no ``index_columns``, the limiter does not apply.

fp8 (``--dtype fp8``) in a forward step: the linear layers run in fp8 at the kernel's ``fp8_efficiency`` of the fp8
peak (fitted on fp8 inference runs; default ``efficiency``); attention's QK^T and PV run at the 16-bit peak (the GPU's bf16, else fp16) at
``efficiency``, reading the KV cache in fp8, as TensorRT-LLM's fp16 attention plugin over an fp8 KV cache does.
Training steps and GEMMs timed alone keep ``efficiency`` (the cluster level fits its own on fp8 training runs).

Non-GEMM kernels: each unfused op (one module per pass) costs ``vector_launch_us`` on top of its roofline time,
whose memory side runs at ``vector_bandwidth_efficiency`` of the DRAM bandwidth: what a streaming element-wise
kernel measurably reaches (BabelStream's copy, mul, add and triad), not the datasheet figure.

Kernel gap (``kernel_gap_us``): in a forward step (inference, prefill, decode: ``price`` and every path through the
same step; not a GEMM priced alone by ``price_gemms``, and not a training step, where it was never fitted) each
GEMM and each unfused vector kernel costs this much more GPU time: a
dependent kernel fills the SMs only after the previous one drains, and a compiled step runs small kernels the
trace does not count (rotary, KV-cache writes, sampling). It dominates batch-1 decode of small layers (a Llama
step runs about 350 kernels) and vanishes in large steps.

Host dispatch (``host_op_us``; pricing with ``cuda_graphs=False``, CLI ``--no-cuda-graphs``): an eager framework
spends this much host time issuing each kernel, so a row's seconds are at least its kernels x ``host_op_us`` (the
GPU idles between short kernels; long ones hide the host). Replayed from a CUDA graph (the default) kernels pay
only their launch costs above. Rows are priced one at a time, so a step's time is the sum of per-kernel maxima.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from nmsim.errors import UserError
from nmsim.execution import register
from nmsim.execution.checks import arch_factor, check_gpu, check_pin, describe
from nmsim.execution.base import (OPERAND_WEIGHT, ExecContext, ExecutionModel, GemmTable, Priced, VectorTable,
                                  finish)
from nmsim.execution.occupancy import latency_factor
from nmsim.execution.operand_feed import feed_factor, issue_factor, run_clock_factor
from nmsim.execution.roofline import activation_bytes
from nmsim.graph.roles import ATTEND, LOGIT
from nmsim.hardware.spec import Kernel
from nmsim.schema.execution import FIT_FIELDS, GPU, GPU_FIT_FIELDS, KERNEL  # noqa: F401 (the fits)
from nmsim.sparsity.metadata import dtype_bytes, metadata_bits_per_group

ATTENTION_ROLES = (LOGIT, ATTEND)   # act x act matmuls of attention (QK^T, PV)
SPLIT_K_MIN_DEPTH = 256  # split_k: auto never cuts the reduction into slices shorter than this (an assumption)

_KEEP = {"sparse": bool, "hw_pattern": np.int16}


def _tiles(k, m, n, b) -> tuple:
    """(row tiles, column tiles, tiles, useful fraction of the tiles' area, tile height) of GEMMs with ``m`` rows
    (at least the kernel's minimum), ``n`` columns and batch ``b``. Below one tile of rows the kernel runs a short
    tile (the next power of two): GEMV-like calls."""
    rows = np.maximum(m, k.min_rows)
    tile_h = np.where(rows >= k.tile_m, k.tile_m, 2.0 ** np.ceil(np.log2(np.maximum(rows, 1.0))))
    rt = np.ceil(rows / tile_h)
    ct = np.ceil(n / k.tile_n)
    with np.errstate(divide="ignore", invalid="ignore"):
        tile_eff = np.where(m * n > 0, (m * n) / (rt * tile_h * ct * k.tile_n), 1.0)
    return rt, ct, b * rt * ct, tile_eff, tile_h


@register("gpu")
class GpuModel(ExecutionModel):
    """Parameters: ``nmsim.schema.execution.GPU`` (checked and built into :class:`Kernel` rows by the loader)."""

    @property
    def kernels(self) -> tuple:
        return self.params["kernels"]

    def kernel_names(self, ctx=None):
        return tuple(k.name for k in self.kernels)

    def _check_pin(self, ctx: ExecContext) -> None:
        check_pin(self.hw, self.kernels, ctx)

    def check(self, ctx: ExecContext, patterns=()) -> None:
        """:func:`nmsim.execution.checks.check_gpu` (the errors :meth:`price` gives, said before tracing)."""
        check_gpu(self.hw, self.params, ctx, patterns)

    def supports(self, table, ctx):
        ok = any(k.kind == "dense" and k.accepts_dtypes(ctx.dtype, ctx.dtype) for k in self.kernels)
        return np.full(np.shape(table.nominal_flops), ok, dtype=bool)

    def _arch_factor(self, k: Kernel) -> float | None:
        """Share of the peak kernel ``k`` reaches on this GPU; None when it is built for a newer arch."""
        return arch_factor(self.params, k)

    def _peak(self, k: Kernel, dtype: str, hw_pattern) -> float:
        dense = self.hw.dense_tflops(dtype) * self._arch_factor(k)
        if k.kind != "sparse-tensor-core" or hw_pattern is None:
            return dense
        for p, tflops in self.hw.sparse_options(dtype):
            if p == hw_pattern:
                return tflops * self._arch_factor(k)
        return dense * hw_pattern.m / hw_pattern.n

    def _pattern_arrays(self, k: Kernel, table: GemmTable, ctx: ExecContext, dtype_ok, labels: dict) -> tuple:
        """Per row on kernel ``k``: (runs?, density, group N, group M, metadata bits per group, peak TFLOPS,
        executed hardware pattern as a code into ``labels``, which gains new patterns); a dense kernel runs every
        row dense (code 0)."""
        code = table.pattern
        if not k.sparse:
            return dtype_ok & np.ones(np.shape(code), dtype=bool), 1.0, 1.0, 1.0, 0.0, self._peak(k, ctx.dtype, None), 0
        per = [k.execution(p) for p in table.patterns]   # the hardware pattern each plan pattern runs as
        runs = np.array([p is not None for p in per], dtype=bool)
        operand_ok = (table.sparse_operand == OPERAND_WEIGHT) | ((table.sparse_operand == 2) & k.transposed)
        return (dtype_ok & runs[code] & operand_ok,
                np.array([1.0 if p is None else p.density for p in per])[code],
                np.array([1.0 if p is None else p.n for p in per])[code],
                np.array([1.0 if p is None else p.m for p in per])[code],
                np.array([0.0 if p is None else metadata_bits_per_group(p, k.metadata) for p in per])[code],
                np.array([self._peak(k, ctx.dtype, p) for p in per])[code],
                np.array([0 if p is None else labels.setdefault(str(p), len(labels)) for p in per], np.int16)[code])

    def _kernel_rows(self, k: Kernel, table: GemmTable, ctx: ExecContext, labels: dict) -> dict | None:
        """Arrays for every row as if run on ``k`` (``ok`` = the kernel can run the row); None if never.
        ``hw_pattern``: codes into ``labels`` (integer arrays: object arrays of text cost ten times more). A kernel
        with several tile shapes runs each row on its fastest one."""
        if k.tiles:
            best = None
            for tm, tn in k.tiles:
                r = self._kernel_rows(replace(k, tile_m=tm, tile_n=tn, tiles=()), table, ctx, labels)
                if r is None or best is None:
                    best = best or r
                    continue
                better = r["seconds"] < best["seconds"]
                best = {key: v if key == "ok" else np.where(better, v, best[key]) for key, v in r.items()}
            return best
        is_w = table.weight_elems > 0
        fwd_like = table.pass_codes < 2
        wrow = is_w & fwd_like  # rows that read the stored weight
        dense_ok = k.accepts_dtypes(ctx.dtype, ctx.dtype)
        w_ok = k.accepts_dtypes(ctx.dtype, ctx.wdtype)
        if not (dense_ok or w_ok) or self._arch_factor(k) is None:
            return None
        dtype_ok = np.where(wrow, w_ok, dense_ok)
        ok, density, group_n, group_m, bits, peak, label = self._pattern_arrays(k, table, ctx, dtype_ok, labels)
        if k.offered_from_rows > 1:
            ok = ok & (table.m >= k.offered_from_rows)
        if not np.any(ok):
            return None
        sms = self.params["sms"]
        m, n, b = table.m, table.n, table.b
        rt, ct, tiles, tile_eff, tile_h = _tiles(k, m, n, b)
        padded = table.nominal_flops / tile_eff
        executed = padded * density
        kept = table.weight_elems * density
        # a sparse tensor core's peak counts dense-equivalent FLOPs (2:4 at 2x): it divides the padded dense work
        work = padded if k.kind == "sparse-tensor-core" else executed
        kw = table.k * (density if k.kind == "compressed-weight" else 1.0)
        # bytes: stored weights (compressed when sparse) in the weight dtype; dW / act×act at the compute dtype
        cb = dtype_bytes(ctx.dtype, "--dtype")
        wb = np.where(wrow, dtype_bytes(ctx.wdtype, "--weight-dtype"), cb)
        groups = table.weight_elems / group_m
        sparse_row = ok & k.sparse
        meta = np.where(sparse_row & wrow, groups * bits / 8.0, 0.0)
        values = np.where(sparse_row & wrow, groups * group_n * wb, table.weight_elems * wb)
        weight = values + meta + table.bias_elems * cb
        act = activation_bytes(table, ctx)
        total = weight + act
        decode = k.decode_s_per_nnz * kept * rt / sms
        l2_s = self._l2_seconds(k, sparse_row, density, table, rt, ct, tile_h, kw, cb, wb)
        occupancy = latency_factor(k, self.params.get("sm_limits"), density, cb)
        # weight bytes per element of k: a sparse row stores N of M values and their index bits
        w_per_k = np.where(sparse_row & wrow, (group_n * wb + bits / 8.0) / group_m, wb)
        peak, level = self._fp8_split(k, table, ctx, peak)
        feed = feed_factor(k, self.params, peak, cb, w_per_k)
        rate = (issue_factor(k, self.params, self.hw.dense_tflops(ctx.dtype) * self._arch_factor(k))
                * run_clock_factor(self.params, ctx.burst))
        ideal = work / peak / 1e12 / (occupancy * feed * rate * level)
        args = (k, ideal, m, tiles, kw, total, b * m * n, decode, l2_s)
        t = self._timing(*args, 1.0)
        if k.split_k_auto:  # the library splits K when that is faster (few output tiles, long K)
            split = self._timing(*args, self._split_factor(tiles, table.k))
            faster = split["seconds"] < t["seconds"]
            t = {key: np.where(faster, split[key], v) for key, v in t.items()}
        compute, memory, seconds, k_eff, wave_eff = (t[key] for key in
                                                     ("compute", "memory", "seconds", "k_eff", "wave_eff"))
        total = t["bytes"]
        return {"ok": ok, "executed_flops": executed, "weight_bytes": weight, "metadata_bytes": meta,
                "act_bytes": act, "bytes": total, "compute_seconds": compute, "memory_seconds": memory,
                "seconds": seconds, "padded_flops": padded,
                "efficiency": k.efficiency * wave_eff * tile_eff * k_eff,
                "sparse": sparse_row, "hw_pattern": np.where(sparse_row, label, 0)}

    def _fp8_split(self, k: Kernel, table, ctx: ExecContext, peak):
        """(peak, efficiency relative to ``k.efficiency``) per row. An fp8 forward step runs its linear layers in
        fp8, at the kernel's ``fp8_efficiency``, and attention's QK^T and PV at the 16-bit peak over the fp8 KV
        cache (TensorRT-LLM's attention plugin and Transformer Engine keep attention in fp16/bf16). Training steps
        and GEMMs timed alone keep ``efficiency``: the cluster level fits its own compute efficiency on fp8 runs."""
        if ctx.dtype != "fp8" or not ctx.step:
            return peak, 1.0
        attention = (table.weight_elems == 0) & np.isin(np.asarray(table.frame["role"]), ATTENTION_ROLES)
        half = next((d for d in ("bf16", "fp16") if d in self.hw.matrix_dense), None)
        fp8 = (k.fp8_efficiency or k.efficiency) / k.efficiency
        if half is None:
            return peak, np.where(attention, 1.0, fp8)
        return np.where(attention, self._peak(k, half, None), peak), np.where(attention, 1.0, fp8)

    def _split_factor(self, tiles, kdim):
        """Split-K slices for GEMMs with fewer output tiles than SMs: fill the SMs, each slice >= 256 deep."""
        sms = self.params["sms"]
        s = np.minimum(np.floor(sms / np.maximum(tiles, 1.0)), np.floor(kdim / SPLIT_K_MIN_DEPTH))
        return np.maximum(s, 1.0)

    def _l2_seconds(self, k: Kernel, sparse_row, density, table, rt, ct, tile_h, kw, cb, wb):
        """Seconds to stream a compressed-weight kernel's tiles from L2: each column tile re-reads its rows'
        activation over the union of its index sets' kept k, each row tile its columns' kept weights; 0 where the
        GPU's L2 bandwidth is not given or the kernel does not say how its columns share indices."""
        l2 = self.params.get("l2_bandwidth_gbps")
        if not l2 or not k.index_columns or k.kind != "compressed-weight":
            return 0.0
        union = np.where(sparse_row, 1.0 - (1.0 - density) ** (k.tile_n / k.index_columns), 1.0)
        act = table.b * ct * rt * tile_h * table.k * union * cb
        weight = table.b * rt * ct * k.tile_n * kw * wb
        return np.where(sparse_row, (act + weight) / (l2 * 1e9), 0.0)

    def _timing(self, k: Kernel, ideal_s, m, tiles, kw, byts, outputs, decode_s, l2_s, splits) -> dict:
        """Compute, memory and total seconds of a GEMM run in ``splits`` slices of its reduction (1 = no split)."""
        sms = self.params["sms"]
        st = tiles * splits
        with np.errstate(divide="ignore", invalid="ignore"):
            wave_eff = np.where(st > 0, st / (np.ceil(st / sms) * sms), 1.0) if not k.split_k else 1.0
            # per-tile prologue/epilogue: a reduction loop of depth kw is kw / (kw + overhead) of a tile's time
            ks = kw / splits
            k_eff = np.where(ks > 0, ks / (ks + k.tile_overhead_k), 1.0) if k.tile_overhead_k else 1.0
        compute = ideal_s / (k.efficiency * wave_eff * k_eff) + decode_s
        # split K: fp32 partial tiles written and read back by a second (reduction) kernel; they stay in L2 when
        # they fit it (the reduction kernel reads them right after they are written)
        partial = np.where(splits > 1, 2.0 * splits * outputs * 4.0, 0.0)
        l2_cap, l2_bw = self.params.get("l2_mib"), self.params.get("l2_bandwidth_gbps")
        in_l2 = (partial <= l2_cap * 2.0 ** 20) if l2_cap and l2_bw else False
        dram = byts + np.where(in_l2, 0.0, partial)
        byts = byts + partial
        l2_s = l2_s + np.where(in_l2, partial / ((l2_bw or 1.0) * 1e9), 0.0)
        memory = np.maximum(dram / (self.hw.main_memory.bandwidth_gbps * 1e9 * k.bandwidth_efficiency), l2_s)
        if k.small_m_efficiency < 1.0:
            slow = np.where(m < k.small_m_rows, 1.0 / k.small_m_efficiency, 1.0)
            compute, memory = compute * slow, memory * slow
        hi, lo = np.maximum(compute, memory), np.minimum(compute, memory)
        launches = np.where(splits > 1, 2.0, 1.0)
        seconds = k.launch_s * launches + hi + (1.0 - k.overlap) * lo
        return {"compute": compute, "memory": memory, "seconds": seconds, "bytes": byts, "k_eff": k_eff,
                "wave_eff": wave_eff}

    def price(self, table: GemmTable, ctx: ExecContext) -> Priced:
        self._check_pin(ctx)
        shape = np.broadcast_shapes(np.shape(table.nominal_flops), np.shape(table.pattern), np.shape(table.m))
        best = None
        kernel = np.full(shape, -1, dtype=np.int16)
        names = self.kernel_names()
        # a pinned kernel (dense or sparse) runs every row it can; the others compete for the rest, except that
        # no other sparse kernel runs while one is pinned
        order = sorted(range(len(self.kernels)), key=lambda j: self.kernels[j].name != ctx.kernel)
        pinned_ok = np.zeros(shape, dtype=bool)
        labels = {"dense": 0}   # hardware patterns run, by code
        for i in order:
            k = self.kernels[i]
            if ctx.kernel is not None and k.sparse and k.name != ctx.kernel:
                continue
            r = self._kernel_rows(k, table, ctx, labels)
            if r is None:
                continue
            ok = np.broadcast_to(r["ok"], shape)
            sec = np.broadcast_to(r["seconds"], shape)
            if k.name == ctx.kernel:
                pinned_ok = ok.copy()
            if best is None:
                best = {key: np.broadcast_to(v, shape).astype(_KEEP.get(key, float), copy=True)
                        for key, v in r.items() if key != "ok"}
                best["seconds"] = np.where(ok, sec, np.inf)
                kernel = np.where(ok, i, -1).astype(np.int16)
                continue
            better = ok & (sec < best["seconds"]) & ~pinned_ok
            for key, v in r.items():
                if key != "ok":
                    best[key] = np.where(better, np.broadcast_to(v, shape), best[key])
            kernel = np.where(better, i, kernel)
        if best is None or np.any(kernel < 0):
            raise UserError(f"{self.hw.name} has no kernel for {ctx.dtype} GEMMs with {ctx.wdtype} weights "
                            f"(kernels: {self._describe()})", "--dtype/--weight-dtype")
        if ctx.kernel is not None:
            pinned = names.index(ctx.kernel)
            if not np.any(kernel == pinned):
                raise UserError(f"kernel {ctx.kernel!r} runs no GEMM of this plan at {ctx.dtype} with "
                                f"{ctx.wdtype} weights ({self._describe()})", "--kernel")
        seconds = self._host_floor(best["seconds"] + self._gap(ctx), 1.0, ctx)
        _, bound = finish(best["compute_seconds"], best["memory_seconds"], np.zeros(shape))
        watts = self.params.get("board_watts")
        joules = seconds * watts if watts else np.full(shape, math.nan)
        return Priced(executed_flops=best["executed_flops"], weight_bytes=best["weight_bytes"],
                      metadata_bytes=best["metadata_bytes"], act_bytes=best["act_bytes"], bytes=best["bytes"],
                      compute_seconds=best["compute_seconds"], memory_seconds=best["memory_seconds"],
                      metadata_seconds=np.zeros(shape), seconds=seconds, bound=bound, joules=joules,
                      sparse=best["sparse"].astype(bool), kernel=kernel, kernel_names=names,
                      extra={"padded_flops": best["padded_flops"], "efficiency": best["efficiency"],
                             "hw_pattern": np.asarray(list(labels), dtype=object)[best["hw_pattern"]]})

    def _gap(self, ctx: ExecContext) -> float:
        """GPU time each kernel of a forward step costs beyond its own (``kernel_gap_us``); 0 off ``ctx.step``."""
        return self.params.get("kernel_gap_s", 0.0) if ctx.step else 0.0

    def _host_floor(self, seconds, kernels, ctx: ExecContext):
        """Without CUDA graphs a row takes at least its kernels' host dispatch time."""
        host = self.params.get("host_op_s", 0.0)
        if ctx.cuda_graphs or not host:
            return seconds
        return np.maximum(seconds, host * np.asarray(kernels, dtype=float))

    def _describe(self) -> str:
        return describe(self.kernels)

    def price_vector(self, vt: VectorTable, ctx: ExecContext) -> dict:
        out = super().price_vector(vt, ctx)
        launch = self.params.get("vector_launch_s", 0.0) + self._gap(ctx)
        if launch:
            out["seconds"] = out["seconds"] + launch * vector_kernels(vt)
        out["seconds"] = self._host_floor(out["seconds"], vector_kernels(vt), ctx)
        watts = self.params.get("board_watts")
        if watts:
            out["joules"] = out["seconds"] * watts
        return out


def vector_kernels(vt: VectorTable) -> np.ndarray:
    """Kernels each vector row stands for (``kernel_share`` of :func:`nmsim.execution.table.vector_table`: one per
    unfused op and pass); 0 for rows without it (the optimizer step runs as multi-tensor kernels)."""
    f = vt.frame
    if "kernel_share" not in f:
        return np.zeros(len(f))
    return np.asarray(f["kernel_share"], dtype=float)
