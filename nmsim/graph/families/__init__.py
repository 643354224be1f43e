"""Model families: one module per family in this folder, each defining ``FAMILY`` (a :class:`Family`).

A family tells the rest of nmsim what a workload's ``family:`` means: text or image inputs, one stack or an
encoder and a decoder, whether attention logits are scaled by 1/sqrt(head dim), and which Hugging Face
``model_type`` values it imports (with the function that maps a config.json to workload fields). Everything
else about a model's structure is a workload field (:class:`nmsim.graph.config.ModelConfig`). Adding a family is
one new module here plus data (a bundled workload YAML, a test config.json); nothing else names families.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable

from nmsim.errors import UserError
from nmsim.io.read import short_repr


@dataclass(frozen=True)
class Family:
    name: str
    source: str                              # paper or model card
    image: bool = False                      # image inputs (patch embedding) rather than token ids
    enc_dec: bool = False                    # an encoder stack and a decoder stack with cross-attention
    scaled_logits: bool = True               # QKᵀ / sqrt(head dim) (T5 folds the scale into its init)
    hf_types: tuple[str, ...] = ()           # Hugging Face model_type values this family imports
    hf_moe_fields: tuple[str, ...] = ()      # mixture-of-experts config fields its importer reads
    from_hf: Callable | None = None          # (HFConfig) -> workload fields


class HFConfig:
    """A Hugging Face config.json mapping with typed reads that fail as one line naming the file and key."""

    def __init__(self, data: dict, source: str):
        self.data, self.source = data, source

    def get(self, key: str, kind=int, default=...):
        if key not in self.data or self.data[key] is None:
            if default is ...:
                raise UserError("missing field", f"{self.source}: {key}")
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
        if not ok:
            raise UserError(f"must be {kind.__name__}, got {short_repr(value)}", f"{self.source}: {key}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        return bool(self.data.get(key, default))

    def act(self, key: str, default: str) -> str:
        """The workload ``ffn_kind`` of an activation field (``hidden_act``, ``activation_function``, ...)."""
        name = self.get(key, str, default)
        if name not in ACTIVATIONS:
            raise UserError(f"unsupported activation {short_repr(name)}", f"{self.source}: {key}")
        return ACTIVATIONS[name]

    def refuse(self, key: str, unsupported, why: str) -> None:
        """A field whose value nmsim does not model (``unsupported(value)`` true): one line naming it."""
        value = self.data.get(key)
        if value is not None and unsupported(value):
            raise UserError(f"{short_repr(value)} is not modelled: {why}", f"{self.source}: {key}")


ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu",
               "silu": "swiglu", "swish": "swiglu", "gated-gelu": "geglu", "gated-relu": "swiglu"}


def _discover() -> dict[str, Family]:
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        family = importlib.import_module(f"{__name__}.{info.name}").FAMILY
        found[family.name] = family
    return found


REGISTRY: dict[str, Family] = _discover()
NAMES: tuple[str, ...] = tuple(REGISTRY)
HF_TYPES: dict[str, Family] = {t: f for f in REGISTRY.values() for t in f.hf_types}


def family(name: str) -> Family:
    """The registered family ``name`` (a workload's ``family:``; validated before this is asked)."""
    return REGISTRY[name]
