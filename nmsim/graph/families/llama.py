"""Llama (Touvron et al. 2023, arXiv 2302.13971) and Mistral (Jiang et al. 2023, arXiv 2310.06825): pre-RMSNorm
decoders with rotary positions, SwiGLU and grouped-query attention."""
from nmsim.graph.families import Family, HFConfig

ATTENTION, MLP = ("q", "k", "v", "o"), ("ff1", "ff_gate", "ff2")


def decoder_fields(hf: HFConfig) -> dict:
    """Workload fields of a Llama-style config.json (Llama, Mistral, and the families built on them)."""
    bias = (ATTENTION if hf.flag("attention_bias", False) else ()) + (MLP if hf.flag("mlp_bias", False) else ())
    return dict(family="llama", layers=hf.get("num_hidden_layers"), d_model=hf.get("hidden_size"),
                heads=hf.get("num_attention_heads"), kv_heads=hf.get("num_key_value_heads", int, None),
                head_dim=hf.get("head_dim", int, None), ffn=hf.get("intermediate_size"),
                ffn_kind=hf.act("hidden_act", "silu"), norm="rmsnorm", norm_eps=hf.get("rms_norm_eps", float, 1e-5),
                bias=list(bias) or False, vocab=hf.get("vocab_size"),
                seq_len=hf.get("max_position_embeddings", int, 4096), position="rope",
                rope_theta=hf.get("rope_theta", float, 10000.0), causal=True, head="lm",
                tie_embeddings=hf.flag("tie_word_embeddings", False))


FAMILY = Family("llama", "Touvron et al. 2023, arXiv 2302.13971", hf_types=("llama", "mistral"),
                from_hf=decoder_fields)
