"""The recipe parameter flags, defined once for every command that builds a recipe (``train``, ``sweep``,
``schedule``): each maps to a keyword of :func:`nmsim.recipes.make_recipe` (``--beta-rule`` -> ``beta_rule``)."""
from __future__ import annotations

# MDGF's beta rules (nmsim.recipes.decay.BETA_RULES) as the help text words them
BETA_RULE_WORDS = {"paper": "the paper's constant", "paper-fraction": "the paper's D at the same fraction of the run",
                   "auto-70": "D ~0 at 70%% of the sparse part"}
FLAGS = (   # (flag, type, help)
    ("--beta", float, "MDGF decay rate per step (default: by --beta-rule)"),
    ("--beta-rule", str, None),
    ("--zero-threshold", float, "MDGF: D below this counts as 0 for pricing (default 2**-11)"),
    ("--srste-lambda", float, "SR-STE lambda (default 2e-4)"),
    ("--finetune-rule", str, "SR-STE's rule in fine-tune: sr-ste (default, as the paper's code) or ste"),
    ("--k", int, "SDGF-geometric factor k (paper 16, public code 8)"),
    ("--intervals", int, "SDGF-geometric number of intervals (default log2(k)+1)"),
)
NAMES = tuple(flag[2:].replace("-", "_") for flag, _, _ in FLAGS)


def add_recipe_flags(p, beta_rule: str) -> None:
    """Add the recipe parameter flags to parser ``p``; ``beta_rule`` is the command's default MDGF beta rule."""
    rules = ", ".join(f"{r} ({w}{'; default' if r == beta_rule else ''})" for r, w in BETA_RULE_WORDS.items())
    for flag, kind, text in FLAGS:
        p.add_argument(flag, type=kind, help=text or f"MDGF beta without --beta: {rules}")


def recipe_flag_values(args) -> dict:
    """The recipe keywords given on the command line (flags left out are not passed: recipes keep defaults)."""
    return {name: getattr(args, name) for name in NAMES if getattr(args, name, None) is not None}
