"""The losses file (``nmsim/data/published_runs/losses.yaml``, or a ``--losses`` file of the same keys): what real
training runs lose against device pricing (meaning of each term: ``nmsim.cluster.losses``). Every key is
optional (a file replaces the calibrated terms it gives); device names are checked by the loader."""
from __future__ import annotations

from nmsim.io.spec_nodes import DictOf, Field, Number, Obj

FRACTIONS = ("attention_efficiency", "vector_efficiency", "optimizer_efficiency", "dp_overlap", "zero3_overlap",
             "goodput")   # in (0, 1]
MAY_BE_ZERO = ("data_loading_fraction", "checkpoint_interval_steps", "collective_half_bytes_intra",
               "collective_half_bytes_inter")
TERMS = ("attention_efficiency", "vector_efficiency", "optimizer_efficiency", "collective_half_bytes_intra",
         "collective_half_bytes_inter", "dp_overlap", "zero3_overlap", "data_loading_fraction",
         "checkpoint_interval_steps", "checkpoint_write_gbps_per_node", "checkpoint_bytes_per_param", "goodput")

LOSSES = Obj({
    "compute_efficiency": Field(DictOf(Number(at_most=2.0),
                                       description="device (spec name or alias, or default) -> efficiency")),
    **{key: Field(Number(positive=key not in MAY_BE_ZERO, at_most=1.0 if key in FRACTIONS else None))
       for key in TERMS},
}, top=True)
