"""ViT (Dosovitskiy et al. 2021, arXiv 2010.11929): patch embedding, class token, pre-LayerNorm encoder,
classifier head."""
from nmsim.graph.families import Family, HFConfig


def fields(hf: HFConfig) -> dict:
    labels = hf.data.get("id2label")
    return dict(family="vit", layers=hf.get("num_hidden_layers"), d_model=hf.get("hidden_size"),
                heads=hf.get("num_attention_heads"), ffn=hf.get("intermediate_size"),
                ffn_kind=hf.act("hidden_act", "gelu"), norm="layernorm",
                norm_eps=hf.get("layer_norm_eps", float, 1e-12), image_size=hf.get("image_size", int, 224),
                patch_size=hf.get("patch_size", int, 16), channels=hf.get("num_channels", int, 3),
                num_classes=len(labels) if isinstance(labels, dict) else 1000, head="classifier",
                bias=hf.flag("qkv_bias", True))


FAMILY = Family("vit", "Dosovitskiy et al. 2021, arXiv 2010.11929", image=True, hf_types=("vit",), from_hf=fields)
