"""Issue 9: the reading/writing layer (nmsim.io), full and read-only disks, Ctrl-C, run-folder locks and report
folders that are replaced only when nmsim wrote them."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nmsim.errors import UserError
from nmsim.io import MARKER, install_folder, load_json, load_yaml, parse_yaml, read_csv, write_bytes, write_text
from tests.test_bad_input import BOMB, assert_one_error, run_cli, snapshot

ROOT = Path(__file__).parent.parent


# ---- reading -------------------------------------------------------------------------------------

def test_billion_laughs_fails_fast_without_expanding(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    start = time.process_time()
    with pytest.raises(UserError) as exc:
        load_yaml(path)
    assert time.process_time() - start < 5   # CPU seconds; the expanded document has 387 million strings
    assert len(str(exc.value)) < 200


def test_shared_aliases_within_limits_are_fine():
    doc = parse_yaml("a: &x {n: 1}\nb: *x\nc: [*x, *x]\n", "t.yaml")
    assert doc == {"a": {"n": 1}, "b": {"n": 1}, "c": [{"n": 1}, {"n": 1}]}


def test_merge_keys_are_not_duplicates():
    doc = parse_yaml("base: &b {x: 1, y: 2}\nnew:\n  <<: *b\n  y: 3\n", "t.yaml")
    assert doc["new"] == {"x": 1, "y": 3}


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "c.json"
    path.write_bytes(b"\xef\xbb\xbf" + b'{"a": 1}')
    assert load_json(path, expect=dict) == {"a": 1}


def test_read_csv_finite_numbers(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("plan,value\nff=1:8,71.5\nff=1:4,1e3\n")
    df = read_csv(path, columns=("plan", "value"), numeric=("value",))
    assert list(df["value"]) == [71.5, 1000.0]


# ---- writing -------------------------------------------------------------------------------------

def test_write_is_atomic_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    write_text(target, "new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_dev_null_is_written_in_place():
    write_text("/dev/null", "x")            # a character device is never replaced by a regular file
    assert Path("/dev/null").is_char_device()


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 256 KiB tmpfs (root only). Skips with the reason where mounting is not allowed."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True,
                         text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip() or 'not root'})")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(mnt: Path) -> None:
    """Fill the file system completely."""
    with open(mnt / "filler", "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass


def test_full_disk_one_line_no_temp_left(small_tmpfs, capsys):
    (small_tmpfs / "keep.csv").write_text("user data\n")
    _fill(small_tmpfs)
    before = snapshot(small_tmpfs)
    code, err = run_cli(["trace", "vit-tiny", "--by", "op", "--format", "csv", "--out",
                         str(small_tmpfs / "new.csv")], capsys)
    assert_one_error(code, err, f"{small_tmpfs}/new.csv: cannot write: no space left on device")
    assert snapshot(small_tmpfs) == before


def test_checkpoint_on_full_disk_leaves_no_temp(small_tmpfs):
    import torch

    from nmsim.train.checkpoint import save_checkpoint

    _fill(small_tmpfs)
    before = snapshot(small_tmpfs)
    with pytest.raises(UserError, match="no space left on device"):
        save_checkpoint(small_tmpfs, {"step": 1, "model": {"w": torch.zeros(200_000)}})
    assert snapshot(small_tmpfs) == before


def test_read_only_file_system(small_tmpfs, capsys):
    (small_tmpfs / "keep.csv").write_text("user data\n")
    if subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], capture_output=True).returncode != 0:
        pytest.skip("cannot remount read-only")
    before = snapshot(small_tmpfs)
    for argv, out in ((["trace", "vit-tiny"], "t.csv"), (["trace", "vit-tiny"], "new/t.csv"),
                      (["report", "--no-train", "--recipes", "sr-ste", "--patterns", "2:4", "--hardware", "a100"],
                       "rep")):
        code, err = run_cli([*argv, "--out", str(small_tmpfs / out)], capsys)
        assert_one_error(code, err, f"{small_tmpfs}/{out}: cannot write: read-only file system")
    assert snapshot(small_tmpfs) == before


# ---- report folders ------------------------------------------------------------------------------

def _fake_report(folder: Path, text: str) -> Path:
    folder.mkdir()
    (folder / "index.html").write_text(text)
    return folder


def test_report_folder_replaced_only_when_marked(tmp_path):
    out = tmp_path / "rep"
    install_folder(_fake_report(tmp_path / ".t1", "v1"), out)
    assert (out / MARKER).exists() and (out / "index.html").read_text() == "v1"
    install_folder(_fake_report(tmp_path / ".t2", "v2"), out)
    assert (out / "index.html").read_text() == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]      # nothing hidden or left aside
    (out / MARKER).unlink()                                            # now it is not nmsim's any more
    with pytest.raises(UserError, match="is not an nmsim report"):
        install_folder(_fake_report(tmp_path / ".t3", "v3"), out)
    assert (out / "index.html").read_text() == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]      # the temp folder is gone too


def test_empty_folder_may_receive_a_report(tmp_path):
    out = tmp_path / "rep"
    out.mkdir()
    install_folder(_fake_report(tmp_path / ".t", "v"), out)
    assert (out / "index.html").read_text() == "v"


# ---- Ctrl-C --------------------------------------------------------------------------------------

def test_ctrl_c_in_process_is_one_line(capsys, monkeypatch):
    import nmsim.graph.api as api

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(api, "trace_workload", interrupted)
    code, err = run_cli(["trace", "vit-tiny"], capsys)
    assert code == 130
    assert err == "nmsim: interrupted; nothing was written (outputs are written only when complete)\n"


def test_ctrl_c_train_resumes(tmp_path):
    """SIGINT to a real ``nmsim train``: one line naming the resume command, exit 130, and the command it
    names finishes the run."""
    out = tmp_path / "run"
    argv = ["train", "--recipe", "sr-ste", "--sparsity", "ff=1:8", "--epochs", "3", "--eval-every", "4",
            "--no-progress", "--out", str(out)]
    # The child gets the default SIGINT disposition whatever an earlier test (e.g. Ray) left in this process: an
    # ignored SIGINT is inherited across exec, and Python then keeps ignoring Ctrl-C (as it should for nohup). It runs
    # at the lowest CPU priority: on a loaded machine this test's polling sees the checkpoint before the run ends.
    def child():
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.nice(19)
    proc = subprocess.Popen([sys.executable, "-m", "nmsim", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, preexec_fn=child)
    deadline = time.time() + 240
    while not (out / "checkpoint.pt").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be interrupted")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    resume = f"nmsim {' '.join(argv)} --resume"
    assert err == f"nmsim: interrupted; resume with: {resume}\n"
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    done = subprocess.run([sys.executable, "-m", "nmsim", *argv, "--resume"], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (out / "done.json").exists()


def test_console_script_exit_status():
    exe = Path(sys.executable).with_name("nmsim")
    if not exe.exists():
        pytest.skip("console script not installed next to this interpreter")
    res = subprocess.run([str(exe), "schedule", "typo", "--steps", "1"], capture_output=True, text=True)
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("nmsim: error: --recipe: unknown recipe 'typo'")


# ---- run-folder locks ----------------------------------------------------------------------------

def test_run_lock_is_exclusive_and_released(tmp_path):
    from nmsim.train.lock import RunBusy, run_lock

    folder = tmp_path / "run"
    with run_lock(folder):
        with pytest.raises(RunBusy, match="is being trained by another nmsim process"):
            with run_lock(folder):
                pass
    with run_lock(folder):     # released on exit
        pass
    assert not folder.exists()  # nothing was written: the lock leaves no empty run folder behind


def test_waiting_lock_gets_it_when_released(tmp_path):
    from nmsim.train.lock import run_lock

    folder = tmp_path / "run"
    folder.mkdir()
    order = []
    with run_lock(folder):
        t = threading.Thread(target=lambda: (run_lock(folder, wait=True).__enter__(), order.append("second")))
        t.start()
        time.sleep(0.2)
        order.append("first")
    t.join(300)   # returns when the thread has the lock: the bound only stops a hang, on any load
    assert order == ["first", "second"]


def test_sweep_retries_busy_runs_last_and_waits():
    from nmsim.train.executors import BUSY, _with_retries

    calls = []

    def batch(jobs, workers):
        for job in jobs:
            calls.append((job["out"], job.get("wait", False)))
            busy = job["out"] == "b" and not job.get("wait")
            yield job, ({BUSY: True} if busy else {"accuracy": 1.0}), None

    results = list(_with_retries(batch, [{"out": "a"}, {"out": "b"}, {"out": "c"}], 1))
    assert calls == [("a", False), ("b", False), ("c", False), ("b", True)]
    assert [job["out"] for job, _, _ in results] == ["a", "c", "b"]


def test_busy_run_folder_is_one_line_for_train(tmp_path, capsys, monkeypatch):
    from nmsim.train.lock import run_lock

    monkeypatch.chdir(tmp_path)
    with run_lock(tmp_path / "run"):
        code, err = run_cli(["train", "--recipe", "dense", "--epochs", "1", "--out", "run"], capsys)
    assert_one_error(code, err, "run: is being trained by another nmsim process; wait for it or use another --out")


def test_write_bytes_parent_is_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(UserError) as exc:
        write_bytes(tmp_path / "f" / "x.bin", b"1")
    assert str(exc.value) == f"{tmp_path}/f/x.bin: cannot write: {tmp_path}/f is a file, not a folder"


def test_two_sweeps_share_one_runs_folder(tmp_path):
    """Two ``nmsim sweep`` processes started together on one folder train each run once between them."""
    argv = [sys.executable, "-m", "nmsim", "sweep", "--recipes", "dense,static", "--patterns", "1:4",
            "--seeds", "1", "--epochs", "1", "--out", str(tmp_path / "runs")]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    lines = [line for out, _ in outs for line in out.splitlines() if "] " in line and "accuracy" in line]
    trained = [line for line in lines if "not retrained" not in line]
    skipped = sum(int(out.split(" already finished")[0].rsplit(", ", 1)[-1]) for out, _ in outs)
    # 2 runs (dense, static at 1:4): each trained by exactly one of the two sweeps
    assert len(trained) == 2, outs
    assert len(lines) + skipped == 4, outs
    assert len(list((tmp_path / "runs").rglob("done.json"))) == 2


def test_permission_denied_as_an_unprivileged_user(tmp_path):
    """Run nmsim as 'nobody' (setpriv): an unreadable input and unwritable outputs are one line each, reported
    before any work, and nothing is written."""
    import shutil

    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to drop to an unprivileged user")
    tmp_path.chmod(0o777)
    (tmp_path / "w.yaml").write_text("family: gpt2\n")
    (tmp_path / "w.yaml").chmod(0o000)
    (tmp_path / "ro").mkdir(mode=0o555)
    (tmp_path / "ro").chmod(0o555)
    env = {**os.environ, "HOME": str(tmp_path), "MPLCONFIGDIR": str(tmp_path / "mpl"), "PYTHONPATH": str(ROOT)}
    cases = [(["trace", "w.yaml"], "w.yaml: cannot read workload file: permission denied"),
             (["trace", "vit-tiny", "--out", "ro/t.csv"], "ro/t.csv: cannot write: permission denied"),
             (["report", "--no-train", "--out", "ro/rep"], "ro/rep: cannot write: permission denied"),
             (["train", "--epochs", "1", "--out", "ro/run"], None)]
    before = snapshot(tmp_path)
    for argv, expected in cases:
        res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m",
                              "nmsim", *argv], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
        assert_one_error(res.returncode, res.stderr, expected)
    assert snapshot(tmp_path) == before
