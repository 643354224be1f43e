"""Mixtral (Jiang et al. 2024, Mixtral of Experts, arXiv 2401.04088): a Mistral decoder whose feed-forward layer
is a router and 8 SwiGLU experts, each token sent to its top 2."""
from nmsim.graph.families import Family, HFConfig
from nmsim.graph.families.llama import decoder_fields


def fields(hf: HFConfig) -> dict:
    return {**decoder_fields(hf), "family": "mixtral", "experts": hf.get("num_local_experts"),
            "experts_per_token": hf.get("num_experts_per_tok", int, 2)}


FAMILY = Family("mixtral", "Jiang et al. 2024, arXiv 2401.04088", hf_types=("mixtral",),
                hf_moe_fields=("num_local_experts", "num_experts_per_tok"), from_hf=fields)
