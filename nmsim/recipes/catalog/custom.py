"""custom: ``boundaries = [(position, {selector: pattern}), ...]``; a float position in [0, 1) is a fraction of the
sparse part, an int is an offset in steps (epochs with ``steps_per_epoch``) from its start. Each entry changes the
selectors it names; before the first entry a selector has no mask. The fine-tune mask of a selector not in
``targets`` is the last pattern given for it. Not in the set "all": it needs boundaries (the API or
``nmsim schedule``)."""
from __future__ import annotations

import math

from nmsim.errors import UserError
from nmsim.recipes.base import Param, check_targets
from nmsim.recipes.stepwise import IntervalRecipe


class CustomRecipe(IntervalRecipe):
    name = "custom"
    order = 90
    alone = "needs --boundaries; price it with nmsim schedule or the API"
    params = (Param("boundaries", None, "[(position, {selector: pattern}), ...]"),)
    needs_targets = False

    def __init__(self, targets, dense_frac=0.0, finetune_frac=0.0, steps_per_epoch=None, **params):
        super().__init__(targets, dense_frac, finetune_frac, steps_per_epoch, **params)
        raw = self.params.get("boundaries")
        if not raw:
            raise UserError("custom recipe needs boundaries: [(position, {selector: pattern}), ...]", "--boundaries")
        entries = []
        for i, item in enumerate(raw):
            try:
                pos, patterns = item
                patterns = dict(patterns)
            except (TypeError, ValueError):
                raise UserError(f"entry {i}: expected (position, {{selector: pattern}})", "--boundaries") from None
            ok_float = isinstance(pos, float) and 0 <= pos < 1
            ok_int = isinstance(pos, int) and not isinstance(pos, bool) and pos >= 0
            if not (ok_float or ok_int):
                raise UserError(f"entry {i}: position must be a fraction in [0, 1) or a step >= 0, got {pos!r}",
                                "--boundaries")
            entries.append((pos, check_targets(patterns, None, "--boundaries")))
        explicit = dict(self.targets)
        for _, patterns in entries:  # a selector's final (fine-tune) mask defaults to its last pattern
            self.targets.update({k: v for k, v in patterns.items() if k not in explicit})
        self.params = {"boundaries": entries}

    def _param_text(self) -> str:
        return ", boundaries=" + "; ".join(
            f"{pos}:" + ",".join(f"{k}={v or 'dense'}" for k, v in pats.items())
            for pos, pats in self.params["boundaries"])

    def schedule(self, total_steps):
        unit = self._unit(total_steps)
        start, stop = self.span(total_steps)
        units = (stop - start) // unit
        resolved = sorted(
            ((start + (math.floor(pos * units) if isinstance(pos, float) else pos) * unit, pats)
             for pos, pats in self.params["boundaries"]),
            key=lambda e: e[0],
        )
        for i, (pos, _) in enumerate(self.params["boundaries"]):
            step = start + (math.floor(pos * units) if isinstance(pos, float) else pos) * unit
            if step >= stop:
                what = "step" if unit == 1 else "epoch"
                raise UserError(f"entry {i}: position {pos} ({what} {step // unit}) is past the end of the sparse part "
                                f"({what}s {start // unit} to {stop // unit}); nothing would use it", "--boundaries")
        out = {key: [] for key in self.targets}
        for step, pats in resolved:
            for key, pattern in pats.items():
                out[key].append((step, pattern))
        return out


RECIPE = CustomRecipe
