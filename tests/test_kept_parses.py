"""Data files kept parsed in the cache (nmsim.io.kept_parses) and the package's remembered fingerprints
(nmsim.keeping): the same text gives the same document without PyYAML, other text or other checks parse anew,
errors are never kept, and a changed package file computes its digests again."""
from __future__ import annotations

import datetime
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nmsim.errors import UserError
from nmsim.graph.cache import cache_for
from nmsim.io import kept_parses as parsed
from nmsim.io.read import parse_yaml as parse_text


def parse_yaml(text: str, where: str):
    """What the data loaders do: the document kept for the text, else parsed with nmsim.io's checks."""
    return parsed.parsed(text, "nmsim.io.read", lambda t: parse_text(t, where))


@pytest.fixture
def building(tmp_path, monkeypatch):
    monkeypatch.setenv("NMSIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NMSIM_CACHE", "build")
    with cache_for("price"):
        yield tmp_path / "cache"


def _refuse(text):
    raise AssertionError("parsed again")


def test_a_document_is_parsed_once(building):
    text = "name: x\npeak: {bf16: 312.0, int8: 624}\nlist: [1, 2.5, null, true, 'a']\n"
    first = parse_yaml(text, "x.yaml")
    assert first == {"name": "x", "peak": {"bf16": 312.0, "int8": 624}, "list": [1, 2.5, None, True, "a"]}
    entries = list((building / "parsed").iterdir())
    assert len(entries) == 1 and parsed.ENTRY_RE.match(entries[0].name)
    again = parsed.parsed(text, "nmsim.io.read", _refuse)
    assert again == first and type(again["peak"]["int8"]) is int and type(again["peak"]["bf16"]) is float
    assert parse_yaml(text + "more: 1\n", "x.yaml")["more"] == 1   # other text: parsed, kept apart
    assert len(list((building / "parsed").iterdir())) == 2
    with pytest.raises(AssertionError, match="parsed again"):   # another parser's entries never mix
        parsed.parsed(text, "libyaml-safe", _refuse)


def test_what_json_cannot_give_back_is_not_kept(building):
    doc = parse_yaml("when: 2025-06-01\n1: one\n", "x.yaml")
    assert doc == {"when": datetime.date(2025, 6, 1), 1: "one"}
    assert not (building / "parsed").exists()


def test_errors_are_raised_every_time_and_never_kept(building):
    for _ in range(2):
        with pytest.raises(UserError, match="duplicate key 'a' on line 2 \\(first on line 1\\)"):
            parse_yaml("a: 1\na: 2\n", "dup.yaml")
    assert not (building / "parsed").exists()


def test_read_and_off_modes_keep_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("NMSIM_CACHE_DIR", str(tmp_path))
    for mode in ("read", "off"):
        monkeypatch.setenv("NMSIM_CACHE", mode)
        with cache_for("price"):
            assert parse_yaml("a: 1\n", "a.yaml") == {"a": 1}
    assert not (tmp_path / "parsed").exists()


def test_a_bundled_spec_loads_the_same_from_its_kept_parse(building):
    from nmsim.hardware import loader

    path = loader.SPEC_DIR / "a100-sxm4-80gb.yaml"
    fresh = loader._bundled_document(path)
    assert parsed.parsed(path.read_text(), "libyaml-safe", _refuse) == fresh
    assert repr(loader.parse_spec(fresh, path.name, str(path))) == repr(loader.load_file(path))


scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                    st.floats(allow_nan=False), st.text(max_size=8))
documents = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                         max_leaves=12)


@given(documents)
def test_a_kept_document_is_the_parsed_one_types_included(doc):
    import json

    assert parsed._exact(doc)
    back = json.loads(json.dumps(doc))
    assert back == doc and repr(back) == repr(doc)   # 1 stays 1, 1.0 stays 1.0, True stays True


def test_a_changed_package_file_computes_the_digest_again(building, monkeypatch):
    from nmsim import keeping

    calls = []

    def digest(value):
        return lambda: calls.append(value) or value
    monkeypatch.setattr(keeping, "_STAT", ["a" * 64])
    assert keeping.remembered("code", digest("first")) == "first"
    assert keeping.remembered("code", digest("second")) == "first"   # same files: remembered
    monkeypatch.setattr(keeping, "_STAT", ["b" * 64])                # a file's size or mtime changed
    assert keeping.remembered("code", digest("third")) == "third"
    assert calls == ["first", "third"]
    assert sorted(os.listdir(building / keeping.FINGERPRINTS)) == [f"files-{'a' * 64}.json", f"files-{'b' * 64}.json"]


def test_the_signature_follows_a_file_s_modification_time(tmp_path, monkeypatch):
    from nmsim import keeping

    (tmp_path / "m.py").write_text("x = 1\n")
    monkeypatch.setattr(keeping, "ROOT", tmp_path)
    monkeypatch.setattr(keeping, "_STAT", [])
    before = keeping.files_signature()
    keeping._STAT.clear()
    os.utime(tmp_path / "m.py", ns=(1, 1))
    assert keeping.files_signature() != before
