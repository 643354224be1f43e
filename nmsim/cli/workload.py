"""The workload argument of every command that takes one: a bundled name, a workload YAML or a Hugging Face
``config.json``, given as ``WORKLOAD`` (or ``--workload`` for ``report``) or as ``--hf-config CONFIG.JSON``."""
from __future__ import annotations

HELP = "a bundled workload name (nmsim/data/workloads), a workload YAML or a Hugging Face config.json"


def add_workload(p, option: str | None = None, default: str | None = None) -> None:
    """``WORKLOAD`` (or the option ``option``, e.g. ``--workload``, with ``default``) plus ``--hf-config``."""
    if option:
        p.add_argument(option, dest="workload", default=None, help=f"{HELP} (default {default})")
    else:
        p.add_argument("workload", nargs="?", metavar="WORKLOAD", help=HELP)
    p.add_argument("--hf-config", metavar="CONFIG.JSON",
                   help="a Hugging Face config.json as the workload (model_type llama, mistral, gpt2, bert, t5, vit)")
    p.set_defaults(workload_default=default)
