"""nmsim: what an N:M sparse training recipe costs, which accelerator should run it, and whether it pays off."""
__version__ = "0.1.0"


def trace(module, example_inputs, **kwargs):
    """Trace ``module`` on the meta device into an :class:`nmsim.graph.OpGraph` (see :func:`nmsim.graph.trace`)."""
    from nmsim.graph.tracer import trace as _trace

    return _trace(module, example_inputs, **kwargs)
