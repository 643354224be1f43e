"""Kept answers (nmsim.kept_answers): the same question asked again prints the first answer byte for byte, in every
format and to --out, without pricing (nor importing pandas); any change to the question prices anew."""
from __future__ import annotations

import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    ["price", "gpt2", "--hardware", "a100", "--mode", "prefill", "--batch", "2"],
    ["price", "gpt2", "--hardware", "h100", "--mode", "decode", "--batch", "4", "--by", "layer"],
    ["compare", "gpt2", "--hardware", "a100,l4", "--patterns", "dense,2:4", "--mode", "decode", "--batch", "8"],
    ["budget", "gpt2", "--sparsity", "ff=2:4", "--recipes", "sr-ste", "--tokens", "1e9", "--batch", "8",
     "--hardware", "a100"],
]


@pytest.fixture
def building(tmp_path, monkeypatch):
    """A fresh cache folder in ``build`` mode (the pricing commands' default outside the test session)."""
    monkeypatch.setenv("NMSIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NMSIM_CACHE", "build")
    return tmp_path / "cache" / "answers"


def _ask(argv, capsys) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _no_pricing(monkeypatch) -> None:
    """From here on, pricing fails: an answer can only come from the kept one."""
    import nmsim.api.pricing as pricing

    def refuse(*a, **k):
        raise AssertionError("priced again")
    for name in ("price_step", "compare_rows"):
        monkeypatch.setattr(pricing, name, refuse)
    import nmsim.api.training as training
    monkeypatch.setattr(training, "budget_run", refuse)


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_kept_answer_is_the_first_byte_for_byte(fmt, building, capsys, monkeypatch):
    first = [_ask([*q, "--format", fmt], capsys) for q in QUESTIONS]
    assert all(code == 0 and out for code, out, _ in first), first
    assert len(list(building.iterdir())) == len(QUESTIONS)
    _no_pricing(monkeypatch)
    again = [_ask([*q, "--format", fmt], capsys) for q in QUESTIONS]
    assert again == first
    if fmt != "table":   # price and compare: what was priced goes to stderr, kept too
        assert all(err.startswith("# priced: ") for _, _, err in again[:3]), again


def test_kept_answer_to_out(building, tmp_path, capsys, monkeypatch):
    out = tmp_path / "step.csv"
    q = [*QUESTIONS[0], "--format", "csv", "--out", str(out)]
    code, stdout, err = _ask(q, capsys)
    text = out.read_bytes()
    assert code == 0 and stdout == "" and err.startswith("# priced: gpt2 prefill") and text.startswith(b"role,")
    out.unlink()
    _no_pricing(monkeypatch)
    assert _ask(q, capsys) == (0, "", err) and out.read_bytes() == text     # written again, the same bytes
    out.write_text("mine\n")   # a file nmsim did not write is refused on a kept answer as well
    code, stdout, err = _ask(q, capsys)
    assert code == 2 and err.startswith(f"nmsim: error: {out}: ") and out.read_text() == "mine\n"


def test_a_changed_file_is_another_question(building, tmp_path, capsys):
    spec = tmp_path / "w.yaml"
    text = (ROOT / "examples" / "my-workload.yaml").read_text()
    spec.write_text(text)
    q = ["price", str(spec), "--hardware", "a100", "--format", "csv"]
    first = _ask(q, capsys)
    assert first[0] == 0
    assert _ask(q, capsys) == first
    spec.write_text(text.replace("layers: ", "layers: 1", 1))   # one more digit: a deeper model
    second = _ask(q, capsys)
    assert second[0] == 0 and second[1] != first[1]
    assert len(list(building.iterdir())) == 2


def test_only_build_mode_keeps_and_off_reads_nothing(building, capsys, monkeypatch):
    q = [*QUESTIONS[0], "--format", "csv"]
    monkeypatch.setenv("NMSIM_CACHE", "read")
    first = _ask(q, capsys)
    assert first[0] == 0 and not building.exists()
    monkeypatch.setenv("NMSIM_CACHE", "build")
    assert _ask(q, capsys) == first and len(list(building.iterdir())) == 1
    monkeypatch.setenv("NMSIM_CACHE", "off")
    _no_pricing(monkeypatch)
    with pytest.raises(AssertionError, match="priced again"):
        main(q)


def test_a_long_answer_is_not_kept(building, capsys, monkeypatch):
    from nmsim import kept_answers

    q = [*QUESTIONS[0], "--format", "csv"]
    monkeypatch.setenv("NMSIM_CACHE", "off")
    size = len("".join(_ask(q, capsys)[1:]))
    monkeypatch.setenv("NMSIM_CACHE", "build")
    monkeypatch.setattr(kept_answers, "MAX_CHARS", size - 1)   # one character over: priced, not kept
    assert _ask(q, capsys)[0] == 0 and not building.exists()
    monkeypatch.setattr(kept_answers, "MAX_CHARS", size)
    assert _ask(q, capsys)[0] == 0 and len(list(building.iterdir())) == 1


def test_errors_are_not_kept(building, capsys):
    q = ["price", "gpt2", "--hardware", "a100", "--mode", "decode", "--seq", "8"]
    for _ in range(2):
        code, out, err = _ask(q, capsys)
        assert code == 2 and out == "" and err.startswith("nmsim: error: --seq: decode prices one new token")
    assert not building.exists() or not list(building.iterdir())


def test_cache_clear_removes_kept_answers(building, capsys):
    assert _ask([*QUESTIONS[0], "--format", "csv"], capsys)[0] == 0
    code, out, _ = _ask(["cache", "clear"], capsys)
    assert code == 0 and out.splitlines()[1] == f"removed 1 kept answer(s), 0.0 MiB, from {building}"
    assert not list(building.iterdir())


def test_progress_is_not_part_of_an_answer(capsys):
    """Progress writes past the recorder of the answer (nmsim.progress.progress_stream)."""
    from nmsim import kept_answers
    from nmsim.progress import progress_stream

    real = sys.stderr
    recorder = kept_answers._Recorder(real)   # noqa: SLF001 - the recorder the CLI installs
    sys.stderr = recorder
    try:
        print("# answer", file=sys.stderr)
        print("nmsim: tracing ...", file=progress_stream())
    finally:
        sys.stderr = real
    assert recorder.text() == "# answer\n" and capsys.readouterr().err == "# answer\nnmsim: tracing ...\n"


def test_a_kept_answer_imports_no_pandas(building, capsys):
    """The warm path of issue 25: a repeated question imports neither pandas, numpy nor torch."""
    q = [*QUESTIONS[0], "--format", "json"]
    first = _ask(q, capsys)
    probe = ("import sys\nfrom nmsim.cli import main\nrc = main(sys.argv[1:])\nsys.stdout.flush()\n"
             "print('HEAVY=' + ','.join(m for m in ('pandas', 'numpy', 'torch', 'yaml') if m in sys.modules), "
             "file=sys.stderr)\nsys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", probe, *q], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ}, timeout=600)
    assert r.returncode == 0 and r.stdout == first[1], r.stderr
    assert r.stderr == first[2] + "HEAVY=\n"


@settings(max_examples=8, deadline=None)
@given(batch=st.integers(1, 64), mode=st.sampled_from(["prefill", "decode", "training"]),
       fmt=st.sampled_from(["table", "csv", "json"]))
def test_any_question_asked_again_gets_its_own_answer(tmp_path_factory, batch, mode, fmt):
    folder = tmp_path_factory.mktemp("cache")
    saved = {k: os.environ.get(k) for k in ("NMSIM_CACHE_DIR", "NMSIM_CACHE")}
    os.environ["NMSIM_CACHE_DIR"], os.environ["NMSIM_CACHE"] = str(folder), "build"
    try:
        answers = []
        for _ in range(2):
            out, err = StringIO(), StringIO()
            with redirect_stdout(out), redirect_stderr(err):
                code = main(["price", "gpt2", "--hardware", "a100", "--mode", mode, "--batch", str(batch),
                             "--format", fmt])
            answers.append((code, out.getvalue(), err.getvalue()))
        assert answers[0] == answers[1] and answers[0][0] == 0
        assert len(list((folder / "answers").iterdir())) == 1
    finally:
        os.environ.update({k: v for k, v in saved.items() if v is not None})


def test_a_terminal_is_told_the_answer_is_kept(building, capsys, monkeypatch):
    """On a terminal a kept answer says so in one line (its timings are the first call's); a pipe gets none."""
    q = QUESTIONS[0]
    first = _ask(q, capsys)
    _no_pricing(monkeypatch)
    assert _ask(q, capsys) == first                                    # not a terminal: the answer, byte for byte
    monkeypatch.setenv("NMSIM_PROGRESS", "bar")                        # as on a terminal
    code, out, err = _ask(q, capsys)
    assert code == 0 and out == first[1] and err.startswith(first[2])
    note = err[len(first[2]):]
    assert note.startswith("nmsim: the answer kept from 20") and note.endswith(
        " (same question, inputs and code); NMSIM_CACHE=off prices it again\n") and note.count("\n") == 1
