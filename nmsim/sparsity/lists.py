"""The one grammar of every pattern list (``--patterns`` in compare, budget, sweep, report, evidence).

An item is ``dense``, a pattern (``1:8``, or hierarchical) that the command puts on its selector, or a whole
plan with ``+`` between its rules (``ff=1:8+qk=1:4``); items are separated by commas.
"""
from __future__ import annotations

from nmsim.errors import UserError


def parse_pattern_list(text, where: str = "--patterns") -> list[str]:
    """``"dense,2:4,ff=1:8+qk=1:4"`` (or a sequence) -> ``["dense", "2:4", "ff=1:8,qk=1:4"]``: each item
    validated and written canonically (bare patterns stay bare, plans in plan text form), in order, no duplicates."""
    from nmsim.sparsity.hierarchical import parse_any
    from nmsim.sparsity.plan import SparsityPlan

    items = [str(t).strip() for t in (text if isinstance(text, (list, tuple)) else str(text).split(","))]
    if any(items) and not all(items):
        raise UserError(f"item {items.index('') + 1} of {len(items)} is empty in {','.join(items)!r}; "
                        "separate the patterns by single commas (e.g. dense,2:4,1:8)", where)
    out: list[str] = []
    for item in items:
        if not item:
            continue
        if "=" in item:
            out.append(SparsityPlan.parse(item, where).label)
        else:
            pattern = parse_any(item, where)
            out.append("dense" if pattern is None else str(pattern))
    if not out:
        raise UserError("no pattern given (e.g. --patterns dense,2:4,1:8)", where)
    return list(dict.fromkeys(out))


def plan_text(item: str, selector: str = "ff") -> str:
    """An item of :func:`parse_pattern_list` as plan text: a bare pattern goes on ``selector``."""
    return item if item == "dense" or "=" in item else f"{selector}={item}"
