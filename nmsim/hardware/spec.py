"""Typed, frozen accelerator specs and the queries pricing makes of them (pure python, cached)."""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

from nmsim.errors import UserError
from nmsim.sparsity.hierarchical import HierarchicalPattern
from nmsim.sparsity.pattern import NMPattern

Pattern = NMPattern | HierarchicalPattern


@dataclass(frozen=True)
class MemoryLevel:
    name: str
    capacity_gib: float
    bandwidth_gbps: float  # GB/s (10^9 bytes per second)


@dataclass(frozen=True)
class SparseSupport:
    operand: str = "weight"
    transposed_dgrad: bool = False  # dgrad may use the transposed (non-N:M) weight
    metadata_encoding: str = "index"
    metadata_bandwidth_gbps: float | None = None
    any_nm: bool = False  # any N:M runs at dense × M/N
    max_m: int | None = None  # largest M an any_nm engine accepts
    # fraction of roofline speed a sparse kernel reaches when the activation has fewer rows than the sparse
    # tile (decode GEMVs padded to 32 rows); 1.0 = no penalty beyond the padding itself
    small_m_efficiency: float = 1.0


@dataclass(frozen=True)
class Tile:
    """GEMM dimensions are rounded up to multiples of these (M = activation rows, K = reduction, N = output)."""
    m: int = 1
    k: int = 1
    n: int = 1


@dataclass(frozen=True)
class SmLimits:
    """Per-SM limits of a gpu spec (``execution.sm_limits``): shared memory, resident blocks and warps."""
    shared_bytes: float
    blocks: int
    warps: int
    reserved_bytes: float = 0.0     # shared memory the driver reserves per block
    shared_bytes_per_clk: float = 0.0   # shared-memory port (bytes per clock); 0 = operand feed not modelled


@dataclass(frozen=True)
class Kernel:
    """One GEMM kernel a gpu spec lists (``execution.kernels``; priced by ``nmsim.execution.gpu``)."""
    name: str
    kind: str
    dtypes: tuple
    weight_dtypes: tuple | None
    patterns: tuple | None          # hardware patterns; None = any N:M (compressed-weight) or dense
    any_nm: bool = False
    max_m: int | None = None
    offered_from_rows: int = 1      # activation rows below which the kernel is not offered
    tile_m: int = 128
    tile_n: int = 128
    min_rows: int = 1
    efficiency: float = 0.8
    fp8_efficiency: float | None = None   # efficiency of the linear layers computed in fp8 (None: efficiency)
    bandwidth_efficiency: float = 0.9
    launch_s: float = 3e-6
    overlap: float = 1.0
    decode_s_per_nnz: float = 0.0
    small_m_rows: int = 0
    small_m_efficiency: float = 1.0
    metadata: str = "index"
    transposed: bool = False        # also runs a weight whose groups lie along the output dim (dgrad)
    split_k: bool = False           # partitions the reduction across SMs: no wave quantization
    split_k_auto: bool = False      # splits K (fp32 partials + a reduction kernel) when that is faster
    tile_overhead_k: float = 0.0    # per-tile prologue + epilogue, in reduction steps
    arch: str | None = None         # compute capability the kernel is built for (None: the GPU's own)
    index_columns: int = 0          # compressed-weight: output columns sharing one index set (0: not modelled)
    tiles: tuple = ()               # ((m, n), ...) when the kernel picks among tile shapes: the fastest runs
    threads: int = 0                # occupancy (nmsim.execution.occupancy): threads per block; 0 = not modelled
    stage_k: tuple = ()             # ((density or None, depth), ...) staged in shared memory per step
    latency_warps: float = 0.0      # resident warps per SM at which the kernel's math reaches its efficiency
    warp_m: int = 0                 # warp tile of a register-fed MMA kernel (nmsim.execution.operand_feed);
    warp_n: int = 0                 # 0 = operand feed not modelled
    efficiency_rate: float = 0.0    # dense FLOPs per SM per clock ``efficiency`` was fitted at (0: rate-independent)

    @property
    def sparse(self) -> bool:
        return self.kind != "dense"

    def accepts_dtypes(self, dtype: str, wdtype: str) -> bool:
        return dtype in self.dtypes and wdtype in (self.weight_dtypes or (dtype,))

    def execution(self, pattern):
        """(executed hw pattern or None when this kernel cannot run ``pattern``)."""
        if pattern is None or pattern.is_dense or not self.sparse:
            return None
        if self.any_nm:
            if getattr(pattern, "ranks", None) is not None:
                return None  # hierarchical patterns need their own engine
            return pattern if (self.max_m is None or pattern.m <= self.max_m) else None
        for hw_p in self.patterns or ():
            if pattern.fits(hw_p):
                return hw_p
        return None


def _round_up(x: int, multiple: int) -> int:
    return -(-int(x) // multiple) * multiple


@dataclass(frozen=True, eq=False)
class HardwareSpec:
    name: str
    description: str
    kind: str
    matrix_dense: dict[str, float]  # dtype -> dense TFLOPS
    matrix_sparse: dict[str, tuple[tuple[Pattern, float], ...]]  # dtype -> ((hw pattern, TFLOPS), ...)
    vector: dict[str, float]  # dtype -> TFLOPS
    memory: tuple[MemoryLevel, ...]
    sparse: SparseSupport | None = None
    dense_tile: Tile = Tile()
    sparse_tile: Tile = Tile()
    sparse_tile_by_dtype: dict[str, Tile] = field(default_factory=dict)
    efficiency_points: tuple[tuple[float, float], ...] = ((1.0, 1.0),)  # (GEMM FLOPs, efficiency), sorted
    energy_flop: dict[str, tuple[float, float]] = field(default_factory=dict)  # dtype -> (dense, sparse) pJ/FLOP
    energy_byte: dict[str, float] = field(default_factory=dict)  # memory level -> pJ/byte
    aliases: tuple[str, ...] = ()
    derivation: str | None = None
    sources: dict[str, str] = field(default_factory=dict)  # field path -> source text
    path: str | None = None
    # execution model the spec selects: {"model": name, "fusion": {...}, ...model params} (nmsim.execution)
    execution: dict = field(default_factory=lambda: {"model": "roofline"})

    def __post_init__(self):
        object.__setattr__(self, "_best", {})
        object.__setattr__(self, "_eff_x", [math.log(x) for x, _ in self.efficiency_points])

    # ---- compute peaks -------------------------------------------------------------------------------
    def _missing(self, what: str, dtype: str, have) -> UserError:
        return UserError(f"no {what} peak for dtype {dtype!r} (has: {', '.join(have) or 'none'})", self.name)

    @property
    def dtypes(self) -> tuple[str, ...]:
        return tuple(self.matrix_dense)

    def dense_tflops(self, dtype: str) -> float:
        try:
            return self.matrix_dense[dtype]
        except KeyError:
            raise self._missing("matrix", dtype, self.matrix_dense) from None

    def vector_tflops(self, dtype: str = "fp32") -> float:
        """Vector-unit peak for ``dtype``; dtypes not listed fall back to the fp32 figure."""
        if dtype in self.vector:
            return self.vector[dtype]
        if "fp32" in self.vector:
            return self.vector["fp32"]
        raise self._missing("vector", dtype, self.vector)

    def sparse_options(self, dtype: str) -> list[tuple[Pattern, float]]:
        """Listed hardware patterns and their TFLOPS (empty for dense-only dtypes and any-N:M engines)."""
        return list(self.matrix_sparse.get(dtype, ()))

    @property
    def any_nm(self) -> bool:
        return bool(self.sparse and self.sparse.any_nm)

    def best_sparse(self, pattern: Pattern | None, dtype: str) -> tuple[Pattern | None, float, float]:
        """(hardware pattern or None, TFLOPS, speedup vs dense) for running ``pattern`` on this engine.

        Picks the fastest listed hardware pattern the plan's pattern fits into; an any-N:M engine runs the
        pattern itself at dense × M/N (up to ``max_m``). Falls back to dense (None, dense, 1.0).
        """
        key = (pattern, dtype)
        hit = self._best.get(key)
        if hit is not None:
            return hit
        dense = self.dense_tflops(dtype)
        best: tuple[Pattern | None, float] = (None, dense)
        if pattern is not None and not pattern.is_dense:
            if self.any_nm and (self.sparse.max_m is None or pattern.m <= self.sparse.max_m):
                best = (pattern, dense * pattern.m / pattern.n)
            for hw, tflops in self.sparse_options(dtype):
                if tflops > best[1] and pattern.fits(hw):
                    best = (hw, tflops)
        result = (best[0], best[1], best[1] / dense)
        self._best[key] = result
        return result

    @property
    def accepts_transposed_dgrad(self) -> bool:
        return bool(self.sparse and self.sparse.transposed_dgrad)

    @property
    def metadata_encoding(self) -> str | None:
        return self.sparse.metadata_encoding if self.sparse else None

    @property
    def metadata_bandwidth_gbps(self) -> float | None:
        return self.sparse.metadata_bandwidth_gbps if self.sparse else None

    # ---- shapes and efficiency -----------------------------------------------------------------------
    def tile(self, sparse: bool, dtype: str | None = None) -> Tile:
        if not sparse:
            return self.dense_tile
        return self.sparse_tile_by_dtype.get(dtype, self.sparse_tile)

    def pad_m(self, rows: int, sparse: bool, dtype: str | None = None) -> int:
        return _round_up(rows, self.tile(sparse, dtype).m)

    def pad_k(self, k: int, sparse: bool, dtype: str | None = None) -> int:
        return _round_up(k, self.tile(sparse, dtype).k)

    def pad_n(self, n: int, sparse: bool, dtype: str | None = None) -> int:
        return _round_up(n, self.tile(sparse, dtype).n)

    def efficiency(self, gemm_flops: float) -> float:
        """Fraction of peak reached by a GEMM of ``gemm_flops``: log-space interpolation, clamped at the ends."""
        pts = self.efficiency_points
        if len(pts) == 1 or gemm_flops <= pts[0][0]:
            return pts[0][1]
        if gemm_flops >= pts[-1][0]:
            return pts[-1][1]
        x = math.log(gemm_flops)
        i = bisect.bisect_right(self._eff_x, x)
        x0, x1 = self._eff_x[i - 1], self._eff_x[i]
        y0, y1 = pts[i - 1][1], pts[i][1]
        return y0 + (y1 - y0) * (x - x0) / (x1 - x0)

    # ---- memory and energy ---------------------------------------------------------------------------
    @property
    def main_memory(self) -> MemoryLevel:
        return self.memory[0]

    def energy_pj_per_flop(self, dtype: str, sparse: bool = False) -> float:
        try:
            dense_pj, sparse_pj = self.energy_flop[dtype]
        except KeyError:
            raise self._missing("energy", dtype, self.energy_flop) from None
        return sparse_pj if sparse else dense_pj

    def energy_pj_per_byte(self, level: str | None = None) -> float:
        name = level or self.main_memory.name
        try:
            return self.energy_byte[name]
        except KeyError:
            raise UserError(f"no energy per byte for memory level {name!r}", self.name) from None

    def source(self, path: str) -> str | None:
        """Source text of a numeric field, e.g. ``spec.source('matrix.bf16.dense_tflops')``."""
        return self.sources.get(path)
