"""The report's quick reference-trainer sweep: trained once, kept, reused.

The quick sweep (the ``digits`` task: dense and the quick recipes x :data:`SWEEP_PATTERNS` x :data:`SEEDS`) trains the
trainer's tiny image model, so it goes with image workloads only: a language model's report never starts it.
Its run folders (the layout of :mod:`nmsim.train.sweep`: finished runs are never retrained, unfinished ones
resume) are looked for first in the report folder being replaced (``<out>/trainer-runs``, kept there by an
earlier report), then in the cache (``trainer-runs/`` of the nmsim cache folder, one subfolder per set of run
configs); what is missing is trained, or resumed, in the cache. The report then copies each run's config,
metrics and final row into its own ``trainer-runs`` folder, so a report folder (committed, copied) carries the
runs it was built from, with an index (:data:`INDEX`) of the request and the configs it resolved to: while the
request and the trainer's code are the same, the kept runs are reused without resolving the configs again (no
torch, no data set loaded).
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from nmsim.errors import UserError

TASK = "digits"
SWEEP_PATTERNS = ("ff=1:8", "ff=1:16")
SEEDS = (0, 1, 2, 3, 4)     # the evidence protocol's minimum: every point is a seed band with an interval
FOLDER = "trainer-runs"                           # in the report folder and in the cache folder
KEPT = ("config.json", "metrics.jsonl", "done.json")   # what a finished run needs to be read and reused
INDEX = "quick-sweep.json"


QUICK_RE = re.compile(r"^quick-[a-z0-9_-]+-[0-9a-f]{12}$")   # a cache folder of :func:`cache_folder`


def clear_cache() -> tuple[int, int]:
    """Delete the quick sweeps' runs kept in the cache (the files the trainer writes, in the folders
    :func:`cache_folder` names), except a run another process trains now; returns (files, bytes) removed."""
    from nmsim.graph.cache import directory
    from nmsim.io.write import remove_owned
    from nmsim.train import lock, runfiles

    root = directory() / FOLDER
    run_files = {runfiles.CONFIG, runfiles.METRICS, runfiles.DONE, runfiles.CHECKPOINT, lock.LOCK}

    def owned(path: Path) -> bool:
        parts = path.relative_to(root).parts
        if len(parts) < 2 or not QUICK_RE.match(parts[0]):
            return False
        if len(parts) == 2:
            return path.name in (runfiles.RUNS_TABLE, runfiles.SUMMARY_TABLE)
        return path.name in run_files and not lock.busy(path.parent)

    return remove_owned(root, owned)


def applies_to(cfg) -> bool:
    """Whether the quick sweep bears on ``cfg``: its task is image classification, so image models only."""
    return bool(cfg.is_image)


def recipes() -> list[str]:
    from nmsim.recipes.registry import parse_recipe_list

    return parse_recipe_list("dense,quick")


def configs(epochs: int) -> list:
    """The sweep's run configs, resolved (the task's defaults filled in, as their config.json holds them)."""
    from nmsim.train.loop import check_config
    from nmsim.train.sweep import parse_patterns, plan

    return [check_config(c) for c in plan(TASK, recipes(), parse_patterns(list(SWEEP_PATTERNS)), list(SEEDS),
                                        epochs=epochs)]


def cache_folder(runs: list) -> Path:
    """The cache's folder for exactly these runs (another epoch count or trainer default: another folder)."""
    from nmsim.graph.cache import directory

    blob = json.dumps([c.to_dict() for c in runs], sort_keys=True)
    return directory() / FOLDER / f"quick-{TASK}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def request(epochs: int) -> dict:
    """What the quick sweep asks for, with a fingerprint of the code that resolves it into run configs."""
    here = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted([*(here / "train").glob("*.py"), *(here / "recipes").glob("*.py")]):
        h.update(path.name.encode() + path.read_bytes())
    return {"task": TASK, "recipes": recipes(), "patterns": list(SWEEP_PATTERNS), "seeds": list(SEEDS),
            "epochs": epochs, "code": h.hexdigest()[:16]}


@dataclass
class QuickRuns:
    folders: dict[str, Path]   # run folder relative to a runs root (digits/dense/dense/seed0) -> where it is
    kept: int                  # runs found finished (the report folder or the cache)
    trained: int               # runs trained or resumed by this call
    index: dict                # the request and each run's resolved config (INDEX in the report folder)


def _indexed(root: Path, wanted: dict) -> QuickRuns | None:
    """The runs under ``root`` its index lists for ``wanted``, when every one is finished with that config."""
    from nmsim.train import runfiles

    try:
        index = runfiles.read_json(root / INDEX, "quick sweep index")
        runs = index["runs"] if index.get("request") == wanted else None
        ok = isinstance(runs, dict) and runs and all(
            (root / rel / runfiles.DONE).is_file() and runfiles.read_json(root / rel / runfiles.CONFIG) == config
            for rel, config in runs.items())
    except (UserError, AttributeError, TypeError):
        return None
    return QuickRuns({rel: root / rel for rel in runs}, len(runs), 0, index) if ok else None


def _finished(folder: Path, config) -> bool:
    from nmsim.train.loop import prepare_folder

    if not folder.is_dir():
        return False
    try:
        return prepare_folder(folder, config, resume=True) == "done"
    except UserError:   # another config, or not a run: not this run (the report folder is replaced anyway)
        return False


def quick_runs(epochs: int, report_folder: str | Path, echo=print) -> QuickRuns:
    """Every run of the quick sweep, finished: kept ones found, missing ones trained in the cache."""
    wanted = request(epochs)
    fast = _indexed(Path(report_folder) / FOLDER, wanted)
    if fast is not None:
        echo(f"quick sweep: {fast.kept} runs, {fast.kept} kept")
        return fast
    from nmsim.train.sweep import run_folder, run_sweep

    runs = configs(epochs)
    cache = cache_folder(runs)
    folders, missing = {}, []
    for config in runs:
        rel = run_folder("", config).as_posix()
        where = next((root / rel for root in (Path(report_folder) / FOLDER, cache) if _finished(root / rel, config)),
                     None)
        if where is None:
            missing.append(config)
        folders[rel] = where if where is not None else cache / rel
    kept = len(runs) - len(missing)
    echo(f"quick sweep: {len(runs)} runs, {kept} kept" + (f", {len(missing)} to train in {cache}" if missing else ""))
    if missing:
        table = run_sweep(missing, cache, workers=2, echo=echo)
        if table.attrs.get("failures"):
            raise UserError(f"trainer sweep failed: {table.attrs['failures'][0]}", "report")
    index = {"request": wanted, "runs": {run_folder("", c).as_posix(): c.to_dict() for c in runs},
             "environments": environments(folders)}
    return QuickRuns(folders, kept, len(missing), json.loads(json.dumps(index)))


ENVIRONMENT_KEYS = ("cpu_model", "cpu_capability", "torch", "mkl", "onednn", "device", "gpu")


def environments(folders: dict[str, Path]) -> dict[str, dict | None]:
    """Run -> the machine it was trained on, as its done.json records it (CPU model, ATen CPU capability, torch /
    MKL / oneDNN versions, device; None for a run trained before nmsim recorded it)."""
    from nmsim.train import runfiles

    out = {}
    for rel, folder in folders.items():
        env = runfiles.read_done(folder).get("environment")
        out[rel] = {k: env[k] for k in ENVIRONMENT_KEYS if env.get(k) is not None} if isinstance(env, dict) else None
    return out


def environment_text(index: dict) -> str:
    """The machines of the index's runs in words: ``AMD EPYC, ATen AVX512, torch 2.13.0+cpu, MKL ..., cpu``."""
    envs = (index.get("environments") or {}).values()
    seen = {json.dumps(e, sort_keys=True): e for e in envs if e}
    parts = ["; ".join(f"{e.get('cpu_model', '?')}, ATen {e.get('cpu_capability', '?')}, torch {e.get('torch', '?')}, "
                       f"MKL {e.get('mkl', '?')}, oneDNN {e.get('onednn', '?')}, {e.get('device', '?')}"
                       for e in seen.values())]
    missing = sum(1 for e in envs if not e)
    if missing:
        parts.append(f"{missing} run(s) trained before nmsim recorded the machine")
    return "; ".join(p for p in parts if p) or "not recorded"


def curves(runs: QuickRuns):
    """The runs' evaluation rows (:func:`nmsim.curves.runs.load_curves`), ``folder`` relative to a runs root."""
    from nmsim.curves.runs import load_curves

    rel = {str(folder): name for name, folder in runs.folders.items()}
    frame = load_curves(list(runs.folders.values()))
    frame["folder"] = frame["folder"].map(rel)
    return frame


def report_files(runs: QuickRuns) -> dict[str, Path | bytes]:
    """Files for the report folder: ``trainer-runs/<run>/<file>`` -> the kept or trained file, and the index."""
    files: dict[str, Path | bytes] = {f"{FOLDER}/{name}/{file}": folder / file for name, folder in runs.folders.items()
                                      for file in KEPT}
    files[f"{FOLDER}/{INDEX}"] = (json.dumps(runs.index, indent=1, sort_keys=True) + "\n").encode()
    return files
