"""T5 (Raffel et al. 2020, arXiv 1910.10683): encoder-decoder, RMSNorm, relative position bias, unscaled logits.
A config.json gets 512 tokens."""
from nmsim.graph.families import Family, HFConfig


def fields(hf: HFConfig) -> dict:
    return dict(family="t5", layers=hf.get("num_layers"),
                decoder_layers=hf.get("num_decoder_layers", int, None) or hf.get("num_layers"),
                d_model=hf.get("d_model"), heads=hf.get("num_heads"), head_dim=hf.get("d_kv", int, None),
                ffn=hf.get("d_ff"), ffn_kind=hf.act("feed_forward_proj", "relu"), norm="rmsnorm",
                norm_eps=hf.get("layer_norm_epsilon", float, 1e-6), bias=False, vocab=hf.get("vocab_size"),
                seq_len=512, position="relative", relative_buckets=hf.get("relative_attention_num_buckets", int, 32),
                tie_embeddings=hf.flag("tie_word_embeddings", True), head="lm")


FAMILY = Family("t5", "Raffel et al. 2020, arXiv 1910.10683", enc_dec=True, scaled_logits=False,
                hf_types=("t5",), from_hf=fields)
