"""BERT (Devlin et al. 2019, arXiv 1810.04805): post-LayerNorm encoder, token types, embedding norm, pooler.
A config.json gets 128 tokens (the usual fine-tuning length)."""
from nmsim.graph.families import Family, HFConfig


def fields(hf: HFConfig) -> dict:
    return dict(family="bert", layers=hf.get("num_hidden_layers"), d_model=hf.get("hidden_size"),
                heads=hf.get("num_attention_heads"), ffn=hf.get("intermediate_size"),
                ffn_kind=hf.act("hidden_act", "gelu"), norm="layernorm", norm_position="post",
                norm_eps=hf.get("layer_norm_eps", float, 1e-12), vocab=hf.get("vocab_size"),
                seq_len=min(128, hf.get("max_position_embeddings", int, 512)),
                max_positions=hf.get("max_position_embeddings", int, 512), position="learned",
                type_vocab=hf.get("type_vocab_size", int, 2), embed_norm=True, pooler=True, head="none")


FAMILY = Family("bert", "Devlin et al. 2019, arXiv 1810.04805", hf_types=("bert",), from_hf=fields)
