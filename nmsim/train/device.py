"""How a run uses its device: precision (autocast, TF32), the AdamW implementation, determinism, torch.compile.

Precision (``RunConfig.precision``):

* ``fp32`` (default): every op in fp32; on CUDA TF32 is turned off, so matmuls are true fp32.
* ``tf32``: fp32 weights and activations, matmuls and convolutions in TF32 (CUDA; on a CPU the same as fp32).
* ``bf16``: the paper's setting: forward and loss under ``torch.autocast(dtype=torch.bfloat16)`` (weights,
  gradients and AdamW state stay fp32), TF32 for the fp32 matmuls left; evaluation under the same autocast.

AdamW: ``fused=True`` on CUDA (one kernel for all parameters); on a CPU the single-tensor path
(``foreach=False``), so numerics do not depend on how parameters are grouped.

Determinism on CUDA (always, documented in docs/gpu-protocol.md): cuDNN benchmark off and deterministic
algorithms on, ``torch.use_deterministic_algorithms(True, warn_only=True)`` (an op without a deterministic
kernel warns instead of failing), and ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` when unset (cuBLAS needs it for
reproducible reductions; it must be set before the first cuBLAS call, so before the model moves to the GPU).

``RunConfig.compile``: the model's forward through ``torch.compile`` (TorchInductor; CUDA graphs are not used).
"""
from __future__ import annotations

import contextlib
import os

PRECISIONS = ("fp32", "tf32", "bf16")


def is_cuda(device) -> bool:
    return str(device).startswith("cuda")


def autocast_dtype(precision: str):
    """The autocast dtype of ``precision`` (``torch.bfloat16`` for bf16), None when there is no autocast."""
    import torch

    return torch.bfloat16 if precision == "bf16" else None


def autocast(precision: str, device):
    """The context the forward and the loss run in: autocast for bf16, else nothing."""
    import torch

    dtype = autocast_dtype(precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda" if is_cuda(device) else "cpu", dtype=dtype)


def optimizer_options(device) -> dict:
    """AdamW keyword arguments: fused on CUDA, the single-tensor loop on a CPU."""
    return {"fused": True} if is_cuda(device) else {"foreach": False}


def configure(precision: str, device) -> dict:
    """Set the process-wide backend flags for a run of ``precision`` on ``device``; returns them (recorded in the
    run's done.json)."""
    import torch

    if not is_cuda(device):
        return {}
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    tf32 = precision in ("tf32", "bf16")
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True, warn_only=True)
    return {"tf32": tf32, "cudnn_benchmark": False, "deterministic_algorithms": "warn_only",
            "cublas_workspace_config": os.environ["CUBLAS_WORKSPACE_CONFIG"]}


def compiled(model, enabled: bool):
    """``torch.compile(model)`` when ``enabled`` (the returned module shares the model's parameters)."""
    if not enabled:
        return model
    import torch

    return torch.compile(model)
