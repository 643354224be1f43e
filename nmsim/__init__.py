"""nmsim: what an N:M sparse training recipe costs, which accelerator should run it, and whether it pays off.

The Python API (:mod:`nmsim.api`) is the CLI's commands as functions that take the same arguments as keywords
and return DataFrames with raw SI units in the column names (``seconds``, ``joules``, ``flops``, ``bytes``)::

    import nmsim
    cfg = nmsim.load_workload("gpt2")              # a bundled name, a workload YAML or an HF config.json
    nmsim.trace("gpt2", batch=1, seq=1024)         # FLOPs per role (nmsim.trace(module, inputs) traces a module)
    nmsim.price("llama-3-8b", "h100", sparsity="ff=2:4", mode="decode", context=4096)
    nmsim.compare("vit-base-16", hardware="all", patterns="dense,2:4,1:8")
    nmsim.budget("vit-base-16", "ff=1:16", epochs=350, dataset_size=1281167, batch=4096, hardware="a100")
    nmsim.schedule("sdgf-stepwise", "ff=1:16", epochs=350, steps_per_epoch=313)
    nmsim.train("runs/one", task="digits", recipe="sr-ste", sparsity="ff=1:8", epochs=2)
    nmsim.report("my-report", workload="gpt2", no_train=True)

Functions: load_workload, trace, price, compare, budget, schedule, train, report. Imports are lazy: ``import
nmsim`` loads neither torch nor pandas.
"""
__version__ = "0.1.0"
__all__ = ["load_workload", "trace", "price", "compare", "budget", "schedule", "train", "report", "__version__"]


def trace(module_or_workload, example_inputs=None, **kwargs):
    """FLOPs of a workload (a name, YAML or config.json) as a DataFrame, as ``nmsim trace`` (``batch=``, ``seq=``,
    ``by=``); or, given an ``nn.Module`` and its example inputs, its :class:`nmsim.graph.OpGraph` traced on the meta
    device (see :func:`nmsim.graph.trace`)."""
    if isinstance(module_or_workload, str) or hasattr(module_or_workload, "__fspath__"):
        from nmsim.api import trace_workload

        return trace_workload(str(module_or_workload), **kwargs)
    from nmsim.graph.tracer import trace as _trace

    return _trace(module_or_workload, example_inputs, **kwargs)


def __getattr__(name: str):
    if name in ("load_workload", "price", "compare", "budget", "schedule", "train", "report"):
        from nmsim import api

        return getattr(api, name)
    raise AttributeError(f"module 'nmsim' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


class _Package(__import__("types").ModuleType):
    """``nmsim.train`` and ``nmsim.report`` are the API functions even after the subpackages of the same names are
    imported (``from nmsim.train import ...`` still works: the subpackages live in ``sys.modules``)."""

    def __setattr__(self, name, value):
        if name in ("train", "report") and isinstance(value, __import__("types").ModuleType):
            return
        super().__setattr__(name, value)


__import__("sys").modules[__name__].__class__ = _Package
