"""Sparsity plans: which weight GEMMs get which N:M pattern. The one plan grammar and object of nmsim.

Text form (``--sparsity``, ``str(plan)``, ``plan.label``): comma-separated rules, later rules override earlier
ones (``+`` also separates rules, as in a ``--patterns`` item ``ff=1:8+qk=1:4``)::

    ff=1:16,qkv=1:8                 role selectors (``nmsim.graph.roles.ROLE_GROUPS`` names, or ``all``)
    ff@0-5=1:8                      only layers 0..5 (inclusive); ``ff@3=1:8`` is one layer
    re:blocks\\.[0-3]\\.ff\\..*=1:8    regular expression on the module path (``re.fullmatch``)
    ff=1:16/col                     group along the output dimension instead of the reduction one (``row``)
    ff=2:4/2:4                      hierarchical pattern (see ``nmsim.sparsity.hierarchical``)
    ff=1:8T                         transposable mask (usable by dgrad);  ``ff@0-0=dense`` switches layers off

Only ops of kind ``linear`` or ``conv`` (weight GEMMs) are sparsified. Commas inside ``{}``/``[]``/``()`` of a
regular expression do not split rules, nor does a ``+`` inside a rule's selector.

Every other form converts through :class:`SparsityPlan`: a ``{selector: pattern}`` mapping (YAML, a recipe's
``targets``, the trainer's ``RunConfig.sparsity``) with :meth:`SparsityPlan.of` / :attr:`SparsityPlan.targets`
/ :meth:`SparsityPlan.to_mapping`, and a run folder's name with :attr:`SparsityPlan.slug` /
:meth:`SparsityPlan.from_slug` (``ff1_8+qk1_4``: the file-system-safe form, the only place it appears).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from nmsim.errors import UserError
from nmsim.graph.roles import ROLE_GROUPS
from nmsim.sparsity.hierarchical import HierarchicalPattern, parse_any
from nmsim.sparsity.pattern import NMPattern

if TYPE_CHECKING:  # numpy and pandas on first use: parsing a plan (the CLI's argument checks) needs neither
    import numpy as np
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

    @property
    def key(self) -> str:
        """The selector with its layers (``ff``, ``ff@0-5``, ``qk@3``): a recipe's target name for this rule."""
        if self.layers is None:
            return self.selector
        lo, hi = self.layers
        return self.selector + (f"@{lo}" if lo == hi else f"@{lo}-{hi}")

    def __str__(self) -> str:
        pat = "dense" if self.pattern is None else str(self.pattern)
        return f"{self.key}={pat}" + ("/col" if self.direction == "col" else "")

    @property
    def slug(self) -> str:
        """File-system-safe form: ``ff1_16``; ``ff1=1_16``, ``ff@0-5=1_8`` (a key not all letters),
        ``ff2_4~2_4~col``; anything else percent-encoded."""
        pat = ("dense" if self.pattern is None else str(self.pattern)).replace(":", "_").replace("/", "~")
        sep = "" if self.pattern is not None and re.fullmatch(r"[A-Za-z_]+", self.key) else "="
        return quote(self.key + sep + pat + ("~col" if self.direction == "col" else ""), safe="=@~_-.")

    def matches(self, ops) -> "np.ndarray":
        """Boolean per row of ``ops`` (a DataFrame or :class:`nmsim.frame.Rows`): sparsifiable ops this rule
        selects."""
        import numpy as np

        mask = np.isin(np.asarray(ops["kind"], dtype=object), list(SPARSIFIABLE_KINDS))
        if self.selector.startswith("re:"):
            rx = re.compile(self.selector[3:])
            mask &= np.array([bool(rx.fullmatch(str(s))) for s in np.asarray(ops["module"], dtype=object)], bool)
        elif self.selector != ALL:
            mask &= np.isin(np.asarray(ops["role"], dtype=object), list(ROLE_GROUPS[self.selector]))
        if self.layers is not None:
            layer = np.asarray(ops["layer"])
            mask &= (layer >= self.layers[0]) & (layer <= self.layers[1])
        return mask


def _split_rules(text: str) -> list[str]:
    """Split at ``,`` (outside brackets), and at ``+`` once the rule so far has its ``=``."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth <= 0 and (ch == "," or (ch == "+" and "=" in cur)):
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts]


_LAYERS_RE = re.compile(r"@(\d+)(?:-(\d+))?$")
_SLUG_RE = re.compile(r"^([A-Za-z_]+(?:@\d+(?:-\d+)?)?)(\d.*)$")  # a slug rule without '=': key, then pattern


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
    elif left.lower() in ROLE_GROUPS or left.lower() == ALL:
        left = left.lower()
    else:
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
        """Parse the text form; ``None`` and ``dense`` give the dense plan. An empty text or an empty rule
        (``,,,``, ``ff=2:4,``) is refused: it would silently price the dense model."""
        if text is None or str(text).strip().lower() in ("dense", "none"):
            return cls((), where)
        parts = _split_rules(str(text))
        if not all(parts):
            what = "no rule given" if not any(parts) else f"rule {parts.index('') + 1} is empty (an extra ',' or '+'?)"
            raise UserError(f"{what}; give e.g. ff=1:16, or dense", f"{where} {str(text)!r}")
        return cls([parse_rule(t, where) for t in parts], where)

    @classmethod
    def from_mapping(cls, mapping: dict, where: str = "sparsity") -> "SparsityPlan":
        """``{"ff": "1:16", "qkv@0-3": NMPattern(1, 8), "qk": None}`` (YAML, recipe targets, the trainer's
        config) in insertion order; a value is a pattern, its text, or None / ``dense``."""
        return cls([parse_rule(f"{k}={'dense' if v is None else v}", where) for k, v in dict(mapping).items()],
                   where)

    @classmethod
    def of(cls, value, where: str = "--sparsity") -> "SparsityPlan":
        """A plan from any of its forms: a plan, its text, a ``{selector: pattern}`` mapping, or None (dense)."""
        if isinstance(value, SparsityPlan):
            return value
        if isinstance(value, dict):
            return cls.from_mapping(value, where)
        return cls.parse(value, where)

    @classmethod
    def from_slug(cls, slug: str, where: str = "run folder") -> "SparsityPlan":
        """The inverse of :attr:`slug` (``ff1_8+qk1_4`` -> ``ff=1:8,qk=1:4``); ``dense`` is the dense plan."""
        if slug.strip().lower() in ("", "dense"):
            return cls((), where)
        rules = []
        for part in slug.split("+"):
            text = unquote(part)
            key, eq, pat = text.rpartition("=")
            match = None if eq else _SLUG_RE.match(text)
            if match:
                key, pat = match.groups()
            try:
                if not (eq or match):
                    raise UserError("no pattern")
                rules.append(parse_rule(f"{key}={pat.replace('_', ':').replace('~', '/')}", where))
            except UserError as exc:
                raise UserError(f"not a plan folder name (expected e.g. ff1_16 or ff1_8+qk1_4): {slug!r} "
                                f"({exc.message})", where) from None
        return cls(rules, where)

    @classmethod
    def dense(cls) -> "SparsityPlan":
        return cls(())

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self._rules

    @property
    def is_dense(self) -> bool:
        return all(r.pattern is None for r in self._rules)

    @property
    def label(self) -> str:
        """What every table, figure and message shows: ``dense``, or the text form ``ff=1:8,qk=1:4``."""
        return "dense" if self.is_dense else str(self)

    @property
    def slug(self) -> str:
        """A run folder's name for this plan: ``dense``, or the rules as ``ff1_8+qk1_4`` (sorted by key when
        they are plain role selectors). :meth:`from_slug` reads it back, and earlier versions' folder names."""
        if self.is_dense:
            return "dense"
        plain = all(r.layers is None and not r.selector.startswith("re:") for r in self._rules)
        rules = sorted(self._rules, key=lambda r: r.key) if plain else self._rules  # order matters on overlaps
        return "+".join(r.slug for r in rules)

    @property
    def targets(self) -> dict:
        """Rule key -> pattern (None = dense), later rules winning on equal keys: a recipe's ``targets``."""
        return {r.key: r.pattern for r in self._rules}

    def with_pattern(self, pattern) -> "SparsityPlan":
        """This plan with every sparse rule's pattern replaced by ``pattern`` (a bare ``--patterns`` item)."""
        from dataclasses import replace
        return SparsityPlan([replace(r, pattern=pattern) if r.pattern is not None else r for r in self._rules],
                            self.where)

    def to_mapping(self) -> dict[str, str]:
        """Rule key -> pattern text (``dense`` for None): the JSON form (the trainer's ``RunConfig.sparsity``)."""
        return {k: "dense" if p is None else str(p) for k, p in self.targets.items()}

    def __str__(self) -> str:
        return ",".join(str(r) for r in self._rules) or "dense"

    def __repr__(self) -> str:
        return f"SparsityPlan({str(self)!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, SparsityPlan) and self._rules == other._rules

    def __hash__(self) -> int:
        return hash(self._rules)

    def hits(self, ops) -> "list[tuple[Rule, np.ndarray]]":
        """Each rule with the ops it selects (:meth:`Rule.matches`). A layer range past the model's depth, or a
        rule that selects nothing, is a UserError naming the rule."""
        import numpy as np

        self._check_depth(int(np.max(np.asarray(ops["layer"]))) + 1 if len(ops) else 0)
        out = []
        for rule in self._rules:
            mask = rule.matches(ops)
            if not mask.any():
                raise UserError(f"selector {rule.selector!r} matches no sparsifiable (linear/conv) op",
                                f"{self.where} {str(rule)!r}")
            out.append((rule, mask))
        return out

    def check_depth(self, cfg) -> SparsityPlan:
        """The layer-range check of :meth:`hits` from a workload's config alone (its layers; an encoder-decoder's
        deeper stack): commands call it before tracing, so the error comes at once."""
        depth = max(int(getattr(cfg, "layers", 0) or 0), int(getattr(cfg, "decoder_layers", 0) or 0))
        if depth:
            self._check_depth(depth)
        return self

    def _check_depth(self, depth: int) -> None:
        for rule in self._rules:
            if rule.layers is not None and rule.layers[1] >= depth:
                lo, hi = rule.layers
                what = f"layer {lo} is" if lo == hi else f"layers {lo}-{hi} go"
                raise UserError(f"{what} past the model's {depth:,} layers (0 to {depth - 1:,})",
                                f"{self.where} {str(rule)!r}")

    def resolve_arrays(self, ops) -> "dict[str, np.ndarray]":
        """Per row of ``ops`` (a DataFrame or :class:`nmsim.frame.Rows`), as object arrays: ``pattern``
        (NMPattern/HierarchicalPattern or None), ``direction`` and the winning ``rule`` (the last rule wins)."""
        import numpy as np

        n = len(ops)
        out = {k: np.full(n, v, dtype=object) for k, v in (("pattern", None), ("direction", "row"), ("rule", None))}
        for rule, mask in self.hits(ops):
            loc = f"{self.where} {str(rule)!r}"
            if rule.pattern is not None:
                dim = "gemm_k" if rule.direction == "row" else "gemm_n"
                size = np.asarray(ops[dim]).astype(np.int64)
                bad = np.flatnonzero(mask & (size % rule.pattern.m != 0))
                if len(bad):
                    module = np.asarray(ops["module"], dtype=object)[bad[0]]
                    what = "reduction" if rule.direction == "row" else "output"
                    raise UserError(f"M={rule.pattern.m} does not divide the {what} dimension {dim}="
                                    f"{int(size[bad[0]])} of {module} ({len(bad)} op(s) affected)", loc)
            for i in np.flatnonzero(mask).tolist():   # element by element: a pattern is never unpacked
                out["pattern"][i], out["direction"][i], out["rule"][i] = rule.pattern, rule.direction, str(rule)
        return out

    def resolve_frame(self, ops: pd.DataFrame) -> pd.DataFrame:
        """Per op: ``pattern`` (NMPattern/HierarchicalPattern or None), ``direction`` and the winning ``rule``."""
        import pandas as pd

        return pd.DataFrame({k: pd.Series(v, index=ops.index, dtype=object)
                             for k, v in self.resolve_arrays(ops).items()}, index=ops.index)

    def resolve(self, ops):
        """Pattern per op: of a DataFrame a Series (index = ``ops.index``, dtype object, NMPattern/HierarchicalPattern
        or None); of :class:`nmsim.frame.Rows` an object array by position."""
        if hasattr(ops, "to_pandas"):
            return self.resolve_arrays(ops)["pattern"]
        return self.resolve_frame(ops)["pattern"]


def resolve_plan(plan, ops):
    """Plan (SparsityPlan, CLI text, None) or a pattern Series -> pattern per op of ``ops`` (a Series by op id,
    or for :class:`nmsim.frame.Rows` an object array by position; see :meth:`SparsityPlan.resolve`)."""
    if plan is None:
        return None
    if hasattr(plan, "reindex"):   # a pandas Series of patterns, by op id
        if hasattr(ops, "to_pandas"):
            return plan.reindex(ops.index).to_numpy(dtype=object)
        return plan.reindex(ops.index)
    if isinstance(plan, str):
        plan = SparsityPlan.parse(plan)
    if isinstance(plan, SparsityPlan):
        return None if plan.is_dense else plan.resolve(ops)
    raise UserError(f"not a sparsity plan: {plan!r}", "plan")
