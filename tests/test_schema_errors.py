"""Every input file's errors read the same way: the workload, runs, measurements and memory files are checked by the
shared schema checks (``nmsim.io.spec_nodes``), so one damaged field gives one line naming the file and the field,
in the same words whatever the file. Property test over the declared schemas: a field is picked from a file's
declaration and damaged by one error class (unknown key near a real one, missing required field, wrong type,
number out of range, value outside a choice); the loader's error is the exact line the declaration implies."""
from __future__ import annotations

import copy
import difflib
import functools
import string

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from nmsim.cluster.validation import load_runs
from nmsim.cost.measurements import load as load_measurements
from nmsim.errors import UserError, field_path
from nmsim.graph import load_workload
from nmsim.graph.config import FIELDS as WORKLOAD
from nmsim.io.spec_nodes import Bool, Choice, Nullable, Obj, Plain, Text
from nmsim.memory.validate import load_runs as load_memory_runs
from nmsim.schema import measurements, memory, publish, runs
from nmsim.schema.runs import BUILT_IN

NAMES = st.text(string.ascii_lowercase, min_size=4, max_size=9)


@functools.lru_cache(maxsize=None)
def shipped(files: str) -> dict:
    return yaml.safe_load(next(publish.DATA.glob(files)).read_text())


def _runs_doc() -> dict:
    doc = shipped("published_runs/training_throughput.yaml")
    return {"defaults": doc.get("defaults", {}), "runs": doc["runs"][:1]}


def _measurements_doc() -> dict:
    doc = shipped("measurements/gpu.yaml")
    return {**doc, "rows": doc["rows"][:1]}


# kind -> (loader, file name, the file's valid document, [(path in it, the Obj declared there)])
KINDS = {
    "workload": (load_workload, "w.yaml", lambda: shipped("workloads/llama-2-7b.yaml"), [((), WORKLOAD)]),
    "runs": (load_runs, "r.yaml", _runs_doc, [((), runs.RUNS_FILE), (("runs", 0), runs.RUN)]),
    "measurements": (load_measurements, "m.yaml", _measurements_doc,
                     [((), measurements.FILE), (("rows", 0), measurements.ROW), (("fits", 0), measurements.FIT),
                      (("rows", 0, "gemm"), measurements.ROW.fields["gemm"].node)]),
    "memory": (load_memory_runs, "mem.yaml", lambda: shipped("measurements/memory.yaml"),
               [((), memory.FILE), (("runs", 0), memory.RUN)]),
}


def _at(doc, path):
    for key in path:
        doc = doc[key]
    return doc


def _limit(at_most) -> str:
    return f"{at_most:,}" if isinstance(at_most, int) else str(at_most)


def _damage(draw, node):
    """(value, message) for a damaged value of a field declared as ``node``; None when the class does not apply."""
    node = node.node if isinstance(node, Nullable) else node
    if isinstance(node, Plain):
        kind = draw(st.sampled_from(["type", "low", "high"] if node.at_most is not None else ["type", "low"]))
        if kind == "type":
            text = draw(NAMES)
            return text, f"expected {'an integer' if node.integer else 'a number'}, got {text!r}"
        if kind == "low":
            value = draw(st.integers(-10**6, 0 if node.positive else -1))
            return value, f"must be {'> 0' if node.positive else '>= 0'}, got {value!r}"
        value = draw(st.integers(int(node.at_most) + 1, int(node.at_most) * 4 + 2))
        return value, f"must be <= {_limit(node.at_most)}, got {value!r}"
    if isinstance(node, Bool):
        text = draw(NAMES.filter(lambda t: t not in ("true", "false", "yes", "no", "on", "off")))
        return text, f"expected true or false, got {text!r}"
    if isinstance(node, Choice):
        text = draw(NAMES.filter(lambda t: t not in node.values))
        close = difflib.get_close_matches(text, [str(v) for v in node.values], n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return text, f"unknown {node.what} {text!r} ({hint}known: {', '.join(map(str, node.values))})"
    if isinstance(node, Text):
        return ([1], "expected a string, got [1]") if node.empty else ([1], "expected a non-empty string")
    if isinstance(node, Obj):
        return 5, "expected a mapping, got int"
    return None


@st.composite
def damaged(draw):
    """(kind, document, expected error without the file) for one damaged field."""
    kind = draw(st.sampled_from(sorted(KINDS)))
    _, _, base, places = KINDS[kind]
    doc = copy.deepcopy(base())
    path, obj = draw(st.sampled_from(places))
    target = _at(doc, path)
    given_here = set(BUILT_IN) | set(doc.get("defaults", {})) if obj is runs.RUN else set()
    required = [k for k, f in obj.fields.items() if f.required and k in target and k not in given_here]
    error = draw(st.sampled_from(["unknown", "value"] + (["missing"] if required else [])))
    if error == "missing":
        key = draw(st.sampled_from(required))
        del target[key]
        return kind, doc, field_path(None, *path) + ": " if path else "", f"missing required field {key!r}"
    key = draw(st.sampled_from(sorted(obj.fields)))
    if error == "unknown":
        at = draw(st.integers(0, len(key)))
        typo = key[:at] + draw(st.sampled_from("xz_")) + key[at:]
        typo = typo + "zz" if typo in obj.fields else typo
        target[typo] = target.pop(key, 1)
        allowed = sorted(obj.fields)
        close = difflib.get_close_matches(typo, allowed, n=1)
        assert key in difflib.get_close_matches(typo, allowed, n=3)   # one letter more: the key is among the closest
        return (kind, doc, field_path(None, *path, typo) + ": ",
                f"unknown key {typo!r} (did you mean {close[0]!r}? allowed: {', '.join(allowed)})")
    damage = _damage(draw, obj.fields[key].node)
    if damage is None:   # a field checked by its own function (a row id, the bias list): an unknown key instead
        target["zzzz"] = 1
        return (kind, doc, field_path(None, *path, "zzzz") + ": ",
                f"unknown key 'zzzz' (allowed: {', '.join(sorted(obj.fields))})")
    target[key] = damage[0]
    return kind, doc, field_path(None, *path, key) + ": ", damage[1]


@settings(max_examples=150)
@given(case=damaged())
def test_one_damaged_field_is_one_line_naming_the_file_and_field(tmp_path_factory, case):
    kind, doc, where, message = case
    loader, name, _, _ = KINDS[kind]
    path = tmp_path_factory.mktemp(kind) / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(UserError) as info:
        loader(path)
    file = str(path) if kind == "workload" else name
    assert str(info.value) == f"{file}: {where}{message}"


# one case per file kind and error class, through the command line: exit 2, exactly this line
RUNS = ("runs:\n  - {id: my-gpt, model: {layers: 12, d_model: 768, heads: 12}, devices: 8, source: ours, "
        "global_batch: 64, system: dgx-h100, measured_tflops: 300, convention: graph-mfu}\n")
WORKLOAD_FILE = "family: gpt2\nvocab: 100\n"
CLI = [
    ("w.yaml", WORKLOAD_FILE + "layres: 2\n", ["trace", "w.yaml"],
     "w.yaml: layres: unknown key 'layres' (did you mean 'layers'? allowed: "),
    ("w.yaml", WORKLOAD_FILE + "heads: twelve\n", ["trace", "w.yaml"], "w.yaml: heads: expected an integer, got 'twelve'"),
    ("w.yaml", WORKLOAD_FILE + "layers: 5000\n", ["trace", "w.yaml"], "w.yaml: layers: must be <= 4,096, got 5000"),
    ("w.yaml", WORKLOAD_FILE + "norm: rmsnrom\n", ["trace", "w.yaml"],
     "w.yaml: norm: unknown norm 'rmsnrom' (did you mean 'rmsnorm'? known: layernorm, rmsnorm)"),
    ("r.yaml", RUNS.replace("devices: 8,", "devics: 8,"), ["cluster", "validate", "--runs", "r.yaml"],
     "r.yaml: runs[0].devics: unknown key 'devics' (did you mean 'devices'? allowed: "),
    ("r.yaml", RUNS.replace("source: ours, ", ""), ["cluster", "validate", "--runs", "r.yaml"],
     "r.yaml: runs[0]: missing required field 'source'"),
    ("r.yaml", RUNS.replace("devices: 8,", "devices: eight,"), ["cluster", "validate", "--runs", "r.yaml"],
     "r.yaml: runs[0].devices: expected an integer, got 'eight'"),
    ("r.yaml", RUNS.replace("graph-mfu", "graph-mf"), ["cluster", "validate", "--runs", "r.yaml"],
     "r.yaml: runs[0].convention: unknown convention 'graph-mf' (did you mean 'graph-mfu'? known: megatron-hfu, "
     "megatron-mfu, graph-mfu)"),
]


@pytest.mark.parametrize("name,text,argv,expected", CLI, ids=[c[3].split(": ")[1] + "-" + c[0] for c in CLI])
def test_the_command_line_says_the_same_line(tmp_path, monkeypatch, capsys, name, text, argv, expected):
    from nmsim.cli import main
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_text(text)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nmsim: error: " + expected), err
