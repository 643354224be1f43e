"""One plan grammar: every form of a plan (text, ``+`` items, mappings, recipe targets, the trainer's config, run
folder names) converts through nmsim.sparsity.SparsityPlan, and every output shows its text form."""
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmsim.errors import UserError
from nmsim.graph.roles import ROLE_GROUPS
from nmsim.recipes import make_recipe
from nmsim.sparsity import NMPattern, SparsityPlan
from nmsim.sparsity.lists import parse_pattern_list
from nmsim.train.loop import RunConfig
from nmsim.train.plans import parse_sparsity, run_plan
from nmsim.train.sweep import run_folder

P = SparsityPlan.parse
REPO = Path(__file__).resolve().parents[1]


def test_text_form_and_label():
    assert str(P("qk=1:4+ff=1:8")) == "qk=1:4,ff=1:8" == P("qk=1:4, ff=1:8").label
    assert P("FF=1:8T").label == "ff=1:8T"
    assert P("dense").label == "dense" and P("ff=dense").label == "dense" and str(P("ff=dense")) == "ff=dense"
    assert P("ff@0-5=1:8,ff@3=dense").label == "ff@0-5=1:8,ff@3=dense"
    # a '+' inside a regular expression's selector does not split the rule
    assert [str(r) for r in P(r"re:blocks\.[0-3]+\.ff\..*=1:8+qk=1:4").rules] == [r"re:blocks\.[0-3]+\.ff\..*=1:8",
                                                                                   "qk=1:4"]
    assert parse_pattern_list("dense,2:4,ff=1:8+qk=1:4") == ["dense", "2:4", "ff=1:8,qk=1:4"]


def test_every_form_converts_through_the_plan():
    plan = P("ff=1:8,qk@0-3=1:4")
    assert plan.targets == {"ff": NMPattern(1, 8), "qk@0-3": NMPattern(1, 4)}
    assert plan.to_mapping() == {"ff": "1:8", "qk@0-3": "1:4"}
    assert SparsityPlan.of(plan.to_mapping()) == SparsityPlan.of(plan.targets) == SparsityPlan.of(str(plan)) == plan
    assert SparsityPlan.of(None).is_dense and SparsityPlan.of(plan) is plan
    # recipe targets: the plan given once, in any form
    for form in ("ff=1:8,qk=1:4", {"ff": "1:8", "qk": "1:4"}, P("ff=1:8,qk=1:4")):
        assert make_recipe("sr-ste", form).targets == {"ff": NMPattern(1, 8), "qk": NMPattern(1, 4)}
    with pytest.raises(UserError, match=r"^--sparsity: ff: recipes schedule flat N:M patterns, got 2:4/2:4$"):
        make_recipe("sr-ste", "ff=2:4/2:4")
    assert P("ff=1:8,qk=1:4").with_pattern(NMPattern(2, 4)).label == "ff=2:4,qk=2:4"


def test_trainer_config_is_the_plan_mapping():
    assert parse_sparsity("ff=1:16,QK=1:4") == {"ff": "1:16", "qk": "1:4"}
    assert parse_sparsity("ff=1:8+qk=dense") == {"ff": "1:8", "qk": "dense"}
    for text, msg in (("ff@0-1=1:8", "the trainer takes role selectors without layers (e.g. ff=1:16), got 'ff@0-1=1:8'"),
                      ("all=1:8", "the trainer takes role selectors without layers (e.g. ff=1:16), got 'all=1:8'"),
                      ("ff=1:8/col", "the trainer sets the direction for every layer with --direction, got 'ff=1:8/col'"),
                      ("ff=2:4/2:4", "the trainer takes flat N:M patterns, got 'ff=2:4/2:4'"),
                      ("ff=1:0", "'ff=1:0': N > M in pattern '1:0'")):
        with pytest.raises(UserError) as err:
            parse_sparsity(text)
        assert str(err.value).endswith(msg), str(err.value)


def test_run_folders_keep_their_names_and_tables_show_text():
    cfg = RunConfig(recipe="sr-ste", sparsity=parse_sparsity("qk=1:4,ff=1:8"), seed=2)
    assert run_folder("runs", cfg) == Path("runs/digits/sr-ste/ff1_8+qk1_4/seed2")  # the name earlier versions used
    assert run_plan("sr-ste", cfg.sparsity).label == "qk=1:4,ff=1:8"
    assert run_plan("dense", {"ff": "1:16"}).label == "dense"
    assert run_folder("runs", RunConfig(recipe="dense", sparsity={"ff": "1:16"})).parts[-2] == "dense"


@pytest.mark.parametrize("slug, text", [("ff1_16", "ff=1:16"), ("ff1_8+qk1_4", "ff=1:8,qk=1:4"),
                                        ("ff1_16+qkv1_16", "ff=1:16,qkv=1:16"), ("dense", "dense"),
                                        ("ff1=1_16", "ff1=1:16"), ("ff@0-5=1_8+ff2_4~col", "ff@0-5=1:8,ff=2:4/col"),
                                        ("ff2_4~2_4T", "ff=2:4/2:4T")])
def test_slug_reads_back(slug, text):
    assert SparsityPlan.from_slug(slug).label == text
    assert P(text).slug == slug


def test_bad_slug_is_one_line():
    with pytest.raises(UserError, match=r"^run folder: not a plan folder name \(expected e.g. ff1_16 or "
                                        r"ff1_8\+qk1_4\): 'seed0' \(unknown selector 'seed' "):
        SparsityPlan.from_slug("seed0")
    with pytest.raises(UserError, match=r"^run folder: not a plan folder name .*: 'ff' \(no pattern\)$"):
        SparsityPlan.from_slug("ff")


_PATTERNS = st.builds(lambda m, n, t: f"{min(n, m)}:{m}" + ("T" if t else ""), st.sampled_from([2, 4, 8, 16, 128]),
                      st.integers(1, 8), st.booleans()) | st.just("dense") | st.just("2:4/1:2")
_RULES = st.builds(lambda sel, layers, pat, col: sel + layers + "=" + pat + col,
                   st.sampled_from([*ROLE_GROUPS, "all", r"re:blocks\.[0-3]+\..*"]),
                   st.sampled_from(["", "@3", "@0-5"]), _PATTERNS, st.sampled_from(["", "/col"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(_RULES, min_size=1, max_size=4))
def test_slug_round_trip(rules):
    plan = P(",".join(rules))
    back = SparsityPlan.from_slug(plan.slug)
    assert back.label == plan.label if plan.is_dense else sorted(map(str, back.rules)) == sorted(map(str, plan.rules))
    assert back.slug == plan.slug and "/" not in plan.slug and ":" not in plan.slug and "," not in plan.slug
    assert P(plan.label) == plan or plan.is_dense


def test_old_evidence_protocol_still_resumes(tmp_path):
    """A protocol.json written with folder-name keys (``ff1_16+qkv1_16``) is the same protocol."""
    from nmsim.evidence.protocol import Protocol, load_protocol

    shutil.copy(REPO / "reports" / "evidence" / "protocol.json", tmp_path / "protocol.json")
    data = json.loads((tmp_path / "protocol.json").read_text())
    data["protocol"]["geometric_k"] = {"ff1_16+qkv1_16": 4, "ff1_32": 2}
    (tmp_path / "protocol.json").write_text(json.dumps(data))
    p, _ = load_protocol(tmp_path)
    assert p.geometric_k == {"ff=1:16,qkv=1:16": 4, "ff=1:32": 2}
    assert Protocol.from_dict(p.to_dict()) == p


def test_an_earlier_versions_runs_folder_still_loads(tmp_path):
    """A run folder named and configured the way earlier versions did: read with its plan in text form, and a
    sweep of the same config maps to that same folder (so it is reused, not retrained)."""
    from nmsim.curves.runs import load_curves

    folder = tmp_path / "runs" / "digits" / "mdgf-exp" / "ff1_16+qkv1_16" / "seed3"
    folder.mkdir(parents=True)
    config = {"task": "digits", "recipe": "mdgf-exp", "sparsity": {"ff": "1:16", "qkv": "1:16"}, "seed": 3}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "metrics.jsonl").write_text(json.dumps({"step": 5, "train_flops": 1e9, "accuracy": 0.5}) + "\n")
    curves = load_curves(tmp_path / "runs")
    assert curves["pattern"].tolist() == ["ff=1:16,qkv=1:16"] and curves["recipe"].tolist() == ["mdgf-exp"]
    assert run_folder(tmp_path / "runs", RunConfig.from_dict(config)) == folder
