"""GPT-2 (Radford et al. 2019): pre-LayerNorm decoder, learned positions, GELU, tied LM head."""
from nmsim.graph.families import Family, HFConfig


def fields(hf: HFConfig) -> dict:
    d = hf.get("n_embd")
    return dict(family="gpt2", layers=hf.get("n_layer"), d_model=d, heads=hf.get("n_head"),
                ffn=hf.get("n_inner", int, 4 * d), ffn_kind=hf.act("activation_function", "gelu_new"),
                norm="layernorm", norm_eps=hf.get("layer_norm_epsilon", float, 1e-5), vocab=hf.get("vocab_size"),
                seq_len=hf.get("n_positions", int, 1024), max_positions=hf.get("n_positions", int, 1024),
                position="learned", causal=True, tie_embeddings=True, head="lm")


FAMILY = Family("gpt2", "Radford et al. 2019, Language Models are Unsupervised Multitask Learners",
                hf_types=("gpt2",), from_hf=fields)
