"""Writing outputs: atomic, one-line errors, and nothing nmsim did not create is ever deleted or hidden.

* :func:`write_bytes` / :func:`write_text` / :func:`write_json`: a temp file in the target's folder, fsync,
  then ``os.replace``; any failure (a folder at the path, a read-only or full disk, a parent that is a file)
  removes the temp file and raises a :class:`UserError` naming the path. An existing character device or
  pipe (``/dev/null``, ``/dev/stdout``) is written in place, never replaced.
* :func:`install_folder`: move a finished temp folder to ``out``. An existing ``out`` is replaced only when it
  holds nmsim's marker file (:data:`MARKER`) or is empty; any other file or folder there is an error.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

from nmsim.errors import UserError

MARKER = ".nmsim-report"

_REASONS = {errno.ENOSPC: "no space left on device", errno.EROFS: "read-only file system",
            errno.EACCES: "permission denied", errno.EPERM: "permission denied",
            errno.ENOTDIR: "a parent in the path is a file, not a folder", errno.EISDIR: "is a folder",
            errno.EDQUOT: "disk quota exceeded", errno.ENAMETOOLONG: "file name too long",
            errno.ENOENT: "no such folder"}


def os_error(exc: OSError, path, action: str = "cannot write") -> UserError:
    """A one-line UserError for an OSError met while writing ``path``."""
    reason = _REASONS.get(exc.errno, (exc.strerror or type(exc).__name__).lower())
    return UserError(f"{action}: {reason}", str(path))


def _first_existing_parent(path: Path) -> Path:
    parent = path.parent
    while not os.path.lexists(parent) and parent != parent.parent:
        parent = parent.parent
    return parent


def _check_writable(p: Path, where: str) -> None:
    """The folder that will receive ``p`` (its first existing ancestor) must be writable: a read-only file system
    or a folder without write permission is reported before any work."""
    if os.path.lexists(p) and not p.is_dir() and not p.is_file():   # a device or pipe is written in place
        if not os.access(p, os.W_OK):
            raise UserError("cannot write: permission denied", where)
        return
    parent = _first_existing_parent(p)
    if not parent.is_dir() or os.access(parent, os.W_OK):
        return
    try:
        read_only = bool(os.statvfs(parent).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    raise UserError(f"cannot write: {'read-only file system' if read_only else 'permission denied'}", where)


def check_output_file(path, what: str = "output file") -> Path:
    """Refuse, before any work, an output path that cannot be a file: a folder, a parent that is a file, or a
    place that cannot be written (read-only file system, no permission)."""
    p = Path(path)
    if str(path).endswith(os.sep) or p.is_dir():
        raise UserError(f"is a folder; give a file name for the {what}", str(path))
    parent = _first_existing_parent(p)
    if parent.exists() and not parent.is_dir():
        raise UserError(f"cannot write: {parent} is a file, not a folder", str(path))
    _check_writable(p, str(path))
    return p


def write_bytes(path, data: bytes, what: str = "output file") -> Path:
    """Write ``data`` to ``path`` atomically (temp file + rename); one-line UserError on any failure."""
    p = check_output_file(path, what)
    try:
        st = os.stat(p)
    except OSError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):   # /dev/null, /dev/full, a pipe: write in place
        try:
            with open(p, "wb") as fh:
                fh.write(data)
                fh.flush()
        except OSError as exc:
            raise os_error(exc, path) from None
        return p
    tmp = None
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
        tmp = None
    except OSError as exc:
        raise os_error(exc, path) from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return p


def write_text(path, text: str, what: str = "output file") -> Path:
    return write_bytes(path, text.encode("utf-8"), what)


def write_json(path, obj, what: str = "output file") -> Path:
    return write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode(), what)


# ---- folders -------------------------------------------------------------------------------------

def check_output_folder(out, what: str = "report") -> Path:
    """Refuse, before any work, an ``out`` that nmsim may not replace: a file, or a folder that is neither
    empty nor marked as nmsim's (:data:`MARKER`)."""
    p = Path(out)
    if os.path.lexists(p) and (p.is_symlink() or not p.is_dir()):
        raise UserError(f"exists and is not a folder; give a new folder name for the {what}", str(out))
    if p.is_dir():
        try:
            entries = os.listdir(p)
        except OSError as exc:
            raise os_error(exc, out, "cannot read folder") from None
        if entries and MARKER not in entries and not _legacy_report(p, entries):
            raise UserError(f"exists and is not an nmsim {what} (no {MARKER} file); give a new folder name, nothing "
                            "was changed", str(out))
    parent = _first_existing_parent(p)
    if parent.exists() and not parent.is_dir():
        raise UserError(f"cannot write: {parent} is a file, not a folder", str(out))
    _check_writable(p, str(out))   # the folder is created or replaced: its parent must be writable
    return p


def _legacy_report(folder: Path, entries: list[str]) -> bool:
    """A report written before the marker existed: index.html + report.md and only .csv/.png files beside them."""
    if not {"index.html", "report.md"} <= set(entries):
        return False
    return all(name in ("index.html", "report.md") or name.endswith((".csv", ".png")) for name in entries) and \
        all((folder / name).is_file() and not (folder / name).is_symlink() for name in entries)


def new_temp_folder(out) -> Path:
    """A temp folder next to ``out`` (same file system, so the final rename is atomic)."""
    p = check_output_folder(out)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=p.parent, prefix=f".{p.name}.tmp-"))
    except OSError as exc:
        raise os_error(exc, out) from None


def install_folder(tmp, out, marker_text: str = "nmsim report\n") -> Path:
    """Move the finished folder ``tmp`` to ``out`` (writes the marker first). An old nmsim folder at ``out`` is
    swapped out and removed only after the new one is in place; on any failure ``tmp`` is removed and ``out``
    is left as it was."""
    tmp, p = Path(tmp), Path(out)
    old = None
    try:
        check_output_folder(p)
        (tmp / MARKER).write_text(marker_text)
        os.chmod(tmp, 0o755)
        if p.is_dir():
            old = Path(tempfile.mkdtemp(dir=p.parent, prefix=f".{p.name}.old-"))
            os.replace(p, old / "x")
        try:
            os.replace(tmp, p)
        except BaseException:
            if old is not None:
                os.replace(old / "x", p)
            raise
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise os_error(exc, out) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return p
