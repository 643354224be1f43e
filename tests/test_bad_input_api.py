"""Issue 20: every Python API function (``nmsim.__all__``) with bad arguments raises :class:`UserError` whose
text is the CLI's one-line message for the same mistake (without the ``nmsim: error: `` prefix), and nothing is
written; a module that cannot be traced on the meta device says why in one line.

``API_CASES``: ``(id, function name in nmsim, args, kwargs, expected text)``. ``CLI_EQUIVALENT[id]`` is the
command line that makes the same mistake, where there is one: it must print exactly the same text. Property
tests (hypothesis) then throw random bad and structured arguments at every function: a result or a UserError,
never another exception, within 2 s each.
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
from test_bad_input import assert_one_error, run_cli, snapshot


def _unknown_workload(name: str) -> str:
    from nmsim.graph import list_workloads

    return (f"workload: unknown workload {name!r} (bundled: {', '.join(list_workloads())}; or give a workload .yaml "
            "or a config.json path)")


class Branchy(torch.nn.Module):
    """Branches on a tensor's value: cannot run on meta tensors."""

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(4, 4)

    def forward(self, x):
        return self.proj(x) if x.sum().item() > 0 else x


class Outer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Branchy()

    def forward(self, x):
        return self.block(x)


class Nonzero(torch.nn.Module):
    def forward(self, x):
        return torch.nonzero(x)


class ToList(torch.nn.Module):
    def forward(self, x):
        return torch.tensor(x.tolist())


LINEAR = torch.nn.Linear(8, 8)
X = torch.zeros(2, 8)
DATA_DEPENDENT = ("cannot be traced on the meta device: data-dependent control flow or a read of a tensor's value "
                  "(.item(), bool(), .tolist(), .numpy()); branch on shapes instead")
RESERVED = "not an API keyword: "
NEED_INPUTS = "example_inputs: give the module's example inputs (a tensor or a tuple of tensors; () for none)"
TYPES = "expected a string, a number or a path, got"

API_CASES = [
    # a value that starts with '-' is a value, never an option
    ("price-workload-help", "price", ("--help", "a100"), {}, _unknown_workload("--help")),
    ("price-workload-dash", "price", ("-x", "a100"), {}, _unknown_workload("-x")),
    ("trace-workload-dash", "trace", ("--version",), {}, _unknown_workload("--version")),
    ("compare-workload-dash", "compare", ("-h",), {}, _unknown_workload("-h")),
    ("price-sparsity-dash", "price", ("vit-tiny", "a100"), {"sparsity": "-x"},
     "--sparsity '-x': expected SELECTOR[@LAYERS]=PATTERN[/row|/col], e.g. ff=1:16"),
    ("compare-patterns-dash", "compare", ("vit-tiny",), {"patterns": "-1:4"},
     "--patterns: not an N:M pattern: '-1:4' (expected e.g. 1:16 or dense)"),
    ("train-lr-negative", "train", ("run",), {"lr": -1}, "--lr: must be in (0, 10], got -1"),
    ("schedule-beta-negative", "schedule", ("mdgf-linear", "ff=1:8"), {"steps": 10, "beta": -1},
     "--beta: beta must be > 0, got -1"),
    # unknown keywords: the CLI's unknown option
    ("price-unknown", "price", ("vit-tiny", "a100"), {"unknown": 1}, "nmsim: unrecognized arguments: --unknown 1"),
    ("budget-unknown", "budget", ("vit-tiny", "ff=2:4"), {"epochs": 1, "unknown": 1},
     "nmsim: unrecognized arguments: --unknown 1"),
    ("compare-unknown", "compare", ("vit-tiny",), {"colour": "red"}, "nmsim: unrecognized arguments: --colour red"),
    ("schedule-unknown", "schedule", ("sr-ste", "ff=1:8"), {"steps": 10, "speed": 2},
     "nmsim: unrecognized arguments: --speed 2"),
    ("trace-unknown", "trace", ("gpt2",), {"bogus": 1}, "nmsim: unrecognized arguments: --bogus 1"),
    ("train-unknown", "train", ("run",), {"bogus": True}, "nmsim: unrecognized arguments: --bogus"),
    ("report-unknown", "report", ("rep",), {"bogus": 1}, "nmsim: unrecognized arguments: --bogus 1"),
    # missing required arguments: the parser's own words
    ("price-no-hardware", "price", ("vit-tiny",), {}, "nmsim price: the following arguments are required: --hardware"),
    ("budget-no-sparsity", "budget", ("vit-tiny",), {"epochs": 1},
     "nmsim budget: the following arguments are required: --sparsity"),
    ("schedule-no-recipe", "schedule", (), {"steps": 10},
     "nmsim schedule: the following arguments are required: RECIPE"),
    ("price-no-workload", "price", (None, "a100"), {}, "workload: give a workload name or path, or --hf-config"),
    ("trace-nothing", "trace", (), {}, "workload: give a workload name or path, or --hf-config"),
    ("load-workload-none", "load_workload", (None,), {}, "workload: give a workload name or path, or --hf-config"),
    ("train-no-out", "train", (), {"epochs": 1}, "--out: give the run folder (out=...)"),
    ("report-no-out", "report", (), {"no_train": True}, "--out: give the report folder (out=...)"),
    # wrong values, as the command line words them
    ("budget-epochs-text", "budget", ("vit-tiny", "ff=2:4"), {"epochs": "abc"},
     "nmsim budget: argument --epochs: invalid float value: 'abc'"),
    ("budget-epochs-zero", "budget", ("vit-tiny", "ff=2:4"), {"epochs": 0}, "--epochs: must be a positive number, got 0"),
    ("budget-recipe-typo", "budget", ("vit-tiny", "ff=2:4"), {"epochs": 1, "recipes": ["dense", "typo"]},
     "--recipes: unknown recipe 'typo' (valid: dense, static, sr-ste, mdgf-linear, mdgf-exp, sdgf-stepwise, "
     "sdgf-geometric; sets: all, paper, quick)"),
    ("price-batch-flag", "price", ("vit-tiny", "a100"), {"batch": True},
     "nmsim price: argument --batch: expected one argument"),
    ("price-batch-nan", "price", ("vit-tiny", "a100"), {"batch": float("nan")},
     "nmsim price: argument --batch: not a positive integer (or N:M range): 'nan'"),
    ("price-batch-huge", "price", ("gpt2", "a100"), {"batch": 10**30},
     "gpt2: batch: must be an integer from 1 to 16,777,216, got 1000000000000000000000000000000"),
    ("price-empty-plan", "price", ("vit-tiny", "a100"), {"sparsity": ",,,"},
     "--sparsity ',,,': no rule given; give e.g. ff=1:16, or dense"),
    ("price-layers-past-depth", "price", ("gpt2", "a100"), {"sparsity": "ff@0-99=1:8"},
     "--sparsity 'ff@0-99=1:8': layers 0-99 go past the model's 12 layers (0 to 11)"),
    ("budget-layers-past-depth", "budget", ("gpt2", "ff@12=2:4"), {"epochs": 1},
     "--sparsity 'ff@12=2:4': layer 12 is past the model's 12 layers (0 to 11)"),
    ("schedule-recipe-typo", "schedule", ("typo",), {"steps": 10},
     "--recipe: unknown recipe 'typo' (valid: dense, static, sr-ste, mdgf-linear, mdgf-exp, sdgf-stepwise, "
     "sdgf-geometric, custom)"),
    ("trace-workload-number", "trace", (5,), {}, _unknown_workload("5")),
    ("trace-missing-yaml", "trace", (Path("nope.yaml"),), {}, "nope.yaml: workload file not found"),
    ("load-workload-missing", "load_workload", ("nope.yaml",), {}, "nope.yaml: workload file not found"),
    ("report-name-path", "report", ("rep",), {"name": "../x", "no_train": True},
     "--name '../x': a report name is one folder name (it names reports/<name>): not empty, '.' or '..', no '/' "
     "or '\\'; give another folder as --out"),
    # what only the API can get wrong: Python types, NUL bytes, the API's own keywords
    ("price-batch-dict", "price", ("vit-tiny", "a100"), {"batch": {}}, f"--batch: {TYPES} dict"),
    ("price-hardware-object", "price", ("vit-tiny", object()), {}, f"--hardware: {TYPES} object"),
    ("budget-epochs-none-list", "budget", ("vit-tiny", "ff=2:4"), {"epochs": [None]}, f"--epochs: {TYPES} NoneType"),
    ("load-workload-list", "load_workload", ([1],), {}, f"workload: {TYPES} list"),
    ("compare-workload-bytes", "compare", (b"gpt2",), {}, f"workload: {TYPES} bytes"),
    ("price-workload-nul", "price", ("vit\x00", "a100"), {}, "workload: must be text without NUL bytes"),
    ("price-help-keyword", "price", ("vit-tiny", "a100"), {"help": True},
     f"--help: {RESERVED}see help(nmsim.<function>)"),
    ("price-out-keyword", "price", ("vit-tiny", "a100"), {"out": "t.csv"},
     f"--out: {RESERVED}the API returns a DataFrame; save it with DataFrame.to_csv"),
    ("schedule-format-keyword", "schedule", ("sr-ste", "ff=1:8"), {"format": "json"},
     f"--format: {RESERVED}the API returns a DataFrame"),
    ("budget-debug-keyword", "budget", ("vit-tiny", "ff=2:4"), {"debug": True},
     f"--debug: {RESERVED}errors are raised as UserError"),
    # modules traced on the meta device
    ("trace-module-no-inputs", "trace", (LINEAR, None), {}, f"Linear: {NEED_INPUTS}"),
    ("trace-module-dict-inputs", "trace", (LINEAR, {"input": X}), {},
     "Linear: example_inputs: expected a tensor or a tuple of tensors (the module's example inputs), got dict "
     "(give keyword inputs as example_kwargs)"),
    ("trace-module-bad-kwargs", "trace", (LINEAR, X), {"example_kwargs": [X]},
     "Linear: example_kwargs: expected a dict of keyword inputs, got list"),
    ("trace-module-unknown-keyword", "trace", (LINEAR, X), {"batch": 2},
     "trace: unknown keyword 'batch' (known: example_kwargs, config, strict, roles)"),
    ("trace-module-item", "trace", (Branchy(), torch.ones(2, 4)), {},
     f"Branchy: {DATA_DEPENDENT} (Tensor.item() cannot be called on meta tensors)"),
    ("trace-module-item-nested", "trace", (Outer(), torch.ones(2, 4)), {},
     f"Outer (in 'block'): {DATA_DEPENDENT} (Tensor.item() cannot be called on meta tensors)"),
    ("trace-module-tolist", "trace", (ToList(), torch.ones(3)), {},
     f"ToList: {DATA_DEPENDENT} (Cannot copy out of meta tensor; no data!)"),
    ("trace-module-nonzero", "trace", (Nonzero(), torch.ones(3)), {},
     "Nonzero: cannot be traced on the meta device: an op whose output shape depends on tensor values (nonzero, "
     "unique, masked_select, ...) (The register_meta function for torch.nonzero() raises unimplemented by "
     "default, as a correct data-independent implementation does not exist. This implementat...)"),
    ("trace-module-wrong-shape", "trace", (LINEAR, torch.zeros(2, 7)), {},
     "Linear: forward failed on meta tensors (RuntimeError: a and b must have same reduction dim, but got [2, 7] X "
     "[8, 8].)"),
    ("trace-module-too-many-inputs", "trace", (LINEAR, (X, X)), {},
     "Linear: forward failed on meta tensors (TypeError: Linear.forward() takes 2 positional arguments but 3 were "
     "given)"),
    ("trace-inputs-for-a-workload", "trace", ("gpt2", X), {},
     "trace: example inputs are for an nn.Module, got a str to trace"),
]

CLI_EQUIVALENT = {
    "price-workload-help": ["price", "--hardware", "a100", "--", "--help"],
    "price-workload-dash": ["price", "--hardware", "a100", "--", "-x"],
    "trace-workload-dash": ["trace", "--", "--version"],
    "compare-workload-dash": ["compare", "--", "-h"],
    "price-sparsity-dash": ["price", "vit-tiny", "--hardware", "a100", "--sparsity=-x"],
    "compare-patterns-dash": ["compare", "vit-tiny", "--patterns=-1:4"],
    "train-lr-negative": ["train", "--lr=-1", "--out", "run"],
    "schedule-beta-negative": ["schedule", "mdgf-linear", "--sparsity", "ff=1:8", "--steps", "10", "--beta=-1"],
    "price-unknown": ["price", "vit-tiny", "--hardware", "a100", "--unknown", "1"],
    "budget-unknown": ["budget", "vit-tiny", "--sparsity", "ff=2:4", "--epochs", "1", "--unknown", "1"],
    "compare-unknown": ["compare", "vit-tiny", "--colour", "red"],
    "schedule-unknown": ["schedule", "sr-ste", "--sparsity", "ff=1:8", "--steps", "10", "--speed", "2"],
    "trace-unknown": ["trace", "gpt2", "--bogus", "1"],
    "train-unknown": ["train", "--out", "run", "--bogus"],
    "report-unknown": ["report", "--out", "rep", "--bogus", "1"],
    "price-no-hardware": ["price", "vit-tiny"],
    "budget-no-sparsity": ["budget", "vit-tiny", "--epochs", "1"],
    "schedule-no-recipe": ["schedule", "--steps", "10"],
    "price-no-workload": ["price", "--hardware", "a100"],
    "trace-nothing": ["trace"],
    "budget-epochs-text": ["budget", "vit-tiny", "--sparsity", "ff=2:4", "--epochs", "abc"],
    "budget-epochs-zero": ["budget", "vit-tiny", "--sparsity", "ff=2:4", "--epochs", "0"],
    "budget-recipe-typo": ["budget", "vit-tiny", "--sparsity", "ff=2:4", "--epochs", "1", "--recipes", "dense,typo"],
    "price-batch-flag": ["price", "vit-tiny", "--hardware", "a100", "--batch"],
    "price-batch-nan": ["price", "vit-tiny", "--hardware", "a100", "--batch", "nan"],
    "price-batch-huge": ["price", "gpt2", "--hardware", "a100", "--batch", str(10**30)],
    "price-empty-plan": ["price", "vit-tiny", "--hardware", "a100", "--sparsity", ",,,"],
    "price-layers-past-depth": ["price", "gpt2", "--hardware", "a100", "--sparsity", "ff@0-99=1:8"],
    "budget-layers-past-depth": ["budget", "gpt2", "--sparsity", "ff@12=2:4", "--epochs", "1"],
    "schedule-recipe-typo": ["schedule", "typo", "--steps", "10"],
    "trace-workload-number": ["trace", "5"],
    "trace-missing-yaml": ["trace", "nope.yaml"],
    "load-workload-missing": ["trace", "nope.yaml"],
    "report-name-path": ["report", "--out", "rep", "--name", "../x", "--no-train"],
}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("cid,name,args,kwargs,expected", [pytest.param(*c, id=c[0]) for c in API_CASES])
def test_bad_api_call(workdir, capsys, cid, name, args, kwargs, expected):
    (workdir / "keep.txt").write_text("user data")
    before = snapshot(workdir)
    with pytest.raises(UserError) as exc:
        getattr(nmsim, name)(*args, **kwargs)
    assert str(exc.value) == expected
    assert "\n" not in str(exc.value)
    assert snapshot(workdir) == before, "a failed call changed, added or removed files"
    if cid in CLI_EQUIVALENT:
        code, err = run_cli(CLI_EQUIVALENT[cid], capsys)
        assert_one_error(code, err, expected)
        assert snapshot(workdir) == before


def test_every_api_function_has_cases():
    functions = [n for n in nmsim.__all__ if n != "__version__"]
    assert sorted(functions) == ["budget", "compare", "load_workload", "price", "report", "schedule", "trace", "train"]
    assert {name for _, name, *_ in API_CASES} == set(functions)
    assert len(API_CASES) >= 50 and set(CLI_EQUIVALENT) <= {c[0] for c in API_CASES}


def test_keyword_inputs_are_moved_to_meta():
    class TwoInputs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Linear(8, 16), torch.nn.Linear(8, 16)

        def forward(self, x, *, context=None, extra=()):
            return self.a(x) + self.b(context) + sum(extra)

    graph = nmsim.trace(TwoInputs(), X, example_kwargs={"context": torch.ones(2, 8), "extra": [torch.ones(2, 16)]})
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
    "train": ["task", "recipe", "sparsity", "lr", "epochs", "batch", "seed", "bogus"],
    "report": ["workload", "hardware", "patterns", "recipes", "name", "epochs", "bogus"],
}
WORKLOADS = st.one_of(st.sampled_from(["vit-tiny", "--help", "-x", "nope.yaml", ""]), VALUE)
SLOW = {"train": {"epochs": 0}, "report": {"steps_per_epoch": 0}}   # one certain mistake: no training, no report


def _kwargs(name):
    keys = KEYS[name]
    return st.dictionaries(st.sampled_from(keys), VALUE, max_size=4) if keys else st.just({})


def _call(name, args, kwargs):
    try:
        return getattr(nmsim, name)(*args, **kwargs)
    except UserError as exc:
        assert "\n" not in str(exc)
        return exc


def _property(name, positional):
    @settings(max_examples=EXAMPLES, deadline=2000, suppress_health_check=list(HealthCheck), database=None)
    @given(args=positional, kwargs=_kwargs(name))
    def check(args, kwargs):
        _call(name, args, {**kwargs, **SLOW.get(name, {})})
    return check


PROPERTIES = {
    "price": st.tuples(WORKLOADS, st.one_of(st.sampled_from(["a100", "h100", "nope", "-1"]), VALUE)),
    "compare": st.tuples(WORKLOADS),
    "budget": st.tuples(WORKLOADS, st.one_of(st.sampled_from(["ff=2:4", ",,,", "ff@0-99=1:8", "dense"]), VALUE)),
    "schedule": st.tuples(st.one_of(st.sampled_from(["sr-ste", "mdgf-linear", "custom", "-h"]), VALUE),
                          st.one_of(st.sampled_from(["ff=1:8", ""]), VALUE)),
    "trace": st.tuples(WORKLOADS),
    "load_workload": st.tuples(WORKLOADS),
    "train": st.tuples(st.one_of(st.sampled_from(["run", "-run", "a/b"]), VALUE)),
    "report": st.tuples(st.one_of(st.sampled_from(["rep", "-rep"]), VALUE)),
}


# a valid call first, untimed: the 2 s deadline is for answers, not for the first trace of vit-tiny in this process
WARM_UP = {"price": (("vit-tiny", "a100"), {}), "compare": (("vit-tiny",), {}), "trace": (("vit-tiny",), {}),
           "budget": (("vit-tiny", "ff=2:4"), {"epochs": 1, "hardware": "a100"})}


@pytest.mark.parametrize("name", sorted(PROPERTIES))
def test_random_arguments_give_a_result_or_a_user_error(workdir, name):
    (workdir / "keep.txt").write_text("user data")
    if name in WARM_UP:
        args, kwargs = WARM_UP[name]
        getattr(nmsim, name)(*args, **kwargs)
    _property(name, PROPERTIES[name])()
    assert (workdir / "keep.txt").read_text() == "user data"


MODULE_INPUTS = st.one_of(st.none(), st.just(()), st.just(X), st.just((X,)), st.just(torch.zeros(3, 5)),
                          st.just({"x": X}), VALUE, st.lists(st.just(X), max_size=3))


@settings(max_examples=EXAMPLES, deadline=2000, suppress_health_check=list(HealthCheck), database=None)
@given(module=st.sampled_from([LINEAR, Branchy(), Outer(), Nonzero(), ToList(), torch.nn.LayerNorm(8)]),
       inputs=MODULE_INPUTS, kwargs=st.dictionaries(st.sampled_from(["example_kwargs", "strict", "roles", "bogus"]),
                                                    st.one_of(VALUE, st.just({"x": X})), max_size=2))
def test_random_module_traces_give_a_graph_or_a_user_error(module, inputs, kwargs):
    _call("trace", (module, inputs), kwargs)


def test_no_temp_files_left_by_failed_api_calls(workdir):
    os.mkdir("rep")
    with pytest.raises(UserError):
        nmsim.report("rep", workload="nope")
    assert sorted(os.listdir(workdir)) == ["rep"]
