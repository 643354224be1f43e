"""One pricing run's settings (:class:`ExecContext`) and the fusion it prices (:class:`Fusion`): plain data, no
numpy, so the settings are checked (:mod:`nmsim.execution.settings`) before the pricing code is imported."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Fusion:
    """Which producer/consumer ops run fused (no HBM round trip between them).

    ``attention``: FlashAttention-style — the T×T scores of logit→softmax→attend never reach memory (the
    ``score_elems`` of those rows and the softmax/scale ops move no bytes). ``epilogue``: element-wise ops that
    consume a GEMM's output (bias, activation, residual add, scaling) run in the GEMM's epilogue and read only
    their other inputs. ``None`` = the spec's stack default (``execution.fusion``)."""
    attention: bool = True
    epilogue: bool = True

    @property
    def label(self) -> str:
        parts = [n for n, on in (("flash-attention", self.attention), ("epilogue", self.epilogue)) if on]
        return "+".join(parts) or "unfused"


@dataclass
class ExecContext:
    """Everything a model needs besides the table: one pricing run's settings."""
    hw: object                      # HardwareSpec
    dtype: str = "bf16"             # compute dtype (the GEMM's math and its activations)
    weight_dtype: str | None = None  # storage dtype of weights (None = dtype); int4 weights + bf16 compute
    fusion: Fusion = field(default_factory=Fusion)
    kernel: str | None = None       # pin this kernel for sparse rows (``--kernel``); None = fastest applicable
    dgrad_sparse: bool | None = None
    cuda_graphs: bool = True        # kernels replayed from a CUDA graph; False = eager (host dispatch per kernel)
    step: bool = True               # a forward step's kernels back to back (False: GEMMs alone, training steps)
    burst: bool = False             # GEMMs timed alone (a kernel benchmark): the listed boost clock, not a run's

    @property
    def wdtype(self) -> str:
        return self.weight_dtype or self.dtype
