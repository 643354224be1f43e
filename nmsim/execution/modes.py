"""The modes a step is priced in, and which a model can run (no numpy: checked before the heavy imports)."""
from __future__ import annotations

from nmsim.errors import UserError

MODES = ("inference", "prefill", "decode", "training")


def check_mode(cfg, mode: str) -> None:
    """UserError for a mode the model cannot run (prefill/decode need a decoder-only model)."""
    if mode not in MODES:
        raise UserError(f"unknown mode {mode!r} (known: {', '.join(MODES)})", "--mode")
    if mode in ("prefill", "decode") and cfg is not None and (not cfg.causal or cfg.is_enc_dec or cfg.is_image):
        kind = "encoder-decoder" if cfg.is_enc_dec else "encoder-only"
        raise UserError(f"{mode} needs a decoder-only (causal) model; {cfg.name} is {kind} "
                        f"(use --mode inference or training)", "--mode")
