"""``nmsim cluster`` and the trace cache: the first call stores each model's graph at batch 1, the one for
batches above 1 (micro-batches of more than one sequence) and the one a layer deeper (for its parameter counts):
its first 4 layers, built from the structure's shipped template without torch, or for a structure without one a
1-layer model, fitted by tracing; a later process loads them and prices without torch. The numbers are the ones a
fresh trace gives, exactly (no timing here: the warm-call goal lives in bench/)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBE = ("import sys\nfrom nmsim.cli import main\nrc = main(sys.argv[1:])\n"
         "print('TORCH=' + str('torch' in sys.modules), file=sys.stderr)\nsys.exit(rc)")

CASES = [
    ["cluster", "plan", "gpt2", "--system", "dgx-h100", "--nodes", "1", "--global-batch", "64", "--recipe", "sr-ste",
     "--sparsity", "ff=2:4", "--format", "csv", "--top", "1000"],
    ["cluster", "budget", "gpt2", "--system", "dgx-a100", "--nodes", "2", "--global-batch", "128", "--tokens", "1e9",
     "--recipes", "dense,mdgf-exp", "--sparsity", "ff=1:8,qk=1:4", "--format", "csv"],
    ["cluster", "validate", "--only", "megatron-1.7b", "--format", "csv"],   # its 2-layer graph: a template
    ["cluster", "plan", "WORKLOAD", "--system", "dgx-a100", "--nodes", "1", "--global-batch", "16", "--format", "csv",
     "--top", "1000"],
    # a model of fewer layers than the probe: its block from the structure's 4-layer template (no torch)
    ["cluster", "plan", "TINY", "--system", "dgx-a100", "--nodes", "1", "--global-batch", "16", "--format", "csv",
     "--top", "1000"],
]
TINY = (ROOT / "nmsim" / "data" / "workloads" / "gpt2.yaml").read_text().replace("layers: 12", "layers: 2")
# examples/my-workload.yaml with a ReLU MLP: a structure no shipped template covers
NO_TEMPLATE = (ROOT / "examples" / "my-workload.yaml").read_text().replace("ffn_kind: gelu_tanh", "ffn_kind: relu")


def _run(args: list[str], cache: Path, mode: str | None) -> tuple[str, str, bool]:
    """(stdout, stderr without the probe's line, whether torch was imported)."""
    env = {**os.environ, "NMSIM_CACHE_DIR": str(cache)}
    env.pop("NMSIM_CACHE", None)
    if mode:
        env["NMSIM_CACHE"] = mode
    r = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=ROOT, env=env,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines[-1] in ("TORCH=True", "TORCH=False"), r.stderr
    return r.stdout, "\n".join(lines[:-1]), lines[-1] == "TORCH=True"


def _traced(args: list[str], cache: Path, capsys) -> str:
    """stdout of the command with the trace cache off, run in this process (the reference: no process boundary
    is under test here, and torch is loaded already)."""
    from nmsim.cli import main
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NMSIM_CACHE_DIR", str(cache))
        mp.setenv("NMSIM_CACHE", "off")
        assert main(args) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("args", CASES, ids=lambda a: " ".join(a[1:3]))
def test_warm_cluster_call_loads_the_cache_without_torch_and_gives_the_traced_numbers(args, tmp_path, capsys):
    templated = "WORKLOAD" not in args and "validate" not in args
    workload, tiny = tmp_path / "relu.yaml", tmp_path / "tiny.yaml"
    workload.write_text(NO_TEMPLATE)
    tiny.write_text(TINY)
    args = [{"WORKLOAD": str(workload), "TINY": str(tiny)}.get(a, a) for a in args]
    traced = _traced(args, tmp_path / "unused", capsys)             # no cache: traced
    cold, cold_err, cold_torch = _run(args, tmp_path / "cache", None)   # builds and stores the graphs
    assert [p.name.startswith("answer-") for p in (tmp_path / "cache" / "answers").iterdir()] == [True]
    kept, _, kept_torch = _run(args, tmp_path / "cache", None)   # the same question: its kept answer
    shutil.rmtree(tmp_path / "cache" / "answers")
    warm, warm_err, warm_torch = _run(args, tmp_path / "cache", None)   # answered anew from the kept graphs
    assert cold == traced and kept == traced and warm == traced and not kept_torch
    if templated:   # a bundled family: from its shipped template, no torch even on the first call
        assert not cold_torch and "tracing" not in cold_err
    else:           # no template at 4 layers: the 1-layer model is traced once
        assert cold_torch and "tracing" in cold_err and "(1 layer)" in cold_err
    assert not warm_torch and "tracing" not in warm_err
    graphs = sorted(p.name for p in (tmp_path / "cache" / "graphs").iterdir())
    # the probe at batch 1, at batches above 1 (micro-batches > 1: its own shape region) and a layer deeper
    assert len(graphs) == 3 and all(g.startswith("nmsim-graph-") and g.endswith(".npz") for g in graphs)


KEPT = [["cluster", "plan", "gpt2", "--system", "dgx-a100", "--nodes", "1", "--global-batch", "16", "--top", "3"],
        ["cluster", "budget", "gpt2", "--system", "dgx-a100", "--nodes", "1", "--global-batch", "16", "--tokens",
         "1e9", "--recipes", "dense,sr-ste", "--sparsity", "ff=2:4"]]


@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_cluster_question_asked_again_is_the_kept_answer_without_a_search(fmt, tmp_path, monkeypatch, capsys):
    from nmsim.cli import main
    import nmsim.cluster.plan as plan

    monkeypatch.setenv("NMSIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NMSIM_CACHE", "build")

    def ask(argv):
        code = main([*argv, "--format", fmt])
        return code, *capsys.readouterr()
    first = [ask(q) for q in KEPT]
    assert all(code == 0 and out for code, out, _ in first)
    assert len(list((tmp_path / "cache" / "answers").iterdir())) == 2

    def refuse(*a, **k):
        raise AssertionError("searched again")
    monkeypatch.setattr(plan, "search", refuse)
    again = [ask(q) for q in KEPT]
    assert [a[:2] for a in again] == [f[:2] for f in first]   # exit status and stdout, byte for byte
    for (_, _, err), (_, _, was) in zip(again, first):        # stderr: the same, less the progress bar's lines
        assert err == "".join(line for line in was.splitlines(True) if not line.startswith("cluster budget: "))
    with pytest.raises(AssertionError, match="searched again"):   # another question is priced
        ask([*KEPT[0][:6], "2", *KEPT[0][7:]])
