"""Outputs never replace what nmsim did not write: user-named files (ledger) and nmsim folders (manifest)."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from nmsim.cli import main
from nmsim.errors import UserError
from nmsim.io import MARKER, install_folder, write_text
from nmsim.io import ledger

TRACE = ["trace", "vit-tiny", "--by", "role", "--format", "csv"]


def run(argv, capsys):
    code = main(argv)
    return code, capsys.readouterr().err.strip().splitlines()


def test_a_users_file_at_out_is_refused_and_untouched(tmp_path, capsys):
    mine = tmp_path / "thesis.csv"
    mine.write_bytes(b"my own data\n")
    code, err = run([*TRACE, "--out", str(mine)], capsys)
    assert code == 2
    assert err == [f"nmsim: error: {mine}: exists and nmsim did not write it (or it changed since); nothing was "
                   "changed: remove it or give another name for the output file"]
    assert mine.read_bytes() == b"my own data\n"


def test_nmsims_own_file_is_replaced_until_the_user_edits_it(tmp_path, capsys):
    out = tmp_path / "schedule.csv"
    assert run([*TRACE, "--out", str(out)], capsys)[0] == 0
    first = out.read_bytes()
    assert run([*TRACE, "--out", str(out)], capsys)[0] == 0     # its own output: re-running is fine
    assert out.read_bytes() == first
    out.write_bytes(first + b"# my note\n")                          # now partly the user's
    code, err = run([*TRACE, "--out", str(out)], capsys)
    assert code == 2 and len(err) == 1 and "nmsim did not write it (or it changed since)" in err[0]
    assert out.read_bytes() == first + b"# my note\n"


def test_outputs_get_the_umask_mode_or_keep_the_replaced_files_mode(tmp_path):
    old = os.umask(0o022)
    try:
        p = write_text(tmp_path / "a.csv", "x\n", mine_only=True)
        assert stat.S_IMODE(p.stat().st_mode) == 0o644
        os.chmod(p, 0o600)
        write_text(p, "y\n", mine_only=True)
        assert stat.S_IMODE(p.stat().st_mode) == 0o600 and p.read_text() == "y\n"
    finally:
        os.umask(old)


def test_unreadable_or_damaged_ledger_means_not_nmsims(tmp_path, monkeypatch):
    monkeypatch.setenv("NMSIM_STATE_DIR", str(tmp_path / "state"))
    f = write_text(tmp_path / "t.csv", "x\n", mine_only=True)
    assert ledger.wrote(f)
    ledger.ledger_path().write_text("{not json")
    assert not ledger.wrote(f)
    with pytest.raises(UserError, match="nmsim did not write it"):
        write_text(f, "y\n", mine_only=True)
    assert f.read_text() == "x\n"


def _folder(tmp_path: Path, name: str, files: dict) -> Path:
    d = tmp_path / name
    d.mkdir()
    for rel, text in files.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text(text)
    return d


def test_marker_lists_every_file_with_its_hash(tmp_path):
    out = install_folder(_folder(tmp_path, ".t1", {"index.html": "v1", "fwd/a.csv": "1"}), tmp_path / "rep")
    marker = json.loads((out / MARKER).read_text())
    assert sorted(marker["files"]) == ["fwd/a.csv", "index.html"]
    install_folder(_folder(tmp_path, ".t2", {"index.html": "v2"}), out)        # all nmsim's: replaced
    assert (out / "index.html").read_text() == "v2" and not (out / "fwd").exists()


@pytest.mark.parametrize("change", ["added", "edited", "folder"])
def test_a_file_the_user_put_in_an_nmsim_folder_blocks_replacement(tmp_path, change):
    out = install_folder(_folder(tmp_path, ".t1", {"index.html": "v1"}), tmp_path / "rep")
    if change == "added":
        (out / "notes.md").write_text("my notes")
        name = "notes.md"
    elif change == "edited":
        (out / "index.html").write_text("v1 + my edit")
        name = "index.html"
    else:
        (out / "drafts").mkdir()
        name = "drafts"
    before = {p.relative_to(out).as_posix(): (p.read_bytes() if p.is_file() else None) for p in out.rglob("*")}
    with pytest.raises(UserError) as exc:
        install_folder(_folder(tmp_path, ".t2", {"index.html": "v2"}), out)
    assert str(exc.value) == (f"{out}: holds {name}, which nmsim did not write (or which changed since); nothing was "
                              "changed: move it out or give a new folder name for the report")
    after = {p.relative_to(out).as_posix(): (p.read_bytes() if p.is_file() else None) for p in out.rglob("*")}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]               # the new temp folder is gone too


@pytest.mark.parametrize("at", [2, 3])    # os.replace calls: 1 moves the old report aside, 2 installs the new
def test_an_interrupt_while_swapping_folders_leaves_the_old_report_whole(tmp_path, monkeypatch, at):
    """A Ctrl-C or SIGTERM right after the old report was moved aside (before or as the new one is moved in)
    puts the old report back and leaves no temp folder: ``out`` is as it was."""
    import nmsim.io.write as write
    out = install_folder(_folder(tmp_path, ".t1", {"index.html": "v1"}), tmp_path / "rep")
    calls, real = [], os.replace

    def replace(src, dst):
        calls.append(1)
        if len(calls) == at - 1:
            real(src, dst)
            raise KeyboardInterrupt            # lands just after this step completed
        return real(src, dst)
    monkeypatch.setattr(write.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        install_folder(_folder(tmp_path, ".t2", {"index.html": "v2"}), out)
    monkeypatch.setattr(write.os, "replace", real)
    assert (out / "index.html").read_text() == ("v1" if at == 2 else "v2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


def test_a_signal_as_a_file_lands_still_records_it_as_nmsims(tmp_path, monkeypatch):
    """Ctrl-C arriving just as the finished file is renamed into place: the file and its ledger entry land
    together, so the next run may replace it (before, the entry was lost and the next run refused the file)."""
    import signal

    import nmsim.io.write as write
    real = os.replace

    def replace_then_interrupt(src, dst):
        real(src, dst)
        signal.raise_signal(signal.SIGINT)      # handled at the next bytecode: right after the rename
    monkeypatch.setattr(write.os, "replace", replace_then_interrupt)
    out = tmp_path / "t.csv"
    with pytest.raises(KeyboardInterrupt):
        write_text(out, "a\n", mine_only=True)
    monkeypatch.setattr(write.os, "replace", real)
    assert out.read_text() == "a\n"
    write_text(out, "b\n", mine_only=True)      # nmsim's own file: replaced, not refused
    assert out.read_text() == "b\n"
