"""The report's options as the user types them (recipes, patterns, accelerators): parsed without matplotlib or
torch, so a typo is reported before the study imports anything heavy."""
from __future__ import annotations

from nmsim.errors import UserError

PAPER_RECIPES = ("sr-ste", "mdgf-linear", "mdgf-exp", "sdgf-stepwise", "sdgf-geometric")
DEFAULT_PATTERNS = ("dense", "ff=2:4", "ff=1:4", "ff=1:8", "ff=1:16", "ff=1:32", "ff=1:128",
                    "ff=1:4,qk=1:4", "ff=1:8,qk=1:8", "ff=1:8,qk=1:4", "ff=1:8,qkv=1:4")


def normalize_plan(text: str, where: str = "--patterns") -> str:
    from nmsim.sparsity import SparsityPlan

    text = text.strip()
    if text.lower() == "dense":
        return "dense"
    spec = text.replace("+", ",") if "=" in text else f"ff={text}"
    plan = SparsityPlan.parse(spec, where)
    return "dense" if plan.is_dense else str(plan)


def parse_patterns(text: str) -> list[str]:
    if text.strip().lower() == "default":
        return list(DEFAULT_PATTERNS)
    plans = list(dict.fromkeys(normalize_plan(t) for t in text.split(",") if t.strip()))
    if not plans:
        raise UserError("no pattern given", "--patterns")
    if "dense" not in plans:
        plans.insert(0, "dense")
    return plans


def parse_recipes(text: str) -> list[str]:
    from nmsim.recipes import RECIPE_NAMES

    if text.strip().lower() == "paper":
        return list(PAPER_RECIPES)
    names = [r.strip().lower() for r in text.split(",") if r.strip()]
    for n in names:
        if n not in RECIPE_NAMES or n == "custom":
            raise UserError(f"unknown recipe {n!r} (valid: paper, {', '.join(r for r in RECIPE_NAMES if r != 'custom')})",
                            "--recipes")
    names = [n for n in dict.fromkeys(names) if n != "dense"]
    if not names:
        raise UserError("no sparse recipe given", "--recipes")
    return names


def parse_hardware(text: str) -> list:
    from nmsim.hardware import list_specs, load

    names = list_specs() if text.strip().lower() == "all" else [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise UserError("no accelerator given", "--hardware")
    specs = []
    for n in names:
        try:
            specs.append(load(n))
        except UserError as exc:
            raise UserError(str(exc), "--hardware") from None
    return specs
