"""The one memory model: per-step footprints on one device (``price``, ``compare``, shape sweeps, ``budget``, the
report and the API) and per-device footprints of parallel layouts (``cluster``), from the same activation,
precision and weight rules; validated against published measured peaks (:mod:`nmsim.memory.validate`)."""
from nmsim.memory.activations import RECOMPUTE, activation_bytes_per_token, layer_terms  # noqa: F401
from nmsim.memory.footprint import (GIB, MEMORY_COLUMNS, fit_columns, kv_cache_bytes, memory_footprint,  # noqa: F401
                                    step_memory)
from nmsim.memory.layout import COMPONENTS, layout_memory  # noqa: F401
from nmsim.memory.precision import PRECISIONS, Precision, precision_for  # noqa: F401
from nmsim.memory.weights import WeightBytes, weights_at_rest  # noqa: F401
