"""The measurements file of ``nmsim validate``: every check of ``nmsim.cost.measurements.load`` names the file and
field (the command-line corpus of the same reader: ``test_bad_input_validate.py``)."""
import copy

import pytest
import yaml

from nmsim.cost.validate import DEFAULT_FILE, load
from nmsim.errors import UserError

DOC = {
    "sources": {"s1": "a paper", "s2": "a datasheet"},
    "fits": [{"name": "f1", "hardware": "a100", "kernel": "cublas", "field": "efficiency", "bounds": [0.2, 1.0]}],
    "rows": [
        {"id": "k1", "group": "g", "level": "kernel", "source": "s1", "hardware": "a100", "dtype": "fp16",
         "metric": "seconds", "value": 1e-3, "fit": "f1", "gemm": {"m": 64, "k": 64, "n": 64}},
        {"id": "e1", "group": "g", "level": "end-to-end", "source": "s2", "hardware": "a100", "dtype": "fp16",
         "metric": "speedup", "value": 1.5, "baseline": {"plan": "dense"}, "workload": "gpt2", "plan": "ff=2:4"},
    ],
}


def _edit(fn):
    doc = copy.deepcopy(DOC)
    fn(doc)
    return doc


CASES = [
    ("not-mapping", [1], "m.yaml: expected a mapping, got list"),
    ("unknown-top", _edit(lambda d: d.update(foo=1)), "m.yaml: foo: unknown key 'foo' (allowed: fits, rows, sources)"),
    ("no-rows", _edit(lambda d: d.update(rows=[])), "m.yaml: rows: expected a non-empty list"),
    ("fit-not-mapping", _edit(lambda d: d["fits"].append(3)), "m.yaml: fits[1]: expected a mapping, got int"),
    ("fit-unknown-key", _edit(lambda d: d["fits"][0].update(zz=1, aa=2)),
     "m.yaml: fits[0].aa: unknown key 'aa' (allowed: bounds, field, hardware, kernel, name)"),
    ("fit-no-kernel", _edit(lambda d: d["fits"][0].pop("kernel")), 
     "m.yaml: fits[0]: missing required field 'kernel' (a kernel field's fit names its kernel)"),
    ("fit-bounds", _edit(lambda d: d["fits"][0].update(bounds=[1, 0])),
     "m.yaml: fits[0].bounds: expected [low, high] with low < high (finite numbers), got [1, 0]"),
    ("row-not-mapping", _edit(lambda d: d["rows"].insert(1, "x")), "m.yaml: rows[1]: expected a mapping, got str"),
    ("row-unknown-key", _edit(lambda d: d["rows"][1].update(zz=1, bb=2)),
     "m.yaml: rows[1].bb: unknown key 'bb' (allowed: baseline, batch, context, copies, cuda_graphs, dropout, dtype, fit, "
     "fusion, gemm, group, hardware, id, kernel, level, metric, mode, note, output, plan, seq, source, value, "
     "weight_dtype, workload)"),
    ("row-no-metric", _edit(lambda d: d["rows"][1].pop("metric")), "m.yaml: rows[1]: missing required field 'metric'"),
    ("duplicate-id", _edit(lambda d: d["rows"][1].update(id="k1")),
     "m.yaml: rows[1].id: duplicate id 'k1' (first in rows[0])"),
    ("level", _edit(lambda d: d["rows"][0].update(level="x")),
     "m.yaml: rows[0].level: unknown level 'x' (known: kernel, end-to-end)"),
    ("metric", _edit(lambda d: d["rows"][0].update(metric="x")),
     "m.yaml: rows[0].metric: unknown metric 'x' (known: seconds, speedup)"),
    ("source", _edit(lambda d: d["rows"][0].update(source="s9")),
     "m.yaml: rows[0].source: unknown source 's9' (sources: s1, s2)"),
    ("value-bool", _edit(lambda d: d["rows"][0].update(value=True)),
     "m.yaml: rows[0].value: expected a number, got True"),
    ("value-zero", _edit(lambda d: d["rows"][0].update(value=0)),
     "m.yaml: rows[0].value: must be > 0, got 0"),
    ("gemm-and-workload", _edit(lambda d: d["rows"][0].update(workload="gpt2")),
     "m.yaml: rows[0]: give exactly one of gemm or workload"),
    ("neither", _edit(lambda d: d["rows"][0].pop("gemm")), "m.yaml: rows[0]: give exactly one of gemm or workload"),
    ("speedup-baseline", _edit(lambda d: d["rows"][1].update(baseline=3)),
     "m.yaml: rows[1].baseline: expected a mapping, got int"),
    ("unknown-fit", _edit(lambda d: d["rows"][0].update(fit="f9")), "m.yaml: rows[0].fit: unknown fit 'f9'"),
    ("gpu-fit-kernel-model", _edit(lambda d: d["fits"].append({"name": "g", "hardware": "tpu-v4",
                                                                "field": "host_op_us", "bounds": [0, 50]})),
     "m.yaml: fits[1].hardware: tpu-v4 has no gpu execution model to set host_op_us on"),
]


@pytest.mark.parametrize("doc, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_measurements_file(tmp_path, doc, message):
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(UserError) as err:
        load(path)
    assert str(err.value) == message


def test_good_files_load(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(DOC))
    rows, fits, sources = load(path)
    assert [r["id"] for r in rows] == ["k1", "e1"] and [f["name"] for f in fits] == ["f1"] and len(sources) == 2
    rows, fits, sources = load(DEFAULT_FILE)
    assert all(r["source"] in sources for r in rows)
