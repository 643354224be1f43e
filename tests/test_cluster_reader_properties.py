"""Issue 20: property tests for the cluster readers. Random structured mutations of valid inputs — a field's type
or value changed, a key dropped or duplicated, extreme numbers — give a result or a one-line ``UserError``, never
another exception (no deadline: a loaded machine makes any timing flaky; CI's timeout bounds a hang on
extreme values; speed goals live in bench/):

* the system-file reader (``nmsim.cluster.system.load_system_file``) on mutations of a valid system YAML;
* the Hugging Face importer (``nmsim.graph.workloads.from_hf_config``) on mutations of the bundled test configs,
  mixture-of-experts fields included;
* the runs-file reader (``nmsim.cluster.validation.load_runs``, ``cluster validate --runs``) on mutations of a
  valid one-run file;
* the layout search's counts (``enumerate_layouts``): any device count, node size, global batch, TP, PP and
  micro-batch a user can type.

``EXAMPLES`` is the number of examples each property runs (the lead reports it per reader).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import yaml
from hypothesis import HealthCheck, event, given, settings, strategies as st

from nmsim.cluster.layout import enumerate_layouts
from nmsim.cluster.system import SystemSpec, load_system_file
from nmsim.cluster.validation import load_runs
from nmsim.errors import UserError
from nmsim.graph.families import HF_TYPES
from nmsim.graph.config import ModelConfig
from nmsim.graph.workloads import MOE_COUNTS, MOE_FIELDS, from_hf_config

HF = Path(__file__).parent / "data" / "hf"
EXAMPLES = {"system file": 300, "hf config": 300, "runs file": 300, "layout counts": 300}
SYSTEM = {"name": "my-cluster", "description": "a test system", "device": "h100",
          "devices_per_node": {"value": 8, "source": "datasheet"}, "nodes": {"value": 2, "source": "default"},
          "node_power_watts": {"value": 10200, "source": "datasheet"},
          "intra_node": {"fabric": "nvlink", "bandwidth_gbps": {"value": 450, "source": "datasheet"},
                         "latency_us": {"value": 2.0, "source": "assumed"}},
          "inter_node": {"fabric": "ib", "topology": "fat-tree", "bandwidth_gbps": {"value": 50, "source": "datasheet"},
                         "latency_us": {"value": 5.0, "source": "assumed"}}}

EXTREME = st.sampled_from([0, -1, 1, 2**31, 2**63, 10**30, -10**30, 1e30, -1e-30, 1e-320, math.inf, -math.inf,
                           math.nan, 0.5, True, False])
SCALARS = st.one_of(EXTREME, st.integers(), st.floats(), st.text(max_size=12), st.none())
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(st.text(max_size=6), SCALARS, max_size=3),
                   st.fixed_dictionaries({"value": SCALARS, "source": st.one_of(st.text(max_size=6), SCALARS)}))
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _paths(doc, prefix=()):
    """Every key path of a nested mapping (the mapping's own path first)."""
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _paths(value, prefix + (key,))


def mutate(data, doc: dict) -> tuple[dict, str | None]:
    """One structured mutation of ``doc`` (a copy): a plausible new value of the same type, any value, an extreme
    number, a dropped key, an added key, or a key duplicated in the text (returned as the second item: a line to
    append at the top level)."""
    doc = json.loads(json.dumps(doc))
    path = data.draw(st.sampled_from([p for p in _paths(doc) if p]))
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    action = data.draw(st.sampled_from(["plausible", "change", "extreme", "drop", "add", "duplicate"]))
    old = parent[path[-1]]
    if action == "plausible" and isinstance(old, (int, float)) and not isinstance(old, bool):
        parent[path[-1]] = data.draw(st.integers(1, 4096) if isinstance(old, int) else st.floats(1e-3, 1e6))
    elif action == "plausible" and isinstance(old, str):
        parent[path[-1]] = data.draw(st.text(min_size=1, max_size=12))
    elif action in ("plausible", "change"):
        parent[path[-1]] = data.draw(VALUES)
    elif action == "extreme":
        parent[path[-1]] = data.draw(EXTREME)
    elif action == "drop":
        del parent[path[-1]]
    elif action == "add":
        parent[data.draw(st.text(min_size=1, max_size=20))] = data.draw(VALUES)
    else:
        return doc, f"{path[0]}: {json.dumps(data.draw(VALUES), allow_nan=True)}\n"
    return doc, None


def yaml_text(doc: dict, extra: str | None) -> str:
    return yaml.safe_dump(doc, allow_unicode=True) + (extra or "")


@settings(max_examples=EXAMPLES["system file"], **SETTINGS)
@given(data=st.data())
def test_system_reader_mutations(tmp_path, data):
    doc, extra = mutate(data, SYSTEM)
    path = tmp_path / "s.yaml"
    path.write_text(yaml_text(doc, extra).replace("NaN", ".nan").replace("Infinity", ".inf"))
    try:
        spec = load_system_file(path)
    except UserError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("s.yaml"), str(exc)
        event("UserError")
        return
    event("result")
    assert isinstance(spec, SystemSpec) and 1 <= spec.devices <= 2**20


def _hf_configs() -> dict:
    return {p.name: json.loads(p.read_text()) for p in sorted(HF.glob("*.json"))}


@settings(max_examples=EXAMPLES["hf config"], **SETTINGS)
@given(data=st.data())
def test_hf_importer_mutations(tmp_path, data):
    configs = _hf_configs()
    base = configs[data.draw(st.sampled_from(sorted(configs)))]
    if data.draw(st.booleans()):   # sometimes a mixture-of-experts field, the class the importer must refuse
        base[data.draw(st.sampled_from(MOE_COUNTS + MOE_FIELDS))] = data.draw(st.one_of(SCALARS, st.integers(2, 256)))
    doc, extra = mutate(data, base)
    text = json.dumps(doc, allow_nan=True)
    if extra:   # the same key twice in one object
        text = text[:-1] + ", " + json.dumps(extra.split(":")[0]) + ": 1}"
    path = tmp_path / "config.json"
    path.write_text(text)
    try:
        cfg = from_hf_config(path)
    except UserError as exc:
        assert "\n" not in str(exc), str(exc)
        event("UserError")
        return
    event("result")
    assert isinstance(cfg, ModelConfig)   # and no mixture-of-experts field its family does not read was let through
    read = HF_TYPES[doc["model_type"]].hf_moe_fields
    assert not any(isinstance(doc.get(k), (int, float)) and not isinstance(doc[k], bool) and doc[k] > 1
                   for k in MOE_COUNTS if k not in read), doc
    assert all(doc.get(k) in (None, 0, False, [], {}) for k in MOE_FIELDS if k not in read), doc
    assert cfg.experts == (doc["num_local_experts"] if "num_local_experts" in read else 0)


RUNS = {"defaults": {"seq": 1024, "vocab": 50257, "system": "dgx-h100", "flash": True},
        "run": {"id": "my-gpt", "model": {"layers": 12, "d_model": 768, "heads": 12}, "devices": 8, "tp": 1, "pp": 1,
                "global_batch": 64, "measured_tflops": 300, "convention": "graph-mfu", "source": "our cluster"}}


@settings(max_examples=EXAMPLES["runs file"], **SETTINGS)
@given(data=st.data())
def test_runs_reader_mutations(tmp_path, data):
    doc, extra = mutate(data, RUNS)
    text = yaml.safe_dump({**({"defaults": doc["defaults"]} if "defaults" in doc else {}),
                           "runs": [doc["run"]] if "run" in doc else []}, allow_unicode=True)
    path = tmp_path / "r.yaml"
    path.write_text(text + (extra.replace("run:", "runs:", 1) if extra else ""))
    try:
        runs = load_runs(path)
    except UserError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("r.yaml"), str(exc)
        event("UserError")
        return
    event("result")
    assert [r["id"] for r in runs] == [doc["run"]["id"]] and 1 <= runs[0]["devices"] <= 2**20


W = ModelConfig(name="w", family="gpt2", layers=12, d_model=768, heads=12, ffn=3072, vocab=100, seq_len=32)
COUNT = st.one_of(st.integers(-2, 64), st.integers(1, 2**21), st.sampled_from([10**9, 10**18, 10**30, 720720, 6144]))


@settings(max_examples=EXAMPLES["layout counts"], **SETTINGS)
@given(devices=COUNT, per_node=st.one_of(st.integers(1, 16), COUNT), batch=COUNT,
       tp=st.none() | st.integers(1, 16) | COUNT, pp=st.none() | st.integers(1, 16) | COUNT,
       mb=st.none() | st.integers(1, 16) | COUNT)
def test_layout_counts_answer_or_refuse(devices, per_node, batch, tp, pp, mb):
    try:
        L = enumerate_layouts(W, devices, per_node, batch, tp=tp, pp=pp, mb=mb)
    except UserError as exc:
        assert "\n" not in str(exc), str(exc)
        event("UserError")
        return
    event("result")
    assert (L["tp"] * L["pp"] * L["dp"] == devices).all() and (L["dp"] <= batch).all()
    assert (L["m"] * L["mb"] >= -(-batch // L["dp"])).all() and ((L["m"] - 1) * L["mb"] < -(-batch // L["dp"])).all()
