"""Issue 20: every Python API function (``nmsim.__all__``) with bad arguments raises :class:`UserError` whose
text is the CLI's one-line message for the same mistake (without the ``nmsim: error: `` prefix), and nothing is
written; a module that cannot be traced on the meta device says why in one line.

``API_CASES``: class -> ``(id, files, code, expected text)``, ``code`` a Python expression calling ``nmsim``
(the shape ``bench/bench_bad_input.py`` runs as ``python -c``). ``CLI_EQUIVALENT[id]`` is the command line that
makes the same mistake, where there is one: it must print exactly the same text. Property
tests (hypothesis) then throw random bad and structured arguments at every function: a result or a UserError,
never another exception (no deadline: a shared machine makes any timing flaky; CI's timeout bounds a runaway).
"""
from __future__ import annotations

import os
import string
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nmsim
from nmsim.errors import UserError
from test_bad_input import assert_one_error, make_files, run_cli, snapshot


def _unknown_workload(name: str) -> str:
    from nmsim.graph import list_workloads

    return (f"workload: unknown workload {name!r} (bundled: {', '.join(list_workloads())}; or give a workload .yaml "
            "or a config.json path)")


class Code(str):
    """A value given as Python source (``float('nan')``, a module): written into the case's code as it is."""


def _src(value) -> str:
    return value if isinstance(value, Code) else repr(value)


def call(function: str, *args, **kwargs) -> str:
    """The source of a call of ``nmsim.FUNCTION``: a case's ``code``."""
    return f"nmsim.{function}({', '.join([*map(_src, args), *(f'{k}={_src(v)}' for k, v in kwargs.items())])})"


TORCH = "__import__('torch')"
LINEAR, X = Code(f"{TORCH}.nn.Linear(8, 8)"), Code(f"{TORCH}.zeros(2, 8)")


def module(name: str, forward: str) -> Code:
    """An ``nn.Module`` subclass ``name`` whose forward is the expression ``forward`` of ``x``, made in one
    expression (the bench runs each case as ``python -c``)."""
    return Code(f"type({name!r}, ({TORCH}.nn.Module,), {{'forward': lambda self, x: {forward}}})()")


BRANCHY = module("Branchy", "x * 2 if x.sum().item() > 0 else x")
NONZERO = module("Nonzero", f"{TORCH}.nonzero(x)")
TOLIST = module("ToList", f"{TORCH}.tensor(x.tolist())")
ONES = Code(f"{TORCH}.ones(2, 4)")
DATA_DEPENDENT = ("cannot be traced on the meta device: data-dependent control flow or a read of a tensor's value "
                  "(.item(), bool(), .tolist(), .numpy()); branch on shapes instead")
RESERVED = "not an API keyword: "
TYPES = "expected a string, a number or a path, got"
NAME_RULE = ("a report name is one folder name (it names reports/<name>): not empty, '.' or '..', no '/' or '\\'; "
             "give another folder as --out")
RECIPES = "dense, static, sr-ste, mdgf-linear, mdgf-exp, sdgf-stepwise, sdgf-geometric"

# class -> (id, code, expected text, the command line making the same mistake or None)
_TABLE = {
    "values starting with '-'": [
        ("price-workload-help", call("price", "--help", "a100"), _unknown_workload("--help"),
         ["price", "--hardware", "a100", "--", "--help"]),
        ("price-workload-dash", call("price", "-x", "a100"), _unknown_workload("-x"),
         ["price", "--hardware", "a100", "--", "-x"]),
        ("trace-workload-dash", call("trace", "--version"), _unknown_workload("--version"), ["trace", "--", "--version"]),
        ("compare-workload-dash", call("compare", "-h"), _unknown_workload("-h"), ["compare", "--", "-h"]),
        ("price-sparsity-dash", call("price", "vit-tiny", "a100", sparsity="-x"),
         "--sparsity '-x': expected SELECTOR[@LAYERS]=PATTERN[/row|/col], e.g. ff=1:16",
         ["price", "vit-tiny", "--hardware", "a100", "--sparsity=-x"]),
        ("compare-patterns-dash", call("compare", "vit-tiny", patterns="-1:4"),
         "--patterns: not an N:M pattern: '-1:4' (expected e.g. 1:16 or dense)", ["compare", "vit-tiny", "--patterns=-1:4"]),
        ("train-lr-negative", call("train_run", "run", lr=-1), "--lr: must be in (0, 10], got -1",
         ["train", "--lr=-1", "--out", "run"]),
        ("schedule-beta-negative", call("schedule", "mdgf-linear", "ff=1:8", steps=10, beta=-1),
         "--beta: beta must be > 0, got -1",
         ["schedule", "mdgf-linear", "--sparsity", "ff=1:8", "--steps", "10", "--beta=-1"]),
        ("train-recipe-dashes", call("train_run", "run", recipe="--"), f"--recipe: unknown recipe '--' (valid: {RECIPES}, "
         "custom)", ["train", "--recipe=--", "--out", "run"]),
    ],
    "unknown keywords": [
        ("price-unknown", call("price", "vit-tiny", "a100", unknown=1), "nmsim: unrecognized arguments: --unknown 1",
         ["price", "vit-tiny", "--hardware", "a100", "--unknown", "1"]),
        ("budget-unknown", call("budget", "vit-tiny", "ff=2:4", epochs=1, unknown=1),
         "nmsim: unrecognized arguments: --unknown 1",
         ["budget", "vit-tiny", "--sparsity", "ff=2:4", "--epochs", "1", "--unknown", "1"]),
        ("compare-unknown", call("compare", "vit-tiny", colour="red"), "nmsim: unrecognized arguments: --colour red",
         ["compare", "vit-tiny", "--colour", "red"]),
        ("schedule-unknown", call("schedule", "sr-ste", "ff=1:8", steps=10, speed=2),
         "nmsim: unrecognized arguments: --speed 2",
         ["schedule", "sr-ste", "--sparsity", "ff=1:8", "--steps", "10", "--speed", "2"]),
        ("trace-unknown", call("trace", "gpt2", bogus=1), "nmsim: unrecognized arguments: --bogus 1",
         ["trace", "gpt2", "--bogus", "1"]),
        ("train-unknown", call("train_run", "run", bogus=True), "nmsim: unrecognized arguments: --bogus",
         ["train", "--out", "run", "--bogus"]),
        ("report-unknown", call("write_report", "rep", bogus=1), "nmsim: unrecognized arguments: --bogus 1",
         ["report", "--out", "rep", "--bogus", "1"]),
        ("trace-module-unknown-keyword", call("trace", LINEAR, X, batch=2),
         "trace: unknown keyword 'batch' (known: example_kwargs, config, strict, roles)", None),
    ],
    "missing arguments": [
        ("price-no-hardware", call("price", "vit-tiny"), "nmsim price: the following arguments are required: --hardware",
         ["price", "vit-tiny"]),
        ("budget-no-sparsity", call("budget", "vit-tiny", epochs=1),
         "nmsim budget: the following arguments are required: --sparsity", ["budget", "vit-tiny", "--epochs", "1"]),
        ("schedule-no-recipe", call("schedule", steps=10),
         "nmsim schedule: the following arguments are required: RECIPE", ["schedule", "--steps", "10"]),
        ("price-no-workload", call("price", None, "a100"), "workload: give a workload name or path, or --hf-config",
         ["price", "--hardware", "a100"]),
        ("trace-nothing", call("trace"), "workload: give a workload name or path, or --hf-config", ["trace"]),
        ("load-workload-none", call("load_workload", None), "workload: give a workload name or path, or --hf-config",
         None),
        ("train-no-out", call("train_run", epochs=1), "--out: give the run folder (out=...)", None),
        ("report-no-out", call("write_report", no_train=True), "--out: give the report folder (out=...)", None),
        ("trace-module-no-inputs", call("trace", LINEAR, None),
         "Linear: example_inputs: give the module's example inputs (a tensor or a tuple of tensors; () for none)",
         None),
    ],
    "wrong values": [
        ("budget-epochs-text", call("budget", "vit-tiny", "ff=2:4", epochs="abc"),
         "nmsim budget: argument --epochs: invalid float value: 'abc'",
         ["budget", "vit-tiny", "--sparsity", "ff=2:4", "--epochs", "abc"]),
        ("budget-epochs-zero", call("budget", "vit-tiny", "ff=2:4", epochs=0), "--epochs: must be a positive number, got 0",
         ["budget", "vit-tiny", "--sparsity", "ff=2:4", "--epochs", "0"]),
        ("budget-recipe-typo", call("budget", "vit-tiny", "ff=2:4", epochs=1, recipes=["dense", "typo"]),
         f"--recipes: unknown recipe 'typo' (valid: {RECIPES}; sets: all, paper, quick)",
         ["budget", "vit-tiny", "--sparsity", "ff=2:4", "--epochs", "1", "--recipes", "dense,typo"]),
        ("price-batch-flag", call("price", "vit-tiny", "a100", batch=True),
         "nmsim price: argument --batch: expected one argument", ["price", "vit-tiny", "--hardware", "a100", "--batch"]),
        ("price-batch-nan", call("price", "vit-tiny", "a100", batch=Code("float('nan')")),
         "nmsim price: argument --batch: not a positive integer (or N:M range): 'nan'",
         ["price", "vit-tiny", "--hardware", "a100", "--batch", "nan"]),
        ("price-batch-huge", call("price", "gpt2", "a100", batch=10**30),
         "gpt2: batch: must be an integer from 1 to 16,777,216, got 1000000000000000000000000000000",
         ["price", "gpt2", "--hardware", "a100", "--batch", str(10**30)]),
        ("price-empty-plan", call("price", "vit-tiny", "a100", sparsity=",,,"),
         "--sparsity ',,,': no rule given; give e.g. ff=1:16, or dense",
         ["price", "vit-tiny", "--hardware", "a100", "--sparsity", ",,,"]),
        ("price-layers-past-depth", call("price", "gpt2", "a100", sparsity="ff@0-99=1:8"),
         "--sparsity 'ff@0-99=1:8': layers 0-99 go past the model's 12 layers (0 to 11)",
         ["price", "gpt2", "--hardware", "a100", "--sparsity", "ff@0-99=1:8"]),
        ("budget-layers-past-depth", call("budget", "gpt2", "ff@12=2:4", epochs=1),
         "--sparsity 'ff@12=2:4': layer 12 is past the model's 12 layers (0 to 11)",
         ["budget", "gpt2", "--sparsity", "ff@12=2:4", "--epochs", "1"]),
        ("schedule-recipe-typo", call("schedule", "typo", steps=10),
         f"--recipe: unknown recipe 'typo' (valid: {RECIPES}, custom)", ["schedule", "typo", "--steps", "10"]),
        ("trace-workload-number", call("trace", 5), _unknown_workload("5"), ["trace", "5"]),
        ("trace-workload-too-long", call("trace", "x" * 300), _unknown_workload("x" * 300), ["trace", "x" * 300]),
        ("trace-missing-yaml", call("trace", Code("__import__('pathlib').Path('nope.yaml')")),
         "nope.yaml: workload file not found", ["trace", "nope.yaml"]),
        ("load-workload-missing", call("load_workload", "nope.yaml"), "nope.yaml: workload file not found",
         ["trace", "nope.yaml"]),
        ("report-name-path", call("write_report", "rep", name="../x", no_train=True), f"--name '../x': {NAME_RULE}",
         ["report", "--out", "rep", "--name", "../x", "--no-train"]),
    ],
    "Python types and API keywords": [
        ("price-batch-dict", call("price", "vit-tiny", "a100", batch={}), f"--batch: {TYPES} dict", None),
        ("price-hardware-object", call("price", "vit-tiny", Code("object()")), f"--hardware: {TYPES} object", None),
        ("budget-epochs-none-list", call("budget", "vit-tiny", "ff=2:4", epochs=[None]), f"--epochs: {TYPES} NoneType",
         None),
        ("load-workload-list", call("load_workload", [1]), f"workload: {TYPES} list", None),
        ("compare-workload-bytes", call("compare", b"gpt2"), f"workload: {TYPES} bytes", None),
        ("price-workload-nul", call("price", "vit\x00", "a100"), "workload: must be text without NUL bytes", None),
        ("price-help-keyword", call("price", "vit-tiny", "a100", help=True),
         f"--help: {RESERVED}see help(nmsim.<function>)", None),
        ("price-out-keyword", call("price", "vit-tiny", "a100", out="t.csv"),
         f"--out: {RESERVED}the API returns a DataFrame; save it with DataFrame.to_csv", None),
        ("schedule-format-keyword", call("schedule", "sr-ste", "ff=1:8", format="json"),
         f"--format: {RESERVED}the API returns a DataFrame", None),
        ("budget-debug-keyword", call("budget", "vit-tiny", "ff=2:4", debug=True),
         f"--debug: {RESERVED}errors are raised as UserError", None),
        ("trace-module-roles-number", call("trace", LINEAR, X, roles=5),
         "roles: expected a mapping of module-path globs to roles, a list of (glob, role) pairs or a function, got int",
         None),
        ("trace-module-roles-unknown", call("trace", LINEAR, X, roles={"*": "gate"}),
         "roles: *: unknown role 'gate' (valid: q, k, v, o, qkv, ff1, ff2, ff_gate, head, pooler, patch_embed, router, logit, "
         "attend, attention, embed, norm, softmax, act, other)", None),
    ],
    "modules traced on meta": [
        ("trace-module-dict-inputs", call("trace", LINEAR, {"input": X}),
         "Linear: example_inputs: expected a tensor or a tuple of tensors (the module's example inputs), got dict "
         "(give keyword inputs as example_kwargs)", None),
        ("trace-module-bad-kwargs", call("trace", LINEAR, X, example_kwargs=[X]),
         "Linear: example_kwargs: expected a dict of keyword inputs, got list", None),
        ("trace-module-item", call("trace", BRANCHY, ONES),
         f"Branchy: {DATA_DEPENDENT} (Tensor.item() cannot be called on meta tensors)", None),
        ("trace-module-item-nested", call("trace", Code(f"{TORCH}.nn.Sequential({TORCH}.nn.Linear(4, 4), {BRANCHY})"),
                                          ONES),
         f"Sequential (in '1'): {DATA_DEPENDENT} (Tensor.item() cannot be called on meta tensors)", None),
        ("trace-module-tolist", call("trace", TOLIST, Code(f"{TORCH}.ones(3)")),
         f"ToList: {DATA_DEPENDENT} (Cannot copy out of meta tensor; no data!)", None),
        ("trace-module-nonzero", call("trace", NONZERO, Code(f"{TORCH}.ones(3)")),
         "Nonzero: cannot be traced on the meta device: an op whose output shape depends on tensor values (nonzero, "
         "unique, masked_select, ...) (The register_meta function for torch.nonzero() raises unimplemented by "
         "default, as a correct data-independent implementation does not exist. This implementat...)", None),
        ("trace-module-wrong-shape", call("trace", LINEAR, Code(f"{TORCH}.zeros(2, 7)")),
         "Linear: forward failed on meta tensors (RuntimeError: a and b must have same reduction dim, but got [2, 7] X "
         "[8, 8].)", None),
        ("trace-module-too-many-inputs", call("trace", LINEAR, Code(f"({X}, {X})")),
         "Linear: forward failed on meta tensors (TypeError: Linear.forward() takes 2 positional arguments but 3 were "
         "given)", None),
        ("trace-inputs-for-a-workload", call("trace", "gpt2", X),
         "trace: example inputs are for an nn.Module, got a str to trace", None),
    ],
    "commands new to the API": [
        ("trace-workload-nothing", call("trace_workload"), "workload: give a workload name or path, or --hf-config",
         ["trace"]),
        ("trace-module-nothing", call("trace_module", LINEAR),
         "Linear: example_inputs: give the module's example inputs (a tensor or a tuple of tensors; () for none)",
         None),
        ("sweep-no-seeds", call("sweep", "runs", seeds=0), "--seeds: must be from 1 to 1000, got 0",
         ["sweep", "--out", "runs", "--seeds", "0"]),
        ("plot-no-runs", call("plot", "nope", "curves.png"), "nope: no such runs folder",
         ["plot", "nope", "--out", "curves.png"]),
        ("cluster-plan-top-zero", call("cluster_plan", "gpt2", top=0), "--top: must be a positive integer, got 0",
         ["cluster", "plan", "gpt2", "--top", "0"]),
        ("cluster-budget-no-tokens", call("cluster_budget", "gpt2", nodes=1),
         "--tokens: give --tokens (e.g. 1e12) or --dataset-tokens with --epochs",
         ["cluster", "budget", "gpt2", "--nodes", "1"]),
        ("cluster-validate-unknown-run", call("cluster_validate", only="nope"), "--only: unknown run 'nope'",
         ["cluster", "validate", "--only", "nope"]),
        ("cluster-systems-missing", call("cluster_systems", "nope.yaml"), "nope.yaml: no such file",
         ["cluster", "systems", "nope.yaml"]),
        ("export-format-typo", call("export_gemms", "gpt2", "gemms", format="csv"),
         "nmsim export: argument --format: invalid choice: 'csv' (choose from 'scalesim', 'timeloop')",
         ["export", "gpt2", "--format", "csv", "--out", "gemms"]),
        ("validate-bands-without-refit", call("validate", write_bands=True, no_refit=True),
         "--write-bands: the bundled bands come from the bundled measurements, refitted: leave out --no-refit",
         ["validate", "--write-bands", "--no-refit"]),
        ("evidence-run-one-recipe", call("evidence_run", "ev", recipes="sr-ste"),
         "--recipes: the recipes must include dense and the reference 'sr-ste'",
         ["evidence", "run", "--out", "ev", "--recipes", "sr-ste"]),
        ("evidence-summarize-not-a-protocol", call("evidence_summarize", "nope"),
         "nope: is not an evidence folder (no protocol.json)", ["evidence", "summarize", "nope"]),
        ("hardware-list-unknown", call("hardware_list", bogus=1), "nmsim: unrecognized arguments: --bogus 1",
         ["hardware", "list", "--bogus", "1"]),
        ("cluster-systems-unknown", call("cluster_systems", colour=True),
         "nmsim: unrecognized arguments: --colour", ["cluster", "systems", "--colour"]),
    ],
}
# the corpus's shape (read by bench/bench_bad_input.py): class -> (id, files, code, expected text)
API_CASES = {cls: [(cid, {}, code, expected) for cid, code, expected, _ in rows] for cls, rows in _TABLE.items()}
CLI_EQUIVALENT = {cid: argv for rows in _TABLE.values() for cid, _, _, argv in rows if argv is not None}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("cid,files,code,expected", [pytest.param(*c, id=f"{cls}:{c[0]}") for cls, cases in
                                                       API_CASES.items() for c in cases])
def test_bad_api_call(workdir, capsys, cid, files, code, expected):
    make_files(workdir, {"keep.txt": "user data", **files})
    before = snapshot(workdir)
    with pytest.raises(UserError) as exc:
        eval(code, {"nmsim": nmsim})
    assert str(exc.value) == expected
    assert "\n" not in str(exc.value)
    assert snapshot(workdir) == before, "a failed call changed, added or removed files"
    if cid in CLI_EQUIVALENT:
        code, err = run_cli(CLI_EQUIVALENT[cid], capsys)
        assert_one_error(code, err, expected)
        assert snapshot(workdir) == before


def test_every_api_function_has_cases():
    import re

    functions = [n for n in nmsim.__all__ if n != "__version__"]
    assert sorted(functions) == ["budget", "cluster_budget", "cluster_plan", "cluster_systems", "cluster_validate",
                                 "compare", "evidence_run", "evidence_summarize", "export_gemms", "hardware_list",
                                 "load_workload", "plot", "price", "schedule", "sweep", "trace", "trace_module",
                                 "trace_workload", "train_run", "validate", "write_report"]
    cases = [c for rows in API_CASES.values() for c in rows]
    assert {re.match(r"nmsim\.(\w+)\(", code).group(1) for _, _, code, _ in cases} == set(functions)
    assert {cls: len(rows) for cls, rows in API_CASES.items()} == {
        "values starting with '-'": 9, "unknown keywords": 8, "missing arguments": 9, "wrong values": 15,
        "Python types and API keywords": 12, "modules traced on meta": 9, "commands new to the API": 14}
    assert len(CLI_EQUIVALENT) == 49 and len({c[0] for c in cases}) == len(cases)


def test_keyword_inputs_are_moved_to_meta():
    class TwoInputs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Linear(8, 16), torch.nn.Linear(8, 16)

        def forward(self, x, *, context=None, extra=()):
            return self.a(x) + self.b(context) + sum(extra)

    graph = nmsim.trace(TwoInputs(), torch.zeros(2, 8), example_kwargs={"context": torch.ones(2, 8), "extra": [torch.ones(2, 16)]})
    gemms = graph.ops[graph.ops["kind"] == "linear"]
    assert list(gemms["module"]) == ["a", "b"] and list(gemms["fwd_flops"]) == [2 * 2 * 8 * 16] * 2


def test_an_input_starting_with_a_dash_is_priced_as_a_value():
    same = nmsim.price("vit-tiny", "a100", sparsity="ff=2:4", batch=2)
    assert (same["role"] == "total").sum() == 1 and same["seconds"].gt(0).all()


# ---- hypothesis: random bad and structured arguments ------------------------------------------------------

EXAMPLES = 15   # per function: each example is a full call of the function (parsing, often pricing)
ODD_TEXT = st.sampled_from(["", " ", "-", "--", "--help", "-h", "-1", "--out", "=", ",", ",,,", "@", "ff@99=1:8",
                            "ff=0:0", "1e400", "nan", "inf", "-inf", "0", "../x", "/", "\\", "\u00e9", "\ud800",
                            "x" * 300, "dense", "a100", "vit-tiny"])
TEXT = st.one_of(ODD_TEXT, st.text(alphabet=string.printable, max_size=12))
NUMBER = st.one_of(st.integers(min_value=-2**70, max_value=2**70),
                   st.floats(allow_nan=True, allow_infinity=True, width=64))
VALUE = st.one_of(TEXT, NUMBER, st.booleans(), st.none(), st.lists(st.one_of(TEXT, NUMBER), max_size=3),
                  st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), st.builds(object),
                  st.just(Path("nope.yaml")), st.binary(max_size=4))
KEYS = {
    "price": ["sparsity", "mode", "batch", "seq", "context", "dtype", "by", "kernel", "bogus", "hardware_"],
    "compare": ["hardware", "patterns", "batch", "seq", "dtype", "selector", "mode", "bogus"],
    "budget": ["epochs", "steps", "tokens", "samples", "dataset_size", "batch", "recipes", "patterns", "hardware",
               "budget", "dense_frac", "bogus"],
    "schedule": ["steps", "epochs", "steps_per_epoch", "beta", "k", "dense_frac", "boundaries", "bogus"],
    "trace": ["batch", "seq", "by", "bogus"],
    "load_workload": [],
    "cluster_systems": [],
    "evidence_summarize": [],
    "plot": ["metrics", "x", "task", "bogus"],
    "cluster_plan": ["system", "nodes", "global_batch", "seq", "top", "tp", "zero", "tokens", "bogus"],
    "train_run": ["task", "recipe", "sparsity", "lr", "epochs", "batch", "seed", "bogus"],
    "write_report": ["workload", "hardware", "patterns", "recipes", "name", "epochs", "bogus"],
}
WORKLOADS = st.one_of(st.sampled_from(["vit-tiny", "--help", "-x", "nope.yaml", ""]), VALUE)
SLOW = {"train_run": {"epochs": 0}, "write_report": {"steps_per_epoch": 0}}   # one certain mistake: no training, no report


def _kwargs(name):
    keys = KEYS[name]
    return st.dictionaries(st.sampled_from(keys), VALUE, max_size=4) if keys else st.just({})


def _call(name, args, kwargs):
    try:
        return getattr(nmsim, name)(*args, **kwargs)
    except UserError as exc:
        assert "\n" not in str(exc)
        return exc


PROPERTIES = {
    "price": st.tuples(WORKLOADS, st.one_of(st.sampled_from(["a100", "h100", "nope", "-1"]), VALUE)),
    "compare": st.tuples(WORKLOADS),
    "budget": st.tuples(WORKLOADS, st.one_of(st.sampled_from(["ff=2:4", ",,,", "ff@0-99=1:8", "dense"]), VALUE)),
    "schedule": st.tuples(st.one_of(st.sampled_from(["sr-ste", "mdgf-linear", "custom", "-h"]), VALUE),
                          st.one_of(st.sampled_from(["ff=1:8", ""]), VALUE)),
    "trace": st.tuples(WORKLOADS),
    "load_workload": st.tuples(WORKLOADS),
    "cluster_systems": st.lists(st.one_of(st.sampled_from(["dgx-h100", "nope.yaml", "keep.txt", "-h"]), VALUE),
                                max_size=2).map(tuple),
    "evidence_summarize": st.tuples(st.one_of(st.sampled_from(["nope", ".", "keep.txt", "-x"]), VALUE)),
    "plot": st.tuples(st.one_of(st.sampled_from(["nope", ".", "-x"]), VALUE),
                      st.one_of(st.sampled_from(["c.png", "c.html", "keep.txt", "c.txt"]), VALUE)),
    "cluster_plan": st.tuples(WORKLOADS),
    "train_run": st.tuples(st.one_of(st.sampled_from(["run", "-run", "a/b"]), VALUE)),
    "write_report": st.tuples(st.one_of(st.sampled_from(["rep", "-rep"]), VALUE)),
}
# one call each first (the warm-up), so the examples exercise answers, not this process's first imports
WARM_UP = {"price": (("vit-tiny", "a100"), {}), "compare": (("vit-tiny",), {}), "trace": (("vit-tiny",), {}),
           "budget": (("vit-tiny", "ff=2:4"), {"epochs": 1, "hardware": "a100"}), "train_run": (("run",), SLOW["train_run"]),
           "write_report": (("rep",), SLOW["write_report"])}


@pytest.fixture(scope="module")
def warm_folder(tmp_path_factory):
    """A folder of the module's own as the working directory, with a user file, after one call of each function."""
    folder, cwd = tmp_path_factory.mktemp("api-properties"), os.getcwd()
    os.chdir(folder)
    (folder / "keep.txt").write_text("user data")
    for name, (args, kwargs) in WARM_UP.items():
        _call(name, args, kwargs)
    yield folder
    os.chdir(cwd)


@pytest.mark.parametrize("name", sorted(PROPERTIES))
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
def test_random_arguments_give_a_result_or_a_user_error(warm_folder, name, data):
    args, kwargs = data.draw(PROPERTIES[name], "args"), data.draw(_kwargs(name), "kwargs")
    _call(name, args, {**kwargs, **SLOW.get(name, {})})
    assert (warm_folder / "keep.txt").read_text() == "user data"


T = torch.zeros(2, 8)
MODULES = [eval(code, {}) for code in (LINEAR, BRANCHY, NONZERO, TOLIST)] + [torch.nn.LayerNorm(8)]
MODULE_INPUTS = st.one_of(st.none(), st.just(()), st.just(T), st.just((T,)), st.just(torch.zeros(3, 5)),
                          st.just({"x": T}), VALUE, st.lists(st.just(T), max_size=3))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(module=st.sampled_from(MODULES),
       inputs=MODULE_INPUTS, kwargs=st.dictionaries(st.sampled_from(["example_kwargs", "strict", "roles", "bogus"]),
                                                    st.one_of(VALUE, st.just({"x": T})), max_size=2))
def test_random_module_traces_give_a_graph_or_a_user_error(module, inputs, kwargs):
    _call("trace", (module, inputs), kwargs)


def test_no_temp_files_left_by_failed_api_calls(workdir):
    os.mkdir("rep")
    with pytest.raises(UserError):
        nmsim.write_report("rep", workload="nope")
    assert sorted(os.listdir(workdir)) == ["rep"]
