"""The core the CLI and the keyword functions (:mod:`nmsim.facade`, ``nmsim.price(...)``) wrap: each command's
work as one function of its parsed options, returning what the command prints before rendering (a DataFrame or
a dataclass): :mod:`~nmsim.api.pricing` (trace, price and its shape sweep, compare), :mod:`~nmsim.api.training`
(budget, schedule, train, sweep, evidence), :mod:`~nmsim.api.reports` (report, plot), :mod:`~nmsim.api.clusters`
(cluster plan, budget, validate, systems), :mod:`~nmsim.api.checks` (validate, export), :mod:`~nmsim.api.specs`
(hardware list). Nothing here imports the CLI."""
