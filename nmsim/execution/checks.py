"""The settings an execution model refuses whatever the graph (a pinned kernel, the dtypes), from the spec alone:
no numpy, so :func:`nmsim.execution.settings.check_settings` says them before the pricing code is imported. Each
model's ``check`` calls the function here (:data:`CHECKS`: model name -> its check; others pin no kernel)."""
from __future__ import annotations

from nmsim.errors import UserError


def _arch_number(arch: str | None) -> int | None:
    return None if arch is None else int(arch[2:])


def arch_factor(params: dict, k) -> float | None:
    """Share of the peak kernel ``k`` reaches on a GPU of these ``params``; None when built for a newer arch."""
    mine, built = _arch_number(params.get("arch")), _arch_number(k.arch)
    if mine is None or built is None or built == mine:
        return 1.0
    return None if built > mine else params.get("older_arch_peak_fraction", 1.0)


def describe(kernels) -> str:
    """Each kernel's name, dtypes and sparse patterns, for an error message."""
    return "; ".join(f"{k.name}: {','.join(k.dtypes)}"
                     + (f" x {','.join(k.weight_dtypes)} weights" if k.weight_dtypes else "")
                     + ("" if not k.sparse else " any N:M" if k.any_nm else
                        " " + ",".join(str(p) for p in k.patterns)) for k in kernels)


def check_pin(hw, kernels, ctx) -> None:
    names = tuple(k.name for k in kernels)
    if ctx.kernel is not None and ctx.kernel not in names:
        raise UserError(f"{hw.name} has no kernel {ctx.kernel!r} (kernels: {', '.join(names)})", "--kernel")


def check_gpu(hw, params: dict, ctx, patterns=()) -> None:
    """The gpu model: the kernel named, a kernel for the dtypes, and a pinned kernel that runs at least one of
    ``patterns`` (sparse) at the dtypes (pricing keeps the errors only the shapes decide, e.g.
    ``offered_from_rows``)."""
    kernels = params["kernels"]
    check_pin(hw, kernels, ctx)
    usable = [k for k in kernels if arch_factor(params, k) is not None]
    if not any(k.accepts_dtypes(ctx.dtype, ctx.wdtype) for k in usable):
        raise UserError(f"{hw.name} has no kernel for {ctx.dtype} GEMMs with {ctx.wdtype} weights "
                        f"(kernels: {describe(kernels)})", "--dtype/--weight-dtype")
    if ctx.kernel is None:
        return
    pinned = next((k for k in usable if k.name == ctx.kernel), None)
    if pinned is None:   # built for a newer arch than this GPU's
        runs = False
    elif pinned.sparse:  # sparse rows read the stored weight: the weight dtype
        runs = (pinned.accepts_dtypes(ctx.dtype, ctx.wdtype)
                and any(pinned.execution(p) is not None for p in patterns))
    else:
        runs = pinned.accepts_dtypes(ctx.dtype, ctx.dtype) or pinned.accepts_dtypes(ctx.dtype, ctx.wdtype)
    if runs:
        return
    raise UserError(f"kernel {ctx.kernel!r} runs no GEMM of this plan at {ctx.dtype} with "
                    f"{ctx.wdtype} weights ({describe(kernels)})", "--kernel")


def check_no_kernels(hw, model: str, ctx) -> None:
    """A model without named kernels has none to pin."""
    if ctx.kernel is not None:
        raise UserError(f"{hw.name} has no kernels to pin (its execution model is {model}; --kernel "
                        "is for gpu specs)", "--kernel")


CHECKS = {"gpu": check_gpu}


def check(hw, ctx, patterns=()) -> None:
    """What the spec's execution model refuses at ``ctx`` for ``patterns`` (the model's own ``check``)."""
    execution = getattr(hw, "execution", None) or {}
    name = execution.get("model", "roofline")
    if name in CHECKS:
        CHECKS[name](hw, {k: v for k, v in execution.items() if k not in ("model", "fusion", "source")}, ctx, patterns)
    else:
        check_no_kernels(hw, name, ctx)
