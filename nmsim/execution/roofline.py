"""``roofline``: one roofline per GEMM with a per-hardware-pattern sparse peak (the default execution model).

Per row::

    compute_seconds  = padded_flops / (peak(hw pattern) * efficiency(executed_flops))
    memory_seconds   = bytes / main-memory bandwidth
    metadata_seconds = metadata_bytes / metadata bandwidth (only when the spec lists one, else 0)
    seconds = max of the three;  bound = which one

* The row runs sparse when its weight operand is N:M along the reduction (``OPERAND_WEIGHT``; or
  ``OPERAND_WEIGHT_T`` on a spec with ``sparse_support.transposed_dgrad``) and the plan pattern fits a hardware
  pattern (``HardwareSpec.best_sparse``): executed = padded × that hardware pattern's density (a 1:16 plan on a
  2:4 engine executes half; an any-N:M engine executes the plan's density).
* Padding: M/K/N rounded up to the spec's dense or sparse tile (NVIDIA 2:4 pads a 1-row activation to 32).
* Bytes: weights in the weight dtype (compressed values + metadata in the spec's encoding when sparse, dense
  otherwise, plus bias; wgrad writes the dense dW), activations each once at the compute dtype (T×T scores
  skipped under flash-attention fusion).
* A sparse fwd/dgrad row with fewer activation rows than the sparse tile is slowed by
  ``sparse_support.small_m_efficiency`` (the A100 spec derives it from PyTorch issue 111339).
* Energy: executed FLOPs × pJ/FLOP + bytes × pJ/byte from the spec's ``energy`` section.
"""
from __future__ import annotations

import numpy as np

from nmsim.execution import register
from nmsim.execution.base import (OPERAND_WEIGHT, OPERAND_WEIGHT_T, ExecContext, ExecutionModel, GemmTable,
                                  Priced, energy_constants, finish)
from nmsim.sparsity.metadata import dtype_bytes, metadata_bits_per_group


def pad(x, tile):
    return np.ceil(x / tile) * tile


def padded_ratio(table: GemmTable, tm, tk, tn) -> np.ndarray:
    raw = table.m * table.k * table.n
    padded = pad(table.m, tm) * pad(table.k, tk) * pad(table.n, tn)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(raw > 0, padded / np.where(raw > 0, raw, 1.0), 1.0)


def activation_bytes(table: GemmTable, ctx: ExecContext) -> np.ndarray:
    """Activation bytes at the compute dtype, without the T×T scores when attention is fused."""
    el = table.act_elems - (table.score_elems if ctx.fusion.attention else 0.0)
    return el * dtype_bytes(ctx.dtype, "--dtype")


def weight_bytes(table: GemmTable, ctx: ExecContext, sparse, group_n, group_m, meta_bits):
    """(weight bytes incl. metadata and bias, metadata bytes) per row; dense dW for wgrad rows."""
    wb = dtype_bytes(ctx.wdtype, "--weight-dtype")
    cb = dtype_bytes(ctx.dtype, "--dtype")
    groups = table.weight_elems / np.maximum(group_m, 1.0)
    values = groups * group_n * wb
    meta = groups * meta_bits / 8.0
    dense = table.weight_elems * wb
    is_wgrad = table.pass_codes == 2
    weight = np.where(is_wgrad, table.weight_elems * cb, np.where(sparse, values + meta, dense))
    meta = np.where(sparse & ~is_wgrad, meta, 0.0)
    return weight + table.bias_elems * cb, meta


@register("roofline")
class RooflineModel(ExecutionModel):
    def kernel_names(self, ctx):
        return ("dense", "sparse")

    def supports(self, table, ctx):
        ok = ctx.dtype in self.hw.matrix_dense
        return np.full(np.shape(table.nominal_flops), ok, dtype=bool)

    def _pattern_arrays(self, table: GemmTable, ctx: ExecContext) -> dict:
        hw = self.hw
        enc = hw.metadata_encoding or "index"
        cols = {"ok": [], "tflops": [], "density": [], "gn": [], "gm": [], "bits": [], "label": []}
        for p in table.patterns:
            hw_p, tflops, _ = hw.best_sparse(p, ctx.dtype)
            if hw_p is None:
                vals = (False, tflops, 1.0, 1, 1, 0.0, "dense")
            else:
                vals = (True, tflops, hw_p.density, hw_p.n, hw_p.m, metadata_bits_per_group(hw_p, enc), str(hw_p))
            for key, v in zip(cols, vals):
                cols[key].append(v)
        return {k: np.asarray(v, dtype=object if k == "label" else None) for k, v in cols.items()}

    def price(self, table: GemmTable, ctx: ExecContext) -> Priced:
        hw = self.hw
        dense_peak = hw.dense_tflops(ctx.dtype)
        P = self._pattern_arrays(table, ctx)
        code = table.pattern
        usable = (table.sparse_operand == OPERAND_WEIGHT) | (
            (table.sparse_operand == OPERAND_WEIGHT_T) & hw.accepts_transposed_dgrad)
        sparse = usable & P["ok"][code]
        dt, st = hw.tile(False, ctx.dtype), hw.tile(True, ctx.dtype)
        tm, tk, tn = (np.where(sparse, getattr(st, a), getattr(dt, a)) for a in ("m", "k", "n"))
        padded = table.nominal_flops * padded_ratio(table, tm, tk, tn)
        executed = padded * np.where(sparse, P["density"][code], 1.0)
        tflops = np.where(sparse, P["tflops"][code], dense_peak)
        eff = _efficiency(hw, executed)
        with np.errstate(divide="ignore", invalid="ignore"):
            compute = np.where(padded > 0, padded / (tflops * 1e12 * eff), 0.0)
        wbytes, meta = weight_bytes(table, ctx, sparse, P["gn"][code], P["gm"][code], P["bits"][code])
        act = activation_bytes(table, ctx)
        total = wbytes + act
        memory = total / (hw.main_memory.bandwidth_gbps * 1e9)
        mbw = hw.metadata_bandwidth_gbps
        metadata = meta / (mbw * 1e9) if mbw else np.zeros_like(meta)
        sme = hw.sparse.small_m_efficiency if hw.sparse else 1.0
        if sme < 1.0:
            slow = np.where(sparse & (table.pass_codes < 2) & (table.m < st.m), 1.0 / sme, 1.0)
            compute, memory, metadata = compute * slow, memory * slow, metadata * slow
        seconds, bound = finish(compute, memory, metadata)
        pj_flop, pj_byte = energy_constants(hw, ctx.dtype)
        try:
            pj_sparse = hw.energy_pj_per_flop(ctx.dtype, True)
        except Exception:  # noqa: BLE001 - no energy section
            pj_sparse = pj_flop
        joules = (executed * np.where(sparse, pj_sparse, pj_flop) + total * pj_byte) * 1e-12
        shape = np.broadcast_shapes(np.shape(seconds), np.shape(code))
        bc = lambda a: np.broadcast_to(a, shape)  # noqa: E731
        return Priced(executed_flops=bc(executed), weight_bytes=bc(wbytes), metadata_bytes=bc(meta),
                      act_bytes=bc(act), bytes=bc(total), compute_seconds=bc(compute), memory_seconds=bc(memory),
                      metadata_seconds=bc(metadata), seconds=bc(seconds), bound=bc(bound), joules=bc(joules),
                      sparse=bc(sparse), kernel=bc(sparse.astype(np.int8)), kernel_names=("dense", "sparse"),
                      extra={"padded_flops": bc(padded), "tflops": bc(tflops), "efficiency": bc(eff),
                             "hw_pattern": P["label"][np.where(sparse, code, 0)]})


def _efficiency(hw, flops):
    pts = hw.efficiency_points
    if len(pts) == 1:
        return np.full(np.shape(flops), pts[0][1])
    xs = np.log([p[0] for p in pts])
    ys = np.array([p[1] for p in pts])
    with np.errstate(divide="ignore"):
        return np.interp(np.log(np.maximum(flops, 1e-300)), xs, ys)
