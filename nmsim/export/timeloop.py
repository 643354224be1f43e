"""Timeloop / Sparseloop problem files (format version 0.4) for the GEMMs of the per-pass GEMM table.

One problem per GEMM: dimensions ``M`` (activation rows), ``N`` (outputs), ``K`` (reduction); data spaces
``Inputs[M, K]``, ``Weights[K, N]``, ``Outputs[M, N]`` (read-write). A weight that runs N:M along the reduction
carries ``instance.densities.Weights = {distribution: fixed-structured, density: N/M}`` — Sparseloop's
structured density model (Wu et al., "Sparseloop: An Analytical Approach to Sparse Tensor Accelerator
Modeling", MICRO 2022); dense operands carry no density entry. Batched GEMMs (attention: one per batch × head)
are one problem with ``B`` repeats recorded in ``gemms.csv``.
"""
from __future__ import annotations

from fractions import Fraction

import yaml


def problem(m: int, k: int, n: int, density: float | None = None, name: str = "GEMM") -> dict:
    """The problem document for one GEMM ``[M, K] x [K, N]``; ``density`` < 1 marks a structured-sparse weight."""
    instance = {"M": int(m), "N": int(n), "K": int(k)}
    if density is not None and density < 1.0:
        instance["densities"] = {"Weights": {"distribution": "fixed-structured", "density": float(density)}}
    return {"problem": {
        "version": 0.4,
        "shape": {
            "name": name,
            "dimensions": ["M", "N", "K"],
            "data_spaces": [
                {"name": "Inputs", "projection": [[["M"]], [["K"]]]},
                {"name": "Weights", "projection": [[["K"]], [["N"]]]},
                {"name": "Outputs", "projection": [[["M"]], [["N"]]], "read_write": True},
            ],
        },
        "instance": instance,
    }}


def density_of(sparsity: str) -> float:
    n, m = (int(x) for x in sparsity.split(":"))
    return float(Fraction(n, m))


def problem_text(m: int, k: int, n: int, sparsity: str = "1:1", name: str = "GEMM") -> str:
    return yaml.safe_dump(problem(m, k, n, density_of(sparsity), name), sort_keys=False, default_flow_style=None)
