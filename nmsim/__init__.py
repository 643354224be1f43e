"""nmsim: what an N:M sparse training recipe costs, which accelerator should run it, and whether it pays off.

The Python API (:mod:`nmsim.facade`) is the CLI's commands as functions that take the same arguments as keywords
and return DataFrames with raw SI units in the column names (``seconds``, ``joules``, ``flops``, ``bytes``)::

    import nmsim
    cfg = nmsim.load_workload("gpt2")              # a bundled name, a workload YAML or an HF config.json
    nmsim.trace("gpt2", batch=1, seq=1024)         # FLOPs per role (nmsim.trace(module, inputs) traces a module)
    nmsim.price("llama-3-8b", "h100", sparsity="ff=2:4", mode="decode", context=4096)
    nmsim.compare("vit-base-16", hardware="all", patterns="dense,2:4,1:8")
    nmsim.budget("vit-base-16", "ff=1:16", epochs=350, dataset_size=1281167, batch=4096, hardware="a100")
    nmsim.schedule("sdgf-stepwise", "ff=1:16", epochs=350, steps_per_epoch=313)
    nmsim.train_run("runs/one", task="digits", recipe="sr-ste", sparsity="ff=1:8", epochs=2)
    nmsim.write_report("my-report", workload="gpt2", no_train=True)
    nmsim.cluster_budget("llama-3-8b", system="dgx-h100", nodes=32, seq=8192, global_batch=512, tokens=1e12)

Functions: see :data:`nmsim.facade.__all__` (also sweep, plot, cluster_plan, cluster_validate, cluster_systems,
export_gemms, validate, evidence_run, evidence_summarize, hardware_list). ``nmsim.train`` and ``nmsim.report``
are the trainer and report packages. Imports are lazy: ``import nmsim`` loads neither torch nor pandas.
"""
from nmsim.version import __version__

API = ("load_workload", "trace", "trace_workload", "trace_module", "price", "compare", "budget", "schedule",
       "train_run", "sweep", "write_report", "plot", "cluster_plan", "cluster_budget", "cluster_validate",
       "cluster_systems", "export_gemms", "validate", "evidence_run", "evidence_summarize", "hardware_list")
__all__ = [*API, "__version__"]


def __getattr__(name: str):
    if name in API:
        from nmsim import facade

        return getattr(facade, name)
    raise AttributeError(f"module 'nmsim' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
