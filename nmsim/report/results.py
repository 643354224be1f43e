"""Bundled accuracy results of the N:M paper (Bambhaniya et al. 2024), as tidy DataFrames.

One CSV per model under ``nmsim/data/results/``; columns::

    model, workload, task, target, plan, recipe, metric, value, epochs, steps, batch, source

``target`` is the paper's wording ("1:8 FF + 1:4 QK"), ``plan`` the same in nmsim's ``--sparsity`` syntax
("ff=1:8,qk=1:4"), ``recipe`` an nmsim recipe name (``dense`` for the dense baseline), ``workload`` the
bundled workload the numbers belong to (empty where nmsim has none), ``source`` the citation.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from nmsim.errors import UserError

CITATION = ("A. Bambhaniya, A. Yazdanbakhsh, S. Subramanian, S.-C. Kao, S. Agrawal, U. Evci, T. Krishna, "
            "\"Progressive Gradient Flow for Robust N:M Sparsity Training in Transformers\", arXiv:2402.04744 "
            "(2024); CPAL 2025, PMLR 280, pp. 1170-1190.")

COLUMNS = ["model", "workload", "task", "target", "plan", "recipe", "metric", "value", "epochs", "steps", "batch",
           "source"]

# short name -> file stem; aliases accepted by load_results
RESULT_SETS = {"vit-b": "vit-b", "swinv2-b": "swinv2-b", "t5x-glue": "t5x-glue", "wmt": "wmt"}
ALIASES = {"vit-base-16": "vit-b", "vit": "vit-b", "vit-b/16": "vit-b", "swinv2": "swinv2-b", "swin": "swinv2-b",
           "t5": "t5x-glue", "t5x": "t5x-glue", "t5-base": "t5x-glue", "glue": "t5x-glue", "wmt-enc-dec": "wmt"}


def results_dir() -> Path:
    return Path(str(resources.files("nmsim") / "data" / "results"))


def _read(stem: str) -> pd.DataFrame:
    df = pd.read_csv(results_dir() / f"{stem}.csv", dtype={"workload": str, "plan": str}, keep_default_na=False,
                     na_values={"value": [""], "epochs": [""], "steps": [""], "batch": [""]})
    for col in ("value", "epochs", "steps", "batch"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    return df[COLUMNS]


def load_results(name: str | None = None) -> pd.DataFrame:
    """All bundled paper results (``name=None``) or one set: vit-b, swinv2-b, t5x-glue, wmt (or a workload name
    such as vit-base-16). ``df.attrs["citation"]`` holds the paper's citation."""
    if name is None:
        df = pd.concat([_read(s) for s in RESULT_SETS.values()], ignore_index=True)
    else:
        key = ALIASES.get(name.lower(), name.lower())
        if key not in RESULT_SETS:
            raise UserError(f"no bundled results for {name!r} (known: {', '.join(RESULT_SETS)})", "results")
        df = _read(RESULT_SETS[key])
    df.attrs["citation"] = CITATION
    return df
