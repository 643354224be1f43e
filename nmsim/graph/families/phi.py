"""Phi-1.5 / Phi-2 (Li et al. 2023, arXiv 2309.05463; microsoft/phi-2 model card): attention and MLP in parallel
on one LayerNorm's output, rotary positions on part of each head, biases on every linear layer and on the untied
LM head, gelu_new."""
from nmsim.graph.families import Family, HFConfig


def fields(hf: HFConfig) -> dict:
    hf.refuse("qk_layernorm", bool, "LayerNorms on queries and keys")
    d, heads = hf.get("hidden_size"), hf.get("num_attention_heads")
    head_dim = d // heads if heads > 0 else 0
    return dict(family="phi", layers=hf.get("num_hidden_layers"), d_model=d, heads=heads,
                kv_heads=hf.get("num_key_value_heads", int, None), ffn=hf.get("intermediate_size"),
                ffn_kind=hf.act("hidden_act", "gelu_new"), norm="layernorm",
                norm_eps=hf.get("layer_norm_eps", float, 1e-5), bias=["q", "k", "v", "o", "ff1", "ff2", "head"],
                vocab=hf.get("vocab_size"), seq_len=hf.get("max_position_embeddings", int, 2048), position="rope",
                rope_theta=hf.get("rope_theta", float, 10000.0),
                rotary_dim=int(hf.get("partial_rotary_factor", float, 0.5) * head_dim), parallel_block=True,
                causal=True, head="lm", tie_embeddings=hf.flag("tie_word_embeddings", False))


FAMILY = Family("phi", "Li et al. 2023, arXiv 2309.05463", hf_types=("phi",), from_hf=fields)
