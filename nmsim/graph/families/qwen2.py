"""Qwen2 (Yang et al. 2024, Qwen2 Technical Report, arXiv 2407.10671): a Llama-style decoder with biases on the
q, k and v projections only (none on o or the MLP), tied embeddings on the small models."""
from nmsim.graph.families import Family, HFConfig
from nmsim.graph.families.llama import decoder_fields


def fields(hf: HFConfig) -> dict:
    return {**decoder_fields(hf), "family": "qwen2", "bias": ["q", "k", "v"],
            "norm_eps": hf.get("rms_norm_eps", float, 1e-6)}


FAMILY = Family("qwen2", "Yang et al. 2024, arXiv 2407.10671", hf_types=("qwen2",), from_hf=fields)
