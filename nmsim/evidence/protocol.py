"""The evidence protocol: recipes x patterns x seeds on one task, paired by seed, restartable.

A protocol folder holds::

    protocol.json   the resolved protocol (task, recipes, patterns, seeds, hyper-parameters, device) and the
                    command that made it; a second ``run`` into the folder must ask for the same protocol
    protocol-runs/  one run folder per (recipe, pattern, seed), as ``nmsim sweep`` lays them out
    timing.json     wall time and load average of every ``run`` invocation (appended; an interrupted one's
                    too, with ``stopped``: what stopped it)
    summary.md + CSVs + curves.png   written by :func:`nmsim.evidence.summary.summarize`

Pairing: runs of every recipe with seed ``s`` start from the same initial weights (the model is built right
after ``torch.manual_seed(s)``) and see the same batches (the data order is a function of (seed, epoch)).
SDGF-geometric uses the paper's k = 16 where the k·N:k·M patterns fit the model, else the largest k that fits,
as the trainer's config check picks it (recorded per pattern in ``protocol.json`` and in each run's config).
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nmsim.errors import UserError
from nmsim.recipes.registry import PAPER_RECIPES

PROTOCOL_FILE = "protocol.json"
TIMING_FILE = "timing.json"
RUNS = "protocol-runs"  # not "runs/": .gitignore ignores folders of that name


@dataclass
class Protocol:
    task: str = "stdlib-chars"
    recipes: tuple = ("dense", *PAPER_RECIPES)  # dense and the paper's five sparse recipes
    patterns: tuple = ("ff=1:32", "ff=1:16+qkv=1:16")
    seeds: int = 5
    epochs: int | None = 1
    batch: int | None = None
    lr: float | None = None
    dense_frac: float = 0.0         # the paper's ViT-B config: dense_steps 0, fine_tune_steps 0
    finetune_frac: float = 0.0
    beta_rule: str = "paper-fraction"        # MDGF (nmsim.recipes.decay); nmsim's earlier choice: auto-70
    srste_finetune_rule: str = "sr-ste"      # SR-STE in fine-tune, as the paper's code; earlier: ste
    eval_every: int = 20
    metric: str = "loss"            # the metric the ranking uses; accuracy and loss are both reported
    reference: str = "sr-ste"
    level: float = 0.95
    geometric_k: dict = field(default_factory=dict)  # plan text -> k (filled by plan())
    workload: str | None = None     # None: the task's model
    precision: str = "fp32"         # fp32 | tf32 | bf16 autocast (nmsim.train.device)
    compile: bool = False           # torch.compile the forward

    @classmethod
    def preset(cls, device: str = "cpu", **given) -> "Protocol":
        """The protocol a device runs by default (:data:`GPU_PROTOCOL` on CUDA), with ``given`` (not None) over it."""
        base = dict(GPU_PROTOCOL) if str(device).startswith("cuda") else {}
        return cls(**{**base, **{k: v for k, v in given.items() if v is not None}})

    def to_dict(self) -> dict:
        d = asdict(self)
        d["recipes"], d["patterns"] = list(self.recipes), list(self.patterns)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Protocol":
        known = set(cls.__dataclass_fields__)
        d = {k: v for k, v in d.items() if k in known}
        d.setdefault("beta_rule", "auto-70")             # protocols written before these settings existed
        d.setdefault("srste_finetune_rule", "ste")       # ran nmsim's earlier choices
        for key in ("recipes", "patterns"):
            if key in d:
                d[key] = tuple(d[key])
        if isinstance(d.get("geometric_k"), dict):  # keys in plan text form (earlier versions: folder names)
            from nmsim.sparsity.plan import SparsityPlan

            d["geometric_k"] = {(SparsityPlan.parse(k, "geometric_k") if ":" in k
                                 else SparsityPlan.from_slug(k, "geometric_k")).label: v
                                for k, v in d["geometric_k"].items()}
        return cls(**d)


# Protocol field -> how people read it: the settings where the paper's configs and nmsim's earlier choices differ
PAPER_SETTINGS = {"dense_frac": "dense warm-up fraction", "finetune_frac": "fine-tune fraction",
                  "beta_rule": "MDGF beta rule", "srste_finetune_rule": "SR-STE rule in fine-tune"}


def departures(p: Protocol) -> list[str]:
    """How ``p`` departs from the paper's recipe settings (the protocol's defaults, docs/paper-fidelity.md), one
    phrase each (``dense warm-up fraction 0.05 (the paper's: 0.0)``); SDGF-geometric's k below the paper's 16 where the
    model is too narrow for it is listed as well. Empty when it runs the paper's settings."""
    from nmsim.recipes import recipe_class

    paper = Protocol()
    out = [f"{what} {getattr(p, key)} (the paper's: {getattr(paper, key)})" for key, what in PAPER_SETTINGS.items()
           if getattr(p, key) != getattr(paper, key)]
    k_paper = next(x.default for x in recipe_class("sdgf-geometric").params if x.name == "k")
    out += [f"SDGF-geometric k {k} at {plan} (the paper's: {k_paper}, too wide for this model)"
            for plan, k in p.geometric_k.items() if k != k_paper]
    return out


# The GPU protocol (docs/gpu-protocol.md): 10x the scaled CPU protocol's tokens per run on a model with 7x the
# parameters, bf16 autocast; every recipe at 1:8 and 1:16 (SDGF-geometric k = 16 fits both), 5 seeds.
GPU_PROTOCOL = dict(task="pysrc-chars", workload="trainer-gpt2-chars-256", patterns=("ff=1:8", "ff=1:16"), epochs=10,
                    batch=256, eval_every=100, precision="bf16")


def _check(p: Protocol) -> None:
    from nmsim.evidence.stats import direction

    direction(p.metric)
    if p.seeds < 2:
        raise UserError(f"paired intervals need at least 2 seeds, got {p.seeds}", "--seeds")
    if "dense" not in p.recipes or p.reference not in p.recipes:
        raise UserError(f"the recipes must include dense and the reference {p.reference!r}", "--recipes")
    if not 0 < p.level < 1:
        raise UserError(f"must be in (0, 1), got {p.level:g}", "--level")


def plan_labels(patterns) -> list[str]:
    """The protocol's pattern items (``1:8``, ``ff=1:16+qkv=1:16``) as plan labels (``ff=1:8``,
    ``ff=1:16,qkv=1:16``)."""
    from nmsim.sparsity.lists import parse_pattern_list, plan_text
    from nmsim.sparsity.plan import SparsityPlan

    return [SparsityPlan.parse(plan_text(item)).label for item in parse_pattern_list(list(patterns))]


def _fitted_default(base: dict, recipe: str, sparsity: dict) -> int:
    """The recipe's ``fallback`` parameter for this pattern (SDGF-geometric's k): its default (the paper's 16), or
    the largest that fits the model as the trainer's config check picks it (:mod:`nmsim.recipes.fitting`);
    UserError when none fits."""
    from nmsim.recipes import recipe_class
    from nmsim.train.loop import RunConfig, check_config

    cls = recipe_class(recipe)
    key = cls.fallback[0]
    resolved = check_config(RunConfig(recipe=recipe, sparsity=sparsity, **base))
    return int(resolved.recipe_params.get(key, next(p.default for p in cls.params if p.name == key)))


def plan(p: Protocol) -> list:
    """The protocol's run configs (dense once per seed); fills ``p.geometric_k``."""
    from nmsim.train.loop import RunConfig
    from nmsim.recipes import parse_recipe_list, recipe_class
    from nmsim.train.plans import run_plan
    from nmsim.train.sweep import parse_patterns

    _check(p)
    recipes = parse_recipe_list(p.recipes)
    patterns = parse_patterns(",".join(p.patterns))
    base = dict(task=p.task, epochs=p.epochs, batch=p.batch, lr=p.lr, dense_frac=p.dense_frac,
                finetune_frac=p.finetune_frac, eval_every=p.eval_every, workload=p.workload,
                precision=p.precision, compile=p.compile)
    settings = {"beta_rule": p.beta_rule, "finetune_rule": p.srste_finetune_rule}   # recipe parameters it sets
    # order: pattern, seed, recipe (dense with the first pattern), so that a run stopped early still holds
    # whole seeds of every recipe, i.e. complete pairs
    configs = []
    for i, sparsity in enumerate(patterns):
        for seed in range(p.seeds):
            for recipe in recipes:
                if recipe == "dense" and i > 0:
                    continue
                cls = recipe_class(recipe)
                params = {k: v for k, v in settings.items() if k in cls.param_names}
                if cls.fallback is not None:   # the default that fits the model, once per plan
                    label = run_plan(recipe, sparsity).label
                    if label not in p.geometric_k:
                        p.geometric_k[label] = _fitted_default(base, recipe, sparsity)
                    params = {cls.fallback[0]: p.geometric_k[label]}
                configs.append(RunConfig(recipe=recipe, sparsity=dict(sparsity), seed=seed, recipe_params=params,
                                         **base))
    return configs


def _cpu_seconds() -> float:
    """CPU seconds (user + system) of this process and its finished children (the sweep's workers): what the
    protocol costs on an idle machine, whatever the load."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _claim_folder(out: Path, p: Protocol, device: str, command: str) -> None:
    """Write protocol.json, or check that the folder already holds this protocol (UserError if not)."""
    from nmsim.evidence.files import read_protocol_file
    from nmsim.train.checkpoint import atomic_write_json
    from nmsim.train.environment import environment

    path = out / PROTOCOL_FILE
    mine = {"protocol": p.to_dict(), "device": device}
    if path.exists():
        old_protocol, old = read_protocol_file(path)
        theirs = {"protocol": old_protocol.to_dict(), "device": old.get("environment", {}).get("device")}
        if json.loads(json.dumps(mine)) != theirs:
            keys = sorted(k for k in set(mine["protocol"]) | set(theirs["protocol"] or {})
                          if mine["protocol"].get(k) != (theirs["protocol"] or {}).get(k))
            what = ", ".join(keys[:4]) or "device"
            raise UserError(f"holds a different protocol ({what} differ); use another --out", str(path))
        return
    if out.exists() and any(out.iterdir()):
        raise UserError("exists, is not empty and holds no protocol.json; refusing to write into it", str(out))
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, {"protocol": p.to_dict(), "command": command, "environment": environment(device)})


def run_protocol(p: Protocol, out: str | Path, *, workers: int = 2, device: str = "cpu", executor: str = "local",
                 command: str = "", echo=print) -> Path:
    """Run (or resume) every run of the protocol into ``out``, then write the summaries. Returns ``out``."""
    from nmsim.evidence.files import read_protocol_file, read_timing

    out = Path(out)
    timing = read_timing(out / TIMING_FILE)    # damaged bookkeeping is refused before any work (and import)
    if (out / PROTOCOL_FILE).exists():
        read_protocol_file(out / PROTOCOL_FILE)
    from nmsim.evidence.summary import summarize
    from nmsim.train.checkpoint import DONE, atomic_write_json, check_run_folder
    from nmsim.train.sweep import run_sweep

    if str(device).startswith("cuda"):
        import torch
        if not torch.cuda.is_available():
            raise UserError("CUDA is not available on this machine", "--device")
    elif device != "cpu":
        raise UserError(f"unknown device {device!r} (cpu or cuda)", "--device")
    if workers < 1:
        raise UserError(f"must be >= 1, got {workers}", "--workers")
    configs = plan(p)
    _claim_folder(out, p, device, command or " ".join(sys.argv))
    for cfg in sorted((out / RUNS).rglob("config.json")):
        check_run_folder(cfg.parent)
    started, load0, cpu0 = time.time(), os.getloadavg(), _cpu_seconds()
    import textwrap

    from nmsim.progress import Stages
    echo(textwrap.fill(f"evidence: {p.task}, {len(configs)} runs ({', '.join(p.recipes)} x {', '.join(p.patterns)} "
                       f"x {p.seeds} seeds) into {out / RUNS}; SDGF-geometric k: "
                       + ", ".join(f"{k}={v}" for k, v in p.geometric_k.items()), 100, subsequent_indent="    "))
    stages = Stages(2, echo, "evidence ")
    stages.start(f"training {len(configs)} runs")
    def log(**row):   # every invocation's time counts, an interrupted one's too (SIGKILL aside)
        timing.append({"started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                       "wall_seconds": round(time.time() - started, 1), "workers": workers, "device": device,
                       "cpu_seconds": round(_cpu_seconds() - cpu0, 1), "loadavg_1m_start": round(load0[0], 2),
                       "loadavg_1m_end": round(os.getloadavg()[0], 2), **row})
        atomic_write_json(out / TIMING_FILE, timing)

    try:
        table = run_sweep(configs, out / RUNS, executor=executor, workers=workers, device=device, echo=echo)
    except BaseException as exc:
        log(runs_finished=sum(1 for _ in (out / RUNS).rglob(DONE)), stopped=type(exc).__name__)
        raise
    stages.done()
    log(runs_finished=int(len(table)), runs_failed=len(table.attrs.get("failures", [])))
    if table.attrs.get("failures"):
        raise UserError(f"{len(table.attrs['failures'])} run(s) failed (first: {table.attrs['failures'][0]}); "
                        "the same command resumes", str(out))
    stages.start("summaries (paired intervals, iso-FLOP tables, claims)")
    summarize(out, echo=echo)
    stages.done()
    return out


def load_protocol(folder: str | Path) -> tuple[Protocol, dict]:
    """(protocol, the whole protocol.json) of a protocol folder; UserError when it is not one."""
    path = Path(folder) / PROTOCOL_FILE
    if not path.exists():
        raise UserError("is not an evidence folder (no protocol.json)", str(folder))
    from nmsim.evidence.files import read_protocol_file
    return read_protocol_file(path)
