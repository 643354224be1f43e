"""The GPU protocol's CPU-testable parts: precision and autocast, fused AdamW on CUDA, the CUDA backend flags,
RNG states restored from CPU tensors, the --device cuda protocol and its price. Nothing here runs on a GPU: the
CUDA training path itself is tested only where torch.cuda.is_available() (tests/test_evidence_protocol.py)."""
import json
import random

import numpy as np
import pytest
import torch

from nmsim.cli import main as cli_main
from nmsim.errors import UserError
from nmsim.evidence.protocol import GPU_PROTOCOL, Protocol, plan
from nmsim.train import checkpoint as ckpt
from nmsim.train import device as dev
from nmsim.train.config import RunConfig


def test_autocast_dtype_by_precision():
    assert dev.autocast_dtype("bf16") is torch.bfloat16
    assert dev.autocast_dtype("fp32") is None and dev.autocast_dtype("tf32") is None
    a, b = torch.ones(4, 4), torch.ones(4, 4)
    with dev.autocast("bf16", "cpu"):
        assert (a @ b).dtype == torch.bfloat16
    with dev.autocast("fp32", "cpu"):
        assert (a @ b).dtype == torch.float32


def test_optimizer_fused_on_cuda_single_tensor_on_cpu():
    assert dev.optimizer_options("cuda") == {"fused": True} == dev.optimizer_options("cuda:1")
    assert dev.optimizer_options("cpu") == {"foreach": False}


def test_cuda_backend_flags(monkeypatch):
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark,
             torch.backends.cudnn.deterministic, torch.are_deterministic_algorithms_enabled(),
             torch.is_deterministic_algorithms_warn_only_enabled())
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    try:
        assert dev.configure("bf16", "cpu") == {}
        flags = dev.configure("bf16", "cuda")
        assert flags == {"tf32": True, "cudnn_benchmark": False, "deterministic_algorithms": "warn_only",
                         "cublas_workspace_config": ":4096:8"}
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.deterministic
        assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
        assert dev.configure("fp32", "cuda")["tf32"] is False and not torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved[:2]
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[2:4]
        torch.use_deterministic_algorithms(saved[4], warn_only=saved[5])


class _OnGpu:
    """Stands for a CUDA tensor (a checkpoint loaded with map_location='cuda'): only .detach().to() works."""

    def __init__(self, real):
        self.real, self.moved = real, []

    def detach(self):
        return self

    def to(self, device, dtype):
        self.moved.append((device, dtype))
        return self.real.to(device, dtype)


def test_rng_round_trip_through_a_checkpoint_and_cuda_states_restored_as_cpu_tensors(tmp_path, monkeypatch):
    fake_cuda = [torch.arange(16, dtype=torch.uint8)]
    restored = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: [t.clone() for t in fake_cuda])
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", restored.extend)
    torch.manual_seed(7), np.random.seed(7), random.seed(7)
    ckpt.save_checkpoint(tmp_path, {"rng": ckpt.rng_state("cuda")})
    expected = (torch.rand(3), np.random.rand(3), random.random())
    payload = torch.load(tmp_path / ckpt.CHECKPOINT, weights_only=True)
    state = payload["rng"]
    state["torch"] = _OnGpu(state["torch"])
    state["cuda"] = [_OnGpu(t) for t in state["cuda"]]
    ckpt.set_rng_state(state)
    assert state["torch"].moved == [("cpu", torch.uint8)] and state["cuda"][0].moved == [("cpu", torch.uint8)]
    assert len(restored) == 1 and torch.equal(restored[0], fake_cuda[0]) and restored[0].device.type == "cpu"
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(again[0], expected[0]) and (again[1] == expected[1]).all() and again[2] == expected[2]


def test_restore_loads_checkpoints_on_the_cpu(tmp_path, monkeypatch):
    from nmsim.train import loop

    seen = []

    def fake_load(folder, device="cpu"):
        seen.append(device)
        raise UserError("stop here")
    monkeypatch.setattr(loop.ckpt, "load_checkpoint", fake_load)
    with pytest.raises(UserError):
        loop._restore(type("R", (), {"device": "cuda"})(), tmp_path)
    assert seen == ["cpu"]


def test_precision_and_compile_in_the_config():
    assert "precision" not in RunConfig().to_dict() and "compile" not in RunConfig().to_dict()  # old configs agree
    assert RunConfig(precision="bf16", compile=True).to_dict()["precision"] == "bf16"
    assert RunConfig(precision="bf16").sha256() != RunConfig().sha256()
    assert RunConfig.from_dict(RunConfig(precision="bf16").to_dict()).precision == "bf16"
    from nmsim.train.config import check_arguments
    with pytest.raises(UserError, match=r"^--precision: must be fp32, tf32 or bf16, got 'fp16'$"):
        check_arguments(RunConfig(precision="fp16", epochs=1, batch=1, lr=1e-3, weight_decay=0, warmup_frac=0))


def test_bf16_run_on_cpu_trains_and_logs_throughput(tmp_path):
    from nmsim.train.loop import train_run

    base = dict(task="digits", recipe="sr-ste", sparsity={"ff": "1:8"}, epochs=1, eval_every=11)
    fp32 = train_run(RunConfig(**base), tmp_path / "a", progress=False)
    bf16 = train_run(RunConfig(**base, precision="bf16"), tmp_path / "b", progress=False)
    assert bf16["step"] == fp32["step"] == 22 and bf16["loss"] != fp32["loss"]
    assert abs(bf16["loss"] - fp32["loss"]) < 0.05
    done = json.loads((tmp_path / "b" / "done.json").read_text())
    t = done["throughput"]
    assert t["steps"] == 22 and t["examples_per_second"] == pytest.approx(22 * 64 / t["seconds"])
    assert t["tokens_per_second"] is None      # an image task: examples, not tokens
    assert json.loads((tmp_path / "b" / "config.json").read_text())["precision"] == "bf16"


def test_gpu_protocol_is_the_cuda_default():
    p = Protocol.preset("cuda")
    assert (p.task, p.workload, p.patterns, p.epochs, p.batch, p.precision) == (
        "pysrc-chars", "trainer-gpt2-chars-256", ("ff=1:8", "ff=1:16"), 10, 256, "bf16")
    assert Protocol.preset("cpu") == Protocol() and Protocol.preset("cuda", epochs=2).epochs == 2
    assert GPU_PROTOCOL["precision"] == "bf16"


def test_cli_cuda_defaults_reach_the_protocol(monkeypatch):
    from nmsim.cli import evidence

    got = {}
    monkeypatch.setattr("nmsim.evidence.protocol.run_protocol", lambda p, out, **kw: got.update(p=p, **kw))
    assert cli_main(["evidence", "run", "--device", "cuda", "--seeds", "3", "--compile", "--out", "x"]) == 0
    p = got["p"]
    assert got["device"] == "cuda" and (p.seeds, p.compile, p.precision, p.batch) == (3, True, "bf16", 256)
    assert evidence is not None


def test_price_is_nmsims_budget_for_each_run(capsys):
    from nmsim.cost.budget import budget_table
    from nmsim.evidence.pricing import price_protocol

    p = Protocol(task="digits", recipes=("dense", "sr-ste"), patterns=("ff=1:16",), seeds=2, epochs=3)
    table, text = price_protocol(p, "h100")
    assert list(table["recipe"]) == ["dense", "sr-ste"] and list(table["runs"]) == [2, 2]
    assert list(table["steps"]) == [66, 66]
    one = budget_table("trainer-vit-digits", "ff=1:16", recipes="sr-ste", steps=66, batch=64, hardware="h100",
                       dtype="tf32").table.iloc[0]
    sr = table.set_index("recipe").loc["sr-ste"]
    assert sr["hours"] == 2 * one["hours"] and sr["run_seconds"] == one["seconds"]
    assert f"{table['hours'].sum():.3g} device-hours in all" in text and "4 runs of 3 epochs at batch 64" in text
