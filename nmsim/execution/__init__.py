"""Execution models: how one accelerator runs each GEMM of a per-pass GEMM table (contract: :mod:`.base`).

A hardware spec picks its model with ``execution: {model: NAME, ...}`` (``roofline`` when absent). Models register
by name (:func:`register`); :data:`MODEL_MODULES` lists the modules imported on first look-up, so adding a model
is one module plus one entry here — no pricing code changes.
"""
from __future__ import annotations

import importlib

from nmsim.errors import UserError

#: the contract's names (:mod:`.base`, which imports numpy), imported on first use: a light submodule
#: (:mod:`.modes`) is read without numpy
_BASE = ("BOUNDS", "OPERAND_NONE", "OPERAND_WEIGHT", "OPERAND_WEIGHT_T", "OPERANDS", "PASSES", "PRICED_FIELDS",
         "TABLE_ARRAYS", "TABLE_IDS", "ExecContext", "ExecutionModel", "Fusion", "GemmTable", "Priced",
         "VectorTable", "finish")


def __getattr__(name: str):
    if name in _BASE:
        return getattr(importlib.import_module("nmsim.execution.base"), name)
    raise AttributeError(f"module 'nmsim.execution' has no attribute {name!r}")

#: name -> module that defines (and registers) it; imported lazily
MODEL_MODULES = {
    "roofline": "nmsim.execution.roofline",
    "gpu": "nmsim.execution.gpu",
    "systolic": "nmsim.execution.systolic",
}
_REGISTRY: dict[str, type] = {}


def register(name: str):
    """Class decorator: make ``cls`` the execution model called ``name``."""
    def deco(cls):
        cls.name = name
        _REGISTRY[name] = cls
        return cls
    return deco


def model_class(name: str, where: str = "execution.model") -> type:
    """The registered class for ``name`` (importing its module on first use); UserError when unknown."""
    cls = _REGISTRY.get(name)
    if cls is None and name in MODEL_MODULES:
        try:
            importlib.import_module(MODEL_MODULES[name])
        except ModuleNotFoundError as exc:
            if exc.name != MODEL_MODULES[name]:
                raise
        cls = _REGISTRY.get(name)
    if cls is None:
        known = ", ".join(sorted(n for n in MODEL_MODULES if n in _REGISTRY or _importable(n)))
        raise UserError(f"unknown execution model {name!r} (known: {known})", where)
    return cls


def _importable(name: str) -> bool:
    try:
        model_class(name)
        return True
    except UserError:
        return False


def model_names() -> list[str]:
    return [n for n in MODEL_MODULES if _importable(n)]


_MODEL_CACHE: dict = {}


def model_for(hw) -> ExecutionModel:
    """The execution model ``hw``'s spec selects (cached per spec object)."""
    hit = _MODEL_CACHE.get(id(hw))
    if hit is not None and hit[0] is hw:
        return hit[1]
    execution = getattr(hw, "execution", None) or {}
    name = execution.get("model", "roofline")
    params = {k: v for k, v in execution.items() if k not in ("model", "fusion", "source")}
    model = model_class(name)(hw, params)
    _MODEL_CACHE[id(hw)] = (hw, model)
    return model


def default_fusion(hw) -> Fusion:
    """The fusion the spec's software stack applies (``execution.fusion``; unfused when the spec says nothing)."""
    from nmsim.execution.context import Fusion

    f = (getattr(hw, "execution", None) or {}).get("fusion") or {}
    return Fusion(attention=bool(f.get("attention", False)), epilogue=bool(f.get("epilogue", False)))


__all__ = ["BOUNDS", "OPERANDS", "OPERAND_NONE", "OPERAND_WEIGHT", "OPERAND_WEIGHT_T", "PASSES", "PRICED_FIELDS",
           "TABLE_ARRAYS", "TABLE_IDS", "ExecContext", "ExecutionModel", "Fusion", "GemmTable", "Priced",
           "VectorTable", "default_fusion", "finish", "model_class", "model_for", "model_names", "register"]
