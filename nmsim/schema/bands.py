"""The error-bands file (``nmsim/data/bands/bands.yaml``), which ``nmsim validate --write-bands`` writes from the
scored validation rows (meaning of each figure: ``nmsim.bands``). Its numbers are nmsim's own: no sources."""
from __future__ import annotations

from nmsim.io.spec_nodes import Choice, DictOf, Field, Names, Obj, Plain

LEVELS = ("kernel", "inference step", "training step", "cluster run")

LEVEL = Obj({
    "rows": Field(Plain(integer=True, description="scored rows behind the band"), required=True),
    "lo": Field(Plain(description="factor on a predicted time at the band's low end"), required=True),
    "hi": Field(Plain(description="factor at the high end"), required=True),
    "coverage": Field(Plain(positive=False, at_most=1, description="leave-one-out share inside"), required=True),
    "devices": Field(Names(description="bundled specs the level's scored rows measured"), required=True),
}, sourced=False)

BANDS = Obj({
    "coverage_goal": Field(Plain(at_most=1), required=True),
    "levels": Field(DictOf(LEVEL, key=Choice(LEVELS, what="level"), sourced=False), required=True),
}, top=True)
