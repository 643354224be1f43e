"""Stacks and layers without torch: which stack and layer a module path is in, and how the builder
(:mod:`nmsim.graph.builder`) builds each stack's blocks. Shared by the tracer, :mod:`nmsim.graph.replicate` and
:mod:`nmsim.graph.templates` (which answers without importing torch)."""
from __future__ import annotations

import re

LAYER_RE = re.compile(r"(?:^|\.)(?:blocks|layers|layer|h|block)\.(\d+)(?:\.|$)")


def layer_of(path: str) -> int:
    m = LAYER_RE.search(path)
    return int(m.group(1)) if m else -1


def stack_of(path: str) -> str:
    head = path.split(".", 1)[0]
    return head if head in ("encoder", "decoder") else ""


def stack_specs(cfg) -> dict[str, tuple[int, bool, bool]]:
    """(layers, causal, cross-attention) of each stack, by the tracer's stack name (``""`` for a single one)."""
    if cfg.is_enc_dec:
        return {"encoder": (cfg.layers, False, False), "decoder": (cfg.decoder_layers, True, True)}
    return {"": (cfg.layers, cfg.causal, False)}


def block_kinds(cfg, layers: int, causal: bool, cross: bool) -> list[tuple]:
    """Each block's constructor arguments after ``cfg``: all that may differ between a stack's layers (the
    blocks share their forward code and inputs). :mod:`nmsim.graph.replicate` copies layers only when these are
    all equal: a model whose layers differ (sliding-window and global attention, say) says so here."""
    return [(causal, cross, cfg.position == "rope")] * layers
