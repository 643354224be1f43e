"""Training curves of reference-trainer runs: the tidy evaluation table of a runs folder (:mod:`nmsim.curves.runs`)
and its figures (:mod:`nmsim.curves.plot`), read by the evidence protocol, the report and ``nmsim plot``."""

#: what ``nmsim plot --metrics`` draws (checked before any run is read: no pandas, no matplotlib)
METRICS = ("accuracy", "loss")
