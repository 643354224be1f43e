"""Bring a protocol folder's finished runs into another folder (the committed evidence), leaving the source as it
is: ``nmsim evidence summarize DEST --from SRC``.

Only seeds whose every run has finished are copied (a seed with a run still training or missing would pair some
recipes and not others), and of each run only its record: ``config.json``, ``metrics.jsonl``, ``done.json``, no
checkpoint. ``protocol.json`` comes from the source. ``timing.json`` is the source's; the destination's own
entries are kept in front of it when every run the destination already held comes along unchanged (its runs
were copied into the source to be resumed there, so their time belongs to the protocol).

The destination is empty, new, or an evidence folder (its ``protocol.json``) whose ``protocol-runs/`` holds
nothing but run records; its other files (a README) stay. The new ``protocol-runs/`` is built beside the old one
and swapped in, so an interruption leaves the old one whole.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path

from nmsim.errors import UserError
from nmsim.evidence.files import read_timing
from nmsim.evidence.protocol import PROTOCOL_FILE, RUNS, TIMING_FILE, load_protocol, plan_labels

RECORD = ("config.json", "metrics.jsonl", "done.json")
# what a protocol-runs folder may hold besides run folders: run records, checkpoints, run locks, the sweep tables
RUN_FILES = set(RECORD) | {"checkpoint.pt", ".lock", "sweep_runs.csv", "sweep_summary.csv"}


def _runs(folder: Path) -> dict[str, int]:
    """Run folder (relative to ``folder``) -> seed, for every finished run below ``folder``."""
    from nmsim.train.checkpoint import read_config
    from nmsim.train.runfiles import check_run_folder

    out = {}
    for cfg in sorted(folder.rglob(RECORD[0])):
        check_run_folder(cfg.parent)
        if (cfg.parent / RECORD[2]).exists():
            seed = read_config(cfg).get("seed")
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise UserError(f"must be an integer, got {seed!r:.40}", f"{cfg}: seed")
            out[cfg.parent.relative_to(folder).as_posix()] = seed
    return out


def _check_dest(dest: Path, src: Path) -> bool:
    """Whether ``dest`` already is an evidence folder; UserError when nmsim may not write into it."""
    if os.path.lexists(dest) and (dest.is_symlink() or not dest.is_dir()):
        raise UserError("exists and is not a folder", str(dest))
    if dest.exists() and dest.resolve() == src.resolve():
        raise UserError("is the folder the runs come from; give another folder", str(dest))
    if not dest.exists() or not any(dest.iterdir()):
        return False
    if not (dest / PROTOCOL_FILE).exists():
        raise UserError("exists, is not empty and holds no protocol.json; refusing to write into it", str(dest))
    load_protocol(dest)
    runs = dest / RUNS
    if os.path.lexists(runs) and (runs.is_symlink() or not runs.is_dir()):
        raise UserError("is not a folder", str(runs))
    for path in sorted(runs.rglob("*")) if runs.is_dir() else []:
        if path.is_symlink() or (path.is_file() and path.name not in RUN_FILES):
            raise UserError(f"holds {path.relative_to(runs)}, which is not an nmsim run file; nothing was changed",
                            str(runs))
    return True


def complete_seeds(runs: dict[str, int], proto) -> tuple[list[int], int]:
    """(seeds whose every run has finished, runs per seed) of a protocol's finished ``runs``."""
    per_seed = len(plan_labels(proto.patterns)) * sum(r != "dense" for r in proto.recipes) + ("dense" in proto.recipes)
    return [s for s, n in _count(runs).items() if n == per_seed], per_seed


def collect(src, dest, echo=print) -> dict:
    """Copy the finished seeds of protocol folder ``src`` into ``dest`` (see the module); returns ``{"seeds":
    [...], "runs": n, "left_out": {seed: finished runs}}``."""
    from nmsim.io.write import temp_prefix, write_bytes

    src, dest = Path(src), Path(dest)
    proto, _ = load_protocol(src)
    timing = read_timing(src / TIMING_FILE)
    existing = _check_dest(dest, src)
    runs = _runs(src / RUNS)
    seeds, per_seed = complete_seeds(runs, proto)
    if not seeds:
        raise UserError(f"holds no seed whose {per_seed} runs have all finished", str(src))
    kept = {rel: s for rel, s in runs.items() if s in seeds}
    if existing:
        old = _runs(dest / RUNS)
        same = all(rel in kept and (dest / RUNS / rel / RECORD[2]).read_bytes() ==
                   (src / RUNS / rel / RECORD[2]).read_bytes() for rel in old)
        if same:
            known = {row["started_utc"] for row in timing}
            timing = [row for row in read_timing(dest / TIMING_FILE) if row["started_utc"] not in known] + timing
    dest.mkdir(parents=True, exist_ok=True)
    tmp = dest / f"{temp_prefix(RUNS)}{secrets.token_hex(4)}"
    try:
        for rel in kept:
            (tmp / rel).mkdir(parents=True)
            for name in RECORD:
                shutil.copyfile(src / RUNS / rel / name, tmp / rel / name)
        _swap(tmp, dest / RUNS)
    except OSError as exc:
        from nmsim.io.write import os_error
        raise os_error(exc, dest / RUNS) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_bytes(dest / PROTOCOL_FILE, (src / PROTOCOL_FILE).read_bytes(), "protocol file")
    write_bytes(dest / TIMING_FILE, (json.dumps(timing, indent=2, sort_keys=True) + "\n").encode(), "timing log")
    left = {s: n for s, n in _count(runs).items() if s not in seeds}
    import textwrap
    echo(textwrap.fill(
        f"evidence: {len(kept)} finished runs of seeds {', '.join(map(str, seeds))} copied into {dest / RUNS}"
        + ("; left out (unfinished): " + ", ".join(f"seed {s} ({n} of {per_seed} runs)" for s, n in left.items())
           if left else ""), 100, subsequent_indent="    ", break_on_hyphens=False, break_long_words=False))
    return {"seeds": seeds, "runs": len(kept), "left_out": left}


def _count(runs: dict[str, int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for s in runs.values():
        out[s] = out.get(s, 0) + 1
    return dict(sorted(out.items()))


def _swap(new: Path, target: Path) -> None:
    """Put folder ``new`` at ``target``; an old ``target`` is moved aside first and removed once ``new`` is in."""
    from nmsim.io.write import temp_prefix

    old = None
    if target.exists():
        old = target.parent / f"{temp_prefix(target.name, 'old')}{secrets.token_hex(4)}"
        old.mkdir(mode=0o700)
        os.replace(target, old / "x")
    try:
        os.replace(new, target)
    except BaseException:
        if old is not None and not os.path.lexists(target):
            os.replace(old / "x", target)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
