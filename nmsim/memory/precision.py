"""Bytes per parameter of the training state under each mixed-precision scheme, and which frameworks use it.

``weights`` counts every copy of the weights the scheme keeps next to the optimizer's (the forward copy in the
compute dtype plus an fp32 copy where the weights themselves stay fp32), ``gradients`` the gradient buffer,
``optimizer`` Adam's m and v plus an fp32 master copy where the scheme keeps it with the optimizer (ZeRO shards
it with the optimizer state). The forward copy (``dtype`` bytes per parameter) is what N:M compresses.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from nmsim.errors import UserError


@dataclass(frozen=True)
class Precision:
    name: str
    weights: float      # bytes / parameter
    gradients: float
    optimizer: float
    used_by: str
    source: str

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer


PRECISIONS = {p.name: p for p in (
    Precision("mixed", 2.0, 2.0, 12.0,
              "DeepSpeed ZeRO and Megatron-LM fp16: 16-bit weights and gradients, fp32 master weights + Adam m, v",
              "Rajbhandari et al. 2020, ZeRO, Sec. 3.1 (arXiv 1910.02054): 2 + 2 + 12 = 16 bytes per parameter"),
    Precision("mixed-fp32-grads", 2.0, 4.0, 12.0,
              "Megatron-LM bf16 (gradients accumulated and reduced in fp32, main_grad)",
              "Megatron-LM docs, distributed optimizer: bf16 parameters with fp32 gradients, 18 bytes per parameter "
              "(https://docs.nvidia.com/megatron-core/developer-guide/latest/api-guide/dist_optimizer.html)"),
    Precision("amp", 6.0, 4.0, 8.0,
              "PyTorch AMP (torch.autocast), Hugging Face Trainer fp16/bf16: fp32 weights + a 16-bit copy, fp32 "
              "gradients, AdamW m, v",
              "Hugging Face transformers docs, model memory anatomy: 18 bytes per parameter "
              "(https://huggingface.co/docs/transformers/model_memory_anatomy)"),
    Precision("fp32", 4.0, 4.0, 8.0, "fp32 training (Hugging Face Trainer without fp16/bf16)",
              "Hugging Face transformers docs, model memory anatomy: 4 + 4 + 8 = 16 bytes per parameter"),
    Precision("bf16", 2.0, 2.0, 4.0, "pure bf16 incl. optimizer states (torchtune full fine-tunes, dtype bf16)",
              "torchtune docs, memory optimizations: bf16 parameters, gradients and optimizer states "
              "(https://pytorch.org/torchtune/main/tutorials/memory_optimizations.html)"),
)}


def precision_for(name: str | None, dtype: str, grad_bytes: float | None = None) -> Precision:
    """The scheme ``name`` (None: ``fp32`` for fp32/tf32 compute, else ``mixed``); ``grad_bytes`` overrides the
    gradient bytes (``cluster --grad-bytes``)."""
    if name is None:
        name = "fp32" if dtype in ("fp32", "tf32") else "mixed"
    if name not in PRECISIONS:
        raise UserError(f"unknown precision scheme {name!r} (known: {', '.join(PRECISIONS)})", "--precision")
    p = PRECISIONS[name]
    return p if grad_bytes is None else replace(p, gradients=float(grad_bytes))
