"""The first question about a model: ``nmsim price MODEL --hardware a100 --mode prefill`` against llm-analysis's
``infer`` CLI for the same model (one A100-SXM-80GB, batch 1, the workload's sequence length, one new token), at
7B (Llama-2-7B), 70B (Llama-2-70B) and 405B (Llama-3.1-405B).

* nmsim cold: a fresh process with an empty trace cache (a new ``NMSIM_CACHE_DIR`` per run): what a user meets
  first, and every CI run.
* nmsim warm: a fresh process with the trace cache already built for that model by the same command, so the
  answer is the one kept in the cache (``nmsim.kept_answers``: nothing priced, no pandas).
* nmsim warm, new question: the same warm cache, but a question not asked before (``--seq``: the workload's
  length less 1 + the round, a new prompt length each round), priced from the cached graph and the data files
  kept parsed (``nmsim.io.parsed``), on the numpy pricing core (``nmsim.frame``: no pandas, no PyYAML). Goal: at
  most 1x llm-analysis, as a warm answer.
* llm-analysis 0.2.2 (its own venv, see ``bench_peers``): its bundled Llama-2 configs; the 405B config is written
  from nmsim's workload (126 layers, d 16384, 128 heads, 8 KV heads, FFN 53248, vocab 128256). It refuses a
  model whose weights do not fit one GPU, so 70B runs with ``--tp_size 2`` and 405B with 8 (the same arithmetic
  per GPU; nmsim prices one device and does not refuse).
* GenZ 0.0.16 (its own venv, see ``bench_peers``), where bench_peers compares it (7B): ``prefill_moddeling`` for
  the same question in a fresh process (it has no CLI).

Each round runs every command once, in turn (so machine load hits them alike); figures are medians over
``ROUNDS`` rounds (wall seconds, and CPU seconds of each process beside them), with the 1-minute load average
read before and after every command (min-max shown). Bytecode is cached as in a user's install (``cli_env``).
Run it under ``nice`` on a shared machine: ``nice python bench/run.py first_call``. Goals (issue 25): cold at
most 2x llm-analysis, warm at most 1x, the new question on a warm cache too (not met when llm-analysis gives no
answer to compare with).

Session 4 (``nice python bench/bench_first_call.py``, 5 rounds, load 8.3-9.5 on 2 shared cores; wall / CPU ratios
to llm-analysis): cold 1.24/1.14 (7B), 1.21/1.44 (70B), 1.36/1.35 (405B); warm (the kept answer) 0.14/0.14,
0.14/0.15, 0.15/0.15 (0.09 CPU-s against llm-analysis's 0.59-0.65); a new question on the warm cache (pricing,
pandas) 1.10/1.13, 1.20/1.35, 1.35/1.43.
Session 5, after the numpy pricing core and the kept parses (same command, 5 rounds, load 10.0-11.8): a new
question on the warm cache 0.51/0.53 (7B), 0.57/0.54 (70B), 0.65/0.60 (405B): 0.34-0.39 CPU-s against
llm-analysis's 0.65-0.66; cold 1.17/1.24, 1.21/1.17, 1.36/1.39; warm 0.16/0.15, 0.17/0.13, 0.17/0.15.
The same code on an idle machine (``python bench/run.py`` in a fresh clone of 507ebfd, load 0.8-1.0): a new
question 0.44/0.52, 0.63/0.68, 0.57/0.63; cold 1.14/1.12, 1.31/1.28, 1.40/1.35; warm 0.12/0.10, 0.15/0.13,
0.11/0.10.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ROUNDS = int(os.environ.get("NMSIM_BENCH_ROUNDS", "5"))
GOAL_COLD, GOAL_WARM = 2.0, 1.0
# label -> (nmsim workload, llm-analysis model name (None: the config written from the workload), its --tp_size)
MODELS = {"7B": ("llama-2-7b", "NousResearch_Llama-2-7b-hf", 1),
          "70B": ("llama-2-70b", "upstage_Llama-2-70b-instruct-v2", 2),
          "405B": ("llama-3.1-405b", None, 8)}
GENZ_MODELS = {"7B": "meta-llama/Llama-2-7B"}
GENZ_CALL = ("import sys, warnings; warnings.filterwarnings('ignore'); from GenZ import prefill_moddeling; "
             "prefill_moddeling(model=sys.argv[1], batch_size=1, input_tokens=int(sys.argv[2]), "
             "system_name='A100_80GB_GPU', bits='bf16')")


def llm_analysis_config(workload: str, folder: Path) -> str:
    """An llm-analysis model config JSON with the workload's sizes (llm-analysis bundles no Llama-3.1-405B)."""
    from nmsim.graph import load_workload

    cfg = load_workload(workload)
    path = folder / f"{workload}.json"
    path.write_text(json.dumps({"name": workload, "num_layers": cfg.layers, "n_head": cfg.heads,
                                "hidden_dim": cfg.d_model, "vocab_size": cfg.vocab, "max_seq_len": cfg.seq_len,
                                "num_key_value_heads": cfg.kv_heads, "ffn_embed_dim": cfg.ffn,
                                "expansion_ratio": cfg.ffn / cfg.d_model, "model_type": "llama"}))
    return str(path)


def commands(la_python: str | None, folder: Path, genz_python: str | None = None) -> dict[str, dict[str, list[str]]]:
    from nmsim.graph import load_workload

    out = {}
    for label, (workload, la_name, tp) in MODELS.items():
        nmsim = [sys.executable, "-m", "nmsim", "price", workload, "--hardware", "a100", "--mode", "prefill"]
        seq = load_workload(workload).seq_len
        cmds = {"cold": nmsim, "warm": nmsim, "warm-new": [*nmsim, "--seq", str(seq)]}
        if la_python:
            cmds["llm-analysis"] = [
                la_python, "-m", "llm_analysis.analysis", "infer", "--model_name",
                la_name or llm_analysis_config(workload, folder), "--gpu_name", "a100-sxm-80gb", "--seq_len",
                str(seq), "--batch_size_per_gpu", "1", "--num_tokens_to_generate", "1", "--tp_size", str(tp),
                "--log_level", "ERROR"]
        if genz_python and label in GENZ_MODELS:
            cmds["genz"] = [genz_python, "-c", GENZ_CALL, GENZ_MODELS[label], str(load_workload(workload).seq_len)]
        out[label] = cmds
    return out


def _load() -> float:
    return os.getloadavg()[0]


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes: on a shared machine, the figure load does not
    stretch (wall time is what a user waits for; both are shown)."""
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def measure(cmds: dict, folder: Path, rounds: int = ROUNDS) -> dict:
    """{label: {kind: {"median": s, "runs": [...], "load": (min, max), "status": rc}}}."""
    from cli_env import cli_env

    warm_dirs = {label: folder / f"warm-{label}" for label in cmds}
    for label, by_kind in cmds.items():   # build each warm cache, and bytecode, once untimed
        env = cli_env({"NMSIM_CACHE_DIR": str(warm_dirs[label])})
        for cmd in by_kind.values():
            subprocess.run(cmd, capture_output=True, env=env, cwd=ROOT)
    result = {label: {kind: {"runs": [], "cpu": [], "loads": [], "status": 0} for kind in by_kind}
              for label, by_kind in cmds.items()}
    for round_ in range(rounds):
        for label, by_kind in cmds.items():
            for kind, cmd in by_kind.items():
                if kind == "warm-new":   # a prompt length this cache has not answered yet
                    cmd = [*cmd[:-1], str(int(cmd[-1]) - 1 - round_)]
                cold = folder / "cold-cache"
                shutil.rmtree(cold, ignore_errors=True)
                env = cli_env({"NMSIM_CACHE_DIR": str(cold if kind == "cold" else warm_dirs[label])})
                load, cpu = _load(), _children_cpu()
                start = time.perf_counter()
                rc = subprocess.run(cmd, capture_output=True, env=env, cwd=ROOT).returncode
                r = result[label][kind]
                r["runs"].append(time.perf_counter() - start)
                r["cpu"].append(_children_cpu() - cpu)
                r["loads"] += [load, _load()]
                r["status"] = r["status"] or rc
    for by_kind in result.values():
        for r in by_kind.values():
            r["median"] = statistics.median(r["runs"])
            r["cpu_median"] = statistics.median(r["cpu"])
            r["load"] = (min(r["loads"]), max(r["loads"]))
    return result


def run() -> list[dict]:
    from bench_peers import peer_python

    pythons = {}
    for tool in ("llm-analysis", "genz"):
        pythons[tool], why = peer_python(tool)
        if pythons[tool] is None:
            print(f"bench_first_call: {tool} {why}", file=sys.stderr)
    folder = Path(tempfile.mkdtemp(prefix="nmsim-bench-first-call-"))
    try:
        cmds = commands(pythons["llm-analysis"], folder, pythons["genz"])
        result = measure(cmds, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    rows = []
    for label, (workload, _, _) in MODELS.items():
        r = result[label]
        la, gz = r.get("llm-analysis"), r.get("genz")
        la_t = la["median"] if la and not la["status"] else None
        la_cpu = la["cpu_median"] if la_t else None
        gz_t = gz["median"] if gz and not gz["status"] else None
        for kind, goal in (("cold", GOAL_COLD), ("warm", GOAL_WARM), ("warm-new", GOAL_WARM)):
            t = r[kind]["median"]
            lo, hi = (min(r[k]["load"][0] for k in r), max(r[k]["load"][1] for k in r))
            rows.append({"metric": f"{label} first call, {kind} s ({workload})", "nmsim": round(t, 2),
                         "llm-analysis": round(la_t, 2) if la_t else "-",
                         "x_llm_analysis": round(t / la_t, 2) if la_t else "-",
                         "nmsim_cpu": round(r[kind]["cpu_median"], 2), "llm-analysis_cpu": round(la_cpu, 2) if la_cpu
                         else "-", "x_cpu": round(r[kind]["cpu_median"] / la_cpu, 2) if la_cpu else "-",
                         "genz": round(gz_t, 2) if gz_t else "-", "x_genz": round(t / gz_t, 2) if gz_t else "-",
                         "load": round(statistics.median(r[kind]["loads"]), 1),
                         "note": (f"median of {ROUNDS}, alternated; load avg {lo:.2f}-{hi:.2f}; "
                                  f"exit {r[kind]['status']}" + ("" if la_t else "; no llm-analysis answer")),
                         **({"goal": f"<= {goal:g}x llm-analysis",
                             "goal_met": bool(la_t is not None and not r[kind]["status"] and t <= goal * la_t)}
                            if goal else {})})
    rows.append({"metric": "commands", "note": "nmsim price WORKLOAD --hardware a100 --mode prefill; python -m "
                 "llm_analysis.analysis infer --model_name M --gpu_name a100-sxm-80gb --seq_len S "
                 "--batch_size_per_gpu 1 --num_tokens_to_generate 1 --tp_size 1|2|8"})
    return rows


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    import pandas as pd

    with pd.option_context("display.width", 250, "display.max_columns", None, "display.max_colwidth", 120):
        print(pd.DataFrame(run()).to_string(index=False))
