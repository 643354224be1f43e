"""Issue 20: property tests for the two oldest readers, workload YAML (``nmsim.graph.workloads.load_workload``)
and hardware YAML (``nmsim.hardware.loader.load``). Random structured mutations of every bundled file — a field's
type or value changed, a key dropped, added or duplicated, extreme numbers — give a result or a one-line
``UserError`` naming the file, never another exception (no deadline: CI's timeout bounds a runaway). The mutations are
those of the cluster readers' properties (``test_cluster_reader_properties.mutate``).

``EXAMPLES`` is the number of examples each property runs.
"""
from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import event, given, settings, strategies as st

from test_cluster_reader_properties import SETTINGS, mutate, yaml_text
from nmsim.errors import UserError
from nmsim.graph.config import ModelConfig
from nmsim.graph.workloads import load_workload
from nmsim.hardware.loader import load
from nmsim.hardware.spec import HardwareSpec

DATA = Path(__file__).parent.parent / "nmsim" / "data"
WORKLOADS = {p.name: yaml.safe_load(p.read_text()) for p in sorted((DATA / "workloads").glob("*.yaml"))}
SPECS = {p.name: yaml.safe_load(p.read_text()) for p in sorted((DATA / "hardware_specs").glob("*.yaml"))}
EXAMPLES = {"workload YAML": 300, "hardware YAML": 300}


def _answer_or_refuse(tmp_path: Path, data, files: dict, name: str, reader):
    """One mutated file through ``reader``: its result, or None after checking the UserError is one line naming it."""
    doc, extra = mutate(data, files[data.draw(st.sampled_from(sorted(files)))])
    path = tmp_path / name
    path.write_text(yaml_text(doc, extra).replace("NaN", ".nan").replace("Infinity", ".inf"))
    try:
        result = reader(path)
    except UserError as exc:
        assert "\n" not in str(exc) and str(exc).split(": ")[0].endswith(path.name), str(exc)
        event("UserError")
        return None
    event("result")
    return result


@settings(max_examples=EXAMPLES["workload YAML"], **SETTINGS)
@given(data=st.data())
def test_workload_reader_mutations(tmp_path, data):
    cfg = _answer_or_refuse(tmp_path, data, WORKLOADS, "w.yaml", load_workload)
    assert cfg is None or (isinstance(cfg, ModelConfig) and cfg.layers >= 1 and cfg.d_model >= 1)


@settings(max_examples=EXAMPLES["hardware YAML"], **SETTINGS)
@given(data=st.data())
def test_hardware_reader_mutations(tmp_path, data):
    spec = _answer_or_refuse(tmp_path, data, SPECS, "hw.yaml", load)
    assert spec is None or isinstance(spec, HardwareSpec)
