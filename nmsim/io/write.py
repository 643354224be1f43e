"""Writing outputs: atomic, one-line errors, and nothing nmsim did not create is ever deleted or hidden.

* :func:`write_bytes` / :func:`write_text` / :func:`write_json`: a temp file in the target's folder, fsync,
  then ``os.replace``; any failure (a folder at the path, a read-only or full disk, a parent that is a file)
  removes the temp file and raises a :class:`UserError` naming the path. An existing character device or
  pipe (``/dev/null``, ``/dev/stdout``) is written in place, never replaced.
* :func:`install_folder`: move a finished temp folder to ``out``. An existing ``out`` is replaced only when it
  is empty or holds nmsim's marker file (:data:`MARKER`, a manifest of the files nmsim wrote with their
  SHA-256) and nothing else: a file the user added or edited there, or any other file or folder at ``out``,
  is an error and nothing is touched.
* A single output file the user names is replaced only if nmsim wrote it (``mine_only``, :mod:`nmsim.io.ledger`).
* Temp files and folders are named ``.<name>.nmsim-tmp-<host>-<pid>-<random>`` (``nmsim-old`` for a replaced
  report on its way out): a process killed outright (SIGKILL, power loss) leaves one behind, and the next write
  into that folder removes it (:func:`remove_stale`) once its owner process is gone; nothing else is touched.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import stat
from pathlib import Path

from nmsim.errors import UserError
from nmsim.io.signals import held_signals
from nmsim.io import ledger

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


# ---- temp names: which leftovers are nmsim's ------------------------------------------------------------

_STALE_RE = re.compile(r"^\.(?P<name>.+)\.nmsim-(?P<kind>tmp|old)-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[a-z0-9_]+"
                       r"(?P<file>\.tmp)?$")


def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def temp_prefix(name: str, kind: str = "tmp") -> str:
    """The prefix of a temp file or folder for ``name``: it says nmsim made it, on which host, in which process."""
    return f".{name}.nmsim-{kind}-{_host()}-{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True     # another user's live process, or a pid nmsim cannot judge: keep
    return True


def remove_stale(folder) -> int:
    """Remove the temp files and folders nmsim left in ``folder`` when a process was killed outright: only names
    made by :func:`temp_prefix` on this host whose process is gone. A report on its way out (``nmsim-old``)
    goes back to its place when nothing took it. Returns how many entries were removed or restored."""
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    done = 0
    for entry in names:
        m = _STALE_RE.match(entry)
        if not m or m["host"] != _host() or int(m["pid"]) == os.getpid() or _alive(int(m["pid"])):
            continue
        path = Path(folder) / entry
        try:
            if m["file"]:
                if path.is_file() and not path.is_symlink():
                    path.unlink()
                    done += 1
                continue
            if not path.is_dir() or path.is_symlink():
                continue
            kept = path / "x"
            target = Path(folder) / m["name"]
            if m["kind"] == "old" and kept.is_dir() and not os.path.lexists(target):
                os.replace(kept, target)
            shutil.rmtree(path)
            done += 1
        except OSError:
            continue
    return done


def linked_cache_folder(folder) -> UserError:
    """The error for a cache folder that is a symbolic link: not the folder nmsim made."""
    return UserError("is a symbolic link, not the cache folder nmsim made; nothing was removed", str(folder))


def remove_owned(root, owned) -> tuple[int, int]:
    """Delete the files below ``root`` that ``owned(path)`` says nmsim wrote, and nmsim's stale temp files
    (:func:`remove_stale`), never through a symbolic link; a folder this empties goes too (``root`` stays, and so
    does a folder that was empty before). Returns (files, bytes) removed; a linked ``root`` is an error
    (:func:`linked_cache_folder`)."""
    root = Path(root)
    if root.is_symlink():
        raise linked_cache_folder(root)
    files = size = 0
    emptied: set[Path] = set()
    for here, _, names in os.walk(root, topdown=False):   # os.walk never enters a linked folder
        folder = Path(here)
        removed = remove_stale(folder)
        for name in names:
            path = folder / name
            if path.is_file() and not path.is_symlink() and owned(path):
                size += path.stat().st_size
                path.unlink()
                removed += 1
        files += removed
        if folder != root and (removed or any(p.parent == folder for p in emptied)):
            with contextlib.suppress(OSError):   # not empty: what nmsim did not write stays, and its folder
                folder.rmdir()
                emptied.add(folder)
    return files, size


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


def check_output_file(path, what: str = "output file", mine_only: bool = False) -> Path:
    """Refuse, before any work, an output path that cannot be a file: a folder, a parent that is a file, or a
    place that cannot be written (read-only file system, no permission). With ``mine_only`` (a file the user
    named), an existing regular file is refused unless nmsim wrote it and it is unchanged since
    (:mod:`nmsim.io.ledger`)."""
    p = Path(path)
    if str(path).endswith(os.sep) or p.is_dir():
        raise UserError(f"is a folder; give a file name for the {what}", str(path))
    if mine_only and (p.is_symlink() or p.is_file()) and not ledger.wrote(p):
        raise UserError("exists and nmsim did not write it (or it changed since); nothing was changed: remove it "
                        f"or give another name for the {what}", str(path))
    parent = _first_existing_parent(p)
    if parent.exists() and not parent.is_dir():
        raise UserError(f"cannot write: {parent} is a file, not a folder", str(path))
    _check_writable(p, str(path))
    return p


def write_bytes(path, data: bytes, what: str = "output file", mine_only: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically (temp file + rename); one-line UserError on any failure. The file
    gets the mode of the file it replaces, else the umask's default. ``mine_only``: see
    :func:`check_output_file`; the written file is recorded as nmsim's."""
    p = check_output_file(path, what, mine_only)
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
        remove_stale(p.parent)
        # the name is held before the file exists: a signal raised as the file is created (inside mkstemp,
        # before it returned its name) would otherwise leave a temp file no ``finally`` knows of
        tmp = os.path.join(p.parent, f"{temp_prefix(p.name)}{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask())
            os.fsync(fh.fileno())
        with held_signals():   # the file and its ledger entry land together: a signal between them would
            os.replace(tmp, p)     # leave a file of nmsim's that the next run refuses to replace
            tmp = None
            if mine_only:
                ledger.record(p, data)
    except OSError as exc:
        raise os_error(exc, path) from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return p


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text(path, text: str, what: str = "output file", mine_only: bool = False) -> Path:
    return write_bytes(path, text.encode("utf-8"), what, mine_only)


def write_json(path, obj, what: str = "output file", mine_only: bool = False) -> Path:
    return write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode(), what, mine_only)


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
        if MARKER in entries:
            foreign = _not_written_by_nmsim(p)
            if foreign:
                raise UserError(f"holds {foreign}, which nmsim did not write (or which changed since); nothing was "
                                f"changed: move it out or give a new folder name for the {what}", str(out))
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


def _manifest(folder: Path) -> dict:
    """Relative path -> SHA-256 of every file below ``folder`` (the marker itself excluded)."""
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != MARKER:
            files[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


def _not_written_by_nmsim(folder: Path) -> str | None:
    """The first entry of an nmsim folder that its marker's manifest does not list with the same content
    (a file the user added or edited, or a folder); None when every entry is nmsim's. A marker without a
    manifest (an older nmsim) vouches for the files a report holds (:func:`_legacy_report`)."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        listed = marker["files"] if isinstance(marker, dict) and isinstance(marker.get("files"), dict) else None
    except (OSError, ValueError, UnicodeDecodeError):
        listed = None
    if listed is None:
        entries = sorted(e for e in os.listdir(folder) if e != MARKER)
        return None if not entries or _legacy_report(folder, entries) else entries[0]
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if rel == MARKER or (path.is_dir() and not path.is_symlink() and any(k.startswith(rel + "/") for k in listed)):
            continue
        if path.is_symlink() or not path.is_file() or listed.get(rel) != hashlib.sha256(path.read_bytes()).hexdigest():
            return rel
    return None


@contextlib.contextmanager
def temp_folder(out):
    """A new temp folder next to ``out`` (same file system, so the final rename is atomic), removed when the
    block raises or is interrupted; an OSError becomes the one-line error naming ``out``. The name is held before
    the folder exists, so a signal raised as it is created cannot leave one behind."""
    p = check_output_folder(out)
    tmp = None
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(p.parent)
        tmp = p.parent / f"{temp_prefix(p.name)}{secrets.token_hex(4)}"
        tmp.mkdir(mode=0o700)
        yield tmp
    except OSError as exc:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise os_error(exc, out) from None
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise


def install_folder(tmp, out, marker_text: str = "nmsim report\n") -> Path:
    """Move the finished folder ``tmp`` to ``out`` (writes the marker first). An old nmsim folder at ``out`` is
    swapped out and removed only after the new one is in place; on any failure ``tmp`` is removed and ``out``
    is left as it was."""
    tmp, p = Path(tmp), Path(out)
    old = None
    try:
        check_output_folder(p)
        marker = {"written_by": marker_text.strip(), "files": _manifest(tmp)}
        (tmp / MARKER).write_text(json.dumps(marker, indent=1, sort_keys=True) + "\n")
        os.chmod(tmp, 0o755)
        if p.is_dir():
            old = p.parent / f"{temp_prefix(p.name, 'old')}{secrets.token_hex(4)}"
            old.mkdir(mode=0o700)
            os.replace(p, old / "x")
        os.replace(tmp, p)
    except BaseException as exc:
        # decided by what is on disk, not by how far the code got: a signal may land between any two steps
        if old is not None and os.path.lexists(old / "x") and not os.path.lexists(p):
            os.replace(old / "x", p)
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise os_error(exc, out) from None
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return p
