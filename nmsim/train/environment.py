"""The machine a run's numbers came from: what every run and protocol manifest records.

fp32 training is deterministic on one machine but not across machines: ATen dispatches vectorised kernels by
the CPU's instruction set (``torch.backends.cpu.get_cpu_capability()``: DEFAULT, AVX2, AVX512, ...; the
``ATEN_CPU_CAPABILITY`` variable caps it), and MKL / oneDNN pick their own code paths, so sums round
differently. A result is therefore compared across machines with tolerances from seed variance
(:mod:`nmsim.evidence.regen`), never byte for byte, and the manifest says which kernels produced it.
"""
from __future__ import annotations

import os
import platform
import re


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(pattern: str, text: str) -> str | None:
    hit = re.search(pattern, text)
    return hit.group(1) if hit else None


def environment(device: str = "cpu") -> dict:
    """CPU model and ATen capability, torch / MKL / oneDNN versions, threads, device (and GPU name on CUDA)."""
    import torch

    info = torch.__config__.show()
    env = {
        "python": platform.python_version(), "torch": torch.__version__, "device": str(device),
        "machine": platform.machine(), "cpus": os.cpu_count(), "cpu_model": _cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "aten_cpu_capability_env": os.environ.get("ATEN_CPU_CAPABILITY"),
        "mkl": _version(r"Math Kernel Library Version ([\w.\-]+)", info),
        "onednn": _version(r"(?:MKL-DNN|oneDNN) v([\d.]+)", info),
        "torch_threads": torch.get_num_threads(),
    }
    if str(device).startswith("cuda") and torch.cuda.is_available():
        env.update(gpu=torch.cuda.get_device_name(), cuda=torch.version.cuda,
                   cudnn=torch.backends.cudnn.version())
    return env
