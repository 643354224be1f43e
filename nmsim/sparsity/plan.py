"""Sparsity plans: which weight GEMMs get which N:M pattern.

CLI syntax (``--sparsity``): comma-separated rules, later rules override earlier ones::

    ff=1:16,qkv=1:8                 role selectors (``nmsim.graph.roles.ROLE_GROUPS`` names, or ``all``)
    ff@0-5=1:8                      only layers 0..5 (inclusive); ``ff@3=1:8`` is one layer
    re:blocks\\.[0-3]\\.ff\\..*=1:8    regular expression on the module path (``re.fullmatch``)
    ff=1:16/col                     group along the output dimension instead of the reduction one (``row``)
    ff=2:4/2:4                      hierarchical pattern (see ``nmsim.sparsity.hierarchical``)
    ff=1:8T                         transposable mask (usable by dgrad);  ``ff@0-0=dense`` switches layers off

Only ops of kind ``linear`` or ``conv`` (weight GEMMs) are sparsified. Commas inside ``{}``/``[]``/``()`` of a
regular expression do not split rules.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nmsim.errors import UserError
from nmsim.graph.roles import ROLE_GROUPS
from nmsim.sparsity.hierarchical import HierarchicalPattern, parse_any
from nmsim.sparsity.pattern import NMPattern

if TYPE_CHECKING:  # pandas on first use: parsing a plan (the CLI's argument checks) does not need it
    import pandas as pd

SPARSIFIABLE_KINDS = frozenset({"linear", "conv"})
DIRECTIONS = ("row", "col")
ALL = "all"  # every weight GEMM

Pattern = NMPattern | HierarchicalPattern


@dataclass(frozen=True)
class Rule:
    selector: str  # a ROLE_GROUPS name, "all", or "re:<regex>"
    pattern: Pattern | None  # None = dense
    layers: tuple[int, int] | None = None  # inclusive range
    direction: str = "row"

    def __str__(self) -> str:
        sel = self.selector
        if self.layers is not None:
            lo, hi = self.layers
            sel += f"@{lo}" if lo == hi else f"@{lo}-{hi}"
        pat = "dense" if self.pattern is None else str(self.pattern)
        return f"{sel}={pat}" + ("/col" if self.direction == "col" else "")

    def matches(self, ops: pd.DataFrame) -> pd.Series:
        """Boolean Series: sparsifiable ops this rule selects."""
        mask = ops["kind"].isin(SPARSIFIABLE_KINDS)
        if self.selector.startswith("re:"):
            rx = re.compile(self.selector[3:])
            mask &= ops["module"].map(lambda s: bool(rx.fullmatch(str(s))))
        elif self.selector != ALL:
            mask &= ops["role"].isin(ROLE_GROUPS[self.selector])
        if self.layers is not None:
            mask &= ops["layer"].between(*self.layers)
        return mask


def _split_rules(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth <= 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


_LAYERS_RE = re.compile(r"@(\d+)(?:-(\d+))?$")


def parse_rule(text: str, where: str = "--sparsity") -> Rule:
    loc = f"{where} {text!r}"
    left, eq, right = text.rpartition("=")
    left, right = left.strip(), right.strip()
    if not eq or not left or not right:
        raise UserError("expected SELECTOR[@LAYERS]=PATTERN[/row|/col], e.g. ff=1:16", loc)
    layers = None
    sel, at, rng = left.rpartition("@")
    match = _LAYERS_RE.match("@" + rng) if at else None
    if at and not match and not sel.startswith("re:"):
        raise UserError(f"bad layer range {rng!r} (expected e.g. 0-5 or 3)", loc)
    if match:  # (an '@' that is no layer range may belong to a regular expression)
        lo = int(match.group(1))
        hi = int(match.group(2)) if match.group(2) is not None else lo
        if hi < lo:
            raise UserError(f"bad layer range {rng!r}: end {hi} is below start {lo}", loc)
        left, layers = sel.strip(), (lo, hi)
    if left.startswith("re:"):
        try:
            re.compile(left[3:])
        except re.error as exc:
            raise UserError(f"bad regular expression {left[3:]!r}: {exc}", loc) from None
    elif left != ALL and left not in ROLE_GROUPS:
        known = ", ".join([ALL, *ROLE_GROUPS])
        raise UserError(f"unknown selector {left!r} (known: {known}, or re:REGEX)", loc)
    direction = "row"
    head, slash, tail = right.rpartition("/")
    if slash and tail.strip().lower() in DIRECTIONS:
        right, direction = head.strip(), tail.strip().lower()
    return Rule(left, parse_any(right, loc), layers, direction)


class SparsityPlan:
    """An ordered list of rules; ``resolve`` maps traced ops to patterns (later rules win)."""

    def __init__(self, rules: list[Rule] | tuple[Rule, ...] = (), where: str = "--sparsity"):
        self._rules = tuple(rules)
        self.where = where

    @classmethod
    def parse(cls, text: str | None, where: str = "--sparsity") -> "SparsityPlan":
        """Parse the CLI syntax; ``""``, ``None`` and ``dense`` give the dense plan."""
        if text is None or str(text).strip().lower() in ("", "dense", "none"):
            return cls((), where)
        return cls([parse_rule(t, where) for t in _split_rules(str(text))], where)

    @classmethod
    def from_mapping(cls, mapping: dict, where: str = "sparsity") -> "SparsityPlan":
        """``{"ff": "1:16", "qkv@0-3": "1:8"}`` (e.g. from YAML) in insertion order."""
        return cls([parse_rule(f"{k}={v}", where) for k, v in mapping.items()], where)

    @classmethod
    def dense(cls) -> "SparsityPlan":
        return cls(())

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self._rules

    @property
    def is_dense(self) -> bool:
        return all(r.pattern is None for r in self._rules)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self._rules) or "dense"

    def __repr__(self) -> str:
        return f"SparsityPlan({str(self)!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, SparsityPlan) and self._rules == other._rules

    def __hash__(self) -> int:
        return hash(self._rules)

    def resolve_frame(self, ops: pd.DataFrame) -> pd.DataFrame:
        """Per op: ``pattern`` (NMPattern/HierarchicalPattern or None), ``direction`` and the winning ``rule``."""
        import pandas as pd

        out = pd.DataFrame({"pattern": pd.Series([None] * len(ops), index=ops.index, dtype=object),
                            "direction": "row", "rule": None}, index=ops.index)
        out["rule"] = out["rule"].astype(object)
        for rule in self._rules:
            loc = f"{self.where} {str(rule)!r}"
            mask = rule.matches(ops)
            if not mask.any():
                raise UserError(f"selector {rule.selector!r} matches no sparsifiable (linear/conv) op", loc)
            if rule.pattern is not None:
                dim = "gemm_k" if rule.direction == "row" else "gemm_n"
                bad = ops.loc[mask & (ops[dim].astype("int64") % rule.pattern.m != 0)]
                if len(bad):
                    first = bad.iloc[0]
                    what = "reduction" if rule.direction == "row" else "output"
                    raise UserError(f"M={rule.pattern.m} does not divide the {what} dimension {dim}={int(first[dim])} "
                                    f"of {first['module']} ({len(bad)} op(s) affected)", loc)
            idx = mask[mask].index
            out.loc[idx, "pattern"] = pd.Series([rule.pattern] * len(idx), index=idx, dtype=object)
            out.loc[idx, "direction"] = rule.direction
            out.loc[idx, "rule"] = str(rule)
        return out

    def resolve(self, ops: pd.DataFrame) -> pd.Series:
        """Pattern per op (index = ``ops.index``, dtype object, NMPattern/HierarchicalPattern or None)."""
        return self.resolve_frame(ops)["pattern"]
