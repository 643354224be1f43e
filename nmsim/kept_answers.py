"""Answers kept in the nmsim cache: the same question asked again prints the kept answer, without pricing.

``compare``, ``budget`` and ``cluster plan|budget|validate`` price through pandas op tables, and importing pandas
alone costs more than a whole warm answer may take (``price`` at one shape prices on numpy, :mod:`nmsim.frame`). A question is the command and every option as
parsed (``--out`` only as "to a file"), the content of each file an option names (a workload, a spec YAML, a
``config.json``), every file of the nmsim package (code and bundled data: specs, prices, bands, fits) and the
Python, torch, numpy and pandas versions: any change asks anew. The answer is what the command wrote: stdout, the
lines it wrote on stderr (progress is never part of an answer: :func:`nmsim.progress.progress_stream` writes past
the recorder) and the text of ``--out``, which is written again through the same atomic, ledger-checked write.

Entries are JSON in ``answers/`` of the cache folder (:func:`nmsim.graph.cache.directory`), written atomically;
the newest :data:`KEEP` are kept, each at most :data:`MAX_CHARS` characters. The trace cache's mode applies:
``off`` neither reads nor keeps, ``read`` only reads, ``build`` (the pricing commands' default) keeps. Import
cost: the standard library only.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path

from nmsim.keeping import keep_newest, library_versions, package_fingerprint

COMMANDS = ("price", "compare", "budget", "cluster plan", "cluster budget", "cluster validate")
FOLDER = "answers"
KEEP = 256
MAX_CHARS = 1 << 20   # a longer answer (a large --by op table, a big sweep) is priced again rather than kept
FORMAT = 1
ENTRY_RE = re.compile(r"^answer-[0-9a-f]{64}\.json$")
_NOT_KEYED = ("func", "debug", "out")


def _files_named(value) -> dict[str, str]:
    """SHA-256 of every existing file an option value names (comma lists and ``NAME=VALUE`` parts included)."""
    out: dict[str, str] = {}
    texts = value if isinstance(value, list) else [value]
    for text in texts:
        if not isinstance(text, str):
            continue
        for part in {text, *text.split(","), *(p.split("=", 1)[-1] for p in text.split(","))}:
            try:
                if part and os.path.isfile(part):
                    out[os.path.abspath(part)] = hashlib.sha256(Path(part).read_bytes()).hexdigest()
            except (OSError, ValueError):   # unreadable: the command itself says so
                out[part] = "unreadable"
    return out


def key(args) -> str:
    """The question's key (see the module docstring)."""
    options = {k: v for k, v in sorted(vars(args).items()) if k not in _NOT_KEYED}
    files: dict[str, str] = {}
    for value in options.values():
        files.update(_files_named(value))
    blob = json.dumps({"format": FORMAT, "options": options, "to_file": bool(getattr(args, "out", None)),
                       "files": files, "package": package_fingerprint(), "versions": library_versions()},
                      sort_keys=True, default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()


def folder() -> Path:
    from nmsim.graph.cache import directory

    return directory() / FOLDER


class _Recorder:
    """A text stream that writes through to ``stream`` and keeps a copy; ``unrecorded`` is ``stream``."""

    def __init__(self, stream):
        self.unrecorded, self.parts = stream, []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return self.unrecorded.write(text)

    def __getattr__(self, name):   # flush, isatty, encoding, fileno, ...: the stream's own
        return getattr(self.unrecorded, name)

    def text(self) -> str:
        return "".join(self.parts)


def _command(args) -> str:
    """The command as :data:`COMMANDS` names it (``cluster`` with its subcommand)."""
    sub = getattr(args, "cluster_command", None) if args.command == "cluster" else None
    return f"{args.command} {sub}" if sub else args.command


def answer(args, run) -> int:
    """``run(args)``, or the kept answer to the same question; a new answer (exit status 0) is kept."""
    from nmsim.graph.cache import cache_mode

    mode = cache_mode()
    if _command(args) not in COMMANDS or mode == "off":
        return run(args)
    key_ = key(args)
    path = folder() / f"answer-{key_}.json"
    entry = _load(path)
    if entry is not None:
        _replay(entry, getattr(args, "out", None))
        return 0
    out, err = _Recorder(sys.stdout), _Recorder(sys.stderr)
    sys.stdout, sys.stderr = out, err
    try:
        result = run(args)
    finally:
        sys.stdout, sys.stderr = out.unrecorded, err.unrecorded
    if not result and mode == "build":
        _store(path, out.text(), err.text(), getattr(args, "out", None))
    return result


def _load(path: Path) -> dict | None:
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        if entry.get("format") != FORMAT:
            return None
        entry["kept_at"] = path.stat().st_mtime
        os.utime(path)   # recently used: pruned last
    except Exception:   # noqa: BLE001 - a missing, truncated or foreign file is a miss, never an error
        return None
    return entry


def _replay(entry: dict, out: str | None) -> None:
    if out:
        from nmsim.io import write_text

        write_text(out, entry["file"], mine_only=True)   # replaced only if nmsim wrote it, as the first time
    sys.stdout.write(entry["stdout"])
    sys.stderr.write(entry["stderr"])
    _say_kept(entry.get("kept_at"))


def _say_kept(when: float | None) -> None:
    """On a terminal, one line saying the answer is a kept one (its own timings, e.g. a search's seconds, are
    the first call's): not part of the answer, so a pipe or a file gets the answer byte for byte."""
    from nmsim.progress import progress_stream, resolve_mode

    stream = progress_stream()
    if when is None or resolve_mode("auto", stream) != "bar":
        return
    import time

    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(when))
    stream.write(f"nmsim: the answer kept from {stamp} (same question, inputs and code); NMSIM_CACHE=off "
                 "prices it again\n")


def _store(path: Path, stdout: str, stderr: str, out: str | None) -> None:
    file_text = None
    if out:
        try:
            if not Path(out).is_file():   # a device or a pipe (/dev/stdout): what went there is not kept
                return
            file_text = Path(out).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return
    if len(stdout) + len(stderr) + len(file_text or "") > MAX_CHARS:
        return
    where = path.parent
    if where.is_symlink():   # not the folder nmsim made: nothing written through it
        return
    from nmsim.errors import UserError
    from nmsim.io import write_text

    text = json.dumps({"format": FORMAT, "stdout": stdout, "stderr": stderr, "file": file_text})
    try:
        write_text(path, text, "kept answer")
    except UserError:   # an unwritable cache is no error: the next call prices again
        return
    _prune(where)


def _prune(where: Path) -> None:
    """Only the :data:`KEEP` most recently used entries stay (files named as this module names them)."""
    keep_newest(where, ENTRY_RE, KEEP)


def clear() -> tuple[int, int]:
    """Delete the kept answers (files named as this module names them); returns (files, bytes) removed."""
    from nmsim.io.write import remove_owned

    where = folder()
    return remove_owned(where, lambda p: p.parent == where and bool(ENTRY_RE.match(p.name)))
