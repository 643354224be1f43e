"""Does a protocol's result regenerate on a CPU that dispatches other kernels? Retrain some of its runs under
several ATen CPU capabilities and compare their finals in seed standard deviations, never byte for byte.

ATen picks vectorised kernels by the CPU's instruction set; ``ATEN_CPU_CAPABILITY`` caps it (``default``: no
vectorisation, ``avx2``, ``avx512``) and must be set before torch is imported, so every retrain is a fresh
process. ``native`` leaves the variable unset (what torch picks on this machine). The variable caps ATen's own
kernels only: MKL's and oneDNN's GEMMs keep their own dispatch (``MKL_ENABLE_INSTRUCTIONS``, ``ONEDNN_MAX_CPU_ISA``,
not set here), so another vendor's CPU can differ more than this check shows. Retrained runs go to
``<protocol>/regeneration/<capability>/`` (restartable: finished runs are kept), the comparison to
``regeneration.csv`` and ``regeneration.json``.

Tolerance. A run's final metric is compared with the same run retrained under the first capability; the
difference is divided by the seed-to-seed standard deviation σ of its recipe x pattern over the protocol's
seeds. It is within tolerance when it is at most one standard error of that group's mean, σ/√n (n seeds): if
every run of the protocol moved that much, each group mean would move by at most the noise its interval
already carries.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from nmsim.errors import UserError

CAPABILITIES = ("native", "default", "avx2", "avx512")
FOLDER = "regeneration"
TABLE = "regeneration.csv"
RECORD = "regeneration.json"
METRICS = ("loss", "accuracy")


def parse_capabilities(text: str) -> list[str]:
    caps = [c.strip().lower() for c in str(text).split(",") if c.strip()]
    bad = [c for c in caps if c not in CAPABILITIES]
    if bad:
        raise UserError(f"unknown capability {bad[0]!r} (one of {', '.join(CAPABILITIES)})", "--capabilities")
    if len(set(caps)) < 2 or len(set(caps)) != len(caps):
        raise UserError(f"needs two or more different capabilities, got {text!r}", "--capabilities")
    return caps


def parse_seeds(text: str, seeds: int) -> list[int]:
    try:
        out = [int(s) for s in str(text).split(",") if s.strip()]
    except ValueError:
        raise UserError(f"must be a comma list of seeds, got {text!r}", "--seeds") from None
    bad = [s for s in out if not 0 <= s < seeds]
    if not out or bad:
        raise UserError(f"seeds must be in 0..{seeds - 1}, got {text!r}", "--seeds")
    return out


def _seed_spread(curves: pd.DataFrame) -> dict:
    """(recipe, pattern, metric) -> (σ over seeds (ddof 1), seeds)."""
    from nmsim.evidence import isoflop
    from nmsim.evidence.stats import mean_ci

    out = {}
    for m in METRICS:
        for key, by_seed in isoflop.finals(curves, m).items():
            iv = mean_ci(by_seed.values())
            out[(*key, m)] = (iv.sd, iv.n)
    return out


def targets(folder: Path, recipes: list[str] | None, seeds: list[int]) -> list[tuple[str, str, int, Path]]:
    """The protocol's finished runs to retrain: (recipe, pattern label, seed, run folder)."""
    from nmsim.evidence.protocol import RUNS
    from nmsim.evidence.summary import finished_curves

    curves = finished_curves(folder / RUNS)
    last = curves.groupby("folder", sort=False).tail(1)
    known = list(dict.fromkeys(last["recipe"]))
    for r in recipes or []:
        if r not in known:
            raise UserError(f"no finished runs of recipe {r!r} in {folder} (it holds {', '.join(known)})",
                            "--recipes")
    hit = last[last["recipe"].isin(recipes or known) & last["seed"].isin(seeds)]
    if hit.empty:
        raise UserError(f"no finished run of seeds {','.join(map(str, seeds))} in {folder}", "--seeds")
    return [(r, p, int(s), Path(f)) for r, p, s, f in zip(hit["recipe"], hit["pattern"], hit["seed"], hit["folder"])]


def retrain(run_folder: Path, out: Path, capability: str, timeout: float | None = None) -> dict:
    """Train ``run_folder``'s config again into ``out`` in a fresh process under ``capability``; its done.json."""
    from nmsim.train import runfiles

    env = dict(os.environ)
    env.pop("ATEN_CPU_CAPABILITY", None)
    if capability != "native":
        env["ATEN_CPU_CAPABILITY"] = capability
    if not (out / runfiles.DONE).exists():
        proc = subprocess.run([sys.executable, "-m", "nmsim.evidence.regen", str(run_folder / runfiles.CONFIG),
                               str(out)], env=env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            lines = (proc.stderr.strip() or proc.stdout.strip() or f"exit status {proc.returncode}").splitlines()
            raise UserError(f"retraining under {capability} failed: {lines[-1][:200]}", str(out))
    return runfiles.read_done(out)


def compare(folder: str | Path, capabilities=("native", "avx2"), recipes=None, seeds=(0,), echo=print) -> dict:
    """Retrain the chosen runs of protocol ``folder`` under each capability, compare, write the files; returns
    ``{"rows": DataFrame, "environments": {capability: environment}, "exceeded": int}``."""
    from nmsim.evidence.protocol import RUNS, load_protocol
    from nmsim.evidence.summary import finished_curves
    from nmsim.io.write import write_bytes, write_json

    folder = Path(folder)
    load_protocol(folder)
    spread = _seed_spread(finished_curves(folder / RUNS))
    chosen = targets(folder, recipes, list(seeds))
    envs: dict[str, dict] = {}
    rows = []
    for recipe, pattern, seed, run in chosen:
        rel = run.relative_to(folder / RUNS)
        committed = _final(run)
        finals = {}
        for cap in capabilities:
            echo(f"regeneration: {recipe} {pattern} seed {seed} under {cap}")
            done = retrain(run, folder / FOLDER / cap / rel, cap)
            finals[cap] = done["final"]
            envs.setdefault(cap, done.get("environment", {}))
        base = capabilities[0]
        for cap in capabilities[1:]:
            for m in METRICS:
                sd, n = spread[(recipe, pattern, m)]
                a, b = float(finals[base][m]), float(finals[cap][m])
                delta = b - a
                in_sd = abs(delta) / sd if sd and math.isfinite(sd) else (0.0 if delta == 0 else math.inf)
                tol = 1 / math.sqrt(n) if n >= 2 else math.nan
                rows.append({"recipe": recipe, "pattern": pattern, "seed": seed, "metric": m,
                             "base": base, "base_kernels": envs[base].get("cpu_capability"),
                             "other": cap, "other_kernels": envs[cap].get("cpu_capability"),
                             "committed": committed[m], "base_value": a, "other_value": b, "delta": delta,
                             "committed_minus_base": committed[m] - a, "seed_sd": sd, "seeds": n,
                             "delta_in_sd": in_sd, "tolerance_in_sd": tol,
                             "within": bool(in_sd <= tol) if math.isfinite(tol) else None})
    table = pd.DataFrame(rows)
    exceeded = int((table["within"] == False).sum())  # noqa: E712 (None: fewer than 2 seeds, no verdict)
    write_bytes(folder / TABLE, table.to_csv(index=False).encode())
    write_json(folder / RECORD, {"capabilities": list(capabilities), "environments": envs,
                                 "tolerance": "one standard error of the group mean: seed_sd / sqrt(seeds)",
                                 "exceeded": exceeded, "rows": json.loads(table.to_json(orient="records"))})
    return {"rows": table, "environments": envs, "exceeded": exceeded}


def _final(run: Path) -> dict:
    from nmsim.train import runfiles

    return runfiles.read_done(run)["final"]


def _main(argv: list[str]) -> int:
    """``python -m nmsim.evidence.regen CONFIG OUT``: one run, in this process (the caller set the capability)."""
    from nmsim.train import runfiles
    from nmsim.train.loop import RunConfig, train_run

    config = RunConfig.from_dict(runfiles.read_config(Path(argv[0])))
    train_run(config, Path(argv[1]), resume=True, progress=False)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(_main(sys.argv[1:]))
    except UserError as exc:
        print(f"nmsim: error: {exc}", file=sys.stderr)
        sys.exit(2)
