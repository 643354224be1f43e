"""Issue 21 item 3: one declarative schema per spec file kind (``nmsim.schema``). The published JSON Schemas are
the generated ones; every shipped file passes both the loader and its JSON Schema; both refuse the same damage;
the execution models' parameters are declared in the schema, so loading a spec imports no execution model."""
from __future__ import annotations

import copy
import dataclasses
import functools
import json
import subprocess
import sys

import jsonschema
import pytest
import yaml
from hypothesis import event, given, settings, strategies as st

from nmsim.bands import table as load_bands
from nmsim.cluster.losses import Losses, load_losses
from nmsim.cluster.system import load_system_file
from nmsim.cluster.validation import load_runs
from nmsim.cost.measurements import load as load_measurements
from nmsim.errors import UserError
from nmsim.execution import MODEL_MODULES
from nmsim.graph import load_workload
from nmsim.hardware import load_file
from nmsim.hardware.prices import read_prices
from nmsim.memory.validate import load_runs as load_memory_runs
from nmsim.schema import publish
from nmsim.schema.execution import MODELS
from nmsim.schema.losses import LOSSES
from test_cluster_reader_properties import SETTINGS, mutate, yaml_text
from test_hardware_errors import set_at

# the bands reader uncached: the property test below writes one path many times
LOADERS = {"hardware": load_file, "system": load_system_file, "losses": load_losses, "prices": read_prices,
           "workload": load_workload, "runs": load_runs, "bands": load_bands.__wrapped__,
           "measurements": load_measurements, "memory": load_memory_runs}
EXAMPLES = publish.DATA.parent.parent / "examples"
SHIPPED = [(kind, path) for kind, (_, _, _, files) in publish.KINDS.items()
           for path in sorted(publish.DATA.glob(files))] + [
    ("hardware", EXAMPLES / "my-accelerator.yaml"), ("workload", EXAMPLES / "my-workload.yaml")]


@functools.lru_cache(maxsize=None)
def validator(kind: str):
    return jsonschema.Draft202012Validator(json.loads(publish.published_path(kind).read_text()))


@functools.lru_cache(maxsize=None)
def shipped_doc(kind: str, name: str):
    return yaml.load(next(p for k, p in SHIPPED if k == kind and p.name == name).read_text(), Loader=yaml.CSafeLoader)


def test_every_file_kind_has_a_loader_and_a_published_schema():
    assert sorted(publish.KINDS) == sorted(LOADERS) == ["bands", "hardware", "losses", "measurements", "memory",
                                                        "prices", "runs", "system", "workload"]
    counts = {kind: sum(k == kind for k, _ in SHIPPED) for kind in publish.KINDS}
    assert counts == {"hardware": 17, "system": 4, "losses": 1, "prices": 1, "workload": 23, "runs": 1, "bands": 1,
                      "measurements": 1, "memory": 1}                  # the examples/ files included


def test_the_published_schemas_are_the_generated_ones(capsys):
    assert publish.stale() == []
    assert publish.main(["--check"]) == 0 and capsys.readouterr().out == ""
    for kind in publish.KINDS:
        jsonschema.Draft202012Validator.check_schema(json.loads(publish.published_path(kind).read_text()))


def test_a_stale_schema_is_reported(monkeypatch, tmp_path, capsys):
    stale = tmp_path / "schema.json"
    stale.write_text("{}\n")
    monkeypatch.setattr(publish, "published_path", lambda kind: stale if kind == "system" else
                        publish.DATA / publish.KINDS[kind][1])
    assert publish.stale() == ["system"]
    assert publish.main(["--check"]) == 1
    assert "regenerate: python -m nmsim.schema" in capsys.readouterr().out


@pytest.mark.parametrize("kind,path", SHIPPED, ids=[p.name for _, p in SHIPPED])
def test_every_shipped_file_passes_the_loader_and_its_json_schema(kind, path):
    if kind != "measurements":   # tests/test_measurements_file.py loads the whole file (seconds) already
        LOADERS[kind](path)
    errors = [e.message for e in validator(kind).iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


def _set(*path_value):
    *path, value = path_value
    return set_at(path, value)


# damage both the loader and the JSON Schema refuse (kind, bundled file, mutation)
DAMAGE = [
    ("hardware", "a100-sxm4-80gb.yaml", _set("colour", "red")),
    ("hardware", "a100-sxm4-80gb.yaml", _set("kind", "fpga")),
    ("hardware", "a100-sxm4-80gb.yaml", _set("matrix", "bf17", {"dense_tflops": 1})),
    ("hardware", "a100-sxm4-80gb.yaml", _set("memory", [])),
    ("hardware", "a100-sxm4-80gb.yaml", _set("sparse_support", "operand", "input")),
    ("hardware", "a100-sxm4-80gb.yaml", _set("efficiency", "value", 1.5)),
    ("hardware", "a100-sxm4-80gb.yaml", _set("execution", "warps", 4)),
    ("hardware", "a100-sxm4-80gb.yaml", _set("execution", "sms", 10.5)),
    ("hardware", "a100-sxm4-80gb.yaml", _set("execution", "kernels", "cublas", "warps", 4)),
    ("hardware", "a100-sxm4-80gb.yaml", _set("execution", "kernels", "cublas", "kind", "magic")),
    ("hardware", "a100-sxm4-80gb.yaml", _set("execution", "kernels", "cublas", "efficiency", 1.5)),
    ("hardware", "a100-sxm4-80gb.yaml", _set("execution", "fusion", "attention", "yes")),
    ("hardware", "a100-sxm4-80gb.yaml", _set("execution", "model", "warp-drive")),
    ("hardware", "s2ta.yaml", _set("execution", "dataflow", "rs")),
    ("hardware", "s2ta.yaml", _set("execution", "sms", 4)),
    ("hardware", "tpu-v4.yaml", _set("execution", {"model": "roofline", "rows": 4})),
    ("system", "dgx-h100.yaml", _set("racks", 4)),
    ("system", "dgx-h100.yaml", _set("inter_node", "topology", "ring")),
    ("system", "dgx-h100.yaml", _set("intra_node", "efficiency", {"value": 1.5, "source": "x"})),
    ("system", "dgx-h100.yaml", _set("devices_per_node", {"value": 8.5, "source": "x"})),
    ("losses", "losses.yaml", _set("goodput", {"value": 1.5, "source": "x"})),
    ("losses", "losses.yaml", _set("dp_overlapp", {"value": 0.5, "source": "x"})),
    ("prices", "hourly.yaml", _set("h100-sxm5", "usd_per_hour", -1)),
    ("prices", "hourly.yaml", _set("h100-sxm5", "region", "us")),
    ("workload", "llama-2-7b.yaml", _set("layerz", 4)),
    ("workload", "llama-2-7b.yaml", _set("layers", 0)),
    ("workload", "llama-2-7b.yaml", _set("norm", "batchnorm")),
    ("workload", "llama-2-7b.yaml", _set("kv_heads", 0)),
    ("workload", "llama-2-7b.yaml", _set("norm_eps", 1.5)),
    ("workload", "llama-2-7b.yaml", _set("d_model", 2**19)),
    ("workload", "llama-2-7b.yaml", _set("bias", ["q", "qq"])),
    ("workload", "llama-2-7b.yaml", _set("causal", "yes")),
    ("runs", "training_throughput.yaml", _set("runs", 0, "gpus", 8)),
    ("runs", "training_throughput.yaml", _set("runs", 0, "devices", 0)),
    ("runs", "training_throughput.yaml", _set("runs", 0, "split", "train")),
    ("runs", "training_throughput.yaml", _set("runs", 0, "zero", 5)),
    ("runs", "training_throughput.yaml", _set("runs", 0, "tokens_per_device_second", 1000.0)),
    ("runs", "training_throughput.yaml", _set("defaults", "flash", "no")),
    ("runs", "training_throughput.yaml", _set("runs", [])),
    ("bands", "bands.yaml", _set("coverage_goal", 1.5)),
    ("bands", "bands.yaml", _set("levels", "epoch", {"rows": 1, "lo": 1, "hi": 1, "coverage": 1, "devices": []})),
    ("bands", "bands.yaml", _set("levels", "kernel", "rows", 1.5)),
    ("bands", "bands.yaml", _set("levels", "kernel", "width", 1)),
    ("measurements", "gpu.yaml", _set("rows", 0, "level", "warp")),
    ("measurements", "gpu.yaml", _set("rows", 0, "gemm", {"m": 0, "k": 8, "n": 8})),
    ("measurements", "gpu.yaml", _set("rows", 0, "colour", "red")),
    ("measurements", "gpu.yaml", _set("rows", 0, "value", -1)),
    ("measurements", "gpu.yaml", _set("rows", 0, "workload", "gpt2")),
    ("measurements", "gpu.yaml", _set("fits", 0, "weight", 1)),
    ("measurements", "gpu.yaml", _set("extra", [])),
    ("memory", "memory.yaml", _set("runs", 0, "colour", "red")),
    ("memory", "memory.yaml", _set("runs", 0, "split", "train")),
    ("memory", "memory.yaml", _set("runs", 0, "batch", 0)),
    ("memory", "memory.yaml", _set("runs", 0, "measure", "peak")),
    ("memory", "memory.yaml", _set("workloads", "tinyllama-1.1b", "layerz", 2)),
]


# the long row lists cut to their first rows: the damage lands there, and the test stays quick
TRIM = {"measurements": lambda d: {**d, "rows": d["rows"][:2]}, "runs": lambda d: {**d, "runs": d["runs"][:2]}}


@pytest.mark.parametrize("kind,name,mutate", DAMAGE, ids=[f"{k}-{n}-{i}" for i, (k, n, _) in enumerate(DAMAGE)])
def test_the_loader_and_the_json_schema_refuse_the_same_damage(tmp_path, kind, name, mutate):
    doc = copy.deepcopy(TRIM.get(kind, dict)(shipped_doc(kind, name)))
    assert list(validator(kind).iter_errors(doc)) == []
    mutate(doc)
    assert list(validator(kind).iter_errors(doc)) != []
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(UserError) as info:
        LOADERS[kind](path)
    assert str(info.value).split(": ")[0] in (name, str(path)) and "\n" not in str(info.value)   # file named


def test_the_recompute_modes_are_declared_once():
    from nmsim.memory.activations import RECOMPUTE
    from nmsim.schema.runs import RECOMPUTE_MODES
    assert RECOMPUTE == RECOMPUTE_MODES


def test_execution_models_declare_their_parameters_in_the_schema():
    assert sorted(MODELS) == sorted(MODEL_MODULES)


def test_loading_a_spec_imports_no_execution_model():
    code = ("import sys; from nmsim.hardware import load, list_specs\n"
            "[load(n) for n in list_specs()]\n"
            "print(sorted(m for m in sys.modules if m.startswith('nmsim.execution')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout == "[]\n"


def test_the_losses_schema_names_every_term():
    terms = [f.name for f in dataclasses.fields(Losses) if f.name not in ("name", "sources")]
    assert sorted(LOSSES.fields) == sorted(terms)
    assert load_losses("calibrated").goodput == 0.9


QUICK_KINDS = ("hardware", "system", "losses", "prices", "bands", "workload")   # loaders that take milliseconds


@settings(max_examples=120, **SETTINGS)
@given(data=st.data())
def test_what_the_loader_accepts_the_json_schema_accepts(tmp_path, data):
    """Random structured mutations of the shipped files (those of the readers' property tests): the published
    schema never flags a file nmsim reads (editors show no false errors)."""
    kind, path = data.draw(st.sampled_from([(k, p) for k, p in SHIPPED if k in QUICK_KINDS]))
    doc, extra = mutate(data, shipped_doc(kind, path.name))
    text = yaml_text(doc, extra).replace("NaN", ".nan").replace("Infinity", ".inf")
    target = tmp_path / path.name
    target.write_text(text)
    try:
        LOADERS[kind](target)
    except UserError:
        event("refused by the loader")
        return
    event("accepted")
    assert [e.message for e in validator(kind).iter_errors(yaml.safe_load(text))] == []
