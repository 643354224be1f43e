"""Recipe names -> classes, found in ``nmsim/recipes/catalog/`` (one module per recipe); ``make_recipe`` is the
one constructor the trainer, cost model and CLI use."""
from __future__ import annotations

import importlib
import pkgutil

from nmsim.errors import UserError
from nmsim.recipes import catalog
from nmsim.recipes.base import Param, Recipe


def discover() -> tuple[type[Recipe], ...]:
    """Every module of the catalog folder's ``RECIPE``, in list order."""
    found = [importlib.import_module(f"{catalog.__name__}.{m.name}").RECIPE
             for m in pkgutil.iter_modules(catalog.__path__)]
    names = [cls.name for cls in found]
    if len(set(names)) != len(names):
        raise RuntimeError(f"two recipe modules share a name: {sorted(names)}")
    return tuple(sorted(found, key=lambda cls: (cls.order, cls.name)))


RECIPES: dict[str, type[Recipe]] = {cls.name: cls for cls in discover()}
RECIPE_NAMES: tuple[str, ...] = tuple(RECIPES)
# the one list a command means by "all": every recipe that needs no inputs beyond a plan (custom needs boundaries)
ALL_RECIPES: tuple[str, ...] = tuple(n for n, cls in RECIPES.items() if not cls.alone)
# "paper": the sparse recipes the SR-STE (Zhou et al., 2021) and decaying-mask (Kao et al., 2022) papers compare;
# "quick": one recipe of each family (SR-STE, decaying mask, decaying structure), the report's quick trainer sweep
RECIPE_SETS: dict[str, tuple[str, ...]] = {"all": ALL_RECIPES} | {
    s: tuple(n for n, cls in RECIPES.items() if s in cls.sets) for cls in RECIPES.values() for s in cls.sets}
PAPER_RECIPES: tuple[str, ...] = RECIPE_SETS["paper"]
QUICK_RECIPES: tuple[str, ...] = RECIPE_SETS["quick"]
# every recipe parameter once, in recipe order (a parameter two recipes share, such as MDGF's beta, once)
PARAMS: tuple[Param, ...] = tuple({p.name: p for cls in RECIPES.values() for p in cls.params}.values())


def given_params(values) -> dict:
    """The recipe parameters set on ``values`` (parsed command-line arguments: ``--beta-rule`` is ``beta_rule``;
    one left out, None, is not passed, so recipes keep their defaults)."""
    return {p.name: getattr(values, p.name) for p in PARAMS
            if p.kind is not None and getattr(values, p.name, None) is not None}


def recipe_style(name: str) -> tuple[str, str]:
    """(matplotlib colour, marker) of recipe ``name`` in every figure (an unknown name: the default style)."""
    return RECIPES.get(name, Recipe).style


def recipes_with_claim(claim: str) -> tuple[str, ...]:
    """The recipes the evidence tests ``claim`` on (see each recipe's ``claims``)."""
    return tuple(n for n, cls in RECIPES.items() if claim in cls.claims)


def parse_recipe_list(text, where: str = "--recipes") -> list[str]:
    """The one grammar of every ``--recipes``: ``"sr-ste,mdgf-exp"``, a set name (``all``, ``paper``,
    ``quick``) or a mix,
    as text or a sequence -> canonical names in order, without duplicates. A recipe built ``alone`` is refused
    (custom: it needs boundaries, so it is priced one at a time, ``nmsim schedule`` or the API)."""
    items = text if isinstance(text, (list, tuple)) else str(text).split(",")
    names = [str(t).strip().lower() for t in items if str(t).strip()]
    if not names:
        raise UserError("give at least one recipe", where)
    out: list[str] = []
    for name in names:
        if name in RECIPES and RECIPES[name].alone:
            raise UserError(f"{name} {RECIPES[name].alone}", where)
        if name not in ALL_RECIPES and name not in RECIPE_SETS:
            raise UserError(f"unknown recipe {name!r} (valid: {', '.join(ALL_RECIPES)}; sets: "
                            f"{', '.join(RECIPE_SETS)})", where)
        out += [n for n in RECIPE_SETS.get(name, (name,)) if n not in out]
    return out


def recipe_class(name: str) -> type[Recipe]:
    """The class of recipe ``name`` (any case, spaces around ignored); UserError naming the valid ones."""
    cls = RECIPES.get(str(name).strip().lower())
    if cls is None:
        raise UserError(f"unknown recipe {name!r} (valid: {', '.join(RECIPE_NAMES)})", "--recipe")
    return cls


def make_recipe(name: str, targets=None, dense_frac: float = 0.0, finetune_frac: float = 0.0,
                steps_per_epoch: int | None = None, **params) -> Recipe:
    """Build a recipe by name.

    targets: the plan, in any form of :meth:`nmsim.sparsity.SparsityPlan.of` (``"ff=1:16,qk=1:4"``,
    ``{"ff": "1:16"}``, a SparsityPlan): rule key -> final pattern; dense_frac / finetune_frac: d and f;
    steps_per_epoch: switch at whole epochs (see nmsim.recipes.base); params: each recipe's ``params``
    (srste_lambda for sr-ste, beta and zero_threshold for mdgf-*, k / intervals for sdgf-geometric, boundaries
    for custom).
    """
    return recipe_class(name)(targets or {}, dense_frac, finetune_frac, steps_per_epoch, **params)
