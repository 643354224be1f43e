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
from nmsim.version import __version__

__all__ = ["load_workload", "trace", "price", "compare", "budget", "schedule", "train", "report", "__version__"]


def trace(module_or_workload=None, example_inputs=None, **kwargs):
    """FLOPs of a workload (a name, YAML or config.json) as a DataFrame, as ``nmsim trace`` (``batch=``, ``seq=``,
    ``by=``); or, given an ``nn.Module`` and its example inputs (``example_kwargs=`` for keyword inputs), its
    :class:`nmsim.graph.OpGraph` traced on the meta device (see :func:`nmsim.api.trace_module`)."""
    from nmsim import api

    if type(module_or_workload).__name__ != "ModelConfig" and _is_module(module_or_workload):
        return api.trace_module(module_or_workload, example_inputs, **kwargs)
    if example_inputs is not None:
        from nmsim.errors import UserError

        raise UserError(f"example inputs are for an nn.Module, got a {type(module_or_workload).__name__} to trace",
                        "trace")
    return api.trace_workload(module_or_workload, **kwargs)


def _is_module(obj) -> bool:
    """An ``nn.Module`` (checked without importing torch when torch is not loaded: then it cannot be one)."""
    torch = __import__("sys").modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


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
