"""N:M sparse layers driven by a recipe state.

A sparse layer keeps the dense weight ``W`` as its parameter (the optimizer updates ``W``) and, at every
forward, computes the binary N:M mask ``m`` of ``|W|`` with :func:`nmsim.sparsity.mask.nm_mask` and uses

    W~ = W * (m + D * (1 - m))

(``D = 0`` for static / SR-STE / SDGF binary masks, ``D`` = the schedule value for MDGF). The gradient with
respect to ``W~`` is passed to ``W`` unchanged (straight-through estimator); under the ``sr-ste`` rule the
layer adds ``lambda * (1 - m) * W`` to it. Biases are kept (the public code drops them, a known bug).

:func:`sparsify` swaps the ``nn.Linear`` (and ``nn.Conv2d``) modules that a selector covers (via
:data:`nmsim.graph.roles.ROLE_GROUPS` and :func:`nmsim.graph.roles.role_of`) for these layers in place;
:func:`apply_state` sets every layer's pattern, ``D`` and gradient rule for one step. Parameter names are
unchanged, so state dicts of dense and sparsified models are interchangeable.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from nmsim.errors import UserError
from nmsim.graph.roles import ROLE_GROUPS, role_of
from nmsim.recipes.base import RULES   # the gradient rules a recipe's phases name, defined once
from nmsim.sparsity.mask import nm_mask
from nmsim.sparsity.pattern import NMPattern

DIRECTIONS = ("row", "col")


class _MaskedWeight(torch.autograd.Function):
    """``W~ = W * mult`` forward; backward ``dW = dW~ + lam * (1 - m) * W`` (straight-through, SR-STE term)."""

    @staticmethod
    def forward(ctx, weight, mult, keep, lam):  # noqa: D102
        ctx.lam = float(lam)
        if ctx.lam:
            ctx.save_for_backward(weight, keep)
        return weight * mult

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        if ctx.lam:
            weight, keep = ctx.saved_tensors
            grad = grad + ctx.lam * weight.masked_fill(keep, 0.0)
        return grad, None, None, None


class _NMMixin:
    """State shared by the sparse linear and conv layers (set by :func:`apply_state`)."""

    selector: str
    direction: str
    pattern: NMPattern | None
    decay: float
    rule: str
    srste_lambda: float
    mask_every: int

    def _init_nm(self, selector: str, direction: str, mask_every: int = 1):
        if direction not in DIRECTIONS:
            raise UserError(f"unknown mask direction {direction!r} (row or col)", "--direction")
        self.selector = selector
        self.direction = direction
        self.pattern = None
        self.decay = 1.0
        self.rule = "dense"
        self.srste_lambda = 0.0
        self.mask_every = int(mask_every)  # benchmark option: reuse a mask for k forwards (not checkpointed)
        self._mask_cache = None
        self._mask_age = 0

    # grouped view of the weight as [rows, reduction]; conv groups along C_in
    def _grouping_view(self, weight: torch.Tensor) -> torch.Tensor:
        return weight

    def _ungroup(self, mask: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return mask

    def grouped_size(self) -> int:
        w = self._grouping_view(self.weight)
        return w.shape[1] if self.direction == "row" else w.shape[0]

    def check_pattern(self, pattern: NMPattern | None, name: str = "") -> None:
        if pattern is None:
            return
        size = self.grouped_size()
        if size % pattern.m:
            dim = "in_features" if self.direction == "row" else "out_features"
            raise UserError(
                f"pattern {pattern} does not fit layer {name or self.selector}: M={pattern.m} does not divide "
                f"its {dim} ({size})", "--sparsity")

    def mask(self) -> torch.Tensor | None:
        """Boolean N:M mask of the current ``|W|`` (None when no pattern is in force)."""
        if self.pattern is None or self.pattern.is_dense:
            return None
        if self.mask_every > 1 and self._mask_cache is not None and self._mask_age < self.mask_every:
            self._mask_age += 1
            return self._mask_cache
        w = self._grouping_view(self.weight.detach())
        keep = self._ungroup(nm_mask(w, self.pattern.n, self.pattern.m, self.direction), self.weight)
        if self.mask_every > 1:
            self._mask_cache, self._mask_age = keep, 1
        return keep

    def effective_weight(self) -> torch.Tensor:
        """``W * (m + D (1 - m))`` with the straight-through / SR-STE backward; ``W`` when dense."""
        keep = self.mask()
        if keep is None:
            return self.weight
        decay = float(self.decay)
        if decay == 0.0:
            mult = keep.to(self.weight.dtype)
        else:
            mult = torch.where(keep, 1.0, decay).to(self.weight.dtype)
        lam = self.srste_lambda if self.rule == "sr-ste" else 0.0
        return _MaskedWeight.apply(self.weight, mult, keep, lam)

    def set_state(self, pattern: NMPattern | None, decay: float, rule: str, srste_lambda: float = 0.0) -> None:
        if rule not in RULES:
            raise UserError(f"unknown gradient rule {rule!r} (one of {', '.join(RULES)})")
        self.check_pattern(pattern)
        if pattern != self.pattern:
            self._mask_cache = None
        self.pattern = pattern
        self.decay = float(decay)
        self.rule = rule
        self.srste_lambda = float(srste_lambda)

    def extra_repr(self) -> str:  # noqa: D102
        base = super().extra_repr()
        return f"{base}, selector={self.selector}, pattern={self.pattern}, D={self.decay:g}, rule={self.rule}"


class NMLinear(_NMMixin, nn.Linear):
    """``nn.Linear`` whose weight is N:M masked as the recipe state says (bias kept)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, selector: str = "",
                 direction: str = "row", device=None, dtype=None):
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self._init_nm(selector, direction)

    @classmethod
    def from_dense(cls, layer: nn.Linear, selector: str, direction: str = "row") -> "NMLinear":
        new = cls.__new__(cls)
        nn.Module.__init__(new)
        new.in_features, new.out_features = layer.in_features, layer.out_features
        new.weight = layer.weight
        new.bias = layer.bias
        new._init_nm(selector, direction)
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return F.linear(x, self.effective_weight(), self.bias)


class NMConv2d(_NMMixin, nn.Conv2d):
    """``nn.Conv2d`` with N:M groups along C_in (``row``) or C_out (``col``) at every kernel position."""

    @classmethod
    def from_dense(cls, layer: nn.Conv2d, selector: str, direction: str = "row") -> "NMConv2d":
        if layer.groups != 1:
            raise UserError(f"N:M conv layers need groups=1, got groups={layer.groups}")
        new = cls.__new__(cls)
        nn.Module.__init__(new)
        for name in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
                     "transposed", "output_padding", "groups", "padding_mode", "_reversed_padding_repeated_twice"):
            setattr(new, name, getattr(layer, name))
        new.weight = layer.weight
        new.bias = layer.bias
        new._init_nm(selector, direction)
        return new

    # row: [out, in, kh, kw] -> [out*kh*kw, in], groups along C_in; col: [out, in*kh*kw], groups along C_out
    def _grouping_view(self, weight):
        o, i, kh, kw = weight.shape
        if self.direction == "row":
            return weight.permute(0, 2, 3, 1).reshape(o * kh * kw, i)
        return weight.reshape(o, i * kh * kw)

    def _ungroup(self, mask, weight):
        o, i, kh, kw = weight.shape
        if self.direction == "row":
            return mask.reshape(o, kh, kw, i).permute(0, 3, 1, 2)
        return mask.reshape(weight.shape)

    def grouped_size(self) -> int:
        return self.in_channels if self.direction == "row" else self.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self._conv_forward(x, self.effective_weight(), self.bias)


NM_LAYERS = (NMLinear, NMConv2d)


def nm_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(path, layer)`` of every N:M layer in ``model``."""
    return [(name, mod) for name, mod in model.named_modules() if isinstance(mod, NM_LAYERS)]


def _selector_roles(selector: str) -> tuple[str, ...]:
    if selector not in ROLE_GROUPS:
        raise UserError(f"unknown layer selector {selector!r} (one of {', '.join(ROLE_GROUPS)})", "--sparsity")
    return ROLE_GROUPS[selector]


def _replace(model: nn.Module, path: str, new: nn.Module) -> None:
    parent_path, _, leaf = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    setattr(parent, leaf, new)


def sparsify(model: nn.Module, targets: Mapping[str, NMPattern | None], direction: str = "row") -> dict[str, str]:
    """Swap the linear/conv layers each selector covers for N:M layers, in place.

    ``targets`` maps a selector (``ff``, ``qk``, ``qkv``, ...) to its target pattern (used only to check that
    M divides every selected layer; the pattern in force at a step comes from :func:`apply_state`).
    Returns ``{module path: selector}``. Raises :class:`UserError` for an unknown selector, a selector that
    covers no layer, a layer claimed by two selectors, or a pattern whose M does not divide a layer.
    """
    if direction not in DIRECTIONS:
        raise UserError(f"unknown mask direction {direction!r} (row or col)", "--direction")
    claimed: dict[str, str] = {}
    for selector, pattern in targets.items():
        roles = _selector_roles(selector)
        hits = [(name, mod) for name, mod in model.named_modules()
                if isinstance(mod, (nn.Linear, nn.Conv2d)) and role_of(name) in roles]
        if not hits:
            raise UserError(f"selector {selector!r} matches no linear layer of the model", "--sparsity")
        for name, mod in hits:
            if name in claimed and claimed[name] != selector:
                raise UserError(f"layer {name} is selected by both {claimed[name]!r} and {selector!r}", "--sparsity")
            claimed[name] = selector
            if isinstance(mod, NM_LAYERS):
                new = mod
                new.selector, new.direction = selector, direction
            elif isinstance(mod, nn.Conv2d):
                new = NMConv2d.from_dense(mod, selector, direction)
            else:
                new = NMLinear.from_dense(mod, selector, direction)
            new.check_pattern(pattern, name)
            if new is not mod:
                _replace(model, name, new)
    return claimed


def check_patterns(model: nn.Module, patterns: Iterable[tuple[str, NMPattern | None]]) -> None:
    """Raise :class:`UserError` if any ``(selector, pattern)`` does not fit a layer of that selector."""
    layers = nm_layers(model)
    for selector, pattern in patterns:
        for name, layer in layers:
            if layer.selector == selector:
                layer.check_pattern(pattern, name)


def apply_state(model: nn.Module, state) -> None:
    """Set pattern, D, gradient rule and SR-STE lambda of every N:M layer from a recipe state.

    ``state`` is a :class:`nmsim.recipes.base.RecipeState` (duck-typed: ``masks``, ``decay``, ``rule``,
    ``srste_lambda``). A selector missing from ``state.masks`` or mapped to ``None`` runs dense.
    """
    masks = state.masks
    for _, layer in nm_layers(model):
        pattern = masks.get(layer.selector)
        if pattern is None:
            layer.set_state(None, 1.0, "dense", 0.0)
        else:
            layer.set_state(pattern, state.decay, state.rule if state.rule != "dense" else "ste",
                            getattr(state, "srste_lambda", 0.0) or 0.0)


def current_patterns(model: nn.Module) -> dict[str, str]:
    """Selector -> pattern string in force (``dense`` when none)."""
    out: dict[str, str] = {}
    for _, layer in nm_layers(model):
        out.setdefault(layer.selector, str(layer.pattern) if layer.pattern is not None else "dense")
    return out
