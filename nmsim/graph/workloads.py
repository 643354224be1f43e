"""Workload zoo: YAML files in nmsim/data/workloads (top-level ``workloads/``), paths, and HF config.json files."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from nmsim.errors import UserError
from nmsim.graph import families
from nmsim.graph.config import ModelConfig
from nmsim.io import load_json, short_repr

WORKLOAD_DIR = Path(str(resources.files("nmsim") / "data" / "workloads"))


def list_workloads() -> list[str]:
    return sorted(p.stem for p in WORKLOAD_DIR.glob("*.yaml"))


def read_yaml(path: Path, what: str = "file") -> object:
    """Read a YAML file through :mod:`nmsim.io` (encoding, size, alias, depth and duplicate-key checks)."""
    from nmsim.io import parse_yaml, read_text
    from nmsim.io.kept_parses import parsed

    return parsed(read_text(path, what), "nmsim.io.read", lambda text: parse_yaml(text, str(path)))


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
    source = path.name if path.parent == WORKLOAD_DIR else str(path)
    if data is None:
        raise UserError("empty file", source)
    if isinstance(data, dict):
        data = {"name": path.stem, **data}
    return ModelConfig.from_dict(data, source=source)


def _exists(path: Path) -> bool:
    """``path.exists()``, False for a name no file can have (too long, a NUL byte)."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


# ---- Hugging Face config.json ----------------------------------------------------------------------

# Mixture-of-experts fields of Hugging Face configs (Mixtral, Qwen-MoE, DeepSeek-MoE/V2/V3, OLMoE, DBRX, Switch,
# Jamba, Arctic, GPT-OSS, Llama 4): expert counts (more than one expert is MoE) and routing/expert sizes.
MOE_COUNTS = ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
MOE_FIELDS = ("num_experts_per_tok", "experts_per_token", "moe_intermediate_size", "n_shared_experts",
              "shared_expert_intermediate_size", "moe_layer_freq", "moe_top_k", "expert_capacity", "moe_k",
              "num_sparse_encoder_layers", "num_sparse_decoder_layers")
MOE_TYPES = ("mixtral", "qwen2_moe", "qwen3_moe", "deepseek", "deepseek_v2", "deepseek_v3", "olmoe", "dbrx",
             "switch_transformers", "jamba", "arctic", "granitemoe", "jetmoe", "phimoe", "gpt_oss", "llama4",
             "nllb-moe", "minimax")


def _moe_field(cfg: dict, read: tuple[str, ...]) -> tuple[str, object] | None:
    """The first mixture-of-experts field the importer does not read (``read``; top level or one section down,
    e.g. DBRX's ffn_config) and its value."""
    sections = [("", cfg)] + [(f"{k}.", v) for k, v in cfg.items() if isinstance(v, dict)]
    for prefix, section in sections:
        for key, value in section.items():
            if prefix + key in read:
                continue
            if key in MOE_COUNTS and isinstance(value, (int, float)) and not isinstance(value, bool) and value > 1:
                return prefix + key, value
            if key in MOE_FIELDS and value not in (None, 0, False, [], {}):
                return prefix + key, value
    return None


def _supported_types() -> str:
    return ", ".join(families.HF_TYPES)


def _refuse_moe(cfg: dict, kind, src: str, family) -> None:
    """Mixture-of-experts fields a family's importer does not read are refused (one line naming the field): a
    dense importer would price one dense FFN."""
    moe = _moe_field(cfg, family.hf_moe_fields if family else ())
    if moe is not None:
        if family and family.hf_moe_fields:
            why = f"the {family.name} importer reads only {', '.join(family.hf_moe_fields)}"
        else:
            moe_types = [t for t, f in families.HF_TYPES.items() if f.hf_moe_fields]
            why = f"a dense model_type would price one dense FFN; MoE model_type: {', '.join(moe_types)}"
        raise UserError(f"a mixture-of-experts field ({short_repr(moe[1])}) nmsim does not model ({why})",
                        f"{src}: {moe[0]}")
    if family is None and isinstance(kind, str) and (kind.lower() in MOE_TYPES or "moe" in kind.lower()):
        raise UserError(f"{short_repr(kind)} is a mixture-of-experts model nmsim does not import (model_type "
                        f"{_supported_types()})", f"{src}: model_type")


def from_hf_config(path: str | Path) -> ModelConfig:
    """ModelConfig from a Hugging Face ``config.json`` (the ``model_type`` values of :mod:`nmsim.graph.families`);
    no transformers needed.

    Decoder LMs take the model's full context (``max_position_embeddings`` / ``n_positions``) as ``seq_len``; pass
    ``--seq`` to price a shorter one.
    """
    path = Path(path)
    src = str(path)
    cfg = load_json(path, "config file", expect=dict)
    kind = cfg.get("model_type")
    family = families.HF_TYPES.get(kind) if isinstance(kind, str) else None
    _refuse_moe(cfg, kind, src, family)
    if kind is None:
        raise UserError("missing field", f"{src}: model_type")
    if family is None:
        raise UserError(f"unsupported model_type {short_repr(kind)} ({_supported_types()})", f"{src}: model_type")
    fields = family.from_hf(families.HFConfig(cfg, src))
    name = path.parent.name or path.stem
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
