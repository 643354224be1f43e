"""Workload zoo: YAML files in nmsim/data/workloads (top-level ``workloads/``), paths, and HF config.json files."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from nmsim.errors import UserError
from nmsim.graph.config import ModelConfig
from nmsim.io import load_json, short_repr

WORKLOAD_DIR = Path(str(resources.files("nmsim") / "data" / "workloads"))


def list_workloads() -> list[str]:
    return sorted(p.stem for p in WORKLOAD_DIR.glob("*.yaml"))


def read_yaml(path: Path, what: str = "file") -> object:
    """Read a YAML file through :mod:`nmsim.io` (encoding, size, alias, depth and duplicate-key checks)."""
    from nmsim.io import load_yaml

    return load_yaml(path, what)


def load_workload(name_or_path: str | Path) -> ModelConfig:
    """A bundled workload by name (``vit-base-16``), a workload YAML file or a Hugging Face ``config.json``."""
    if isinstance(name_or_path, ModelConfig):
        return name_or_path
    text = str(name_or_path)
    path = Path(text)
    if text.endswith(".json"):
        return from_hf_config(path)
    if not (text.endswith((".yaml", ".yml")) or _exists(path)):
        bundled = WORKLOAD_DIR / f"{text}.yaml"
        if not _exists(bundled):
            raise UserError(f"unknown workload {text!r} (bundled: {', '.join(list_workloads())}; or give a workload "
                            ".yaml or a config.json path)", "workload")
        path = bundled
    data = read_yaml(path, "workload file")
    if isinstance(data, dict):
        data = {"name": path.stem, **data}
    return ModelConfig.from_dict(data, source=path.name if path.parent == WORKLOAD_DIR else str(path))


def _exists(path: Path) -> bool:
    """``path.exists()``, False for a name no file can have (too long, a NUL byte)."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


# ---- Hugging Face config.json ----------------------------------------------------------------------

def _hf_get(cfg: dict, key: str, source: str, kind=int, default=...):
    if key not in cfg or cfg[key] is None:
        if default is ...:
            raise UserError("missing field", f"{source}: {key}")
        return default
    value = cfg[key]
    ok = isinstance(value, kind) and not isinstance(value, bool) if kind in (int, float) else isinstance(value, kind)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        ok, value = True, float(value)
    if not ok:
        raise UserError(f"must be {kind.__name__}, got {short_repr(value)}", f"{source}: {key}")
    return value


def _hf_act(name: str, source: str, key: str) -> str:
    table = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu",
             "silu": "swiglu", "swish": "swiglu", "gated-gelu": "geglu", "gated-relu": "swiglu"}
    if name not in table:
        raise UserError(f"unsupported activation {short_repr(name)}", f"{source}: {key}")
    return table[name]


# Mixture-of-experts fields of Hugging Face configs (Mixtral, Qwen-MoE, DeepSeek-MoE/V2/V3, OLMoE, DBRX, Switch,
# Jamba, Arctic, GPT-OSS, Llama 4): expert counts (more than one expert is MoE) and routing/expert sizes.
MOE_COUNTS = ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
MOE_FIELDS = ("num_experts_per_tok", "experts_per_token", "moe_intermediate_size", "n_shared_experts",
              "shared_expert_intermediate_size", "moe_layer_freq", "moe_top_k", "expert_capacity", "moe_k",
              "num_sparse_encoder_layers", "num_sparse_decoder_layers")
MOE_TYPES = ("mixtral", "qwen2_moe", "qwen3_moe", "deepseek", "deepseek_v2", "deepseek_v3", "olmoe", "dbrx",
             "switch_transformers", "jamba", "arctic", "granitemoe", "jetmoe", "phimoe", "gpt_oss", "llama4",
             "nllb-moe", "minimax")


def _moe_field(cfg: dict) -> tuple[str, object] | None:
    """The first mixture-of-experts field (top level or one section down, e.g. DBRX's ffn_config) and its value."""
    sections = [("", cfg)] + [(f"{k}.", v) for k, v in cfg.items() if isinstance(v, dict)]
    for prefix, section in sections:
        for key, value in section.items():
            if key in MOE_COUNTS and isinstance(value, (int, float)) and not isinstance(value, bool) and value > 1:
                return prefix + key, value
            if key in MOE_FIELDS and value not in (None, 0, False, [], {}):
                return prefix + key, value
    return None


def _refuse_moe(cfg: dict, kind, src: str) -> None:
    """Mixture-of-experts configs are refused (one line naming the field) until nmsim prices MoE: on a dense
    model_type they would be priced as one dense FFN."""
    moe = _moe_field(cfg)
    if moe is not None:
        raise UserError(f"a mixture-of-experts field ({short_repr(moe[1])}); nmsim does not price MoE models yet "
                        "(it would price one dense FFN)", f"{src}: {moe[0]}")
    if isinstance(kind, str) and (kind.lower() in MOE_TYPES or "moe" in kind.lower()):
        raise UserError(f"{short_repr(kind)} is a mixture-of-experts model; nmsim does not price MoE models yet "
                        "(llama, mistral, gpt2, bert, t5, vit)", f"{src}: model_type")


def from_hf_config(path: str | Path) -> ModelConfig:
    """ModelConfig from a Hugging Face ``config.json`` (llama, gpt2, bert, t5, vit); no transformers needed.

    Decoder LMs take the model's full context (``max_position_embeddings`` / ``n_positions``) as ``seq_len``; pass
    ``--seq`` to price a shorter one. BERT defaults to 128 tokens (its usual fine-tuning length).
    """
    path = Path(path)
    src = str(path)
    cfg = load_json(path, "config file", expect=dict)
    kind = cfg.get("model_type")
    _refuse_moe(cfg, kind, src)
    g = lambda key, k=int, d=...: _hf_get(cfg, key, src, k, d)  # noqa: E731
    name = path.parent.name or path.stem
    if kind in ("llama", "mistral"):
        fields = dict(family="llama", layers=g("num_hidden_layers"), d_model=g("hidden_size"),
                      heads=g("num_attention_heads"), kv_heads=g("num_key_value_heads", int, None),
                      head_dim=g("head_dim", int, None), ffn=g("intermediate_size"),
                      ffn_kind=_hf_act(g("hidden_act", str, "silu"), src, "hidden_act"), norm="rmsnorm",
                      norm_eps=g("rms_norm_eps", float, 1e-5), bias=bool(cfg.get("attention_bias", False)),
                      vocab=g("vocab_size"), seq_len=g("max_position_embeddings", int, 4096),
                      position="rope", rope_theta=g("rope_theta", float, 10000.0), causal=True, head="lm",
                      tie_embeddings=bool(cfg.get("tie_word_embeddings", False)))
    elif kind == "gpt2":
        d = g("n_embd")
        fields = dict(family="gpt2", layers=g("n_layer"), d_model=d, heads=g("n_head"), ffn=g("n_inner", int, 4 * d),
                      ffn_kind=_hf_act(g("activation_function", str, "gelu_new"), src, "activation_function"),
                      norm="layernorm", norm_eps=g("layer_norm_epsilon", float, 1e-5), vocab=g("vocab_size"),
                      seq_len=g("n_positions", int, 1024), max_positions=g("n_positions", int, 1024),
                      position="learned", causal=True, tie_embeddings=True, head="lm")
    elif kind == "bert":
        fields = dict(family="bert", layers=g("num_hidden_layers"), d_model=g("hidden_size"),
                      heads=g("num_attention_heads"), ffn=g("intermediate_size"),
                      ffn_kind=_hf_act(g("hidden_act", str, "gelu"), src, "hidden_act"), norm="layernorm",
                      norm_position="post", norm_eps=g("layer_norm_eps", float, 1e-12), vocab=g("vocab_size"),
                      seq_len=min(128, g("max_position_embeddings", int, 512)),
                      max_positions=g("max_position_embeddings", int, 512), position="learned",
                      type_vocab=g("type_vocab_size", int, 2), embed_norm=True, pooler=True, head="none")
    elif kind == "t5":
        fields = dict(family="t5", layers=g("num_layers"), decoder_layers=g("num_decoder_layers", int, None)
                      or g("num_layers"), d_model=g("d_model"), heads=g("num_heads"), head_dim=g("d_kv", int, None),
                      ffn=g("d_ff"), ffn_kind=_hf_act(g("feed_forward_proj", str, "relu"), src, "feed_forward_proj"),
                      norm="rmsnorm", norm_eps=g("layer_norm_epsilon", float, 1e-6), bias=False,
                      vocab=g("vocab_size"), seq_len=512, position="relative",
                      relative_buckets=g("relative_attention_num_buckets", int, 32),
                      tie_embeddings=bool(cfg.get("tie_word_embeddings", True)), head="lm")
    elif kind == "vit":
        labels = cfg.get("id2label")
        fields = dict(family="vit", layers=g("num_hidden_layers"), d_model=g("hidden_size"),
                      heads=g("num_attention_heads"), ffn=g("intermediate_size"),
                      ffn_kind=_hf_act(g("hidden_act", str, "gelu"), src, "hidden_act"), norm="layernorm",
                      norm_eps=g("layer_norm_eps", float, 1e-12), image_size=g("image_size", int, 224),
                      patch_size=g("patch_size", int, 16), channels=g("num_channels", int, 3),
                      num_classes=len(labels) if isinstance(labels, dict) else 1000, head="classifier",
                      bias=bool(cfg.get("qkv_bias", True)))
    elif kind is None:
        raise UserError("missing field", f"{src}: model_type")
    else:
        raise UserError(f"unsupported model_type {short_repr(kind)} (llama, mistral, gpt2, bert, t5, vit)", f"{src}: model_type")
    return ModelConfig.from_dict({"name": name, "source": f"Hugging Face config {path.name}", **fields}, source=src)


def resolve_workload(name_or_path: str | None = None, hf_config: str | None = None, **overrides) -> ModelConfig:
    """CLI helper: a workload name/path or an HF config, with ``batch``/``seq_len`` overrides (None = keep)."""
    if hf_config:
        cfg = from_hf_config(hf_config)
    elif name_or_path:
        cfg = load_workload(name_or_path)
    else:
        raise UserError("give a workload name or path, or --hf-config", "workload")
    changes = {k: v for k, v in overrides.items() if v is not None}
    for key, value in changes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"must be a positive integer, got {short_repr(value)}", f"--{key.replace('_len', '')}")
    cfg.check_shape(changes.get("batch", cfg.batch), changes.get("seq_len"))
    return cfg.replace(**changes) if changes else cfg
