"""The paper's settings are the defaults (docs/paper-fidelity.md); earlier nmsim choices stay as named options;
protocols written before those settings existed read as what they ran; the environment is recorded."""
import torch

from nmsim.evidence.protocol import Protocol, plan
from nmsim.train.environment import environment
from nmsim.train.tasks import load_task


def test_protocol_defaults_are_the_papers_configs():
    p = Protocol()
    assert (p.dense_frac, p.finetune_frac, p.beta_rule, p.srste_finetune_rule) == (0.0, 0.0, "paper-fraction",
                                                                                    "sr-ste")
    old = Protocol.from_dict({"task": "stdlib-chars", "dense_frac": 0.05, "finetune_frac": 0.1})
    assert (old.beta_rule, old.srste_finetune_rule) == ("auto-70", "ste")


def test_plan_passes_the_rules_to_each_recipe():
    p = Protocol(recipes=("dense", "sr-ste", "mdgf-linear", "sdgf-geometric"), patterns=("ff=1:8",), seeds=2)
    params = {(c.recipe, c.seed): c.recipe_params for c in plan(p)}
    assert params == {
        ("dense", 0): {}, ("sr-ste", 0): {"finetune_rule": "sr-ste"}, ("mdgf-linear", 0): {"beta_rule": "paper-fraction"},
        ("sdgf-geometric", 0): {"k": 8},      # 64-wide pilot model: 16:128 groups do not fit, 8:64 do
        ("dense", 1): {}, ("sr-ste", 1): {"finetune_rule": "sr-ste"}, ("mdgf-linear", 1): {"beta_rule": "paper-fraction"},
        ("sdgf-geometric", 1): {"k": 8}}
    wide = Protocol(task="pysrc-chars", recipes=("dense", "sr-ste", "sdgf-geometric"), patterns=("ff=1:8",), seeds=2)
    plan(wide)
    assert wide.geometric_k == {"ff=1:8": 16}    # the paper's k fits the 128-wide model


def test_pysrc_chars_is_ten_times_the_pilot():
    task = load_task("pysrc-chars")
    assert tuple(task.train_x.shape) == (81_747, 64) and tuple(task.test_x.shape) == (1024, 64)
    assert task.steps_per_epoch(64) * 64 * 64 == 5_230_592     # tokens per 1-epoch run; stdlib-chars: 520,192
    pilot = load_task("stdlib-chars")
    assert pilot.steps_per_epoch(32) * 32 * 64 == 520_192


def test_environment_names_the_kernels():
    env = environment("cpu")
    assert env["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert env["torch"] == torch.__version__ and env["device"] == "cpu"
    assert set(env) >= {"cpu_model", "mkl", "onednn", "torch_threads", "aten_cpu_capability_env"}
